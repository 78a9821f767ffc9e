import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// An OpenAI-compatible upstream's answer reaches the client as the upstream wrote it, but for
/// `model` (the route's name), on the miss and on the cache hit after it.
@Suite(.serialized) struct UpstreamTextPassThroughTests {
    func harness(_ transport: ScriptedTransport, name: String = "gpt-x") throws -> GatewayHarness {
        let provider = OpenAICompatibleProvider(name: "up", baseURL: "http://upstream.invalid/v1", apiKey: "sk-1",
                                                transport: transport)
        let route = ModelRoute(name: name, providerName: "up", provider: provider, upstreamModel: "gpt-4o",
                               fallbacks: [], retry: RetrySettings())
        return try GatewayHarness(routes: [route])
    }

    @Test func theUpstreamTextIsKeptButForTheModel() throws {
        let upstream = """
        {
          "id" : "chatcmpl-9",  "object":"chat.completion","created":1741569952,
          "model": "gpt-4o-2024-08-06",
          "choices":[{"index":0,"message":{"role":"assistant","content":"caf\\u00e9 \\"q\\"","refusal":null},
                      "logprobs":null,"finish_reason":"stop"}],
          "usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12},
          "x_vendor":{"model":"inner","score":1.50}, "service_tier":"default"
        }
        """
        let expected = upstream.replacingOccurrences(of: #""model": "gpt-4o-2024-08-06""#, with: #""model": "gpt-x""#)
        let h = try harness(ScriptedTransport(.body(upstream)))
        let miss = try h.chat("gpt-x", "hello")
        #expect(miss.status == 200)
        #expect(miss.header("X-Cache") == "MISS")
        #expect(miss.header("X-UltraGate-Model") == "gpt-x")
        #expect(miss.text == expected)
        let hit = try h.chat("gpt-x", "hello")
        #expect(hit.header("X-Cache") == "HIT")
        #expect(hit.text == expected)
        // The stored text replays as a stream too.
        let streamed = try h.chat("gpt-x", "hello", stream: true)
        #expect(streamed.header("X-Cache") == "HIT")
        #expect(GatewayIntegrationTests.streamText(streamed.text) == "café \"q\"")
        #expect(streamed.text.contains(#""model":"gpt-x""#))
    }

    @Test func anAnswerWithoutFinishReasonIsPassedOnButNotCached() throws {
        // A stream that reached [DONE] without a finish_reason (a cut generation), then a whole
        // answer with a null one: each goes to the client as it came, and neither is stored.
        let cut = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"half an ans\"},\"finish_reason\":null}]}\n\ndata: [DONE]\n\n"
        let whole = #"{"id":"c","object":"chat.completion","created":1,"model":"x","choices":[{"index":0,"message":{"role":"assistant","content":"half"},"finish_reason":null}]}"#
        let h = try harness(ScriptedTransport(.body(cut), .body(cut), .body(whole), .body(whole)))
        for _ in 0..<2 {
            let streamed = try h.chat("gpt-x", "cut stream", stream: true)
            #expect(streamed.header("X-Cache") == "MISS")
            #expect(GatewayIntegrationTests.streamText(streamed.text) == "half an ans")
        }
        for _ in 0..<2 {
            let answer = try h.chat("gpt-x", "cut answer")
            #expect(answer.status == 200 && answer.header("X-Cache") == "MISS")
        }
    }

    @Test func aFilledInAnswerIsWrittenOut() throws {
        // No id, object or created: the gateway completes the object, so the upstream text is not used.
        let h = try harness(ScriptedTransport(.body(#"{"model":"x","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#)))
        let miss = try h.chat("gpt-x", "hello")
        let object = try #require(miss.json?.objectValue)
        #expect(object["model"] == "gpt-x")
        #expect(object["object"] == "chat.completion")
        #expect(object["id"]?.stringValue?.hasPrefix("chatcmpl-") == true)
        #expect(object["created"]?.intValue != nil)
    }

    /// An answer with a key twice is refused, not passed on: its text would reach the client (and
    /// the cache) while the parsed form, which decides `usage` and whether it is finished, could
    /// read it differently (the first `finish_reason` for one parser, the last for another).
    @Test func anAnswerWithADuplicateKeyIsAnInvalidResponse() throws {
        let h = try harness(ScriptedTransport(.body(#"{"id":"c","object":"chat.completion","created":1,"model":"a","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":null,"finish_reason":"stop"}]}"#)))
        let miss = try h.chat("gpt-x", "hello")
        #expect(miss.status == 502)
        #expect(miss.json?["error"]?["code"] == "upstream_invalid_response")
        #expect(miss.json?["error"]?["message"]?.stringValue?.contains("duplicate key `finish_reason` at 'choices[0].finish_reason'") == true)
    }
}
