// A SecretStore implemented in Kotlin keeps the key that seals the node's secrets: the node asks it
// for the key, creates it once, and the database files never hold the secrets in the clear — the
// session-signing secret is searched for by trying every 32-byte window of the files as the HMAC key
// of a session token the node signed. Another key cannot open the database.
package dev.pocketpds

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import java.nio.file.Files
import java.security.MessageDigest
import java.util.Base64
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec
import kotlin.random.Random

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SecretStoreTest {
    private lateinit var plc: PlcDirectory

    @BeforeAll
    fun startPlc() {
        plc = PlcDirectory()
    }

    @AfterAll
    fun stopPlc() = plc.close()

    /** The offset of a 32-byte window of [bytes] that is the HMAC-SHA256 key of the signed [jwt], or -1. */
    private fun findHmacKey(bytes: ByteArray, jwt: String): Int {
        val signingInput = jwt.substringBeforeLast('.').toByteArray()
        val signature = Base64.getUrlDecoder().decode(jwt.substringAfterLast('.'))
        val mac = Mac.getInstance("HmacSHA256")
        for (offset in 0..bytes.size - 32) {
            mac.init(SecretKeySpec(bytes, offset, 32, "HmacSHA256"))
            if (MessageDigest.isEqual(mac.doFinal(signingInput), signature)) return offset
        }
        return -1
    }

    @Test
    fun `the scan finds a session secret that is stored in the clear`() {
        // The control of the test below: the same search finds a key planted in random bytes.
        val key = Random.nextBytes(32)
        val header = Base64.getUrlEncoder().withoutPadding().encodeToString("""{"alg":"HS256"}""".toByteArray())
        val payload = Base64.getUrlEncoder().withoutPadding().encodeToString("""{"sub":"x"}""".toByteArray())
        val mac = Mac.getInstance("HmacSHA256").apply { init(SecretKeySpec(key, "HmacSHA256")) }
        val signature = Base64.getUrlEncoder().withoutPadding().encodeToString(mac.doFinal("$header.$payload".toByteArray()))
        val haystack = Random.nextBytes(4096) + key + Random.nextBytes(4096)
        assertEquals(4096, findHmacKey(haystack, "$header.$payload.$signature"))
    }

    @Test
    fun `the key comes from the Kotlin store and the secrets on disk are sealed with it`() = runBlocking {
        val dir = newTempDir("pocketpds-secrets")
        val store = MemorySecretStore()
        try {
            val accessJwt: String
            PocketPds(testConfig(dir, plc.url), store).use { pds ->
                val info = pds.start()
                assertEquals(1, store.loads.get())
                assertEquals(1, store.stores.get())
                val key = need(store.secrets["pocketpds.secrets-key.v1"])
                assertEquals(32, key.size)
                pds.createAccount("carol.test", "correct horse battery staple")
                val session = post(
                    info.localUrl, "/xrpc/com.atproto.server.createSession",
                    """{"identifier":"carol.test","password":"correct horse battery staple"}""",
                )
                assertEquals(200, session.status, session.body)
                accessJwt = need(jsonField(session.body, "accessJwt"))
                pds.stop()
            }
            val files = filesOf(dir)
            assertTrue(files.any { it.first.fileName.toString() == "pocketpds.db" })
            assertFalse(Files.exists(dir.resolve("secrets.key")), "no key file when a store is given")
            val key = store.secrets.getValue("pocketpds.secrets-key.v1")
            for ((path, bytes) in files) {
                assertEquals(-1, findHmacKey(bytes, accessJwt), "the session secret is in the clear in $path")
                assertFalse(bytes.asList().windowed(32).any { it.toByteArray().contentEquals(key) }, "the key is in $path")
            }

            // The same store opens the database again; the key is not created twice.
            PocketPds(testConfig(dir, plc.url), store).use { pds ->
                assertEquals(1, pds.start().didList.size)
                assertEquals(2, store.loads.get())
                assertEquals(1, store.stores.get())
                pds.stop()
            }

            // Another key does not open the secrets: the start fails and says why.
            val other = MemorySecretStore().apply { secrets["pocketpds.secrets-key.v1"] = Random.nextBytes(32) }
            PocketPds(testConfig(dir, plc.url), other).use { pds ->
                val e = assertThrows<PdsException.SecretStore> { runBlocking { pds.start() } }
                assertTrue(e.reason.contains("does not open"), e.reason)
            }
            // A store that holds a key of the wrong size is refused too.
            val short = MemorySecretStore().apply { secrets["pocketpds.secrets-key.v1"] = ByteArray(5) }
            PocketPds(testConfig(dir, plc.url), short).use { pds ->
                val e = assertThrows<PdsException.SecretStore> { runBlocking { pds.start() } }
                assertTrue(e.reason.contains("5 bytes"), e.reason)
            }
        } finally {
            deleteTree(dir)
        }
    }

    @Test
    fun `a store that throws makes the start fail with its reason`() = runBlocking {
        val dir = newTempDir("pocketpds-throwing")
        val throwing = object : SecretStore {
            override fun load(name: String): ByteArray? = throw IllegalStateException("keystore locked")
            override fun store(name: String, secret: ByteArray) = Unit
        }
        try {
            PocketPds(testConfig(dir), throwing).use { pds ->
                val e = assertThrows<PdsException.SecretStore> { runBlocking { pds.start() } }
                assertTrue(e.reason.contains("keystore locked"), e.reason)
            }
        } finally {
            deleteTree(dir)
        }
    }
}
