import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// `/v1/messages` through the real server: validation as Anthropic words it, errors in
/// Anthropic's shape, single flight and the cache under keys of the Messages dialect.
@Suite(.serialized) struct MessagesFrontTests {
    static func body(_ model: String, _ content: String, stream: Bool = false) -> String {
        #"{"model":"\#(model)","max_tokens":64,"messages":[{"role":"user","content":"\#(content)"}],"stream":\#(stream)}"#
    }

    static func post(_ h: GatewayHarness, _ body: String, path: String = "/v1/messages") throws -> TestHTTPClient.Response {
        let c = try h.client()
        c.post(path, json: body, headers: ["anthropic-version": "2023-06-01"])
        return try c.readResponse()
    }

    // MARK: Validation

    @Test(arguments: [
        (#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#, "max_tokens: Field required"),
        (#"{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#, "model: Field required"),
        (#"{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}"#, "max_tokens: Input should be greater than or equal to 1"),
        (#"{"model":"m","max_tokens":5,"messages":[]}"#, "messages: at least one message is required"),
        (#"{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":"x"}]}"#, #"messages: first message must use the "user" role"#),
        (#"{"model":"m","max_tokens":5,"messages":[{"role":"bot","content":"x"}]}"#, "messages.0.role: Input should be 'user', 'assistant' or 'system'"),
        (#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text"}]}]}"#, "messages.0.content.0.text: Field required"),
        (#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"video"}]}]}"#,
         "messages.0.content.0.type: Input tag 'video' found using 'type' does not match any of the expected tags: 'text', 'image',"),
        (#"{"model":"m","max_tokens":5,"system":[{"type":"image"}],"messages":[{"role":"user","content":"x"}]}"#,
         "system.0.type: Input tag 'image' found using 'type' does not match any of the expected tags: 'text'"),
        (#"{"model":"m","max_tokens":5,"temperature":1.5,"messages":[{"role":"user","content":"x"}]}"#, "temperature: Input should be less than or equal to 1"),
        (#"{"model":"m","max_tokens":5,"stop_sequences":[1],"messages":[{"role":"user","content":"x"}]}"#, "stop_sequences.0: Input should be a valid string"),
        (#"{"model":"m","max_tokens":5,"tool_choice":{"type":"any"},"messages":[{"role":"user","content":"x"}]}"#, "tool_choice: tool_choice.type `any` requires `tools`"),
        (#"{"model":"m","max_tokens":5,"tools":[{"name":"f"}],"messages":[{"role":"user","content":"x"}]}"#, "tools.0.input_schema: Field required"),
        (#"{"model":"m","max_tokens":2000,"thinking":{"type":"enabled","budget_tokens":2000},"messages":[{"role":"user","content":"x"}]}"#,
         "max_tokens: `max_tokens` must be greater than `thinking.budget_tokens`"),
        (#"{"model":"m","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":100},"messages":[{"role":"user","content":"x"}]}"#,
         "thinking.budget_tokens: Input should be greater than or equal to 1024"),
        (#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"f","input":"x"}]}]}"#,
         "messages.0.content.0.input: Input should be a valid dictionary"),
        (#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":""}]}"#, "messages: text content blocks must be non-empty"),
        (#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}"#,
         "messages: text content blocks must be non-empty"),
        (#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[]},{"role":"assistant","content":"x"}]}"#,
         "messages.0: all messages must have non-empty content except for the optional final assistant message"),
        (#"{"model":"m","max_tokens":5,"system":[{"type":"text","text":""}],"messages":[{"role":"user","content":"x"}]}"#,
         "system: text content blocks must be non-empty"),
    ])
    func invalidBodiesAreRefusedNamingTheField(_ body: String, _ message: String) throws {
        let json = try JSONParser.parse(body)
        let error = try #require(MessagesRequestValidator.validate(json, raw: Array(body.utf8)).failure)
        #expect(error.status == 400)
        #expect(error.message.hasPrefix(message), "\(error.message)")
    }

    /// Only a final assistant message (a prefill) may be empty, as at Anthropic.
    @Test func aFinalAssistantMessageMayBeEmpty() throws {
        for last in [#""""#, "[]"] {
            let body = #"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":\#(last)}]}"#
            #expect(throws: Never.self) { try MessagesRequestValidator.validate(try JSONParser.parse(body), raw: Array(body.utf8)).get() }
        }
    }

    @Test func aFullRequestIsValidAndKeepsWhatItDoesNotKnow() throws {
        let body = """
        {"model":"claude-x","max_tokens":4096,"stream":true,"stop_sequences":["END"],"temperature":0.2,"top_p":0.9,"top_k":5,
         "system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],
         "metadata":{"user_id":"u"},"service_tier":"auto","thinking":{"type":"enabled","budget_tokens":1024},
         "tools":[{"name":"f","input_schema":{"type":"object"}},{"type":"web_search_20250305","name":"web_search"}],
         "tool_choice":{"type":"tool","name":"f","disable_parallel_tool_use":true},
         "messages":[{"role":"user","content":[{"type":"text","text":"hi"},
           {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}},
           {"type":"document","source":{"type":"text","media_type":"text/plain","data":"doc"}}]},
          {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"tool_use","id":"t1","name":"f","input":{}}]},
          {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"ok"}]}]}],
         "container":"future"}
        """
        let request = try MessagesRequestValidator.validate(try JSONParser.parse(body), raw: Array(body.utf8)).get()
        #expect(request.model == "claude-x" && request.stream && request.maxTokens == 4096 && request.stopSequences == ["END"])
        #expect(request.body["container"] == "future")
        #expect(request.estimatedTokens > 4096)
        // count_tokens bodies have no max_tokens.
        let count = #"{"model":"m","messages":[{"role":"user","content":"x"}]}"#
        #expect(throws: Never.self) { try MessagesRequestValidator.check(try JSONParser.parse(count), raw: [], countTokens: true) }
    }

    /// Pass-through bytes: the client's, `model` patched in place; with route params, written out
    /// again with them merged (the client's values win).
    @Test func upstreamBytesRenameTheModelAndMergeParams() throws {
        let raw = #"{"model":"alias", "max_tokens":5,"messages":[{"role":"user","content":"x"}],"n":1.50}"#
        let request = try MessagesRequestValidator.validate(try JSONParser.parse(raw), raw: Array(raw.utf8)).get()
        let plain = ModelRoute(name: "alias", providerName: "anthropic", provider: ScriptedChatProvider(), upstreamModel: "claude-up")
        #expect(String(decoding: request.upstreamBytes(for: plain), as: UTF8.self) == raw.replacingOccurrences(of: "alias", with: "claude-up"))
        let withParams = ModelRoute(name: "alias", providerName: "anthropic", provider: ScriptedChatProvider(), upstreamModel: "claude-up",
                                    params: ["temperature": 0.25, "max_tokens": 999])
        let merged = try JSONParser.parse(request.upstreamBytes(for: withParams))
        #expect(merged["model"] == "claude-up" && merged["temperature"] == .number("0.25") && merged["max_tokens"] == 5)
        #expect(merged["n"] == .number("1.50"))
    }

    @Test func errorsComeInAnthropicsShape() throws {
        let h = try GatewayHarness(routes: [route("m", ScriptedChatProvider())])
        let invalid = try Self.post(h, #"{"model":"m","messages":[]}"#)
        #expect(invalid.status == 400)
        #expect(invalid.json == ["type": "error", "error": ["type": "invalid_request_error", "message": "max_tokens: Field required"]])
        let unknown = try Self.post(h, Self.body("nope", "x"))
        #expect(unknown.status == 404 && unknown.json?["error"]?["type"] == "not_found_error")
        let notJSON = try Self.post(h, "{")
        #expect(notJSON.status == 400 && notJSON.json?["type"] == "error")
        let c = try h.client()
        c.send("GET /v1/messages HTTP/1.1\r\nHost: x\r\n\r\n")
        let wrongMethod = try c.readResponse()
        #expect(wrongMethod.status == 405 && wrongMethod.json?["error"]?["type"] == "invalid_request_error")
        // The chat path keeps OpenAI's shape.
        let chat = try h.chat("nope", "x")
        #expect(chat.json?["error"]?["code"] == "model_not_found" && chat.json?["type"] == nil)
    }

    /// The other OpenAI-only paths keep OpenAI's shape even when the client sends
    /// `anthropic-version`; the shared `/v1/models` answers in the shape that header asks for.
    @Test func openAIOnlyPathsKeepOpenAIsShapeWithAnAnthropicVersion() async throws {
        let h = try GatewayHarness(routes: [route("m", ScriptedChatProvider())])
        try await blocking {
            for (path, body) in [("/v1/embeddings", #"{"model":"nope","input":"x"}"#), ("/v1/responses", #"{"model":"nope","input":"x"}"#),
                                 ("/v1/chat/completions", GatewayHarness.body("nope", "x"))] {
                let r = try Self.post(h, body, path: path)
                #expect(r.status == 404 && r.json?["error"]?["code"] != nil && r.json?["type"] == nil, "\(path)")
            }
            let models = try h.client()
            models.send("GET /v1/models/nope HTTP/1.1\r\nHost: x\r\nanthropic-version: 2023-06-01\r\n\r\n")
            let missing = try models.readResponse()
            #expect(missing.status == 404 && missing.json?["type"] == "error" && missing.json?["error"]?["type"] == "not_found_error")
        }
    }

    // MARK: Flights and the cache

    /// `anthropic-version` and `anthropic-beta` go upstream with the body on pass-through and can
    /// change the answer: there they are part of the cache key (and of the raw-body memo's
    /// digest). A translated call does not see them, so there they are not.
    @Test func anthropicHeadersArePartOfThePassThroughCacheKey() async throws {
        let message = #"{"id":"msg_up","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}"#
        let transport = ScriptedTransport(.body(message), .body(message), .body(message), .body(message))
        let anthropic = AnthropicProvider(name: "anthropic", apiKey: "k", transport: transport)
        let translated = ScriptedChatProvider()
        let h = try GatewayHarness(routes: [ModelRoute(name: "claude", providerName: "anthropic", provider: anthropic, upstreamModel: "m"),
                                            route("m", translated)])
        func send(_ model: String, _ headers: [String: String]) async throws -> String? {
            try await blocking {
                let c = try h.client()
                c.post("/v1/messages", json: Self.body(model, "beta?"), headers: headers)
                return try c.readResponse().header("X-Cache")
            }
        }
        let plain = ["anthropic-version": "2023-06-01"]
        let beta = ["anthropic-version": "2023-06-01", "anthropic-beta": "context-1m-2025-08-07"]
        #expect(try await send("claude", plain) == "MISS")
        #expect(try await send("claude", beta) == "MISS")
        #expect(try await send("claude", beta) == "HIT")
        #expect(try await send("claude", plain) == "HIT")
        #expect(try await send("claude", [:]) == "HIT", "no version is the default one, which goes upstream then")
        #expect(try await send("claude", ["anthropic-version": "2026-10-21"]) == "MISS")
        #expect(transport.requests.count == 3)
        #expect(try await send("m", plain) == "MISS")
        #expect(try await send("m", beta) == "HIT")
        #expect(try await send("m", ["anthropic-version": "2026-10-21"]) == "HIT")
        #expect(translated.callCount == 1)
    }

    @Test func concurrentIdenticalMessagesMakeOneUpstreamCall() async throws {
        let provider = ScriptedChatProvider(delayMs: 300)
        let h = try GatewayHarness(routes: [route("m", provider)])
        let results = await concurrently(6) { _ in try Self.post(h, Self.body("m", "burst")) }
        let responses = try results.map { try $0.get() }
        #expect(responses.allSatisfy { $0.status == 200 && $0.json?["type"] == "message" })
        #expect(Set(responses.map(\.text)).count == 1)
        #expect(provider.callCount == 1)
        let again = try await blocking { try Self.post(h, Self.body("m", "burst")) }
        #expect(again.header("X-Cache") == "HIT" && again.text == responses[0].text)
        #expect(provider.callCount == 1)
        #expect(h.gateway.metrics.prometheusText().contains(#"route="/v1/messages""#))
    }

    @Test func streamedMessagesAreTeedToEveryWaiterAndStored() async throws {
        let provider = ScriptedChatProvider(delayMs: 50, chunkDelayMs: 20)
        let h = try GatewayHarness(routes: [route("m", provider)])
        let results = await concurrently(3) { _ in try Self.post(h, Self.body("m", "tee", stream: true)) }
        let streams = try results.map { try $0.get().text }
        #expect(provider.callCount == 1)
        for text in streams {
            #expect(text.hasPrefix("event: message_start\n") && text.hasSuffix("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
        }
        #expect(Set(streams.map(Self.streamText)).count == 1)
        let whole = try await blocking { try Self.post(h, Self.body("m", "tee")) }
        #expect(whole.header("X-Cache") == "HIT")
        #expect(whole.json?["content"]?.arrayValue?.first?["text"]?.stringValue == Self.streamText(streams[0]))
    }

    /// A chat completion's entry is never a Message's, and the other way round, even for the same
    /// bytes (this body is valid on both paths).
    @Test func chatAndMessagesNeverShareEntries() async throws {
        let provider = ScriptedChatProvider()
        let h = try GatewayHarness(routes: [route("m", provider)])
        let same = Self.body("m", "shared words")
        let chat = try await blocking { try Self.post(h, same, path: "/v1/chat/completions") }
        let message = try await blocking { try Self.post(h, same) }
        #expect(chat.header("X-Cache") == "MISS" && message.header("X-Cache") == "MISS")
        #expect(provider.callCount == 2)
        let chatHit = try await blocking { try Self.post(h, same, path: "/v1/chat/completions") }
        let messageHit = try await blocking { try Self.post(h, same) }
        #expect(chatHit.json?["object"] == "chat.completion" && messageHit.json?["type"] == "message")
        #expect(chatHit.header("X-Cache") == "HIT" && messageHit.header("X-Cache") == "HIT")
        #expect(provider.callCount == 2)
    }

    /// An Anthropic route gets the client's bytes (model renamed) and its answer passes as it
    /// came; when it fails, its fallback (another provider) answers through translation, and the
    /// answer is stored under the model that gave it.
    @Test func passThroughThenFallbackThroughTranslation() async throws {
        let message = #"{"id":"msg_up","type":"message","role":"assistant","model":"claude-up","content":[{"type":"text","text":"hi","citations":null,"x_new":1}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1,"x_tokens":2}}"#
        let overloaded = #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
        let transport = ScriptedTransport(.body(message), .body(overloaded, status: 529), .body(overloaded, status: 529))
        let anthropic = AnthropicProvider(name: "anthropic", baseURL: "https://api.anthropic.com", apiKey: "sk-ant-provider",
                                          transport: transport)
        let translated = ScriptedChatProvider(name: "other")
        var retry = RetrySettings()
        retry.maxAttempts = 2
        let claude = ModelRoute(name: "claude", providerName: "anthropic", provider: anthropic, upstreamModel: "claude-up",
                                fallbacks: ["backup"], retry: retry)
        let h = try GatewayHarness(routes: [claude, route("backup", translated)])
        let body = #"{"model":"claude", "max_tokens":64,"messages":[{"role":"user","content":"one"}],"x_field":{"a":[1.0]}}"#
        let c = try h.client()
        c.post("/v1/messages", json: body, headers: ["x-api-key": "client-key", "anthropic-beta": "b1"])
        let first = try c.readResponse()
        #expect(first.status == 200)
        #expect(first.text == message.replacingOccurrences(of: #""model":"claude-up""#, with: #""model":"claude""#))
        let sent = try #require(transport.requests.first)
        #expect(sent.body == Array(body.replacingOccurrences(of: #""model":"claude""#, with: #""model":"claude-up""#).utf8))
        #expect(header(sent, "x-api-key") == "sk-ant-provider" && header(sent, "anthropic-beta") == "b1")
        #expect(!sent.headers.contains { $0.value == "client-key" })

        let second = try await blocking { try Self.post(h, Self.body("claude", "two")) }
        #expect(second.status == 200 && second.header("X-UltraGate-Model") == "backup")
        #expect(second.json?["model"] == "backup" && second.json?["type"] == "message")
        #expect(transport.requests.count == 3 && translated.callCount == 1)
        #expect(translated.calls.first?.body["messages"] == [["role": "user", "content": "two"]])
        // Stored under the model that answered: asking it directly is a hit.
        let direct = try await blocking { try Self.post(h, Self.body("backup", "two")) }
        #expect(direct.header("X-Cache") == "HIT")
    }

    /// An answer without `stop_reason` (cut or malformed) is passed on but never stored.
    @Test func anAnswerWithoutAStopReasonIsNotStored() async throws {
        let cut = #"{"id":"msg_up","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"hal"}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}"#
        let transport = ScriptedTransport(.body(cut), .body(cut))
        let anthropic = AnthropicProvider(name: "anthropic", apiKey: "k", transport: transport)
        let h = try GatewayHarness(routes: [ModelRoute(name: "claude", providerName: "anthropic", provider: anthropic, upstreamModel: "m")])
        for _ in 0..<2 {
            let r = try await blocking { try Self.post(h, Self.body("claude", "cut")) }
            #expect(r.status == 200 && r.header("X-Cache") == "MISS")
        }
        #expect(transport.requests.count == 2)
    }

    static func streamText(_ sse: String) -> String {
        sse.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("data: {"), let json = try? JSONParser.parse(String(line.dropFirst(6))) else { return nil }
            return json["delta"]?["text"]?.stringValue
        }.joined()
    }
}
