import Foundation

/// A value that is costly to find out (it asks upstreams), computed by one caller at a time and
/// then reused while it is fresh: callers that arrive during a computation wait for its result
/// instead of starting their own, and callers within the value's lifetime get it at once.
/// Used for `GET /health?deep=1` and the providers' model lists, so that no number of clients
/// can make the gateway ask the upstreams more than once per lifetime.
public final class CoalescedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    /// Seconds on a monotonic clock (injected by tests).
    private let now: @Sendable () -> Double
    private var value: Value?
    private var expiresAt = -Double.infinity
    private var computing = false
    private var waiters: [CheckedContinuation<Value?, Never>] = []

    private enum Step { case ready(Value), wait, compute }

    public init(now: @escaping @Sendable () -> Double = { Double(Clock.nanos()) / 1e9 }) {
        self.now = now
    }

    /// The value while it is fresh, without waiting (nil: call `get`).
    public func fresh() -> Value? {
        lock.withLock { now() < expiresAt ? value : nil }
    }

    /// The fresh value; else the result of the computation under way; else this caller runs
    /// `compute`, which returns the value and the seconds it stays fresh (0: only the callers
    /// that waited for it get it).
    public func get(_ compute: @Sendable () async -> (value: Value, lifetime: Double)) async -> Value {
        while true {
            let step: Step = lock.withLock {
                if now() < expiresAt, let value { return .ready(value) }
                if computing { return .wait }
                computing = true
                return .compute
            }
            switch step {
            case .ready(let value):
                return value
            case .wait:
                let result: Value? = await withCheckedContinuation { continuation in
                    // The computation may have ended in between: then look again.
                    let waiting = lock.withLock {
                        if computing { waiters.append(continuation) }
                        return computing
                    }
                    if !waiting { continuation.resume(returning: nil) }
                }
                if let result { return result }
            case .compute:
                let (value, lifetime) = await compute()
                let waiting = lock.withLock {
                    self.value = value
                    expiresAt = now() + max(0, lifetime)
                    computing = false
                    defer { waiters.removeAll() }
                    return waiters
                }
                for waiter in waiting { waiter.resume(returning: value) }
                return value
            }
        }
    }
}
