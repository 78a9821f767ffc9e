import UltraGateJSON
import UltraGateSupport
/// The arrival schedule of an open-loop (`--rate`) run on one client thread, and the FIFO of
/// requests that are due but still wait for a free connection. Pure: it never reads a clock, the
/// caller passes `now` (monotonic nanoseconds), so it is tested with a fake clock.
///
/// Request k of the whole run (all threads) is due at `start + k / rate`; this thread owns the
/// k with `k % stride == offset`. Each due time is computed from k, never by adding intervals, so
/// the schedule does not drift. Latency is measured from the due time (coordinated-omission
/// correct, as in wrk2): time spent queued behind a busy connection counts.
package struct OpenLoopSchedule: Sendable {
    /// A send more than this past its due time counts as late.
    package static let lateThresholdNanos: UInt64 = 1_000_000

    package let start: UInt64
    package let rate: Double
    package let stride: Int
    package let offset: Int
    /// Requests this thread schedules in all; nil means until `end`.
    package let limit: Int?
    /// No request due at or after this time is scheduled.
    package let end: UInt64?

    /// Requests released into the queue so far (due by the last `release`).
    package private(set) var released = 0
    private var queue = ArrayQueue<UInt64>(compactAfter: 4096)
    /// The most requests ever left waiting for a connection after a dispatch round.
    package private(set) var maxQueueDepth = 0
    /// Requests sent more than `lateThresholdNanos` after their due time.
    package private(set) var lateSends = 0

    package init(start: UInt64, rate: Double, stride: Int = 1, offset: Int = 0, limit: Int? = nil, end: UInt64? = nil) {
        precondition(rate > 0 && rate.isFinite && stride > 0 && (0..<stride).contains(offset))
        self.start = start
        self.rate = rate
        self.stride = stride
        self.offset = offset
        self.limit = limit
        self.end = end
    }

    /// The due time of this thread's `i`-th request.
    package func dueTime(_ i: Int) -> UInt64 {
        let k = Double(i) * Double(stride) + Double(offset)
        return start &+ UInt64((k * 1e9 / rate).rounded(.down))
    }

    /// When the next request not yet released is due; nil when the schedule is used up.
    package var nextDue: UInt64? {
        if let limit, released >= limit { return nil }
        let t = dueTime(released)
        if let end, t >= end { return nil }
        return t
    }

    /// Requests due but not yet handed to a connection.
    package var queued: Int { queue.count }

    /// The schedule is used up and nothing waits in the queue.
    package var isDrained: Bool { nextDue == nil && queued == 0 }

    /// Moves every request due by `now` into the queue; returns how many.
    @discardableResult
    package mutating func release(upTo now: UInt64) -> Int {
        var n = 0
        while let t = nextDue, t <= now {
            queue.append(t)
            released += 1
            n += 1
        }
        return n
    }

    /// The due time of the oldest queued request, which is being sent at `now`; nil if none waits.
    package mutating func take(now: UInt64) -> UInt64? {
        guard let t = queue.popFirst() else { return nil }
        if now > t && now - t > Self.lateThresholdNanos { lateSends += 1 }
        return t
    }

    /// Call after handing queued requests to every free connection: what is left had to wait.
    package mutating func noteBacklog() { maxQueueDepth = max(maxQueueDepth, queued) }

    /// Without a timer to wake it, how long epoll_wait may sleep (at most `cap` ms): the whole
    /// milliseconds until the next due time, rounded down, so the last sub-millisecond is spent
    /// polling with timeout 0 rather than oversleeping by up to a millisecond.
    package func pollTimeoutMillis(now: UInt64, cap: Int32) -> Int32 {
        guard let due = nextDue else { return cap }
        let ahead = due > now ? due - now : 0
        return Int32(min(ahead / 1_000_000, UInt64(cap)))
    }

    /// Latency of a request due at `scheduled` that answered at `now`, queueing included.
    package static func latency(scheduled: UInt64, now: UInt64) -> UInt64 { now > scheduled ? now - scheduled : 0 }
}
