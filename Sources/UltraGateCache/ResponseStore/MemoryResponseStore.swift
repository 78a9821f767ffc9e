import UltraGateJSON
import UltraGateSupport
import Foundation

/// Stored responses in memory, for tests and for a gateway that runs without a cache directory.
/// Bounded: past `maxRecords` the oldest record goes.
public final class MemoryResponseStore: ResponseStore, @unchecked Sendable {
    private let lock = NSLock()
    private var records: [String: StoredResponse] = [:]
    /// Insertion order, for evicting the oldest; ids already removed are skipped lazily.
    private var order = ArrayQueue<String>()
    public let maxRecords: Int

    public init(maxRecords: Int = 10_000) {
        self.maxRecords = max(1, maxRecords)
    }

    @discardableResult
    public func put(_ record: StoredResponse, now: Double) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if records.updateValue(record, forKey: record.id) == nil { order.append(record.id) }
        while records.count > maxRecords, let oldest = order.popFirst() {
            if oldest != record.id { records[oldest] = nil } else { order.append(oldest) }
        }
        return true
    }

    public func get(_ id: String, now: Double) -> StoredResponse? {
        lock.lock()
        defer { lock.unlock() }
        guard let record = records[id], !record.isExpired(now: now) else { return nil }
        return record
    }

    @discardableResult
    public func delete(_ id: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return records.removeValue(forKey: id) != nil
    }

    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return records.count
    }
}
