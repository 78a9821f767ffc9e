import UltraGateJSON
import UltraGateSupport

/// `chat.completion.chunk`s → Anthropic Messages stream events, for Messages streams served by a
/// provider that streams in the hub's shape. A value-type state machine with no I/O: each call
/// returns the events to send, in Anthropic's order:
///
///     message_start
///     content_block_start (index 0)   ping   content_block_delta …   content_block_stop
///     content_block_start (index 1) …                                content_block_stop
///     message_delta (stop_reason, stop_sequence, usage)   message_stop
///
/// Text arrives as `text_delta`s of a `text` block; each tool call opens a `tool_use` block (id
/// and name at its start, `input: {}`) and its argument text arrives as `input_json_delta`s. A
/// block closes when the next one opens. `message_delta` waits for `finish()`: chat streams send
/// their usage after the finish reason, and Anthropic's carries both.
///
/// Reference: Anthropic "Streaming Messages"; anthropic-sdk-python `RawMessageStreamEvent`.
package struct MessagesStreamEncoder: Sendable {
    package enum State: Sendable, Equatable {
        /// Nothing sent yet.
        case idle
        /// `message_start` went out; blocks may be open.
        case streaming
        /// `message_stop` went out: nothing more.
        case finished
    }

    package private(set) var state = State.idle
    private let id: String
    private let model: String
    private let stopSequences: [String]
    /// The index the next content block gets.
    private var nextIndex = 0
    /// The block that takes deltas now.
    private var open: Int?
    /// The open block is the text block (else a tool block).
    private var openIsText = false
    /// Chat tool-call index → its block's index.
    private var toolBlocks: [Int: Int] = [:]
    private var pinged = false
    private var stopReason: String?
    private var stopSequence: String?
    private var usage: JSON?

    package init(model: String, id: String = AnthropicWire.messageID(), stopSequences: [String] = []) {
        self.model = model
        self.id = id
        self.stopSequences = stopSequences
    }

    /// The events for one chunk.
    package mutating func add(_ chunk: JSONObject) -> [JSONObject] {
        guard state != .finished else { return [] }
        var events = start()
        if let u = chunk["usage"], !u.isNull { usage = u }
        guard let choice = chunk["choices"]?.arrayValue?.first(where: { ($0["index"]?.intValue ?? 0) == 0 }) else { return events }
        let delta = choice["delta"]
        if case .string(let text)? = delta?["content"], !text.isEmpty {
            if open == nil || !openIsText { events += openBlock(["type": "text", "text": ""], text: true) }
            events.append(deltaEvent(["type": "text_delta", "text": .string(text)]))
        }
        for call in delta?["tool_calls"]?.arrayValue ?? [] {
            let toolIndex = call["index"]?.intValue ?? 0
            if toolBlocks[toolIndex] == nil {
                events += openBlock(["type": "tool_use", "id": .string(call["id"]?.stringValue ?? AnthropicWire.toolUseID()),
                                     "name": call["function"]?["name"] ?? "", "input": .object([:])], text: false)
                toolBlocks[toolIndex] = open
            }
            if case .string(let arguments)? = call["function"]?["arguments"], !arguments.isEmpty, let block = toolBlocks[toolIndex] {
                events.append(deltaEvent(["type": "input_json_delta", "partial_json": .string(arguments)], index: block))
            }
        }
        if case .string(let reason)? = choice["finish_reason"] {
            let stop = AnthropicWire.stopReason(finishReason: reason, matched: choice["stop_reason"], stopSequences: stopSequences)
            stopReason = stop.reason
            stopSequence = stop.sequence
        }
        return events
    }

    /// The closing events once the chunk stream ended well: the open block's stop,
    /// `message_delta` and `message_stop`.
    package mutating func finish() -> [JSONObject] {
        guard state != .finished else { return [] }
        var events = start()
        events += closeBlock()
        state = .finished
        let usage = AnthropicWire.messagesUsage(usage)
        events.append(["type": "message_delta",
                       "delta": ["stop_reason": stopReason.map(JSON.string) ?? .null,
                                 "stop_sequence": stopSequence.map(JSON.string) ?? .null],
                       "usage": .object(usage)])
        events.append(["type": "message_stop"])
        return events
    }

    /// `message_start`, once: the Message with no content yet. Input tokens are not known until
    /// the chat stream's usage chunk, so they come in `message_delta`'s (cumulative) usage.
    private mutating func start() -> [JSONObject] {
        guard state == .idle else { return [] }
        state = .streaming
        let message = MessagesResponseTranslator.message(
            id: id, model: model, content: [], stopReason: nil, stopSequence: nil,
            usage: ["input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0])
        return [["type": "message_start", "message": .object(message)]]
    }

    /// Closes the open block and opens `block`; the first block is followed by a `ping`, as at Anthropic.
    private mutating func openBlock(_ block: JSONObject, text: Bool) -> [JSONObject] {
        var events = closeBlock()
        let index = nextIndex
        nextIndex += 1
        open = index
        openIsText = text
        events.append(["type": "content_block_start", "index": .int(index), "content_block": .object(block)])
        if !pinged {
            pinged = true
            events.append(["type": "ping"])
        }
        return events
    }

    private mutating func closeBlock() -> [JSONObject] {
        guard let index = open else { return [] }
        open = nil
        return [["type": "content_block_stop", "index": .int(index)]]
    }

    /// A delta for the open block, or for `index` (a tool call whose arguments arrive after
    /// another block opened: its events keep its own index, which is how clients place them).
    private func deltaEvent(_ delta: JSONObject, index: Int? = nil) -> JSONObject {
        ["type": "content_block_delta", "index": .int(index ?? open ?? 0), "delta": .object(delta)]
    }
}
