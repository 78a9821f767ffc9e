import UltraGateJSON
import UltraGateSupport
import CLMDB
import Foundation

/// Stored responses in the cache's LMDB environment, in two databases of their own: `stored_responses`
/// (id → record) and `stored_responses_expiry` (big-endian expiry in µs + id → empty, soonest first).
///
/// Bounded twice: every write first drops up to `sweepBatch` records whose time is up (so expired
/// records never pile up faster than they are written), and a write that finds the map full drops
/// the records that expire soonest and tries once more. The cache's own eviction frees pages in
/// the same map for its entries; this store never touches them.
///
/// Writes run in their own write transaction on the calling thread (LMDB's rule: begin and commit
/// on one thread, no suspension between): a stored response is written once per request.
public final class LMDBResponseStore: ResponseStore, @unchecked Sendable {
    private let environment: CacheEnvironment
    private let records: LMDBDatabase
    private let expiry: LMDBDatabase
    /// The largest record stored (its encoded size); larger ones are refused.
    public let maxRecordBytes: Int
    /// How many expired records a write removes at most before it stores.
    public let sweepBatch = 32
    /// Records dropped because the map was full (a counter of this instance).
    public private(set) var evicted = 0

    /// Opens (creating if needed) the store's databases in `cache`'s environment.
    public init(cache: ResponseCache, maxRecordBytes: Int? = nil) throws {
        environment = cache.environment
        records = try environment.lmdb.openDatabase("stored_responses")
        expiry = try environment.lmdb.openDatabase("stored_responses_expiry")
        self.maxRecordBytes = maxRecordBytes ?? cache.config.maxEntryBytes
    }

    /// One change, as `apply` takes them: a record to store (already encoded) or an id to remove.
    public enum Write: Sendable {
        case put(id: String, value: [UInt8], expiresAt: Double)
        case delete(id: String)
    }

    /// Whether a record is small enough to be stored, and its encoding.
    public func encodedIfFits(_ record: StoredResponse) -> [UInt8]? {
        let value = record.encoded()
        return value.count <= maxRecordBytes ? value : nil
    }

    @discardableResult
    public func put(_ record: StoredResponse, now: Double) -> Bool {
        guard let value = encodedIfFits(record) else { return false }
        return apply([.put(id: record.id, value: value, expiresAt: record.expiresAt)], now: now)
    }

    /// Applies `writes` in order in one write transaction (after removing up to `sweepBatch`
    /// expired records); a full map drops the records that expire soonest and tries once more.
    @discardableResult
    public func apply(_ writes: [Write], now: Double) -> Bool {
        for attempt in 0..<2 {
            do {
                try environment.lmdb.withWriteTransaction { txn throws(LMDBError) in
                    try sweep(txn, before: now, limit: attempt == 0 ? sweepBatch : 0)
                    if attempt == 1 { try dropSoonest(txn, count: 64 + writes.count) }
                    for write in writes {
                        switch write {
                        case .put(let id, let value, let expiresAt):
                            let key = Array(id.utf8)
                            try removeExpiryEntry(txn, key)
                            try txn.put(records, key, value)
                            try txn.put(expiry, CacheEnvironment.ageKey(createdAt: expiresAt.isFinite ? expiresAt : 1.8e13, key: key), [])
                        case .delete(let id):
                            let key = Array(id.utf8)
                            try removeExpiryEntry(txn, key)
                            _ = try txn.delete(records, key)
                        }
                    }
                }
                return true
            } catch {
                guard error.isMapFull else { return false }
            }
        }
        return false
    }

    /// Removes the expiry index entry of the record stored under `key`, if there is one.
    private func removeExpiryEntry(_ txn: LMDBTransaction, _ key: [UInt8]) throws(LMDBError) {
        guard let old = try txn.get(records, key), let previous = StoredResponse(decoding: old) else { return }
        _ = try txn.delete(expiry, CacheEnvironment.ageKey(
            createdAt: previous.expiresAt.isFinite ? previous.expiresAt : 1.8e13, key: key))
    }

    public func get(_ id: String, now: Double) -> StoredResponse? {
        let key = Array(id.utf8)
        return environment.lmdb.withReadTransaction { txn -> StoredResponse? in
            guard let raw = try? txn.get(records, key), let record = StoredResponse(decoding: raw) else { return nil }
            return record.isExpired(now: now) ? nil : record
        }
    }

    @discardableResult
    public func delete(_ id: String) -> Bool {
        guard get(id, now: 0) != nil else { return false }
        return apply([.delete(id: id)], now: Clock.wallNow())
    }

    /// Removes up to `limit` records whose expiry is before `now`, soonest first.
    private func sweep(_ txn: LMDBTransaction, before now: Double, limit: Int) throws(LMDBError) {
        guard limit > 0 else { return }
        let cursor = try txn.openCursor(expiry)
        var removed = 0
        var entry = try cursor.move(MDB_FIRST)
        while let (key, _) = entry, removed < limit, key.count > 8 {
            let micros = key.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard Double(micros) / 1_000_000 <= now else { break }
            let id = Array(key.dropFirst(8))  // copied out: the pointer dies with the deletion
            try cursor.deleteCurrent()
            try txn.delete(records, id)
            removed += 1
            entry = try cursor.move(MDB_NEXT)
        }
    }

    /// Drops the `count` records that expire soonest, to make room in a full map.
    private func dropSoonest(_ txn: LMDBTransaction, count: Int) throws(LMDBError) {
        let cursor = try txn.openCursor(expiry)
        var entry = try cursor.move(MDB_FIRST)
        var dropped = 0
        while let (key, _) = entry, dropped < count {
            let id = Array(key.dropFirst(8))
            try cursor.deleteCurrent()
            try txn.delete(records, id)
            dropped += 1
            entry = try cursor.move(MDB_NEXT)
        }
        evicted += dropped
    }
}
