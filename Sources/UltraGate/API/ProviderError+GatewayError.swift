import UltraGateCache
import UltraGateJSON
import UltraGateHTTP
import UltraGateProviders
import UltraGateSupport
import UltraGateUpstream

extension ProviderError {
    /// The error the client sees: the provider's status and message are kept.
    public var gatewayError: GatewayError {
        var headers: [HTTPHeaderField] = []
        if let retryAfter {
            headers.append(HTTPHeaderField("Retry-After", String(Int(Seconds.clamped(retryAfter).rounded(.up)))))
        }
        switch kind {
        case .http(let status):
            // Only real error statuses go back to the client: anything else a provider claims
            // (a 1xx, 204, 499 or 999 in an error body) would break the response framing.
            let clientStatus = (400...599).contains(status) && status != 499 ? status : 502
            var error = GatewayError.upstream(status: clientStatus, message: "\(provider): \(message)", code: code, headers: headers)
            error.param = param
            return error
        case .transport(.timeout):
            return .upstream(status: 504, message: "\(provider): \(message)", code: "upstream_timeout")
        case .transport(.responseTooLarge):
            return .upstream(status: 502, message: "\(provider): \(message)", code: "upstream_response_too_large")
        case .transport(.tls):
            return .upstream(status: 502, message: "\(provider): \(message)", code: "upstream_tls_error")
        case .transport:
            return .upstream(status: 502, message: "\(provider): \(message)", code: "upstream_unavailable")
        case .invalidResponse:
            return .upstream(status: 502, message: "\(provider): \(message)", code: "upstream_invalid_response")
        }
    }
}
