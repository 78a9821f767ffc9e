import UltraGateProviders
import UltraGateCache
import Foundation

/// One item's upstream work, shared by every request that needs the same item (same cache key:
/// same tenant, route, model, dimensions, options and item) while it runs: single flight per item,
/// within one request or across requests. It ends once, with the vector or the failure; waiters
/// that come later get the end at once.
package final class EmbeddingItemFlight: @unchecked Sendable {
    package enum Outcome: Sendable {
        /// The vector, the tokens charged for the item, and how long its upstream call took.
        case embedded(vector: [Float], tokens: Int, upstreamSeconds: Double)
        /// The call carrying the item failed; `owner` is the request group that sent it, so a
        /// request that only joined can tell a failure caused by another request's items.
        case failed(ProviderError, owner: UInt64)
    }

    private let lock = NSLock()
    /// Guarded by `lock`.
    private var end: Outcome?
    private var waiters: [@Sendable (Outcome) -> Void] = []

    package init() {}

    /// The end, if the flight has ended.
    package var outcome: Outcome? {
        lock.lock()
        defer { lock.unlock() }
        return end
    }

    /// Runs `handler` with the end: now if it has come, else when it does (on the finishing thread).
    package func wait(_ handler: @escaping @Sendable (Outcome) -> Void) {
        lock.lock()
        if let end {
            lock.unlock()
            return handler(end)
        }
        waiters.append(handler)
        lock.unlock()
    }

    /// Ends the flight; later calls are ignored.
    package func finish(_ outcome: Outcome) {
        lock.lock()
        guard end == nil else { return lock.unlock() }
        end = outcome
        let handlers = waiters
        waiters = []
        lock.unlock()
        for handler in handlers { handler(outcome) }
    }

    /// The ends of `flights`, in order, once all have ended.
    package static func outcomes(of flights: [EmbeddingItemFlight]) async -> [Outcome] {
        guard !flights.isEmpty else { return [] }
        let gathered = Gathered(count: flights.count)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            gathered.onComplete = { done.resume() }
            for (i, flight) in flights.enumerated() { flight.wait { gathered.set(i, $0) } }
        }
        return gathered.results.map { $0! }
    }

    /// Ends collected from any thread; `onComplete` runs once, when the last one arrives.
    private final class Gathered: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var results: [Outcome?]
        private var missing: Int
        var onComplete: (() -> Void)?

        init(count: Int) {
            results = Array(repeating: nil, count: count)
            missing = count
        }

        func set(_ index: Int, _ outcome: Outcome) {
            lock.lock()
            results[index] = outcome
            missing -= 1
            let complete = missing == 0 ? onComplete : nil
            lock.unlock()
            complete?()
        }
    }
}

/// The item flights in progress, by cache key, in shards so requests on different event loops
/// seldom meet on one lock. A finished flight stays while its item is being committed to the
/// cache, so a request arriving in between is answered from it, never from upstream.
package final class EmbeddingFlightTable: @unchecked Sendable {
    private final class Shard: @unchecked Sendable {
        let lock = NSLock()
        var flights: [CacheKey: EmbeddingItemFlight] = [:]
    }

    private let shards = (0..<16).map { _ in Shard() }

    package init() {}

    private func shard(_ key: CacheKey) -> Shard { shards[Int(key.bytes[0] & 15)] }

    /// The flight for `key`, and whether the caller created it (and so must have it sent).
    package func join(_ key: CacheKey) -> (flight: EmbeddingItemFlight, created: Bool) {
        let s = shard(key)
        s.lock.lock()
        defer { s.lock.unlock() }
        if let existing = s.flights[key] { return (existing, false) }
        let flight = EmbeddingItemFlight()
        s.flights[key] = flight
        return (flight, true)
    }

    package func remove(_ key: CacheKey, _ flight: EmbeddingItemFlight) {
        let s = shard(key)
        s.lock.lock()
        if s.flights[key] === flight { s.flights[key] = nil }
        s.lock.unlock()
    }

    /// Flights in the table, all shards together.
    package var count: Int {
        shards.reduce(0) { total, s in
            s.lock.lock()
            defer { s.lock.unlock() }
            return total + s.flights.count
        }
    }
}
