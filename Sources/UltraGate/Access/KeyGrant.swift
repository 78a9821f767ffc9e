import Synchronization

/// One virtual key as the access gate hands it along a request: a reference, so passing it (in
/// `Caller`, through admission and booking) copies no `VirtualKey` fields, and what every request
/// of the key needs (its cache namespace, its metric handles, whether it has limits) is made once,
/// not per request. The key store keeps one per key in its snapshot.
package final class KeyGrant: @unchecked Sendable {
    package let key: VirtualKey
    /// The fields every request reads, copied out of `key` once.
    package let name: String
    package let hasRateLimits: Bool
    package let restrictsModels: Bool
    /// Where the store adds this key's usage (nil for a store that books by name).
    let tally: KeyTally?
    /// The last namespace made, and the base it was made in (one base per gateway).
    private let namespace = Mutex<(base: String, value: String)?>(nil)
    /// The key's metric handles, and the metrics they belong to (one per gateway).
    private let handles = Mutex<(metrics: ObjectIdentifier, handles: KeyMetrics.Handles)?>(nil)

    package convenience init(_ key: VirtualKey) { self.init(key, tally: nil) }

    init(_ key: VirtualKey, tally: KeyTally?) {
        self.key = key
        self.tally = tally
        name = key.name
        hasRateLimits = key.rpm != nil || key.tpm != nil || key.maxParallel != nil
        restrictsModels = key.models != nil
    }

    package func cacheNamespace(base: String) -> String {
        if let made = namespace.withLock({ $0 }), made.base == base { return made.value }
        let value = key.cacheNamespace(base: base)
        namespace.withLock { $0 = (base, value) }
        return value
    }

    /// The key's handles in `metrics`, looked up there once.
    package func metricHandles(in metrics: KeyMetrics) -> KeyMetrics.Handles {
        let id = ObjectIdentifier(metrics)
        if let found = handles.withLock({ $0 }), found.metrics == id { return found.handles }
        let found = metrics.key(key)
        handles.withLock { $0 = (id, found) }
        return found
    }
}
