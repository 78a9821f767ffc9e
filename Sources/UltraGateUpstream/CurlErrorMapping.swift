import UltraGateHTTP
import UltraGateSupport
import CCurl

/// Turns a libcurl result into an `UpstreamError`. The border that matters for retries is
/// whether any byte of the response head arrived: before it the request can be sent again.
package enum CurlErrorMapping {
    package static func error(code: CURLcode, detail: String, headStarted: Bool, elapsed: Double,
                      timeouts: UpstreamTimeouts) -> UpstreamError {
        let message = describe(code: code, detail: detail)
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            // libcurl runs two timers of its own: connect and total. The total one is the only
            // one left once the head started, or when its time has come.
            if headStarted || (timeouts.total > 0 && elapsed >= timeouts.total - 0.01) { return .timeout(.total) }
            return .timeout(.connect)
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT,
             CURLE_OUT_OF_MEMORY, CURLE_FAILED_INIT, CURLE_NOT_BUILT_IN, CURLE_UNKNOWN_OPTION:
            return .transport(message)
        default:
            return headStarted ? .broken(message) : .connect(message)
        }
    }

    /// libcurl's own wording. Its messages name hosts and ports at most, never header values.
    package static func describe(code: CURLcode, detail: String) -> String {
        let summary = String(cString: curl_easy_strerror(code))
        return detail.isEmpty || detail == summary ? summary : "\(summary): \(detail)"
    }
}
