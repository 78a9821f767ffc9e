import Foundation

/// One virtual key as the access gate hands it along a request: a reference, so passing it (in
/// `Caller`, through admission and booking) copies no `VirtualKey` fields, and the key's cache
/// namespace is made once, not per request. The key store keeps one per key in its snapshot.
package final class KeyGrant: @unchecked Sendable {
    package let key: VirtualKey
    private let lock = NSLock()
    /// The last namespace made, and the base it was made in (one base per gateway).
    private var namespace: (base: String, value: String)?

    package init(_ key: VirtualKey) { self.key = key }

    package func cacheNamespace(base: String) -> String {
        lock.lock()
        defer { lock.unlock() }
        if let namespace, namespace.base == base { return namespace.value }
        let value = key.cacheNamespace(base: base)
        namespace = (base, value)
        return value
    }
}
