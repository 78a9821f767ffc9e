import UltraGateProviders
import UltraGateJSON

/// Checks a Messages body the way Anthropic's API does, so clients get a 400 naming the field
/// from the gateway whatever provider serves the model, and no provider sees a body Anthropic
/// would have refused. Messages read `<field path>: <reason>` in Anthropic's (pydantic's) words,
/// e.g. `max_tokens: Field required`, `messages.0.content.1.type: Input tag 'foo' found using
/// 'type' does not match any of the expected tags: …`. Only the shape is checked; fields the
/// gateway does not know pass on (Anthropic judges them).
///
/// Reference: anthropic-sdk-python `types/message_create_params.py`, `types/message_param.py`,
/// `types/content_block_param.py` and the block, tool, tool-choice and thinking params it names.
package enum MessagesRequestValidator {
    /// `ContentBlockParam`'s tags, plus the MCP blocks of the beta API.
    package static let blockTypes = [
        "text", "image", "document", "search_result", "thinking", "redacted_thinking", "tool_use", "tool_result",
        "server_tool_use", "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result",
        "bash_code_execution_tool_result", "text_editor_code_execution_tool_result", "tool_search_tool_result",
        "container_upload", "mcp_tool_use", "mcp_tool_result",
    ]
    package static let roles = ["user", "assistant", "system"]

    package static func validate(_ json: JSON, raw: [UInt8]) -> Result<MessagesRequest, GatewayError> {
        do { return .success(try check(json, raw: raw)) } catch { return .failure(error) }
    }

    /// `countTokens`: the `count_tokens` body, which has no `max_tokens` (nor `stream`).
    package static func check(_ json: JSON, raw: [UInt8], countTokens: Bool = false) throws(GatewayError) -> MessagesRequest {
        guard case .object(let body) = json else { throw invalid("", "Input should be a valid dictionary") }
        guard let modelValue = body["model"] else { throw missing("model") }
        guard case .string(let model) = modelValue, !model.isEmpty else { throw invalid("model", "Input should be a non-empty string") }
        var maxTokens = 0
        if !countTokens {
            guard let value = body["max_tokens"] else { throw missing("max_tokens") }
            maxTokens = try integer(value, "max_tokens", min: 1)
        }
        try checkMessages(body["messages"])
        try checkSystem(body["system"])
        try number(body["temperature"], "temperature", max: 1)
        try number(body["top_p"], "top_p", max: 1)
        if let v = body["top_k"] { _ = try integer(v, "top_k", min: 0) }
        var stopSequences: [String] = []
        if let v = body["stop_sequences"] {
            guard case .array(let items) = v else { throw invalid("stop_sequences", "Input should be a valid list") }
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else { throw invalid("stop_sequences.\(i)", "Input should be a valid string") }
                stopSequences.append(s)
            }
        }
        var stream = false
        if let v = body["stream"] {
            guard case .bool(let b) = v else { throw invalid("stream", "Input should be a valid boolean") }
            stream = b
        }
        if let v = body["metadata"] {
            guard case .object(let m) = v else { throw invalid("metadata", "Input should be a valid dictionary") }
            if let user = m["user_id"], !user.isNull {
                guard case .string(let s) = user else { throw invalid("metadata.user_id", "Input should be a valid string") }
                if s.count > 256 { throw invalid("metadata.user_id", "String should have at most 256 characters") }
            }
        }
        let hasTools = try checkTools(body["tools"])
        try checkToolChoice(body["tool_choice"], hasTools: hasTools)
        try checkThinking(body["thinking"], maxTokens: countTokens ? nil : maxTokens)
        if let v = body["service_tier"] {
            guard case .string(let tier) = v, ["auto", "standard_only"].contains(tier) else {
                throw invalid("service_tier", "Input should be 'auto' or 'standard_only'")
            }
        }
        return MessagesRequest(body: body, raw: raw, model: model, stream: stream, maxTokens: maxTokens, stopSequences: stopSequences)
    }

    // MARK: Messages and blocks

    private static func checkMessages(_ value: JSON?) throws(GatewayError) {
        guard let value else { throw missing("messages") }
        guard case .array(let messages) = value else { throw invalid("messages", "Input should be a valid list") }
        guard !messages.isEmpty else { throw invalid("messages", "at least one message is required") }
        var sawTurn = false
        for (i, message) in messages.enumerated() {
            let at = "messages.\(i)"
            guard case .object(let m) = message else { throw invalid(at, "Input should be a valid dictionary") }
            guard let roleValue = m["role"] else { throw missing(at + ".role") }
            guard case .string(let role) = roleValue, roles.contains(role) else {
                throw invalid(at + ".role", "Input should be 'user', 'assistant' or 'system'")
            }
            if role != "system" {
                if !sawTurn, role != "user" { throw invalid("messages", "first message must use the \"user\" role") }
                sawTurn = true
            }
            guard let content = m["content"] else { throw missing(at + ".content") }
            // As Anthropic: only a final assistant message (a prefill) may be empty.
            let mayBeEmpty = i == messages.count - 1 && role == "assistant"
            switch content {
            case .string(let text):
                if text.isEmpty, !mayBeEmpty { throw invalid("messages", "text content blocks must be non-empty") }
            case .array(let blocks):
                if blocks.isEmpty, !mayBeEmpty {
                    throw invalid(at, "all messages must have non-empty content except for the optional final assistant message")
                }
                for (j, block) in blocks.enumerated() {
                    try checkBlock(block, at: "\(at).content.\(j)", textOnly: role == "system")
                }
            default: throw invalid(at + ".content", "Input should be a valid string or a valid list")
            }
        }
        if !sawTurn { throw invalid("messages", "at least one user or assistant message is required") }
    }

    private static func checkSystem(_ value: JSON?) throws(GatewayError) {
        switch value {
        case nil, .string?: return
        case .array(let blocks)?:
            for (i, block) in blocks.enumerated() { try checkBlock(block, at: "system.\(i)", textOnly: true) }
        default: throw invalid("system", "Input should be a valid string or a valid list")
        }
    }

    private static func checkBlock(_ block: JSON, at: String, textOnly: Bool) throws(GatewayError) {
        guard case .object(let b) = block else { throw invalid(at, "Input should be a valid dictionary") }
        guard let typeValue = b["type"] else { throw missing(at + ".type") }
        let expected = textOnly ? ["text"] : blockTypes
        guard case .string(let type) = typeValue, expected.contains(type) else {
            let tag = typeValue.stringValue ?? typeValue.serializedString
            throw invalid(at + ".type", "Input tag '\(tag)' found using 'type' does not match any of the expected tags: "
                          + expected.map { "'\($0)'" }.joined(separator: ", "))
        }
        switch type {
        case "text":
            if try string(b["text"], at + ".text").isEmpty {
                // Anthropic names the list, not the block: `messages: …`, `system: …`.
                throw invalid(String(at.prefix { $0 != "." }), "text content blocks must be non-empty")
            }
        case "image", "document":
            guard case .object(let source)? = b["source"] else {
                throw b["source"] == nil ? missing(at + ".source") : invalid(at + ".source", "Input should be a valid dictionary")
            }
            guard case .string(let kind)? = source["type"] else { throw missing(at + ".source.type") }
            switch kind {
            case "base64":
                try string(source["media_type"], at + ".source.media_type")
                try string(source["data"], at + ".source.data")
            case "url": try string(source["url"], at + ".source.url")
            case "text": try string(source["data"], at + ".source.data")
            default: break  // file, content and sources added later: Anthropic judges them
            }
        case "tool_use", "server_tool_use":
            try string(b["id"], at + ".id")
            try string(b["name"], at + ".name")
            guard case .object? = b["input"] else {
                throw b["input"] == nil ? missing(at + ".input") : invalid(at + ".input", "Input should be a valid dictionary")
            }
        case "tool_result":
            try string(b["tool_use_id"], at + ".tool_use_id")
            switch b["content"] {
            case nil, .string?: break
            case .array(let items)?:
                for (k, item) in items.enumerated() { try checkBlock(item, at: "\(at).content.\(k)", textOnly: false) }
            default: throw invalid(at + ".content", "Input should be a valid string or a valid list")
            }
        case "thinking":
            try string(b["thinking"], at + ".thinking")
            try string(b["signature"], at + ".signature")
        case "redacted_thinking": try string(b["data"], at + ".data")
        default: break
        }
    }

    // MARK: Tools and thinking

    private static func checkTools(_ value: JSON?) throws(GatewayError) -> Bool {
        guard let value else { return false }
        guard case .array(let tools) = value else { throw invalid("tools", "Input should be a valid list") }
        for (i, tool) in tools.enumerated() {
            let at = "tools.\(i)"
            guard case .object(let t) = tool else { throw invalid(at, "Input should be a valid dictionary") }
            try string(t["name"], at + ".name")
            let type = t["type"]
            if type == nil || type == .null || type == "custom" {
                guard case .object? = t["input_schema"] else {
                    throw t["input_schema"] == nil ? missing(at + ".input_schema")
                        : invalid(at + ".input_schema", "Input should be a valid dictionary")
                }
            } else if type?.stringValue == nil {
                throw invalid(at + ".type", "Input should be a valid string")
            }
        }
        return !tools.isEmpty
    }

    private static func checkToolChoice(_ value: JSON?, hasTools: Bool) throws(GatewayError) {
        guard let value else { return }
        guard case .object(let choice) = value else { throw invalid("tool_choice", "Input should be a valid dictionary") }
        guard case .string(let type)? = choice["type"], ["auto", "any", "tool", "none"].contains(type) else {
            throw invalid("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'")
        }
        if type == "tool" { try string(choice["name"], "tool_choice.name") }
        if let v = choice["disable_parallel_tool_use"], v.boolValue == nil {
            throw invalid("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean")
        }
        if (type == "any" || type == "tool"), !hasTools {
            throw invalid("tool_choice", "tool_choice.type `\(type)` requires `tools`")
        }
    }

    private static func checkThinking(_ value: JSON?, maxTokens: Int?) throws(GatewayError) {
        guard let value else { return }
        guard case .object(let thinking) = value else { throw invalid("thinking", "Input should be a valid dictionary") }
        guard case .string(let type)? = thinking["type"] else { throw missing("thinking.type") }
        guard type == "enabled" else { return }  // disabled, adaptive and types added later carry no budget
        guard let budgetValue = thinking["budget_tokens"] else { throw missing("thinking.budget_tokens") }
        let budget = try integer(budgetValue, "thinking.budget_tokens", min: 1024)
        if let maxTokens, budget >= maxTokens {
            throw invalid("max_tokens", "`max_tokens` must be greater than `thinking.budget_tokens`")
        }
    }

    // MARK: Primitives

    @discardableResult
    private static func string(_ value: JSON?, _ field: String) throws(GatewayError) -> String {
        guard let value else { throw missing(field) }
        guard case .string(let s) = value else { throw invalid(field, "Input should be a valid string") }
        return s
    }

    private static func integer(_ value: JSON, _ field: String, min: Int) throws(GatewayError) -> Int {
        guard case .number = value, let n = value.intValue else { throw invalid(field, "Input should be a valid integer") }
        if n < min { throw invalid(field, "Input should be greater than or equal to \(min)") }
        return n
    }

    private static func number(_ value: JSON?, _ field: String, max: Double) throws(GatewayError) {
        guard let value else { return }
        guard case .number = value, let n = value.doubleValue else { throw invalid(field, "Input should be a valid number") }
        if n < 0 { throw invalid(field, "Input should be greater than or equal to 0") }
        if n > max { throw invalid(field, "Input should be less than or equal to \(Int(max))") }
    }

    private static func missing(_ field: String) -> GatewayError {
        .invalidRequest("\(field): Field required", param: field, code: "missing_required_parameter")
    }

    private static func invalid(_ field: String, _ reason: String) -> GatewayError {
        .invalidRequest(field.isEmpty ? reason : "\(field): \(reason)", param: field.isEmpty ? nil : field)
    }
}
