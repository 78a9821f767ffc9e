import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Builders for the OpenAI response shapes every adapter returns.
/// Reference: OpenAI OpenAPI spec (openai/openai-openapi), schemas `CreateChatCompletionResponse`,
/// `CreateChatCompletionStreamResponse`, `CompletionUsage`, `ChatCompletionMessageToolCall`.
package enum OpenAIShapes {
    private static let idAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// `chatcmpl-` followed by 29 random alphanumerics, like OpenAI's ids.
    package static func completionID() -> String { "chatcmpl-" + randomToken(29) }

    /// `call_` followed by 24 random alphanumerics, for providers that do not name their tool calls.
    package static func toolCallID() -> String { "call_" + randomToken(24) }

    package static func randomToken(_ count: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: count)
        for i in 0..<count { bytes[i] = idAlphabet[Int(rng.next(upperBound: UInt64(idAlphabet.count)))] }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Seconds since the Unix epoch, for `created`.
    package static func now() -> Int { Int(Date().timeIntervalSince1970) }

    /// A `CompletionUsage` object. `cached` and `reasoning` add the detail objects when known.
    package static func usage(prompt: Int, completion: Int, total: Int? = nil, cached: Int? = nil, reasoning: Int? = nil) -> JSON {
        var usage: JSONObject = [
            "prompt_tokens": .int(prompt),
            "completion_tokens": .int(completion),
            "total_tokens": .int(total ?? prompt + completion),
        ]
        if let cached { usage["prompt_tokens_details"] = ["cached_tokens": .int(cached)] }
        if let reasoning { usage["completion_tokens_details"] = ["reasoning_tokens": .int(reasoning)] }
        return .object(usage)
    }

    /// A `chat.completion` object.
    package static func completion(id: String, created: Int, model: String, choices: [JSON], usage: JSON?) -> JSONObject {
        var object: JSONObject = [
            "id": .string(id),
            "object": "chat.completion",
            "created": .int(created),
            "model": .string(model),
            "choices": .array(choices),
        ]
        if let usage { object["usage"] = usage }
        return object
    }

    /// One `choices[]` entry of a `chat.completion`.
    package static func choice(index: Int, content: String?, toolCalls: [JSON], finishReason: String) -> JSON {
        var message: JSONObject = [
            "role": "assistant",
            "content": content.map(JSON.string) ?? .null,
            "refusal": .null,
        ]
        if !toolCalls.isEmpty { message["tool_calls"] = .array(toolCalls) }
        return [
            "index": .int(index),
            "message": .object(message),
            "logprobs": .null,
            "finish_reason": .string(finishReason),
        ]
    }

    /// A function tool call as it appears in a message (`arguments` is a JSON string).
    package static func toolCall(id: String, name: String, arguments: String) -> JSON {
        ["id": .string(id), "type": "function", "function": ["name": .string(name), "arguments": .string(arguments)]]
    }

    /// A `chat.completion.chunk` object.
    package static func chunk(id: String, created: Int, model: String, choices: [JSON], usage: JSON? = nil) -> JSONObject {
        var object: JSONObject = [
            "id": .string(id),
            "object": "chat.completion.chunk",
            "created": .int(created),
            "model": .string(model),
            "choices": .array(choices),
        ]
        if let usage { object["usage"] = usage }
        return object
    }

    /// Whether a `chat.completion.chunk` carries output: a choice's delta with text (`content`,
    /// `refusal`, `reasoning_content`, `reasoning`, any other string), a tool call's name or
    /// arguments, or another non-empty value. The role alone, empty strings, nulls and empty
    /// lists do not count (an OpenAI role chunk, Anthropic's `message_start`, a finish chunk, the
    /// usage chunk). This marks the first token for time-to-first-token; callers stop asking once
    /// it said yes, so it costs nothing after the first token.
    package static func chunkCarriesContent(_ chunk: JSONObject) -> Bool {
        guard case .array(let choices)? = chunk["choices"] else { return false }
        for choice in choices {
            guard case .object(let delta)? = choice["delta"] else { continue }
            for (key, value) in delta.pairs where key != "role" {
                if key == "tool_calls" || key == "function_call" {
                    if toolCallsCarryContent(value) { return true }
                    continue
                }
                switch value {
                case .string(let s): if !s.isEmpty { return true }
                case .array(let a): if !a.isEmpty { return true }
                case .object(let o): if !o.isEmpty { return true }
                default: continue  // null, numbers and booleans are not output
                }
            }
        }
        return false
    }

    /// A `tool_calls` list (or a legacy `function_call` object) with a function name or argument text.
    private static func toolCallsCarryContent(_ value: JSON) -> Bool {
        func named(_ function: JSON?) -> Bool {
            guard case .object(let f)? = function else { return false }
            return f["name"]?.stringValue?.isEmpty == false || f["arguments"]?.stringValue?.isEmpty == false
        }
        switch value {
        case .array(let calls): return calls.contains { named($0["function"]) }
        case .object: return named(value)
        default: return false
        }
    }
}

/// Emits the chunks of one translated stream, all with the same id/created/model, and puts
/// `delta.role: "assistant"` on the first chunk of each choice, as OpenAI does.
package struct OpenAIChunkBuilder: Sendable {
    package let id: String
    package let created: Int
    package var model: String
    private var choicesWithRole: Set<Int> = []

    package init(model: String, id: String = OpenAIShapes.completionID(), created: Int = OpenAIShapes.now()) {
        self.id = id
        self.created = created
        self.model = model
    }

    /// The role-only opening chunk (`{"role":"assistant","content":""}`).
    package mutating func start(index: Int = 0) -> JSONObject {
        delta(["content": ""], index: index)
    }

    package var hasStarted: Bool { !choicesWithRole.isEmpty }

    package mutating func delta(_ delta: JSONObject, finishReason: String? = nil, index: Int = 0) -> JSONObject {
        var delta = delta
        if choicesWithRole.insert(index).inserted {
            delta = JSONObject([(key: "role", value: "assistant")] + delta.pairs.filter { $0.key != "role" })
        }
        let choice: JSON = [
            "index": .int(index),
            "delta": .object(delta),
            "logprobs": .null,
            "finish_reason": finishReason.map(JSON.string) ?? .null,
        ]
        return OpenAIShapes.chunk(id: id, created: created, model: model, choices: [choice])
    }

    package func usageChunk(_ usage: JSON) -> JSONObject {
        OpenAIShapes.chunk(id: id, created: created, model: model, choices: [], usage: usage)
    }
}
