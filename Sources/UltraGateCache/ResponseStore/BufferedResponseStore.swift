import UltraGateSupport
import Foundation

/// Writes stored responses behind, in group commits on a thread of its own, so a request never
/// waits for an LMDB write transaction (a cache hit with `store: true` stores a new record; one
/// transaction per hit on the event loop made Responses hits seven times slower than chat hits).
/// Reads see every write at once: what is queued is answered from memory until it is committed.
/// A write the crash of the process (`kill -9`) overtakes before its commit, a few milliseconds at
/// most, is lost; nothing half-written ever is (one transaction per batch).
public final class BufferedResponseStore: ResponseStore, @unchecked Sendable {
    private let inner: LMDBResponseStore
    private let condition = NSCondition()
    /// Guarded by `condition`: the newest state of every id with an operation not yet committed
    /// (nil: deleted), with the sequence number of that operation.
    private var latest: [String: (sequence: UInt64, record: StoredResponse?)] = [:]
    private var queue: [(sequence: UInt64, write: LMDBResponseStore.Write)] = []
    private var sequence: UInt64 = 0
    private var closing = false
    private var writerDone = false

    /// How long the writer waits for more records before it commits what it has.
    static let gatherSeconds = 0.002
    /// A batch this large is committed without waiting.
    static let batchSize = 256

    public init(_ inner: LMDBResponseStore) {
        self.inner = inner
        let thread = Thread { [self] in writeLoop() }
        thread.name = "ultragate-response-store"
        thread.start()
    }

    @discardableResult
    public func put(_ record: StoredResponse, now: Double) -> Bool {
        guard let value = inner.encodedIfFits(record) else { return false }
        condition.lock()
        defer { condition.unlock() }
        guard !closing else { return false }
        enqueue(record.id, record, .put(id: record.id, value: value, expiresAt: record.expiresAt))
        return true
    }

    public func get(_ id: String, now: Double) -> StoredResponse? {
        condition.lock()
        let pending = latest[id]
        condition.unlock()
        guard let pending else { return inner.get(id, now: now) }
        guard let record = pending.record, !record.isExpired(now: now) else { return nil }
        return record
    }

    @discardableResult
    public func delete(_ id: String) -> Bool {
        condition.lock()
        if let pending = latest[id] {
            defer { condition.unlock() }
            enqueue(id, nil, .delete(id: id))
            return pending.record != nil
        }
        condition.unlock()
        guard inner.get(id, now: 0) != nil else { return false }
        condition.lock()
        defer { condition.unlock() }
        enqueue(id, nil, .delete(id: id))
        return true
    }

    /// Commits what is queued and stops the writer; later puts are refused.
    public func close() {
        condition.lock()
        closing = true
        condition.broadcast()
        while !writerDone { condition.wait() }
        condition.unlock()
    }

    /// Called under the lock.
    private func enqueue(_ id: String, _ record: StoredResponse?, _ write: LMDBResponseStore.Write) {
        sequence += 1
        latest[id] = (sequence, record)
        queue.append((sequence, write))
        condition.signal()
    }

    private func writeLoop() {
        while true {
            condition.lock()
            while queue.isEmpty && !closing { condition.wait() }
            // Gather for a moment: one commit per record would keep a core busy under load (one
            // record per cache hit), one per batch costs about the same as one.
            let gatherUntil = Date(timeIntervalSinceNow: BufferedResponseStore.gatherSeconds)
            while queue.count < BufferedResponseStore.batchSize && !closing && condition.wait(until: gatherUntil) {}
            let batch = queue
            queue = []
            let done = closing && batch.isEmpty
            if done {
                writerDone = true
                condition.broadcast()
            }
            condition.unlock()
            if done { return }
            inner.apply(batch.map(\.write), now: Clock.wallNow())
            // What was committed is read from LMDB from now on, unless a newer operation came.
            let last = batch.last!.sequence
            condition.lock()
            for (_, write) in batch {
                let id: String
                switch write {
                case .put(let written, _, _): id = written
                case .delete(let deleted): id = deleted
                }
                if let entry = latest[id], entry.sequence <= last { latest[id] = nil }
            }
            condition.unlock()
        }
    }
}
