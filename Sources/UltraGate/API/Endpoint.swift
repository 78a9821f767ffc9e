import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// The routes the gateway serves, matched from method and path.
public enum Endpoint: Equatable, Sendable {
    case chatCompletions
    case embeddings
    case listModels
    case model(String)
    case health
    /// `/health?deep=1`: asks every model, so it is its own endpoint (and can have its own access rule).
    case deepHealth
    case metrics
    case stats
    case notFound
    case methodNotAllowed(allowed: [String])

    /// Matches a request. Paths are accepted with or without the `/v1` prefix, as OpenAI-compatible
    /// servers commonly do, and with a trailing slash.
    public static func match(method: String, path rawPath: String, query: String? = nil) -> Endpoint {
        var path = rawPath
        if path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        func only(_ allowed: [String], _ endpoint: Endpoint) -> Endpoint {
            allowed.contains(method) ? endpoint : .methodNotAllowed(allowed: allowed)
        }
        switch path {
        case "/v1/chat/completions", "/chat/completions": return only(["POST"], .chatCompletions)
        case "/v1/embeddings", "/embeddings": return only(["POST"], .embeddings)
        case "/v1/models", "/models": return only(readMethods, .listModels)
        case "/health", "/healthz", "/v1/health": return only(readMethods, isDeep(query) ? .deepHealth : .health)
        case "/metrics": return only(readMethods, .metrics)
        case "/v1/stats", "/stats": return only(readMethods, .stats)
        default: break
        }
        for prefix in ["/v1/models/", "/models/"] where path.hasPrefix(prefix) {
            let id = String(path.dropFirst(prefix.count))
            guard !id.isEmpty else { break }
            return only(readMethods, .model(percentDecoded(id)))
        }
        return .notFound
    }

    /// The methods of every resource that is read: HEAD is answered wherever GET is (the server
    /// sends the head without the body), so the `Allow` of a 405 must list both (RFC 9110 §15.5.6).
    package static let readMethods = ["GET", "HEAD"]

    /// Whether a health query asks for the deep check: `deep=1` or `deep=true` among its parameters.
    package static func isDeep(_ query: String?) -> Bool {
        query?.split(separator: "&").contains(where: { $0 == "deep=1" || $0 == "deep=true" }) == true
    }

    package static func percentDecoded(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
