import UltraGateProviders
import UltraGateJSON
import UltraGateSupport

/// A validated `POST /v1/messages` body. `body` is the client's object and `raw` its bytes as
/// sent: a route served by Anthropic gets those bytes with only `model` renamed (and the route's
/// params merged), so fields the gateway does not know pass untouched.
package struct MessagesRequest: Sendable {
    package var body: JSONObject
    package var raw: [UInt8]
    package var model: String
    package var stream: Bool
    package var maxTokens: Int
    package var stopSequences: [String]

    /// The tokens a call may use, reserved against a key's token limit: the prompt by the
    /// gateway's estimator plus `max_tokens`.
    package var estimatedTokens: Int { MessagesTokenEstimate.inputTokens(body).addingSaturated(maxTokens) }

    /// The bytes sent to `route`'s provider when it speaks Messages: the client's, with `model`
    /// patched in place; written out again only when the route merges params (client values win).
    package func upstreamBytes(for route: ModelRoute) -> [UInt8] {
        if route.params.isEmpty, let patched = JSONTopLevelPatch.replacingString("model", with: route.upstreamModel, in: raw) {
            return patched
        }
        var merged = route.mergedBody(body)
        merged["model"] = .string(route.upstreamModel)
        return JSONWriter.serialize(.object(merged))
    }
}

/// The gateway's estimate of a Messages request's input tokens, by the mock's tokenizer stand-in
/// (`MockTokenEstimator`): text, tool names and inputs, tool results and thinking by their text,
/// images and documents without text at a flat rate, the system prompt and the tool definitions.
/// Answers `count_tokens` for routes whose provider cannot count, and sizes token reservations.
package enum MessagesTokenEstimate {
    package static func inputTokens(_ body: JSONObject) -> Int {
        var total = 3
        total += content(body["system"])
        for message in body["messages"]?.arrayValue ?? [] {
            total += MockTokenEstimator.tokensPerMessage + content(message["content"])
        }
        if let tools = body["tools"], !tools.isNull { total += MockTokenEstimator.count(tools.serializedString) }
        return total
    }

    private static func content(_ value: JSON?) -> Int {
        switch value {
        case .string(let text)?: return MockTokenEstimator.count(text)
        case .array(let blocks)?: return blocks.reduce(0) { $0 + block($1) }
        default: return 0
        }
    }

    private static func block(_ block: JSON) -> Int {
        switch block["type"]?.stringValue {
        case "text": return MockTokenEstimator.count(block["text"]?.stringValue ?? "")
        case "thinking": return MockTokenEstimator.count(block["thinking"]?.stringValue ?? "")
        case "tool_use", "server_tool_use":
            return MockTokenEstimator.count(block["name"]?.stringValue ?? "")
                + MockTokenEstimator.count((block["input"] ?? .object([:])).serializedString)
        case "tool_result": return content(block["content"])
        case "document" where block["source"]?["type"] == "text":
            return MockTokenEstimator.count(block["source"]?["data"]?.stringValue ?? "")
        default: return MockTokenEstimator.tokensPerMediaPart
        }
    }
}
