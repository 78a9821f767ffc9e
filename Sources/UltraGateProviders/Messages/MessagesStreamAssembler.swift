import UltraGateJSON
import UltraGateSupport

/// Folds Anthropic Messages stream events into the `Message` a non-streaming call would have
/// returned, as the official SDKs' stream accumulators do: `message_start` gives the Message,
/// `content_block_start` appends its block, deltas grow it (`text_delta`, `input_json_delta`
/// parsed when the block stops, `thinking_delta`, `signature_delta`, `citations_delta`),
/// `message_delta` sets its fields (`stop_reason`, `stop_sequence`, and any other) and merges
/// the cumulative `usage`. Unknown event and delta types are skipped; unknown block types and
/// fields are kept as they came. Used to cache a streamed answer and to answer non-streaming
/// clients that joined a streamed call. Linear in the stream's size.
package struct MessagesStreamAssembler: Sendable {
    private struct Block: Sendable {
        var object: JSONObject
        var text: String?
        var thinking: String?
        var signature: JSON?
        var json: String = ""
        var citations: [JSON]?
    }

    private var message: JSONObject?
    private var blocks: [Block] = []
    /// A block's `index` in the stream → its place in `blocks`.
    private var positions: [Int: Int] = [:]
    private var usage = JSONObject()
    /// `message_stop` arrived.
    package private(set) var stopped = false

    package init() {}

    package mutating func add(_ event: JSONObject) {
        switch event["type"]?.stringValue {
        case "message_start":
            guard case .object(var start)? = event["message"] else { return }
            if case .object(let u)? = start["usage"] { usage = u }
            start["usage"] = nil
            message = start
        case "content_block_start":
            guard case .object(let object)? = event["content_block"] else { return }
            positions[event["index"]?.intValue ?? blocks.count] = blocks.count
            var block = Block(object: object)
            switch object["type"]?.stringValue {
            case "text": block.text = object["text"]?.stringValue ?? ""
            case "thinking": block.thinking = object["thinking"]?.stringValue ?? ""
            default: break
            }
            blocks.append(block)
        case "content_block_delta":
            guard let at = positions[event["index"]?.intValue ?? -1], case .object(let delta)? = event["delta"] else { return }
            switch delta["type"]?.stringValue {
            case "text_delta": if blocks[at].text != nil { blocks[at].text! += delta["text"]?.stringValue ?? "" }
            case "input_json_delta": blocks[at].json += delta["partial_json"]?.stringValue ?? ""
            case "thinking_delta": if blocks[at].thinking != nil { blocks[at].thinking! += delta["thinking"]?.stringValue ?? "" }
            case "signature_delta": blocks[at].signature = delta["signature"]
            case "citations_delta": if let c = delta["citation"] { blocks[at].citations = (blocks[at].citations ?? []) + [c] }
            default: break
            }
        case "message_delta":
            if case .object(let delta)? = event["delta"] { message?.update(with: delta) }
            if case .object(let u)? = event["usage"] { usage.update(with: u) { !$0.isNull } }
        case "message_stop":
            stopped = true
        default:
            break  // ping, error (the stream's reader handles it), types added later
        }
    }

    /// The Message so far (nil before `message_start`).
    package func result() -> JSONObject? {
        guard var message else { return nil }
        message["content"] = .array(blocks.map { .object(Self.finished($0)) })
        message["usage"] = .object(usage)
        return message
    }

    /// A block with what its deltas brought. Tool input text that does not parse leaves the
    /// started `input` as it was (the answer is then incomplete, and an SDK would fail on it too).
    private static func finished(_ block: Block) -> JSONObject {
        var object = block.object
        if let text = block.text { object["text"] = .string(text) }
        if let thinking = block.thinking { object["thinking"] = .string(thinking) }
        if let signature = block.signature { object["signature"] = signature }
        if let citations = block.citations { object["citations"] = .array((object["citations"]?.arrayValue ?? []) + citations) }
        if !block.json.isEmpty, let input = try? JSONParser.parse(block.json) { object["input"] = input }
        return object
    }
}
