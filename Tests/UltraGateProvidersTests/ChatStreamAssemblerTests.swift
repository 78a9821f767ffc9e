import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

/// Folding `chat.completion.chunk`s (shapes from OpenAI's "The chat completion chunk object")
/// into the `chat.completion` a non-streaming call returns.
@Suite struct ChatStreamAssemblerTests {
    func chunk(_ text: String) throws -> JSONObject {
        guard let object = try JSONParser.parse(text).objectValue else { throw JSONParseError(reason: .empty, offset: 0) }
        return object
    }

    /// Two choices, text split over many chunks, tool calls merged by index with their arguments
    /// concatenated, a non-standard text field (`reasoning_content`) concatenated in order, the
    /// finish reasons and the usage chunk.
    @Test func foldsAManyChunkStream() throws {
        var assembler = ChatStreamAssembler()
        let head = #""id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m""#
        try assembler.add(chunk(#"{\#(head),"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null},{"index":1,"delta":{"role":"assistant"},"finish_reason":null}]}"#))
        var expected = ""
        for i in 0..<500 {
            let piece = "w\(i) "
            expected += piece
            try assembler.add(chunk(#"{\#(head),"choices":[{"index":0,"delta":{"content":"\#(piece)","reasoning_content":"r\#(i)"},"finish_reason":null}]}"#))
        }
        try assembler.add(chunk(#"{\#(head),"choices":[{"index":1,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}"#))
        for part in ["{\\\"x\\\"", ":", "1}"] {
            try assembler.add(chunk(#"{\#(head),"choices":[{"index":1,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\#(part)"}}]},"finish_reason":null}]}"#))
        }
        try assembler.add(chunk(#"{\#(head),"choices":[{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{},"finish_reason":"tool_calls"}]}"#))
        try assembler.add(chunk(#"{\#(head),"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":500,"total_tokens":503}}"#))

        let completion = assembler.completion()
        #expect(completion["id"] == "chatcmpl-1")
        #expect(completion["object"] == "chat.completion")
        #expect(completion["usage"]?["completion_tokens"]?.intValue == 500)
        let choices = completion["choices"]?.arrayValue ?? []
        #expect(choices.count == 2)
        let first = choices[0]["message"]
        #expect(first?["content"]?.stringValue == expected)
        #expect(first?["reasoning_content"]?.stringValue == (0..<500).map { "r\($0)" }.joined())
        #expect(choices[0]["finish_reason"] == "stop")
        let call = choices[1]["message"]?["tool_calls"]?.arrayValue?.first
        #expect(call?["id"] == "call_a")
        #expect(call?["function"]?["name"] == "f")
        #expect(call?["function"]?["arguments"]?.stringValue == #"{"x":1}"#)
        #expect(choices[1]["message"]?["content"] == .null)
        #expect(choices[1]["finish_reason"] == "tool_calls")
        #expect(assembler.chunkCount == 507)
    }
}
