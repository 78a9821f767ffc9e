import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// The routes the gateway serves, matched from method and path.
public enum Endpoint: Equatable, Sendable {
    case chatCompletions
    /// `POST /v1/responses`
    case responses
    /// `GET` or `DELETE /v1/responses/{id}`
    case response(String)
    /// `GET /v1/responses/{id}/input_items`
    case responseInputItems(String)
    /// Anthropic's Messages API (`Fronts/Messages`).
    case messages
    case countTokens
    case embeddings
    case listModels
    case model(String)
    case health
    /// `/health?deep=1`: asks every model, so it is its own endpoint (and can have its own access rule).
    case deepHealth
    case metrics
    case stats
    /// `/admin/keys`: list (GET) or create (POST) virtual keys.
    case adminKeys
    /// `/admin/keys/{name}`: show (GET), change (PATCH) or revoke (DELETE) one key.
    case adminKey(String)
    /// `/admin/keys/{name}/usage`.
    case adminKeyUsage(String)
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
        case "/v1/responses", "/responses": return only(["POST"], .responses)
        case "/v1/messages", "/messages": return only(["POST"], .messages)
        case "/v1/messages/count_tokens", "/messages/count_tokens": return only(["POST"], .countTokens)
        case "/v1/embeddings", "/embeddings": return only(["POST"], .embeddings)
        case "/v1/models", "/models": return only(readMethods, .listModels)
        case "/health", "/healthz", "/v1/health": return only(readMethods, isDeep(query) ? .deepHealth : .health)
        case "/metrics": return only(readMethods, .metrics)
        case "/v1/stats", "/stats": return only(readMethods, .stats)
        default: break
        }
        for prefix in ["/v1/responses/", "/responses/"] where path.hasPrefix(prefix) {
            let rest = path.dropFirst(prefix.count)
            if rest.hasSuffix("/input_items"), case let id = rest.dropLast("/input_items".count), !id.isEmpty, !id.contains("/") {
                return only(readMethods, .responseInputItems(percentDecoded(String(id))))
            }
            guard !rest.isEmpty, !rest.contains("/") else { break }
            return only(readMethods + ["DELETE"], .response(percentDecoded(String(rest))))
        }
        if path == "/admin/keys" { return only(readMethods + ["POST"], .adminKeys) }
        if path.hasPrefix("/admin/keys/") {
            let rest = path.dropFirst("/admin/keys/".count).split(separator: "/", omittingEmptySubsequences: false)
            if rest.count == 1, !rest[0].isEmpty { return only(readMethods + ["PATCH", "DELETE"], .adminKey(percentDecoded(String(rest[0])))) }
            if rest.count == 2, !rest[0].isEmpty, rest[1] == "usage" { return only(readMethods, .adminKeyUsage(percentDecoded(String(rest[0])))) }
            return .notFound
        }
        for prefix in ["/v1/models/", "/models/"] where path.hasPrefix(prefix) {
            let id = String(path.dropFirst(prefix.count))
            guard !id.isEmpty else { break }
            return only(readMethods, .model(percentDecoded(id)))
        }
        return .notFound
    }

    /// Whether only the master key may call it (the access gate refuses everyone else).
    package var isAdmin: Bool {
        switch self {
        case .adminKeys, .adminKey, .adminKeyUsage: return true
        default: return false
        }
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
