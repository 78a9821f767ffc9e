import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// An error the gateway answers with, in OpenAI's shape:
/// `{"error":{"message":…,"type":…,"param":…,"code":…}}` and the HTTP status OpenAI would use.
public struct GatewayError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var type: String
    /// Never holds what looks like a key (`KeyLikeText`): error bodies reach logs and screens, and
    /// a client may paste a key where a name or a value goes.
    public var message: String { didSet { message = KeyLikeText.redacted(message) } }
    public var param: String? { didSet { param = param.map(KeyLikeText.redacted) } }
    public var code: String?
    /// Extra response headers, e.g. `Retry-After` on a 429.
    public var headers: [HTTPHeaderField]

    public init(status: Int, type: String, message: String, param: String? = nil, code: String? = nil,
                headers: [HTTPHeaderField] = []) {
        self.status = status
        self.type = type
        self.message = KeyLikeText.redacted(message)
        self.param = param.map(KeyLikeText.redacted)
        self.code = code
        self.headers = headers
    }

    public var description: String { "\(status) \(type): \(message)" }

    /// The JSON body: `{"error":{"message","type","param","code"}}` with nulls where absent.
    public var body: [UInt8] { JSONWriter.serialize(json) }

    public var json: JSON {
        .object(["error": .object([
            "message": .string(message),
            "type": .string(type),
            "param": param.map(JSON.string) ?? .null,
            "code": code.map(JSON.string) ?? .null,
        ])])
    }

    // MARK: The kinds OpenAI uses

    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", message: message, param: param, code: code)
    }
    /// A body that is not JSON, or JSON with a key repeated in one object (`param` then names
    /// where: `metadata.x`).
    public static func invalidJSON(_ error: JSONParseError) -> GatewayError {
        invalidRequest("We could not parse the JSON body of your request. (\(error.description))", param: error.path,
                       code: "invalid_json")
    }
    /// `suggestions`: a few names that do route, offered in the message.
    public static func modelNotFound(_ model: String, suggestions: [String] = []) -> GatewayError {
        let offer = suggestions.isEmpty ? "." : "; try one of: \(suggestions.joined(separator: ", "))."
        return GatewayError(status: 404, type: "invalid_request_error",
                            message: "The model \(quotedName(model)) does not exist or you do not have access to it\(offer)",
                            param: "model", code: "model_not_found")
    }

    /// A name from a request as an error repeats it, unless it looks like a key pasted in the wrong
    /// place (`ug-…`, or a long run of key characters): error bodies reach logs and screens.
    package static func quotedName(_ name: String) -> String {
        let bytes = name.utf8
        let keyLike = bytes.count >= 3 && (bytes.prefix(3).map { $0 | 0x20 } == Array("ug-".utf8))
            || bytes.count >= 32 && bytes.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == 0x2D || b == 0x5F
            }
        return keyLike ? "you named (it looks like a key, so it is not repeated here)" : "`\(name)`"
    }
    public static func routeNotFound(method: String, path: String) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error",
                     message: "Invalid URL (\(method) \(path))", code: "unknown_url")
    }
    public static func methodNotAllowed(method: String, path: String, allowed: [String]) -> GatewayError {
        GatewayError(status: 405, type: "invalid_request_error",
                     message: "Method \(method) is not allowed for \(path); use \(allowed.joined(separator: ", ")).",
                     code: "method_not_allowed", headers: [HTTPHeaderField("Allow", allowed.joined(separator: ", "))])
    }
    public static func payloadTooLarge(limit: Int) -> GatewayError {
        GatewayError(status: 413, type: "invalid_request_error",
                     message: "Request body exceeds the limit of \(limit) bytes.", code: "request_too_large")
    }
    public static func unsupportedMediaType(_ contentType: String?) -> GatewayError {
        GatewayError(status: 415, type: "invalid_request_error",
                     message: "Unsupported Content-Type \(contentType.map { "`\($0)`" } ?? "(none)"); send `application/json`.",
                     code: "unsupported_media_type")
    }
    /// A request body in a content coding the gateway does not decode (RFC 9110 §15.5.16); the
    /// `Accept-Encoding` says which one it takes (§12.5.3).
    public static func unsupportedContentEncoding(_ contentEncoding: String) -> GatewayError {
        GatewayError(status: 415, type: "invalid_request_error",
                     message: "Unsupported Content-Encoding `\(contentEncoding)`; send the body uncompressed (`identity`).",
                     code: "unsupported_content_encoding", headers: [HTTPHeaderField("Accept-Encoding", "identity")])
    }
    public static func serverError(_ message: String) -> GatewayError {
        GatewayError(status: 500, type: "server_error", message: message, code: "internal_error")
    }
    public static func upstream(status: Int, message: String, code: String? = nil, headers: [HTTPHeaderField] = []) -> GatewayError {
        let type: String
        switch status {
        case 400, 404, 409, 413, 422: type = "invalid_request_error"
        case 401: type = "authentication_error"
        case 403: type = "permission_error"
        case 429: type = "rate_limit_error"
        case 504: type = "timeout_error"
        default: type = status >= 500 ? "upstream_error" : "invalid_request_error"
        }
        return GatewayError(status: status, type: type, message: message, code: code, headers: headers)
    }
}
