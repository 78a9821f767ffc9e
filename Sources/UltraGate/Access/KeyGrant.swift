import Synchronization
import UltraGateSupport

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
    /// The namespace made for the first base asked (one base per gateway), and the key's metric
    /// handles in the first metrics asked (one per gateway): read on every request of the key, so
    /// kept where a read costs one load.
    private let namespace = WriteOnceReference<Made<String, String>>()
    private let handles = WriteOnceReference<Made<ObjectIdentifier, KeyMetrics.Handles>>()

    /// A value made once for `input`.
    private final class Made<Input: Equatable & Sendable, Value: Sendable>: Sendable {
        let input: Input
        let value: Value
        init(_ input: Input, _ value: Value) {
            self.input = input
            self.value = value
        }
        func value(for input: Input) -> Value? { self.input == input ? value : nil }
    }

    package convenience init(_ key: VirtualKey) { self.init(key, tally: nil) }

    init(_ key: VirtualKey, tally: KeyTally?) {
        self.key = key
        self.tally = tally
        name = key.name
        hasRateLimits = key.rpm != nil || key.tpm != nil || key.maxParallel != nil
        restrictsModels = key.models != nil
    }

    package func cacheNamespace(base: String) -> String {
        if let made = namespace.withValue({ $0.value(for: base) }) ?? nil { return made }
        let value = key.cacheNamespace(base: base)
        return namespace.storeIfUnset(Made(base, value)) { $0.value(for: base) } ?? value
    }

    /// The key's handles in `metrics`, looked up there once.
    package func metricHandles(in metrics: KeyMetrics) -> KeyMetrics.Handles {
        withMetricHandles(in: metrics) { $0 }
    }

    /// `body` on the key's handles in `metrics`, lent (what each request of the key books).
    package func withMetricHandles<R>(in metrics: KeyMetrics, _ body: (KeyMetrics.Handles) -> R) -> R {
        let id = ObjectIdentifier(metrics)
        if let done = handles.withValue({ $0.input == id ? body($0.value) : nil }) ?? nil { return done }
        let found = metrics.key(key)
        return handles.storeIfUnset(Made(id, found)) { $0.input == id ? body($0.value) : nil } ?? body(found)
    }
}
