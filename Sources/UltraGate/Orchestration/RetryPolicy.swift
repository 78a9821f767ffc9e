import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// When to try a failed provider call again, and how long to wait first: exponential backoff with
/// full jitter, `Retry-After` honoured, all bounded by the attempt count and a total deadline.
public struct RetryPolicy: Sendable {
    public let settings: RetrySettings

    public init(_ settings: RetrySettings) { self.settings = settings }

    /// The wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed with `error`
    /// at `elapsed` seconds since the first attempt; nil when no retry should happen.
    /// `random` returns a value in 0..<1 (injectable for tests).
    public func delay(after attempt: Int, error: ProviderError, elapsed: Double,
                      random: () -> Double = { Double.random(in: 0..<1) }) -> Double? {
        guard error.isRetryable, attempt < settings.maxAttempts else { return nil }
        let exponential = min(settings.maxDelay, settings.baseDelay * Double(1 << min(attempt - 1, 20)))
        var wait = exponential * (0.5 + 0.5 * random())  // "equal jitter": never zero, never above the cap
        if let retryAfter = error.retryAfter {
            // The server said when; a Retry-After beyond our budget means: do not retry here.
            guard retryAfter <= settings.maxDelay * 4 else { return nil }
            wait = max(wait, retryAfter)
        }
        guard elapsed + wait < settings.deadline else { return nil }
        return wait
    }
}
