import UltraGateJSON

/// The error shape of an API the gateway serves: OpenAI's `{"error":{message,type,param,code}}`
/// or Anthropic's `{"type":"error","error":{type,message}}`.
package enum ErrorDialect: Sendable {
    case openAI
    case anthropic

    package func body(_ error: GatewayError) -> [UInt8] {
        switch self {
        case .openAI: return error.body
        case .anthropic:
            return JSONWriter.serialize(.object([
                "type": "error",
                "error": .object(["type": .string(ErrorDialect.anthropicType(error)), "message": .string(error.message)]),
            ]))
        }
    }

    /// Anthropic's error type for a gateway error, chosen by status as Anthropic's API does.
    package static func anthropicType(_ error: GatewayError) -> String {
        switch error.status {
        case 400, 405, 413, 415, 422: return error.status == 413 ? "request_too_large" : "invalid_request_error"
        case 401: return "authentication_error"
        case 402: return "billing_error"
        case 403: return "permission_error"
        case 404: return "not_found_error"
        case 429: return "rate_limit_error"
        case 503, 529: return "overloaded_error"
        case 504: return "timeout_error"
        default: return "api_error"
        }
    }
}
