import UltraGateHTTP
import UltraGateSupport
import CCurl

/// Turns a libcurl result into an `UpstreamError`. The border that matters for retries is
/// whether any byte of the response head arrived: before it the request can be sent again.
/// A certificate that failed verification is the exception: `.tls`, never retried.
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
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS:
            // libcurl's reason says which check failed (unknown issuer, expired, name mismatch).
            return .tls("the upstream's certificate could not be verified (\(detail.isEmpty ? message : detail))")
        case CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CRL_BADFILE:
            // Its detail names a local file: that stays out of what clients see.
            return .tls("the trusted CA bundle could not be loaded (\(describe(code: code, detail: "")))")
        default:
            // CURLE_SSL_CONNECT_ERROR stays here: a handshake cut short (a reset, an overloaded
            // server) is as passing as a refused connection and is retried like one.
            return headStarted ? .broken(message) : .connect(message)
        }
    }

    /// libcurl's own wording. Its messages name hosts and ports at most, never header values.
    package static func describe(code: CURLcode, detail: String) -> String {
        let summary = String(cString: curl_easy_strerror(code))
        return detail.isEmpty || detail == summary ? summary : "\(summary): \(detail)"
    }
}
