import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// OpenAI chat completions ⇄ Anthropic Messages, for non-streamed exchanges.
///
/// Reference: Anthropic API reference "Messages" (POST /v1/messages, docs.anthropic.com/en/api/messages)
/// and the types of anthropics/anthropic-sdk-python (`MessageCreateParams`, `TextBlockParam`,
/// `ImageBlockParam` with `Base64ImageSourceParam`/`URLImageSourceParam`, `DocumentBlockParam` with
/// `Base64PDFSourceParam`/`PlainTextSourceParam`, `ToolUseBlockParam`, `ToolResultBlockParam`,
/// `ToolParam`, `ToolChoiceParam`, `Message`, `Usage`, `StopReason`). Outputs follow OpenAI's
/// `CreateChatCompletionResponse`.
package struct AnthropicTranslator: Sendable {
    package let provider: String
    /// Anthropic requires `max_tokens`; OpenAI does not.
    package static let defaultMaxTokens = 4096

    // MARK: Request

    package func request(_ body: JSONObject, stream: Bool) throws(ProviderError) -> JSONObject {
        // The Messages API answers with one message: asked for more, say so rather than return one.
        if let n = body["n"]?.intValue, n > 1 {
            throw unsupported("n: Anthropic returns one choice per request; n > 1 is not supported (ask n times, or use an ensemble)")
        }
        var out = JSONObject()
        out["model"] = body["model"] ?? ""
        var systemBlocks: [JSONObject] = []
        var turns: [(role: String, blocks: [JSON])] = []
        func append(_ role: String, _ blocks: [JSON]) {
            guard !blocks.isEmpty else { return }
            if let last = turns.indices.last, turns[last].role == role {
                turns[last].blocks += blocks
            } else {
                turns.append((role, blocks))
            }
        }
        for (i, message) in (body["messages"]?.arrayValue ?? []).enumerated() {
            let role = message["role"]?.stringValue ?? ""
            switch role {
            case "system", "developer":
                for block in try contentBlocks(message["content"], at: i) {
                    guard let b = block.objectValue, b["type"] == "text" else {
                        throw unsupported("messages[\(i)]: only text content is allowed in \(role) messages")
                    }
                    systemBlocks.append(b)
                }
            case "user":
                append("user", try contentBlocks(message["content"], at: i))
            case "assistant":
                var blocks = try contentBlocks(message["content"], at: i)
                for call in message["tool_calls"]?.arrayValue ?? [] {
                    blocks.append(try toolUseBlock(call, at: i))
                }
                append("assistant", blocks)
            case "tool":
                var result: JSONObject = ["type": "tool_result", "tool_use_id": message["tool_call_id"] ?? ""]
                if case .string(let text)? = message["content"] {
                    if !text.isEmpty { result["content"] = .string(text) }
                } else {
                    let blocks = try contentBlocks(message["content"], at: i)
                    if !blocks.isEmpty { result["content"] = .array(blocks) }
                }
                append("user", [.object(result)])
            default:
                throw unsupported("messages[\(i)]: role `\(role)` is not supported by the Anthropic adapter")
            }
        }
        if !systemBlocks.isEmpty {
            if systemBlocks.contains(where: { $0["cache_control"] != nil }) {
                out["system"] = .array(systemBlocks.map(JSON.object))
            } else {
                out["system"] = .string(systemBlocks.compactMap { $0["text"]?.stringValue }.joined(separator: "\n\n"))
            }
        }
        out["messages"] = .array(turns.map { turn in
            // A lone plain text block is sent in the short string form.
            if turn.blocks.count == 1, let b = turn.blocks[0].objectValue, b.count == 2, b["type"] == "text",
               let text = b["text"] {
                return ["role": .string(turn.role), "content": text]
            }
            return ["role": .string(turn.role), "content": .array(turn.blocks)]
        })
        out["max_tokens"] = body["max_completion_tokens"].flatMap { $0.isNull ? nil : $0 }
            ?? body["max_tokens"].flatMap { $0.isNull ? nil : $0 } ?? .int(Self.defaultMaxTokens)
        switch body["stop"] {
        case .string(let s)?: out["stop_sequences"] = [.string(s)]
        case .array(let a)? where !a.isEmpty: out["stop_sequences"] = .array(a)
        default: break
        }
        for key in ["temperature", "top_p"] {
            if let v = body[key], !v.isNull { out[key] = v }
        }
        if let tools = body["tools"]?.arrayValue, !tools.isEmpty {
            out["tools"] = .array(try tools.enumerated().map { (i, tool) throws(ProviderError) in try anthropicTool(tool, at: i) })
        }
        var toolChoice: JSONObject?
        switch body["tool_choice"] {
        case .string("auto")?: toolChoice = ["type": "auto"]
        case .string("required")?: toolChoice = ["type": "any"]
        case .string("none")?: toolChoice = ["type": "none"]
        case .object(let o)?:
            guard let name = o["function"]?["name"]?.stringValue else { throw unsupported("tool_choice: unsupported form") }
            toolChoice = ["type": "tool", "name": .string(name)]
        default: break
        }
        if body["parallel_tool_calls"] == .bool(false), body["tools"]?.arrayValue?.isEmpty == false {
            if toolChoice == nil { toolChoice = ["type": "auto"] }
            if toolChoice?["type"] != "none" { toolChoice?["disable_parallel_tool_use"] = true }
        }
        if let toolChoice { out["tool_choice"] = .object(toolChoice) }
        if let user = body["user"]?.stringValue { out["metadata"] = ["user_id": .string(user)] }
        if stream { out["stream"] = true }
        return out
    }

    /// OpenAI content (a string or an array of parts) → Anthropic content blocks.
    private func contentBlocks(_ content: JSON?, at i: Int) throws(ProviderError) -> [JSON] {
        switch content {
        case nil, .null?: return []
        case .string(let text)?: return text.isEmpty ? [] : [["type": "text", "text": .string(text)]]
        case .array(let parts)?:
            var blocks: [JSON] = []
            for part in parts {
                if let block = try contentBlock(part, at: i) { blocks.append(.object(block)) }
            }
            return blocks
        default:
            throw unsupported("messages[\(i)].content: expected a string or an array of parts")
        }
    }

    private func contentBlock(_ part: JSON, at i: Int) throws(ProviderError) -> JSONObject? {
        let type = part["type"]?.stringValue ?? ""
        var block: JSONObject
        switch type {
        case "text", "refusal":
            let text = part[type]?.stringValue ?? ""
            if text.isEmpty { return nil }  // Anthropic rejects empty text blocks
            block = ["type": "text", "text": .string(text)]
        case "image_url":
            let url = part["image_url"]?["url"]?.stringValue ?? part["image_url"]?.stringValue ?? ""
            if let data = DataURL(url) {
                block = ["type": "image", "source": ["type": "base64", "media_type": .string(data.mediaType),
                                                     "data": .string(data.base64)]]
            } else if url.hasPrefix("https://") || url.hasPrefix("http://") {
                block = ["type": "image", "source": ["type": "url", "url": .string(url)]]
            } else {
                throw unsupported("messages[\(i)]: image_url must be a data URL or an http(s) URL")
            }
        case "file":
            let file = part["file"]?.objectValue ?? [:]
            guard let fileData = file["file_data"]?.stringValue, let data = DataURL(fileData) else {
                throw unsupported("messages[\(i)]: file parts need `file.file_data` as a data URL (file_id is not supported by Anthropic)")
            }
            if data.mediaType == "application/pdf" {
                block = ["type": "document", "source": ["type": "base64", "media_type": "application/pdf",
                                                        "data": .string(data.base64)]]
            } else if data.mediaType.hasPrefix("text/"), let text = data.text {
                block = ["type": "document", "source": ["type": "text", "media_type": "text/plain", "data": .string(text)]]
            } else {
                throw unsupported("messages[\(i)]: file type \(data.mediaType) is not supported by Anthropic (PDF or text)")
            }
            if let name = file["filename"]?.stringValue { block["title"] = .string(name) }
        default:
            throw unsupported("messages[\(i)]: content part type `\(type)` is not supported by Anthropic")
        }
        if let cache = part["cache_control"] { block["cache_control"] = cache }
        return block
    }

    private func toolUseBlock(_ call: JSON, at i: Int) throws(ProviderError) -> JSON {
        let arguments = call["function"]?["arguments"]?.stringValue ?? ""
        let input: JSON
        if arguments.trimmingCharacters(in: .whitespaces).isEmpty {
            input = .object([:])
        } else if let parsed = try? JSONParser.parse(arguments), parsed.objectValue != nil {
            input = parsed
        } else {
            throw unsupported("messages[\(i)].tool_calls: arguments must be a JSON object")
        }
        return ["type": "tool_use", "id": call["id"] ?? "", "name": call["function"]?["name"] ?? "", "input": input]
    }

    private func anthropicTool(_ tool: JSON, at i: Int) throws(ProviderError) -> JSON {
        guard tool["type"] == "function", let function = tool["function"]?.objectValue else {
            throw unsupported("tools[\(i)]: only function tools are supported")
        }
        var out: JSONObject = ["name": function["name"] ?? ""]
        if let d = function["description"], !d.isNull { out["description"] = d }
        if let p = function["parameters"]?.objectValue {
            out["input_schema"] = .object(p)
        } else {
            out["input_schema"] = ["type": "object", "properties": [:]]
        }
        if let cache = tool["cache_control"] { out["cache_control"] = cache }
        return .object(out)
    }

    private func unsupported(_ message: String) -> ProviderError {
        ProviderError(kind: .http(status: 400), provider: provider, message: message, code: "unsupported_parameter")
    }

    // MARK: Response

    package func response(_ message: JSONObject, requestModel: String) throws(ProviderError) -> JSONObject {
        guard message["type"] == "message" || message["content"]?.arrayValue != nil else {
            throw ProviderError(kind: .invalidResponse, provider: provider, message: "response is not a Message")
        }
        // A non-streaming Message always has its content blocks and a stop reason; without them the
        // answer is cut or malformed, and must not pass (or be cached) as a finished empty answer.
        guard let blocks = message["content"]?.arrayValue else {
            throw ProviderError(kind: .invalidResponse, provider: provider, message: "Message has no `content` array")
        }
        guard let stopReason = message["stop_reason"]?.stringValue else {
            throw ProviderError(kind: .invalidResponse, provider: provider, message: "Message has no `stop_reason`")
        }
        var texts: [String] = []
        var toolCalls: [JSON] = []
        for block in blocks {
            switch block["type"]?.stringValue {
            case "text":
                texts.append(block["text"]?.stringValue ?? "")
            case "tool_use":
                let input = block["input"] ?? .object([:])
                toolCalls.append(OpenAIShapes.toolCall(id: block["id"]?.stringValue ?? OpenAIShapes.toolCallID(),
                                                       name: block["name"]?.stringValue ?? "",
                                                       arguments: input.serializedString))
            default:
                break  // thinking, redacted_thinking, server tool blocks: no OpenAI equivalent
            }
        }
        let content: String? = texts.isEmpty && !toolCalls.isEmpty ? nil : texts.joined()
        let choice = OpenAIShapes.choice(index: 0, content: content, toolCalls: toolCalls,
                                         finishReason: AnthropicWire.finishReason(stopReason) ?? "stop")
        return OpenAIShapes.completion(id: OpenAIShapes.completionID(), created: OpenAIShapes.now(),
                                       model: message["model"]?.stringValue ?? requestModel,
                                       choices: [choice], usage: message["usage"].map(AnthropicWire.chatUsage))
    }
}
