import UltraGateHTTP
import UltraGateSupport
import CCurl

/// libcurl's process-wide initialisation, which is not thread-safe and must run exactly once
/// before the first handle is created. A `static let` gives us the once-only guarantee.
package enum CurlGlobal {
    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK

    /// Returns false when libcurl could not be initialised (out of memory, broken TLS library).
    @discardableResult
    package static func ensureInitialized() -> Bool { initialized }
}

/// Nanoseconds on the monotonic clock: deadlines must not jump with wall-clock changes.
@inline(__always)
package func curlMonotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
