// A SecretStore backed by the Keychain: each secret is a generic password item of this app, kept
// on this device only and readable after the first unlock (so a node can start in the background).
import Foundation
import Security

public final class KeychainSecretStore: SecretStore, @unchecked Sendable {
    private let service: String

    public init(service: String = "dev.pocketpds.secret-store") {
        self.service = service
    }

    private func query(_ name: String) -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: name,
        ]
    }

    public func load(name: String) throws -> Data? {
        var request = query(name)
        request[kSecReturnData as String] = true
        request[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(request as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let data = item as? Data else {
                throw PdsError.SecretStore(reason: "the Keychain item \(name) holds no data")
            }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw PdsError.SecretStore(reason: "Keychain read of \(name) failed: OSStatus \(status)")
        }
    }

    public func store(name: String, secret: Data) throws {
        SecItemDelete(query(name) as CFDictionary)
        var item = query(name)
        item[kSecValueData as String] = secret
        item[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let status = SecItemAdd(item as CFDictionary, nil)
        guard status == errSecSuccess else {
            throw PdsError.SecretStore(reason: "Keychain write of \(name) failed: OSStatus \(status)")
        }
    }

    /// Removes the item kept under `name` (tests, or an app resetting its node).
    public func remove(name: String) {
        SecItemDelete(query(name) as CFDictionary)
    }
}
