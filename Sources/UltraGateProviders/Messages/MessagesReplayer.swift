import UltraGateJSON
import UltraGateSupport

/// A whole `Message` → the stream events that build it, for streaming clients answered from the
/// cache or from a call that ran without streaming. An SDK's accumulator folds them back into the
/// same Message (`MessagesStreamAssembler` does too):
///
/// - `message_start` carries every member but the content, stop fields and usage' final values;
/// - `text` blocks start empty and get their text in one `text_delta`; `thinking` blocks get a
///   `thinking_delta` and a `signature_delta`; `tool_use` blocks start with `input: {}` and get
///   their input's JSON text in one `input_json_delta`; any other block (server tool blocks,
///   redacted thinking, types added later) comes whole in its `content_block_start`;
/// - `message_delta` carries `stop_reason`, `stop_sequence`, `stop_details`, `container` and the
///   whole usage; then `message_stop`. A `ping` follows the first block's start, as at Anthropic.
package enum MessagesReplayer {
    /// Members `message_delta` carries (an SDK takes them from there, not from `message_start`).
    private static let deltaMembers: Set<String> = ["stop_reason", "stop_sequence", "stop_details", "container"]

    package static func events(_ message: JSONObject) -> [JSONObject] {
        var start = JSONObject()
        var delta = JSONObject()
        for (key, value) in message.pairs {
            switch key {
            case "content": start["content"] = .array([])
            case "usage": start["usage"] = value
            case _ where deltaMembers.contains(key):
                delta[key] = value
                start[key] = key == "stop_reason" || key == "stop_sequence" ? .null : value
            default: start[key] = value
            }
        }
        var events: [JSONObject] = [["type": "message_start", "message": .object(start)]]
        for (index, block) in (message["content"]?.arrayValue ?? []).enumerated() {
            guard case .object(let object) = block else { continue }
            var blockEvents = blockEvents(object, index: index)
            if index == 0 { blockEvents.insert(["type": "ping"], at: 1) }
            events += blockEvents
        }
        events.append(["type": "message_delta", "delta": .object(delta), "usage": message["usage"] ?? .object([:])])
        events.append(["type": "message_stop"])
        return events
    }

    private static func blockEvents(_ block: JSONObject, index: Int) -> [JSONObject] {
        var start = block
        var deltas: [JSONObject] = []
        switch block["type"]?.stringValue {
        case "text":
            start["text"] = ""
            if let text = block["text"]?.stringValue, !text.isEmpty { deltas.append(["type": "text_delta", "text": .string(text)]) }
        case "thinking":
            start["thinking"] = ""
            start["signature"] = ""
            if let thinking = block["thinking"]?.stringValue, !thinking.isEmpty {
                deltas.append(["type": "thinking_delta", "thinking": .string(thinking)])
            }
            if let signature = block["signature"]?.stringValue, !signature.isEmpty {
                deltas.append(["type": "signature_delta", "signature": .string(signature)])
            }
        case "tool_use":
            start["input"] = .object([:])
            if case .object(let input)? = block["input"], !input.isEmpty {
                deltas.append(["type": "input_json_delta", "partial_json": .string(JSON.object(input).serializedString)])
            }
        default:
            break
        }
        var events: [JSONObject] = [["type": "content_block_start", "index": .int(index), "content_block": .object(start)]]
        for delta in deltas { events.append(["type": "content_block_delta", "index": .int(index), "delta": .object(delta)]) }
        events.append(["type": "content_block_stop", "index": .int(index)])
        return events
    }
}
