import UltraGateHTTP
import UltraGateJSON

/// `GET /v1/models` and `/v1/models/{id}` in Anthropic's shapes, for clients that send
/// `anthropic-version` (as Anthropic's SDKs do; Anthropic's own endpoint answers so):
/// `{"data":[{"type":"model","id","display_name","created_at"}],"has_more","first_id","last_id"}`
/// paged by `limit` (1–1000, default 20), `after_id` and `before_id`, and `ModelInfo` alone.
///
/// Reference: Anthropic API reference "List Models" / "Get a Model"; anthropic-sdk-python
/// `types/model_info.py`, `types/model_list_params.py`.
package enum AnthropicModelList {
    /// Whether a request asks for Anthropic's shapes.
    package static func wanted(_ head: HTTPRequestHead) -> Bool { head.headers.contains("anthropic-version") }

    package static func page(_ ids: [String], query: String?, createdAt: String) -> JSON {
        var limit = 20
        var after: String?
        var before: String?
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let value = Endpoint.percentDecoded(parts[1])
            switch parts[0] {
            case "limit": limit = min(1000, max(1, Int(value) ?? 20))
            case "after_id": after = value
            case "before_id": before = value
            default: break
            }
        }
        var start = 0
        var end = ids.count
        if let after, let i = ids.firstIndex(of: after) { start = i + 1 }
        if let before, let i = ids.firstIndex(of: before) { end = i }
        start = min(start, end)
        let page: ArraySlice<String>
        let hasMore: Bool
        if before != nil, after == nil {
            page = ids[max(start, end - limit)..<end]
            hasMore = end - limit > start
        } else {
            page = ids[start..<min(end, start + limit)]
            hasMore = start + limit < end
        }
        return [
            "data": .array(page.map { model($0, createdAt: createdAt) }),
            "has_more": .bool(hasMore),
            "first_id": page.first.map(JSON.string) ?? .null,
            "last_id": page.last.map(JSON.string) ?? .null,
        ]
    }

    package static func model(_ id: String, createdAt: String) -> JSON {
        ["type": "model", "id": .string(id), "display_name": .string(id), "created_at": .string(createdAt)]
    }
}

extension ErrorDialect {
    /// The error shape a request gets: Anthropic's on the Messages paths, OpenAI's on the paths
    /// only OpenAI's API has (chat completions, Responses, embeddings), and on the paths both APIs
    /// share (`/v1/models`) or neither has, Anthropic's when the request carries
    /// `anthropic-version`, as Anthropic's clients all do. Decided before the access gate runs, so
    /// its 401s come in the same shape.
    package static func of(_ endpoint: Endpoint, _ head: HTTPRequestHead) -> ErrorDialect {
        switch endpoint {
        case .messages, .countTokens: return .anthropic
        case .chatCompletions, .responses, .response, .responseInputItems, .embeddings: return .openAI
        case .listModels, .model, .health, .deepHealth, .metrics, .stats, .adminKeys, .adminKey, .adminKeyUsage,
             .notFound, .methodNotAllowed:
            if of(path: head.path) == .anthropic { return .anthropic }
            return AnthropicModelList.wanted(head) ? .anthropic : .openAI
        }
    }

    /// The dialect of a path alone (the server's own refusals know no more): Anthropic's under
    /// `/v1/messages`, OpenAI's elsewhere.
    package static func of(path: String) -> ErrorDialect {
        path.hasPrefix("/v1/messages") || path.hasPrefix("/messages") ? .anthropic : .openAI
    }
}
