import UltraGateJSON
import UltraGateSupport

/// A `chat.completion` → an Anthropic `Message`, for Messages requests served by a provider that
/// answers in the hub's shape. The reverse of `AnthropicTranslator.response`.
///
/// The first choice's text becomes a `text` block (a refusal's text too), each tool call a
/// `tool_use` block whose `input` is the call's arguments parsed; `finish_reason` and `usage`
/// map through `AnthropicWire`. Reasoning text some OpenAI-compatible servers add
/// (`reasoning_content`) has no signature Anthropic clients could send back, so it is left out.
///
/// Reference: anthropic-sdk-python `types/message.py`, `types/text_block.py`,
/// `types/tool_use_block.py`; OpenAI `CreateChatCompletionResponse`.
package struct MessagesResponseTranslator: Sendable {
    package let provider: String

    package init(provider: String) {
        self.provider = provider
    }

    /// `model`: the name the client asked for. `stopSequences`: the request's, to tell a stop
    /// sequence from a natural end where the upstream says which one matched.
    package func message(_ completion: JSONObject, model: String, stopSequences: [String] = []) throws(ProviderError) -> JSONObject {
        guard let choice = completion["choices"]?.arrayValue?.first else {
            throw ProviderError(kind: .invalidResponse, provider: provider, message: "completion has no choices")
        }
        let message = choice["message"]
        var content: [JSON] = []
        let text = message?["content"]?.stringValue ?? ""
        let refusal = message?["refusal"]?.stringValue ?? ""
        if !text.isEmpty || !refusal.isEmpty { content.append(["type": "text", "text": .string(text.isEmpty ? refusal : text)]) }
        for call in message?["tool_calls"]?.arrayValue ?? [] {
            content.append(.object(try toolUse(call)))
        }
        let stop = AnthropicWire.stopReason(finishReason: choice["finish_reason"]?.stringValue, matched: choice["stop_reason"],
                                            stopSequences: stopSequences)
        return Self.message(id: AnthropicWire.messageID(), model: model, content: content, stopReason: stop.reason,
                            stopSequence: stop.sequence, usage: AnthropicWire.messagesUsage(completion["usage"]))
    }

    /// A chat tool call → a `tool_use` block. Arguments that are not a JSON object cannot become
    /// an `input`: the answer is refused rather than handed on with other arguments.
    package func toolUse(_ call: JSON) throws(ProviderError) -> JSONObject {
        let arguments = call["function"]?["arguments"]?.stringValue ?? ""
        var input: JSON = .object([:])
        if !arguments.allSatisfy({ $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }) {
            guard let parsed = try? JSONParser.parse(arguments), parsed.objectValue != nil else {
                throw ProviderError(kind: .invalidResponse, provider: provider,
                                    message: "tool call arguments are not a JSON object: \(arguments.prefix(200))")
            }
            input = parsed
        }
        return ["type": "tool_use", "id": .string(call["id"]?.stringValue ?? AnthropicWire.toolUseID()),
                "name": call["function"]?["name"] ?? "", "input": input]
    }

    /// A `Message` in Anthropic's member order.
    package static func message(id: String, model: String, content: [JSON], stopReason: String?, stopSequence: String?,
                                usage: JSONObject) -> JSONObject {
        [
            "id": .string(id), "type": "message", "role": "assistant", "model": .string(model), "content": .array(content),
            "stop_reason": stopReason.map(JSON.string) ?? .null, "stop_sequence": stopSequence.map(JSON.string) ?? .null,
            "usage": .object(usage),
        ]
    }
}
