// A SecretStore backed by the Android Keystore: an AES-256-GCM key that never leaves the Keystore
// (hardware-backed where the device has it) wraps each secret; the wrapped bytes live in the app's
// private SharedPreferences. Uninstalling the app or clearing its data loses them, and with them the
// node's sealed secrets: the database must then be recreated.
package dev.pocketpds.android

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import dev.pocketpds.PdsException
import dev.pocketpds.SecretStore
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

class KeystoreSecretStore(context: Context) : SecretStore {
    private val preferences = context.applicationContext.getSharedPreferences(PREFERENCES, Context.MODE_PRIVATE)

    override fun load(name: String): ByteArray? {
        val stored = preferences.getString(name, null) ?: return null
        return try {
            val bytes = Base64.decode(stored, Base64.NO_WRAP)
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, wrappingKey(), GCMParameterSpec(TAG_BITS, bytes, 0, IV_LENGTH))
            cipher.doFinal(bytes, IV_LENGTH, bytes.size - IV_LENGTH)
        } catch (e: Exception) {
            throw PdsException.SecretStore("cannot unwrap $name with the Android Keystore: $e")
        }
    }

    override fun store(name: String, secret: ByteArray) {
        try {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.ENCRYPT_MODE, wrappingKey())
            val wrapped = cipher.iv + cipher.doFinal(secret)
            check(cipher.iv.size == IV_LENGTH)
            if (!preferences.edit().putString(name, Base64.encodeToString(wrapped, Base64.NO_WRAP)).commit()) {
                throw PdsException.SecretStore("cannot save $name")
            }
        } catch (e: PdsException) {
            throw e
        } catch (e: Exception) {
            throw PdsException.SecretStore("cannot wrap $name with the Android Keystore: $e")
        }
    }

    private fun wrappingKey(): SecretKey {
        val keyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }
        (keyStore.getKey(KEY_ALIAS, null) as? SecretKey)?.let { return it }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
        generator.init(
            KeyGenParameterSpec.Builder(KEY_ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return generator.generateKey()
    }

    private companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
        const val KEY_ALIAS = "dev.pocketpds.secret-store"
        const val PREFERENCES = "dev.pocketpds.secret-store"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_LENGTH = 12
        const val TAG_BITS = 128
    }
}
