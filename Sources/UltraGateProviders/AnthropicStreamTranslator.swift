import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Anthropic Messages stream events → `chat.completion.chunk`s.
///
/// Reference: Anthropic API reference "Streaming Messages" (docs.anthropic.com/en/api/messages-streaming):
/// `message_start` (a Message with empty content and initial usage), per block `content_block_start`,
/// `content_block_delta` (`text_delta`, `input_json_delta`, `thinking_delta`, `signature_delta`) and
/// `content_block_stop`, then `message_delta` (`stop_reason`, cumulative `usage`) and `message_stop`;
/// `ping` anywhere; `error` events (e.g. `overloaded_error`, HTTP 529 outside streams); unknown
/// event types may be added and are ignored. Types: anthropic-sdk-python `RawMessageStreamEvent`.
package struct AnthropicStreamTranslator: SSEChunkTranslator {
    package let provider: String
    package let redactor: SecretRedactor
    private var builder: OpenAIChunkBuilder
    package private(set) var isDone = false
    private var sawStopReason = false
    /// Anthropic content block index → OpenAI tool call index.
    private var toolIndexByBlock: [Int: Int] = [:]
    /// Tool-use blocks that have not sent any argument text yet. A tool without parameters streams
    /// no (or only empty) `input_json_delta`s; its arguments are then `{}`, as in a whole Message's
    /// `input: {}`, never the empty string, which no JSON parser accepts.
    private var toolBlocksWithoutArguments: Set<Int> = []
    private var usage: JSONObject = [:]

    package init(provider: String, model: String, redactor: SecretRedactor) {
        self.provider = provider
        self.redactor = redactor
        builder = OpenAIChunkBuilder(model: model)
    }

    package mutating func translate(_ event: SSEEvent) throws(ProviderError) -> [JSONObject] {
        guard let json = try? JSONParser.parse(event.data), let object = json.objectValue else {
            throw ProviderError(kind: .invalidResponse, provider: provider, message: "stream event `\(event.event)` is not JSON")
        }
        switch object["type"]?.stringValue ?? event.event {
        case "message_start":
            let message = object["message"]
            if let model = message?["model"]?.stringValue { builder.model = model }
            mergeUsage(message?["usage"])
            return [builder.start()]
        case "content_block_start":
            let block = object["content_block"]
            switch block?["type"]?.stringValue {
            case "text":
                let text = block?["text"]?.stringValue ?? ""
                return text.isEmpty ? [] : [builder.delta(["content": .string(text)])]
            case "tool_use":
                let blockIndex = object["index"]?.intValue ?? -1
                let toolIndex = toolIndexByBlock.count
                toolIndexByBlock[blockIndex] = toolIndex
                // Streams start with `input: {}` and send the arguments as deltas; an input given
                // up front is the arguments themselves.
                var arguments = ""
                if let input = block?["input"]?.objectValue, !input.isEmpty {
                    arguments = JSON.object(input).serializedString
                } else {
                    toolBlocksWithoutArguments.insert(blockIndex)
                }
                let call: JSON = [
                    "index": .int(toolIndex),
                    "id": block?["id"] ?? .string(OpenAIShapes.toolCallID()),
                    "type": "function",
                    "function": ["name": block?["name"] ?? "", "arguments": .string(arguments)],
                ]
                return [builder.delta(["tool_calls": [call]])]
            default:
                return []
            }
        case "content_block_delta":
            let delta = object["delta"]
            switch delta?["type"]?.stringValue {
            case "text_delta":
                let text = delta?["text"]?.stringValue ?? ""
                return text.isEmpty ? [] : [builder.delta(["content": .string(text)])]
            case "input_json_delta":
                let partial = delta?["partial_json"]?.stringValue ?? ""
                let blockIndex = object["index"]?.intValue ?? -1
                guard !partial.isEmpty, let toolIndex = toolIndexByBlock[blockIndex] else { return [] }
                toolBlocksWithoutArguments.remove(blockIndex)
                return [argumentsDelta(toolIndex, partial)]
            default:
                return []
            }
        case "message_delta":
            mergeUsage(object["usage"])
            guard let reason = AnthropicWire.finishReason(object["delta"]?["stop_reason"]?.stringValue) else { return [] }
            sawStopReason = true
            return [builder.delta([:], finishReason: reason)]
        case "message_stop":
            isDone = true
            return []
        case "content_block_stop":
            let blockIndex = object["index"]?.intValue ?? -1
            guard toolBlocksWithoutArguments.remove(blockIndex) != nil, let toolIndex = toolIndexByBlock[blockIndex] else { return [] }
            return [argumentsDelta(toolIndex, "{}")]
        case "error":
            throw ProviderHTTP.embeddedError(json, provider: provider, redactor: redactor)
        default:
            return []  // ping, and event types added later
        }
    }

    private mutating func argumentsDelta(_ toolIndex: Int, _ text: String) -> JSONObject {
        builder.delta(["tool_calls": [["index": .int(toolIndex), "function": ["arguments": .string(text)]]]])
    }

    package mutating func finish() throws(ProviderError) -> [JSONObject] {
        guard isDone || sawStopReason else {
            throw ProviderError(kind: .transport(.broken("stream ended before message_stop")), provider: provider,
                                message: "stream ended before message_stop")
        }
        return usage.isEmpty ? [] : [builder.usageChunk(AnthropicWire.chatUsage(.object(usage)))]
    }

    /// `message_delta` usage is cumulative; later values replace earlier ones field by field.
    private mutating func mergeUsage(_ value: JSON?) {
        guard let fields = value?.objectValue else { return }
        usage.update(with: fields) { !$0.isNull }
    }
}
