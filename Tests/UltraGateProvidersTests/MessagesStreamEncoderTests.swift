import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateProviders

/// The hub → Messages stream encoder, event by event, without sockets: the order and shapes of
/// Anthropic's "Streaming Messages" (message_start; per block content_block_start, ping after
/// the first, deltas, content_block_stop; message_delta with stop reason and usage; message_stop).
@Suite struct MessagesStreamEncoderTests {
    static func json(_ text: String) -> JSONObject { try! JSONParser.parse(text).objectValue! }

    static func chunk(_ delta: String, finish: String? = nil, extra: String = "") -> JSONObject {
        json(#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":\#(delta),"finish_reason":\#(finish.map { "\"\($0)\"" } ?? "null")\#(extra)}]}"#)
    }

    static let usageChunk = json(#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":7,"total_tokens":37,"prompt_tokens_details":{"cached_tokens":20}}}"#)

    static let start = json(#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-alias","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}"#)

    static func end(_ reason: String, sequence: String? = nil) -> [JSONObject] {
        [json(#"{"type":"message_delta","delta":{"stop_reason":"\#(reason)","stop_sequence":\#(sequence.map { "\"\($0)\"" } ?? "null")},"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":20,"output_tokens":7}}"#),
         json(#"{"type":"message_stop"}"#)]
    }

    func encoder(stopSequences: [String] = []) -> MessagesStreamEncoder {
        MessagesStreamEncoder(model: "claude-alias", id: "msg_1", stopSequences: stopSequences)
    }

    @Test func textStreamsAsOneTextBlock() {
        var e = encoder()
        #expect(e.state == .idle)
        #expect(e.add(Self.chunk(#"{"role":"assistant","content":""}"#)) == [Self.start])
        #expect(e.state == .streaming)
        #expect(e.add(Self.chunk(#"{"content":"Hel"}"#)) == [
            Self.json(#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
            Self.json(#"{"type":"ping"}"#),
            Self.json(#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#),
        ])
        #expect(e.add(Self.chunk(#"{"content":"lo"}"#)) == [
            Self.json(#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}"#),
        ])
        #expect(e.add(Self.chunk("{}", finish: "stop")) == [])
        #expect(e.add(Self.usageChunk) == [])
        #expect(e.finish() == [Self.json(#"{"type":"content_block_stop","index":0}"#)] + Self.end("end_turn"))
        #expect(e.state == .finished)
        #expect(e.add(Self.chunk(#"{"content":"late"}"#)) == [])
        #expect(e.finish() == [])
    }

    @Test func toolCallsOpenToolUseBlocksWithInputJSONDeltas() {
        var e = encoder()
        let first = e.add(Self.chunk(#"{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"get_weather","arguments":""}}]}"#))
        #expect(first == [
            Self.start,
            Self.json(#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"call_A","name":"get_weather","input":{}}}"#),
            Self.json(#"{"type":"ping"}"#),
        ])
        #expect(e.add(Self.chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}"#)) == [
            Self.json(#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"#),
        ])
        #expect(e.add(Self.chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}"#)).count == 1)
        // A second call closes the first block and opens its own.
        #expect(e.add(Self.chunk(#"{"tool_calls":[{"index":1,"id":"call_B","type":"function","function":{"name":"get_time","arguments":"{}"}}]}"#)) == [
            Self.json(#"{"type":"content_block_stop","index":0}"#),
            Self.json(#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_B","name":"get_time","input":{}}}"#),
            Self.json(#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#),
        ])
        #expect(e.add(Self.chunk("{}", finish: "tool_calls")) == [])
        _ = e.add(Self.usageChunk)
        #expect(e.finish() == [Self.json(#"{"type":"content_block_stop","index":1}"#)] + Self.end("tool_use"))
    }

    @Test func textThenToolCallGetTwoBlocks() {
        var e = encoder()
        let events = e.add(Self.chunk(#"{"role":"assistant","content":"Let me look."}"#))
            + e.add(Self.chunk(#"{"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"f","arguments":""}}]}"#))
            + e.add(Self.chunk("{}", finish: "tool_calls")) + e.finish()
        #expect(events.map { $0["type"]?.stringValue ?? "" } == [
            "message_start", "content_block_start", "ping", "content_block_delta", "content_block_stop",
            "content_block_start", "content_block_stop", "message_delta", "message_stop",
        ])
        #expect(events[5]["index"] == 1)
    }

    @Test func stopReasonsMap() {
        func reason(_ finish: String, extra: String = "", stops: [String] = []) -> (JSON?, JSON?) {
            var e = encoder(stopSequences: stops)
            _ = e.add(Self.chunk(#"{"content":"x"}"#, finish: finish, extra: extra))
            let delta = e.finish().first { $0["type"] == "message_delta" }?["delta"]
            return (delta?["stop_reason"], delta?["stop_sequence"])
        }
        #expect(reason("stop") == ("end_turn", .null))
        #expect(reason("length") == ("max_tokens", .null))
        #expect(reason("tool_calls") == ("tool_use", .null))
        #expect(reason("content_filter") == ("refusal", .null))
        // vLLM names the stop sequence that matched; only one the request asked for counts.
        #expect(reason("stop", extra: #","stop_reason":"@@""#, stops: ["@@"]) == ("stop_sequence", "@@"))
        #expect(reason("stop", extra: #","stop_reason":"@@""#, stops: []) == ("end_turn", .null))
    }

    @Test func anEmptyStreamStillStartsAndStops() {
        var e = encoder()
        #expect(e.finish().map { $0["type"]?.stringValue ?? "" } == ["message_start", "message_delta", "message_stop"])
    }

    /// The SDK's accumulator folds a stream into the Message the whole call returns: the encoder's
    /// events, assembled, equal the translated whole answer.
    @Test func assembledEventsEqualTheTranslatedWholeAnswer() throws {
        let chunks = [
            Self.chunk(#"{"role":"assistant","content":"Checking"}"#),
            Self.chunk(#"{"content":" now."}"#),
            Self.chunk(#"{"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"get_weather","arguments":"{\"city\""}}]}"#),
            Self.chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":":\"Paris\"}"}}]}"#),
            Self.chunk("{}", finish: "tool_calls"),
            Self.usageChunk,
        ]
        var e = encoder()
        var assembler = MessagesStreamAssembler()
        for chunk in chunks { for event in e.add(chunk) { assembler.add(event) } }
        for event in e.finish() { assembler.add(event) }
        #expect(assembler.stopped)
        var chat = ChatStreamAssembler()
        for chunk in chunks { chat.add(chunk) }
        var whole = try MessagesResponseTranslator(provider: "p").message(chat.completion(), model: "claude-alias")
        whole["id"] = "msg_1"
        #expect(assembler.result() == whole)
        #expect(whole["content"] == Self.json(#"{"c":[{"type":"text","text":"Checking now."},{"type":"tool_use","id":"call_A","name":"get_weather","input":{"city":"Paris"}}]}"#)["c"])
    }
}
