import UltraGateJSON
import UltraGateSupport

/// Where stored responses live (`store: true`). Small on purpose, as Hummingbird's
/// `PersistDriver`: the gateway needs put, get, delete, nothing else; `LMDBResponseStore` keeps
/// them beside the cache, `MemoryResponseStore` in memory (tests, a gateway without a cache).
/// Every call is synchronous and bounded: callers may run it on an event loop or a flight's task.
public protocol ResponseStore: Sendable {
    /// Stores (or replaces) a record. False when it could not be stored (too large, storage full).
    @discardableResult
    func put(_ record: StoredResponse, now: Double) -> Bool
    /// The record under `id`, unless missing or expired at `now`. Callers check the owner.
    func get(_ id: String, now: Double) -> StoredResponse?
    /// Removes the record; false when there was none.
    @discardableResult
    func delete(_ id: String) -> Bool
    /// Writes what is not written yet; later puts may be refused.
    func close()
}

extension ResponseStore {
    public func close() {}
}
