import Synchronization
import Foundation

/// Throttles failed authentication per client address: each address may fail `perSecond` times
/// per second (a bucket refilled continuously); past that every request from it gets a 429 until
/// its bucket refills, whatever key it presents, so keys cannot be guessed at line rate. While no
/// address has been throttled (`mayBeThrottling` false: one atomic load) requests pay nothing, not
/// even a clock read or the peer-address lookup. The table is bounded: full buckets are dropped
/// when it grows past `maxAddresses`, and beyond that failures share one overflow bucket.
package final class FailedAttemptLimiter: @unchecked Sendable {
    package let perSecond: Int
    package static let maxAddresses = 4096
    private static let overflow = "*"
    private let lock = NSLock()
    private var buckets: [String: TokenBucket] = [:]  // guarded by lock
    /// Monotonic nanoseconds until which some address is throttled (0: none).
    private let throttledUntil = Atomic<UInt64>(0)

    package init(perSecond: Int) { self.perSecond = max(1, perSecond) }

    /// Seconds a throttled client should wait.
    package var retryAfter: Int { 1 }

    /// False until some address has been throttled: until then no caller needs to read the clock.
    @inline(__always) package var mayBeThrottling: Bool {
        throttledUntil.load(ordering: .relaxed) != 0
    }

    @inline(__always) package func isThrottling(nowNanos: UInt64) -> Bool {
        nowNanos < throttledUntil.load(ordering: .relaxed)
    }

    package func isThrottled(_ address: String, nowNanos: UInt64) -> Bool {
        let now = Double(nowNanos) / 1e9
        lock.lock()
        defer { lock.unlock() }
        guard var bucket = buckets[address] ?? buckets[Self.overflow] else { return false }
        bucket.refill(now: now)
        return bucket.level < 1
    }

    package func noteFailure(_ address: String?, nowNanos: UInt64) {
        let now = Double(nowNanos) / 1e9
        lock.lock()
        defer { lock.unlock() }
        var key = address ?? Self.overflow
        if buckets[key] == nil && buckets.count >= Self.maxAddresses {
            buckets = buckets.filter { _, b in var b = b; b.refill(now: now); return b.level < b.capacity }
            if buckets.count >= Self.maxAddresses { key = Self.overflow }
        }
        var bucket = buckets[key] ?? TokenBucket(capacity: perSecond, period: 1, now: now)
        bucket.refill(now: now)
        bucket.take(1)
        buckets[key] = bucket
        if bucket.level < 1 {
            let until = nowNanos + UInt64(bucket.secondsUntil(1) * 1e9) + 1
            if until > throttledUntil.load(ordering: .relaxed) { throttledUntil.store(until, ordering: .relaxed) }
        }
    }
}
