import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Instructions to the mock provider embedded in message text, for exercising error paths
/// end to end through the gateway. Syntax: `[[mock:key=value]]`, several keys may share one
/// directive separated by commas (`[[mock:status=503,delay_ms=200]]`); the first occurrence of a
/// key in the conversation wins.
///
/// - `status=N` (400…599): fail with `ProviderError(kind: .http(status: N))` and a message like
///   the real provider's; 429 comes with `retryAfter` 1 s.
/// - `delay_ms=N`: add N ms before anything is answered (errors included).
/// - `break_after=N`: when streaming, end the stream with a broken-connection error after N
///   chunks; a non-streaming call fails the same way.
public struct MockDirectives: Sendable, Equatable {
    public var status: Int?
    public var delayMs: Double = 0
    public var breakAfter: Int?

    public init(status: Int? = nil, delayMs: Double = 0, breakAfter: Int? = nil) {
        self.status = status
        self.delayMs = delayMs
        self.breakAfter = breakAfter
    }

    /// Directives found in the text of `messages`.
    public init(messages: [JSON]) {
        var seen: Set<String> = []
        for text in messages.flatMap(Self.texts) {
            var rest = Substring(text)
            while let open = rest.firstRange(of: "[[mock:") {
                guard let close = rest[open.upperBound...].firstRange(of: "]]") else { break }
                for setting in rest[open.upperBound..<close.lowerBound].split(separator: ",") {
                    let parts = setting.filter { !$0.isWhitespace }.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2, !seen.contains(parts[0]) else { continue }
                    switch parts[0] {
                    case "status": status = Int(parts[1]).flatMap { (400...599).contains($0) ? $0 : nil }
                    case "delay_ms": delayMs = min(600_000, max(0, Double(parts[1]).flatMap { $0.isFinite ? $0 : nil } ?? 0))
                    case "break_after": breakAfter = Int(parts[1]).map { max(0, $0) }
                    default: continue
                    }
                    seen.insert(parts[0])
                }
                rest = rest[close.upperBound...]
            }
        }
    }

    package static func texts(_ message: JSON) -> [String] {
        switch message["content"] {
        case .string(let s)?: return [s]
        case .array(let parts)?: return parts.compactMap { $0["text"]?.stringValue }
        default: return []
        }
    }

    /// The error a real provider would send for `status`.
    public func error(provider: String, model: String) -> ProviderError? {
        guard let status else { return nil }
        let message: String
        var code: String?
        var retryAfter: Double?
        switch status {
        case 400:
            message = "Invalid request: the mock provider was told to reject this request ([[mock:status=400]])."
            code = "invalid_request_error"
        case 401:
            message = "Incorrect API key provided. You can find your API key in your account settings."
            code = "invalid_api_key"
        case 403: message = "You are not allowed to sample from this model."
        case 404:
            message = "The model `\(model)` does not exist or you do not have access to it."
            code = "model_not_found"
        case 429:
            message = "Rate limit reached for \(model) in organization org-mock on requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in 1s."
            code = "rate_limit_exceeded"
            retryAfter = 1
        case 500: message = "The server had an error while processing your request. Sorry about that!"
        case 502: message = "Bad gateway."
        case 503: message = "The engine is currently overloaded, please try again later."
        case 504: message = "Gateway timeout."
        default: message = "The mock provider answered with HTTP \(status) as instructed."
        }
        return ProviderError(kind: .http(status: status), provider: provider, message: message,
                             retryAfter: retryAfter, code: code)
    }
}
