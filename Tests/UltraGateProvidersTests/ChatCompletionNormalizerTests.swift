import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

/// Answers of OpenAI-compatible servers that are not OpenAI, completed to OpenAI's schema
/// (`CreateChatCompletionResponse`, `CreateChatCompletionStreamResponse`) without touching what
/// they did send.
@Suite struct ChatCompletionNormalizerTests {
    func object(_ text: String) throws -> JSONObject { try #require(try JSONParser.parse(text).objectValue) }

    /// A llama.cpp server's answer (b5000-era `/v1/chat/completions`): no `refusal`, no `logprobs`.
    static let llamaCpp = #"{"choices":[{"finish_reason":"stop","index":0,"message":{"role":"assistant","content":"Hi there"}}],"created":1741569952,"model":"llama","system_fingerprint":"b5000","object":"chat.completion","usage":{"completion_tokens":3,"prompt_tokens":9,"total_tokens":12},"id":"chatcmpl-abc","timings":{"prompt_n":9}}"#

    @Test func aCompleteAnswerIsLeftAsItIs() throws {
        var answer = try object(OpenAICompatibleProviderTests.completionJSON)
        let before = answer
        #expect(!ChatCompletionNormalizer.fill(&answer, model: "m"))
        #expect(answer == before)
    }

    @Test func missingRequiredMembersGetTheirNeutralValuesAndNothingElseChanges() throws {
        var answer = try object(Self.llamaCpp)
        let before = answer
        #expect(ChatCompletionNormalizer.fill(&answer, model: "m"))
        try expectValidCompletion(answer)
        let choice = try #require(answer["choices"]?.arrayValue?.first?.objectValue)
        #expect(choice["logprobs"] == .null)
        #expect(choice["message"] == ["role": "assistant", "content": "Hi there", "refusal": .null])
        #expect(choice["finish_reason"] == "stop")
        // Every member the upstream sent keeps its value and place.
        #expect(answer.keys == before.keys)
        for key in before.keys where key != "choices" { #expect(answer[key] == before[key]) }
    }

    @Test func eachLeftOutMemberIsFilled() throws {
        let sparse = try object(#"{"choices":[{"message":{"content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]}},{"message":{"content":"b"},"finish_reason":""}],"usage":{"prompt_tokens":4,"completion_tokens":2}}"#)
        var answer = sparse
        #expect(ChatCompletionNormalizer.fill(&answer, model: "local", now: { 1_700_000_000 }))
        try expectValidCompletion(answer)
        #expect(answer["created"] == 1_700_000_000)
        #expect(answer["model"] == "local")
        #expect(answer["object"] == "chat.completion")
        let choices = try #require(answer["choices"]?.arrayValue)
        #expect(choices.map { $0["index"] } == [0, 1])
        #expect(choices.map { $0["finish_reason"] } == ["tool_calls", "stop"], "read from the message when left out")
        #expect(choices.map { $0["message"]?["role"] } == ["assistant", "assistant"])
        #expect(answer["usage"] == ["prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6])
    }

    @Test func aNullFinishReasonIsKeptAsTheMarkOfACutAnswer() throws {
        var answer = try object(#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"half","refusal":null},"logprobs":null,"finish_reason":null}]}"#)
        #expect(!ChatCompletionNormalizer.fill(&answer, model: "m"))
        #expect(answer["choices"]?.arrayValue?.first?["finish_reason"] == .null)
    }

    @Test func usageCountsAreFilledFromEachOther() throws {
        for (text, expected) in [
            (#"{"prompt_tokens":5,"completion_tokens":3}"#, [5, 3, 8]),
            (#"{"total_tokens":9,"completion_tokens":3}"#, [6, 3, 9]),
            (#"{"prompt_tokens":5,"total_tokens":9}"#, [5, 4, 9]),
            (#"{}"#, [0, 0, 0]),
        ] {
            var usage = try object(text)
            #expect(ChatCompletionNormalizer.fillUsage(&usage))
            #expect([usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]].map { $0?.intValue } == expected)
        }
        var whole = try object(#"{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}"#)
        #expect(!ChatCompletionNormalizer.fillUsage(&whole))
        // A hostile upstream's counts are held to 0...2^40: their sums cannot overflow (they
        // trapped, ending the process).
        var huge = try object(#"{"prompt_tokens":9223372036854775807,"completion_tokens":-9223372036854775808}"#)
        #expect(ChatCompletionNormalizer.fillUsage(&huge))
        #expect(huge["total_tokens"]?.intValue == JSON.maxTokenCount)
        #expect(JSON.number("-5").tokenCount == 0 && JSON.number("12").tokenCount == 12 && JSON.string("3").tokenCount == nil)
    }

    @Test func chunkChoicesGetIndexDeltaAndANullFinishReason() throws {
        var choices = try #require(try JSONParser.parse(#"[{"delta":{"content":"a"}},{"index":1,"finish_reason":""},{"index":2,"delta":{},"finish_reason":"stop"}]"#).arrayValue)
        #expect(ChatCompletionNormalizer.fillChunkChoices(&choices))
        #expect(choices[0] == ["delta": ["content": "a"], "index": 0, "finish_reason": .null])
        #expect(choices[1] == ["index": 1, "finish_reason": .null, "delta": [:]])
        #expect(choices[2] == ["index": 2, "delta": [:], "finish_reason": "stop"])
        var whole = choices
        #expect(!ChatCompletionNormalizer.fillChunkChoices(&whole))
    }

    @Test func estimatedUsageCountsPromptAndEveryKindOfOutputAndSaysSo() throws {
        let request = try object(#"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 2+2?"}],"tools":[{"type":"function","function":{"name":"add","parameters":{}}}]}"#)
        let completion = try object(#"{"choices":[{"index":0,"message":{"role":"assistant","content":"It is 4.","refusal":null,"reasoning_content":"2 plus 2","tool_calls":[{"id":"c","type":"function","function":{"name":"add","arguments":"{\"a\":2}"}}]}},{"index":1,"message":{"role":"assistant","content":[{"type":"text","text":"Four"}]}}]}"#)
        let usage = EstimatedUsage.usage(request: request, completion: completion)
        let prompt = MockTokenEstimator.promptTokens(messages: request["messages"]!.arrayValue!, tools: request["tools"])
        let output = ["It is 4.", "2 plus 2", "add", #"{"a":2}"#, "Four"].map(MockTokenEstimator.count).reduce(0, +)
        #expect(usage == ["prompt_tokens": .int(prompt), "completion_tokens": .int(output), "total_tokens": .int(prompt + output),
                          "estimated": true])
        #expect(prompt > 0 && output > 0)
        #expect(EstimatedUsage.isEstimate(usage))
        #expect(!EstimatedUsage.isEstimate(["prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2]))
        // Valid where OpenAI's usage goes: the marker is an extra member the schema allows.
        let spec = try #require(OpenAPISchema.shared)
        #expect(spec.problems(try #require(usage.objectValue), against: "CompletionUsage").isEmpty)
    }
}
