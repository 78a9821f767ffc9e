import UltraGateJSON
import UltraGateSupport

/// What both directions of Anthropic's Messages dialect share: the stop-reason and usage maps
/// between a Message and a `chat.completion`, message ids and the stream's event names. The
/// Anthropic adapter (chat → Messages → chat) and the Messages front (Messages → hub → Messages)
/// both read these, so the two directions cannot drift apart.
///
/// Reference: Anthropic API reference "Messages" and "Streaming Messages"; anthropic-sdk-python
/// `types/stop_reason.py`, `types/usage.py`, `types/message_delta_usage.py`,
/// `types/raw_message_stream_event.py`.
package enum AnthropicWire {
    /// The `anthropic-version` sent when the client named none.
    package static let apiVersion = "2023-06-01"

    // MARK: Stop reasons

    /// `StopReason` → OpenAI `finish_reason`.
    package static func finishReason(_ stopReason: String?) -> String? {
        switch stopReason {
        case nil: return nil
        case "end_turn", "stop_sequence", "pause_turn": return "stop"
        case "max_tokens", "model_context_window_exceeded": return "length"
        case "tool_use": return "tool_calls"
        case "refusal": return "content_filter"
        default: return "stop"
        }
    }

    /// OpenAI `finish_reason` → `StopReason` and the `stop_sequence` that ended the answer.
    /// A `stop` is `stop_sequence` only when the upstream says which sequence matched (vLLM and
    /// other OpenAI-compatible servers put it in the choice's `stop_reason`) and the request asked
    /// for that sequence; OpenAI itself does not tell a natural end from a stop sequence, so such
    /// answers read `end_turn`.
    package static func stopReason(finishReason: String?, matched: JSON? = nil, stopSequences: [String] = [])
        -> (reason: String?, sequence: String?) {
        switch finishReason {
        case nil: return (nil, nil)
        case "stop":
            if case .string(let s)? = matched, stopSequences.contains(s) { return ("stop_sequence", s) }
            return ("end_turn", nil)
        case "length": return ("max_tokens", nil)
        case "tool_calls", "function_call": return ("tool_use", nil)
        case "content_filter": return ("refusal", nil)
        default: return ("end_turn", nil)
        }
    }

    // MARK: Usage

    /// Token counts of a Message's `usage`: Anthropic's `input_tokens` excludes cached input, so
    /// cache writes and reads are added to give OpenAI's all-inclusive prompt count.
    package static func tokens(_ usage: JSON?) -> (prompt: Int, completion: Int, cached: Int?) {
        let input = usage?["input_tokens"]?.tokenCount ?? 0
        let cacheWrite = usage?["cache_creation_input_tokens"]?.tokenCount ?? 0
        let cacheRead = usage?["cache_read_input_tokens"]?.tokenCount
        let output = usage?["output_tokens"]?.tokenCount ?? 0
        return (input + cacheWrite + (cacheRead ?? 0), output, cacheRead)
    }

    /// Anthropic `Usage` → `CompletionUsage`.
    package static func chatUsage(_ usage: JSON) -> JSON {
        let t = tokens(usage)
        return OpenAIShapes.usage(prompt: t.prompt, completion: t.completion, cached: t.cached)
    }

    /// `CompletionUsage` → Anthropic `Usage`: the cached part of the prompt is a cache read, the
    /// rest plain input; chat APIs report no cache writes.
    package static func messagesUsage(_ usage: JSON?) -> JSONObject {
        let prompt = usage?["prompt_tokens"]?.tokenCount ?? 0
        let cached = usage?["prompt_tokens_details"]?["cached_tokens"]?.tokenCount ?? 0
        return [
            "input_tokens": .int(max(0, prompt - cached)),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": .int(cached),
            "output_tokens": .int(usage?["completion_tokens"]?.tokenCount ?? 0),
        ]
    }

    // MARK: Ids and events

    /// `msg_` followed by 24 random alphanumerics.
    package static func messageID() -> String { "msg_" + OpenAIShapes.randomToken(24) }

    /// `toolu_` followed by 24 random alphanumerics, for tool calls that came without an id.
    package static func toolUseID() -> String { "toolu_" + OpenAIShapes.randomToken(24) }

    /// Whether a stream event carries output (a content delta with something in it): marks the
    /// first token for time-to-first-token. `message_start`, an empty block's start and `ping`
    /// come before the model produced anything.
    package static func eventCarriesContent(_ event: JSONObject) -> Bool {
        guard event["type"] == "content_block_delta", case .object(let delta)? = event["delta"] else { return false }
        for (key, value) in delta.pairs where key != "type" {
            switch value {
            case .string(let s): if !s.isEmpty { return true }
            case .object(let o): if !o.isEmpty { return true }
            default: continue
            }
        }
        return false
    }
}
