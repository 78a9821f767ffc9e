import UltraGateJSON
import UltraGateSupport

/// An Anthropic Messages request → the gateway's hub request (OpenAI chat-completions JSON), for
/// routes whose provider does not speak Messages (OpenAI-compatible, Azure, Gemini, the mock,
/// ensembles). The reverse of `AnthropicTranslator.request`.
///
/// What cannot be carried is refused with a 400 naming the field (server tools, a PDF by URL,
/// images inside tool results, `container`, `mcp_servers` and any other top-level field this
/// translation does not know), never silently given another meaning. A few fields that only steer
/// how Anthropic serves the call are dropped, as the README documents: `thinking` (and thinking
/// blocks in the history), `cache_control` (on the request and on blocks), `service_tier`,
/// `top_k` (kept for Gemini, as `topK`), `metadata` other than `user_id`, a tool result's
/// `is_error`, `citations` on text blocks, and the request-level `inference_geo`, `speed` and
/// `context_management`.
///
/// Reference: anthropic-sdk-python `types/message_create_params.py` and the block params it
/// names (`TextBlockParam`, `ImageBlockParam`, `DocumentBlockParam`, `ToolUseBlockParam`,
/// `ToolResultBlockParam`, `ToolParam`, `ToolChoiceParam`); OpenAI "Create chat completion".
package struct MessagesRequestTranslator: Sendable {
    /// The provider the request goes to (named in errors).
    package let provider: String
    /// Its adapter kind ("openai", "azure", "gemini", "mock", …): decides what is dropped.
    package let kind: String

    package init(provider: String, kind: String) {
        self.provider = provider
        self.kind = kind
    }

    /// Top-level fields translated or knowingly dropped; any other is refused.
    private static let handled: Set<String> = [
        "model", "messages", "max_tokens", "system", "stop_sequences", "temperature", "top_p", "top_k", "metadata",
        "tools", "tool_choice", "thinking", "service_tier", "stream", "cache_control", "inference_geo", "speed", "ultra",
        // Anthropic's server-side context editing (coding agents send it): without it the model
        // sees the whole history, which changes no answer's meaning.
        "context_management",
    ]

    package func request(_ body: JSONObject) throws(ProviderError) -> JSONObject {
        for key in body.keys where !Self.handled.contains(key) {
            throw unsupported(key, "`\(key)` cannot be translated for the \(kind) provider `\(provider)`; it is only served by Anthropic models")
        }
        var out = JSONObject()
        out["model"] = body["model"] ?? ""
        var messages: [JSON] = []
        switch body["system"] {
        case .string(let text)? where !text.isEmpty:
            messages.append(["role": "system", "content": .string(text)])
        case .array(let blocks)?:
            let parts = try textParts(blocks, at: "system")
            if !parts.isEmpty { messages.append(["role": "system", "content": .array(parts)]) }
        default: break
        }
        for (i, message) in (body["messages"]?.arrayValue ?? []).enumerated() {
            let at = "messages.\(i)"
            switch message["role"]?.stringValue {
            case "system":
                messages.append(["role": "system", "content": try plainContent(message["content"], at: at)])
            case "assistant":
                messages.append(try assistantMessage(message["content"], at: at))
            default:
                messages += try userMessages(message["content"], at: at)
            }
        }
        out["messages"] = .array(messages)
        if let maxTokens = body["max_tokens"] { out["max_tokens"] = maxTokens }
        if let stops = body["stop_sequences"]?.arrayValue, !stops.isEmpty { out["stop"] = .array(stops) }
        for key in ["temperature", "top_p"] {
            if let v = body[key], !v.isNull { out[key] = v }
        }
        if kind == "gemini", let v = body["top_k"], !v.isNull { out["top_k"] = v }
        if let user = body["metadata"]?["user_id"], case .string = user { out["user"] = user }
        if let ultra = body["ultra"], !ultra.isNull { out["ultra"] = ultra }  // the gateway's own ensemble field
        var hasTools = false
        if let tools = body["tools"]?.arrayValue, !tools.isEmpty {
            hasTools = true
            var functions: [JSON] = []
            for (i, tool) in tools.enumerated() { functions.append(try function(tool, at: "tools.\(i)")) }
            out["tools"] = .array(functions)
        }
        if case .object(let choice)? = body["tool_choice"] {
            switch choice["type"]?.stringValue {
            case "auto": out["tool_choice"] = "auto"
            case "any": out["tool_choice"] = "required"
            case "none": out["tool_choice"] = "none"
            case "tool": out["tool_choice"] = ["type": "function", "function": ["name": choice["name"] ?? ""]]
            default: throw unsupported("tool_choice.type", "tool_choice.type `\(choice["type"]?.stringValue ?? "")` cannot be translated")
            }
            if hasTools, choice["disable_parallel_tool_use"] == .bool(true) { out["parallel_tool_calls"] = false }
        }
        return out
    }

    // MARK: Turns

    /// A user turn: its tool results first, each a `tool` message (OpenAI wants them right after
    /// the assistant turn that called the tools), then the rest as one user message.
    private func userMessages(_ content: JSON?, at: String) throws(ProviderError) -> [JSON] {
        guard case .array(let blocks)? = content else {
            return [["role": "user", "content": content ?? ""]]
        }
        var out: [JSON] = []
        var parts: [JSON] = []
        for (j, block) in blocks.enumerated() {
            let here = "\(at).content.\(j)"
            switch block["type"]?.stringValue {
            case "tool_result":
                out.append(["role": "tool", "tool_call_id": block["tool_use_id"] ?? "",
                            "content": try plainContent(block["content"], at: here + ".content")])
            default:
                parts.append(try part(block, at: here))
            }
        }
        if !parts.isEmpty { out.append(["role": "user", "content": .array(parts)]) }
        return out
    }

    private func assistantMessage(_ content: JSON?, at: String) throws(ProviderError) -> JSON {
        guard case .array(let blocks)? = content else {
            return ["role": "assistant", "content": content ?? ""]
        }
        var text = ""
        var calls: [JSON] = []
        for (j, block) in blocks.enumerated() {
            let here = "\(at).content.\(j)"
            switch block["type"]?.stringValue {
            case "text": text += block["text"]?.stringValue ?? ""
            case "tool_use":
                calls.append(OpenAIShapes.toolCall(id: block["id"]?.stringValue ?? AnthropicWire.toolUseID(),
                                                   name: block["name"]?.stringValue ?? "",
                                                   arguments: (block["input"] ?? .object([:])).serializedString))
            case "thinking", "redacted_thinking": continue  // only Anthropic models read their own thinking back
            case let type: throw unsupported(here + ".type", "`\(type ?? "")` blocks cannot be translated for the \(kind) provider `\(provider)`")
            }
        }
        var message: JSONObject = ["role": "assistant", "content": calls.isEmpty || !text.isEmpty ? .string(text) : .null]
        if !calls.isEmpty { message["tool_calls"] = .array(calls) }
        return .object(message)
    }

    // MARK: Blocks

    /// A user content block → a chat content part.
    private func part(_ block: JSON, at: String) throws(ProviderError) -> JSON {
        switch block["type"]?.stringValue {
        case "text":
            return ["type": "text", "text": block["text"] ?? ""]
        case "image":
            let source = block["source"]
            switch source?["type"]?.stringValue {
            case "base64":
                let url = "data:\(source?["media_type"]?.stringValue ?? "image/png");base64,\(source?["data"]?.stringValue ?? "")"
                return ["type": "image_url", "image_url": ["url": .string(url)]]
            case "url":
                return ["type": "image_url", "image_url": ["url": source?["url"] ?? ""]]
            default:
                throw unsupported(at + ".source.type", "image sources other than base64 and url cannot be translated")
            }
        case "document":
            let source = block["source"]
            switch source?["type"]?.stringValue {
            case "base64":
                let mediaType = source?["media_type"]?.stringValue ?? "application/pdf"
                var file: JSONObject = ["file_data": .string("data:\(mediaType);base64,\(source?["data"]?.stringValue ?? "")")]
                file["filename"] = .string(block["title"]?.stringValue ?? "document.pdf")
                return ["type": "file", "file": .object(file)]
            case "text":
                return ["type": "text", "text": source?["data"] ?? ""]
            case "content":
                if case .string(let text)? = source?["content"] { return ["type": "text", "text": .string(text)] }
                let parts = try textParts(source?["content"]?.arrayValue ?? [], at: at + ".source.content")
                let text = parts.compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
                return ["type": "text", "text": .string(text)]
            default:
                throw unsupported(at + ".source.type",
                                  "document sources other than base64, text and content cannot be translated for the \(kind) provider `\(provider)`")
            }
        case let type:
            throw unsupported(at + ".type", "`\(type ?? "")` blocks cannot be translated for the \(kind) provider `\(provider)`")
        }
    }

    /// Text blocks → text parts (their `cache_control` and `citations` dropped).
    private func textParts(_ blocks: [JSON], at: String) throws(ProviderError) -> [JSON] {
        var parts: [JSON] = []
        for (j, block) in blocks.enumerated() {
            guard block["type"] == "text" else {
                throw unsupported("\(at).\(j).type", "only text blocks can be translated here for the \(kind) provider `\(provider)`")
            }
            parts.append(["type": "text", "text": block["text"] ?? ""])
        }
        return parts
    }

    /// A string, or text blocks as text parts (system messages, tool results).
    private func plainContent(_ content: JSON?, at: String) throws(ProviderError) -> JSON {
        switch content {
        case .array(let blocks)?: return .array(try textParts(blocks, at: at))
        case let other?: return other
        case nil: return ""
        }
    }

    /// A custom tool → a function tool. Server tools (any other `type`) run at Anthropic only.
    private func function(_ tool: JSON, at: String) throws(ProviderError) -> JSON {
        if let type = tool["type"], !type.isNull, type != "custom" {
            throw unsupported(at + ".type", "server tool `\(type.stringValue ?? "")` is only available on Anthropic models, not the \(kind) provider `\(provider)`")
        }
        var function: JSONObject = ["name": tool["name"] ?? ""]
        if let d = tool["description"], !d.isNull { function["description"] = d }
        function["parameters"] = tool["input_schema"] ?? ["type": "object", "properties": [:]]
        return ["type": "function", "function": .object(function)]
    }

    private func unsupported(_ field: String, _ message: String) -> ProviderError {
        ProviderError(kind: .http(status: 400), provider: provider, message: "\(field): \(message)", code: "unsupported_parameter",
                      param: field)
    }
}
