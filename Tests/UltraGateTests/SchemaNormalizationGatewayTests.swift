import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// An OpenAI-compatible upstream that reports no usage and leaves out `refusal` and `logprobs`
/// (as llama.cpp does): the client still gets OpenAI's schema, usage estimated and marked, on the
/// miss and on the hit; the metrics count the estimate.
@Suite(.serialized) struct SchemaNormalizationGatewayTests {
    static let question = #"[{"role":"user","content":"How many legs has a spider?"}]"#

    func harness(_ transport: ScriptedTransport) throws -> GatewayHarness {
        let provider = OpenAICompatibleProvider(name: "local", baseURL: "http://llama.invalid/v1", apiKey: nil,
                                                transport: transport)
        let route = ModelRoute(name: "llama", providerName: "local", provider: provider, upstreamModel: "llama-3.2-1b",
                               fallbacks: [], retry: RetrySettings())
        return try GatewayHarness(routes: [route])
    }

    func post(_ h: GatewayHarness, stream: Bool, includeUsage: Bool = false) throws -> TestHTTPClient.Response {
        let options = includeUsage ? #","stream_options":{"include_usage":true}"# : ""
        let c = try h.client()
        c.post("/v1/chat/completions", json: #"{"model":"llama","messages":\#(Self.question),"stream":\#(stream)\#(options)}"#)
        return try c.readResponse()
    }

    static func chunks(_ sse: String) -> [JSONObject] {
        sse.split(separator: "\n").compactMap { line in
            line.hasPrefix("data: {") ? (try? JSONParser.parse(String(line.dropFirst(6))))?.objectValue : nil
        }
    }

    var promptTokens: Int {
        MockTokenEstimator.promptTokens(messages: (try? JSONParser.parse(Self.question))?.arrayValue ?? [])
    }

    func estimated(_ h: GatewayHarness, _ kind: String) -> Double? {
        PrometheusTextChecker.check(h.gateway.metrics.prometheusText())
            .value("ultragate_estimated_tokens_total", ["model": "llama", "kind": kind])
    }

    @Test func anAnswerWithoutUsageGetsTheEstimateOnTheMissAndTheHit() throws {
        let answer = #"{"choices":[{"finish_reason":"stop","index":0,"message":{"role":"assistant","content":"Eight legs."}}],"created":1741569952,"model":"llama-3.2-1b","object":"chat.completion","id":"chatcmpl-xyz"}"#
        let h = try harness(ScriptedTransport(.body(answer)))
        let miss = try post(h, stream: false)
        #expect(miss.status == 200 && miss.header("X-Cache") == "MISS")
        let completion = try #require(miss.json?.objectValue)
        try expectValidCompletion(completion)
        let completionTokens = MockTokenEstimator.count("Eight legs.")
        #expect(completion["usage"] == ["prompt_tokens": .int(promptTokens), "completion_tokens": .int(completionTokens),
                                        "total_tokens": .int(promptTokens + completionTokens), "estimated": true])
        #expect(estimated(h, "prompt") == Double(promptTokens))
        #expect(estimated(h, "completion") == Double(completionTokens))
        let hit = try post(h, stream: false)
        #expect(hit.header("X-Cache") == "HIT")
        #expect(hit.body == miss.body)
        // Replayed as a stream, the estimate is the usage chunk.
        let replay = try post(h, stream: true, includeUsage: true)
        #expect(replay.header("X-Cache") == "HIT")
        let chunks = Self.chunks(replay.text)
        try expectValidStream(chunks)
        #expect(chunks.last?["usage"] == completion["usage"])
    }

    @Test func aStreamWithoutAUsageChunkGetsTheEstimatedOneOnlyWhenAsked() throws {
        let sse = """
        data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":5,"model":"llama-3.2-1b","choices":[{"index":0,"delta":{"content":"Eight"}}]}

        data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":5,"model":"llama-3.2-1b","choices":[{"index":0,"delta":{"content":" legs."}}]}

        data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":5,"model":"llama-3.2-1b","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

        data: [DONE]


        """
        let transport = ScriptedTransport(.body(sse), .body(sse))
        let h = try harness(transport)
        let asked = try post(h, stream: true, includeUsage: true)
        #expect(asked.header("X-Cache") == "MISS")
        let chunks = Self.chunks(asked.text)
        try expectValidStream(chunks)
        #expect(chunks.count == 5, "role chunk, three upstream chunks, usage chunk")
        let completionTokens = MockTokenEstimator.count("Eight legs.")
        let usage: JSON = ["prompt_tokens": .int(promptTokens), "completion_tokens": .int(completionTokens),
                           "total_tokens": .int(promptTokens + completionTokens), "estimated": true]
        #expect(chunks.last?["usage"] == usage)
        #expect(chunks.last?["id"] == "chatcmpl-s" && chunks.last?["created"] == 5 && chunks.last?["model"] == "llama")
        // The gateway asked the upstream for usage itself.
        let sent = try #require(transport.requests.first)
        #expect(String(decoding: sent.body, as: UTF8.self).hasSuffix(#""stream":true,"stream_options":{"include_usage":true}}"#))

        // The stored answer carries the estimate; a client that did not ask for usage gets none,
        // but the call is counted all the same.
        let hit = try post(h, stream: false)
        #expect(hit.header("X-Cache") == "HIT")
        #expect(hit.json?["usage"] == usage)
        try expectValidCompletion(try #require(hit.json?.objectValue))
        let notAsked = try post(h, stream: true, includeUsage: false)
        #expect(notAsked.header("X-Cache") == "HIT")
        try expectValidStream(Self.chunks(notAsked.text), expectUsage: false)
        #expect(estimated(h, "prompt") == Double(promptTokens))
    }

    @Test func aStreamMissWhoseClientDidNotAskForUsageIsStillCounted() throws {
        let sse = """
        data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":5,"model":"llama-3.2-1b","choices":[{"index":0,"delta":{"role":"assistant","content":"Eight legs."},"finish_reason":"stop"}]}

        data: [DONE]


        """
        let h = try harness(ScriptedTransport(.body(sse)))
        let streamed = try post(h, stream: true)
        let chunks = Self.chunks(streamed.text)
        try expectValidStream(chunks, expectUsage: false)
        #expect(chunks.count == 1, "the upstream's own role chunk: no role chunk added, no usage chunk sent")
        #expect(estimated(h, "prompt") == Double(promptTokens))
        #expect(estimated(h, "completion") == Double(MockTokenEstimator.count("Eight legs.")))
    }

    @Test func reportedUsageIsNotCountedAsEstimated() throws {
        let complete = #"{"id":"chatcmpl-B9","object":"chat.completion","created":1741569952,"model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29}}"#
        let h = try harness(ScriptedTransport(.body(complete)))
        let miss = try post(h, stream: false)
        #expect(miss.json?["usage"]?["estimated"] == nil)
        #expect(estimated(h, "prompt") == 0)
        #expect(PrometheusTextChecker.check(h.gateway.metrics.prometheusText())
            .value("ultragate_tokens_total", ["model": "llama", "kind": "prompt"]) == 19)
    }
}
