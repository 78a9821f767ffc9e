import UltraGateHTTP
import Foundation

/// The per-process limits of virtual keys: a request bucket (`rpm`), a token bucket (`tpm`) and a
/// count of requests in flight (`max_parallel`), per key name, behind one lock. A request looks
/// its key's state up once, when admitted; its admission holds the state until it is released.
package final class KeyLimiter: @unchecked Sendable {
    package enum Decision {
        case admitted(headers: [HTTPHeaderField], state: State)
        case refused(KeyMetrics.Refusal, retryAfter: Double, headers: [HTTPHeaderField])
    }

    /// One key's buckets and requests in flight; guarded by the limiter's lock. Kept for as long
    /// as the limiter (one per key name the process saw: keys are created by the operator).
    package final class State: @unchecked Sendable {
        fileprivate var requests: TokenBucket?
        fileprivate var tokens: TokenBucket?
        fileprivate var inFlight = 0
    }

    private let lock = NSLock()
    private var states: [String: State] = [:]  // guarded by lock

    package init() {}

    /// Takes a request and `tokens` from `key`'s buckets and a parallel slot, or says which limit
    /// refuses and for how long. A reservation larger than the whole token limit is admitted when
    /// the bucket is full (it could never be otherwise) and owed afterwards.
    package func admit(_ key: VirtualKey, tokens: Int, now: Double) -> Decision {
        lock.lock()
        defer { lock.unlock() }
        let state: State
        if let known = states[key.name] {
            state = known
        } else {
            state = State()
            states[key.name] = state
        }
        state.requests = KeyLimiter.bucket(state.requests, limit: key.rpm, now: now)
        state.tokens = KeyLimiter.bucket(state.tokens, limit: key.tpm, now: now)
        if let max = key.maxParallel, state.inFlight >= max {
            return .refused(.maxParallel, retryAfter: 1, headers: RateLimitHeaders.fields(requests: state.requests, tokens: state.tokens))
        }
        if let bucket = state.requests, bucket.level < 1 {
            return .refused(.rpm, retryAfter: bucket.secondsUntil(1), headers: RateLimitHeaders.fields(requests: bucket, tokens: state.tokens))
        }
        if let bucket = state.tokens {
            let needed = min(Double(tokens), bucket.capacity)
            if bucket.level < needed {
                return .refused(.tpm, retryAfter: bucket.secondsUntil(needed), headers: RateLimitHeaders.fields(requests: state.requests, tokens: bucket))
            }
        }
        state.requests?.take(1)
        state.tokens?.take(Double(tokens))
        state.inFlight += 1
        return .admitted(headers: RateLimitHeaders.fields(requests: state.requests, tokens: state.tokens), state: state)
    }

    /// Ends an admitted request: frees its slot and settles its token reservation with what it used.
    package func release(_ admission: KeyAdmission, usedTokens: Int, now: Double) {
        guard let state = admission.limits else { return }
        lock.lock()
        defer { lock.unlock() }
        state.inFlight = max(0, state.inFlight - 1)
        if var bucket = state.tokens {
            bucket.refill(now: now)
            let unused = admission.reservedTokens.addingSaturated(-usedTokens)
            if unused >= 0 { bucket.giveBack(Double(unused)) } else { bucket.take(Double(-unused)) }
            state.tokens = bucket
        }
    }

    /// The bucket for `limit` per minute: created full, refilled to `now`, resized when the key's
    /// limit changed, dropped when the key has no such limit.
    private static func bucket(_ existing: TokenBucket?, limit: Int?, now: Double) -> TokenBucket? {
        guard let limit, limit > 0 else { return nil }
        guard var bucket = existing else { return TokenBucket(capacity: limit, period: 60, now: now) }
        bucket.refill(now: now)
        if bucket.capacity != Double(limit) { bucket.resize(capacity: limit, period: 60) }
        return bucket
    }
}
