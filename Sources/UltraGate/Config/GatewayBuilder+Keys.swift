import UltraGateCache
import Foundation

extension GatewayBuilder {
    /// Where the virtual keys live: `auth.keys_dir`, else the cache's directory (so keys
    /// and cache share one LMDB environment, and every process sharing the cache sees the keys).
    package var keysDirectory: String { config.auth.keysDirectory ?? config.cache.directory }

    /// The virtual key store, opened (created when missing) when a master key is configured;
    /// nil otherwise, as nobody could manage keys.
    package func makeKeyStore() throws -> LMDBKeyStore? {
        guard config.auth.masterKey != nil else { return nil }
        return try openKeyStore()
    }

    /// The key store in `keysDirectory`, created when missing unless `mustExist` (the commands that
    /// only read or change keys say so, and create nothing, when the directory holds none).
    package func openKeyStore(mustExist: Bool = false) throws -> LMDBKeyStore {
        let directory = keysDirectory
        if mustExist && !GatewayBuilder.holdsLMDB(directory) {
            throw KeyStoreOpenError(directory: directory, reason: "no key store exists there")
        }
        do {
            return try LMDBKeyStore(directory: directory, mapSize: config.cache.maxBytes)
        } catch let error as LMDBError {
            throw KeyStoreOpenError(directory: directory, reason: error.description)
        } catch {
            throw KeyStoreOpenError(directory: directory, reason: (error as NSError).localizedDescription)
        }
    }
}

/// The key store's directory could not be created or opened, said in one line that names it.
package struct KeyStoreOpenError: Error, CustomStringConvertible {
    package let directory: String
    package let reason: String
    package var description: String {
        "cannot open the key store in \(directory) (`auth.keys_dir`, else `cache.dir`): \(reason)"
    }
}
