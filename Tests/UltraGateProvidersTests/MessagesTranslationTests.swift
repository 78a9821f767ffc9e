import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

/// Messages ⇄ hub for providers that do not speak Messages, the replay of a stored Message as
/// events, and the pass-through of Anthropic's own answers and events (the fixtures are
/// Anthropic's documented examples, checked against the `anthropic` SDK's types).
@Suite struct MessagesTranslationTests {
    static func json(_ text: String) -> JSONObject { try! JSONParser.parse(text).objectValue! }

    // MARK: Request

    static let conversation = json("""
    {"model":"claude-alias","max_tokens":256,"stream":true,
     "system":[{"type":"text","text":"Be terse.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"English."}],
     "messages":[
      {"role":"user","content":[
        {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
        {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}},
        {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQ="},"title":"paper.pdf"},
        {"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain notes"}},
        {"type":"text","text":"Weather?","cache_control":{"type":"ephemeral"}}]},
      {"role":"assistant","content":[
        {"type":"thinking","thinking":"They want weather.","signature":"sig=="},
        {"type":"text","text":"Checking."},
        {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
      {"role":"user","content":[
        {"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"21 C"}],"is_error":false},
        {"type":"text","text":"Thanks"}]}],
     "tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}},
               "cache_control":{"type":"ephemeral"}}],
     "tool_choice":{"type":"any","disable_parallel_tool_use":true},
     "stop_sequences":["END"],"temperature":0.5,"top_p":0.9,"top_k":40,
     "metadata":{"user_id":"u-42"},"thinking":{"type":"enabled","budget_tokens":1024},"service_tier":"auto"}
    """)

    @Test func aConversationBecomesAChatRequest() throws {
        let hub = try MessagesRequestTranslator(provider: "openai", kind: "openai").request(Self.conversation)
        let expected = Self.json("""
        {"model":"claude-alias","messages":[
          {"role":"system","content":[{"type":"text","text":"Be terse."},{"type":"text","text":"English."}]},
          {"role":"user","content":[
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
            {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}},
            {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0xLjQ=","filename":"paper.pdf"}},
            {"type":"text","text":"plain notes"},
            {"type":"text","text":"Weather?"}]},
          {"role":"assistant","content":"Checking.","tool_calls":[
            {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]},
          {"role":"tool","tool_call_id":"toolu_1","content":[{"type":"text","text":"21 C"}]},
          {"role":"user","content":[{"type":"text","text":"Thanks"}]}],
         "max_tokens":256,"stop":["END"],"temperature":0.5,"top_p":0.9,"user":"u-42",
         "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",
           "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
         "tool_choice":"required","parallel_tool_calls":false}
        """)
        #expect(hub == expected)
        // Gemini takes top_k (the Gemini adapter sends it as `topK`).
        let gemini = try MessagesRequestTranslator(provider: "g", kind: "gemini").request(Self.conversation)
        #expect(gemini["top_k"] == 40)
        let native = try GeminiTranslator(provider: "g").request(gemini)
        #expect(native["generationConfig"]?["topK"] == 40)
    }

    @Test func toolChoicesMap() throws {
        func choice(_ text: String) throws -> JSONObject {
            var body = Self.json(#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f","input_schema":{"type":"object"}}]}"#)
            body["tool_choice"] = .object(Self.json(text))
            return try MessagesRequestTranslator(provider: "p", kind: "openai").request(body)
        }
        #expect(try choice(#"{"type":"auto"}"#)["tool_choice"] == "auto")
        #expect(try choice(#"{"type":"none"}"#)["tool_choice"] == "none")
        #expect(try choice(#"{"type":"tool","name":"f"}"#)["tool_choice"] == ["type": "function", "function": ["name": "f"]])
        #expect(try choice(#"{"type":"auto"}"#)["parallel_tool_calls"] == nil)
    }

    @Test func whatCannotBeCarriedIsRefusedNamingTheField() {
        func refusal(_ change: (inout JSONObject) -> Void) -> ProviderError? {
            var body = Self.json(#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#)
            change(&body)
            do { _ = try MessagesRequestTranslator(provider: "gem", kind: "gemini").request(body); return nil } catch { return error }
        }
        let server = refusal { $0["tools"] = [["type": "web_search_20250305", "name": "web_search"]] }
        #expect(server?.kind == .http(status: 400) && server?.param == "tools.0.type")
        #expect(server?.message.contains("only available on Anthropic models") == true)
        #expect(refusal { $0["mcp_servers"] = [] }?.param == "mcp_servers")
        #expect(refusal { $0["messages"] = [["role": "user", "content": [["type": "search_result", "source": "s"]]]] }?.param
                == "messages.0.content.0.type")
        let imageInResult: JSON = ["type": "tool_result", "tool_use_id": "t",
                                   "content": [["type": "image", "source": ["type": "url", "url": "https://x/y.png"]]]]
        #expect(refusal { $0["messages"] = [["role": "user", "content": [imageInResult]]] }?.param == "messages.0.content.0.content.0.type")
        #expect(refusal { $0["messages"] = [["role": "user", "content": [["type": "document", "source": ["type": "url", "url": "https://x/a.pdf"]]]]] }?.param
                == "messages.0.content.0.source.type")
        #expect(refusal { $0["tools"] = [["type": "custom", "name": "f", "input_schema": ["type": "object"]]] } == nil)
        // Coding agents send context editing: dropped, not refused.
        #expect(refusal { $0["context_management"] = ["edits": [["type": "clear_tool_uses_20250919"]]] } == nil)
    }

    // MARK: Answer

    @Test func aCompletionBecomesAMessage() throws {
        let completion = Self.json("""
        {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-x","choices":[{"index":0,
          "message":{"role":"assistant","content":"Sure.","tool_calls":[{"id":"call_1","type":"function",
            "function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]},"finish_reason":"tool_calls"}],
         "usage":{"prompt_tokens":50,"completion_tokens":9,"total_tokens":59,"prompt_tokens_details":{"cached_tokens":32}}}
        """)
        var message = try MessagesResponseTranslator(provider: "p").message(completion, model: "claude-alias")
        #expect((message["id"]?.stringValue ?? "").hasPrefix("msg_"))
        message["id"] = "msg_x"
        #expect(message == Self.json("""
        {"id":"msg_x","type":"message","role":"assistant","model":"claude-alias","content":[
          {"type":"text","text":"Sure."},{"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}}],
         "stop_reason":"tool_use","stop_sequence":null,
         "usage":{"input_tokens":18,"cache_creation_input_tokens":0,"cache_read_input_tokens":32,"output_tokens":9}}
        """))
        // Back through the adapter's map: the chat usage again.
        #expect(AnthropicWire.chatUsage(message["usage"]!) == completion["usage"].map { _ in
            OpenAIShapes.usage(prompt: 50, completion: 9, cached: 32) })
    }

    @Test func toolArgumentsThatAreNotAnObjectAreAnInvalidAnswer() {
        let completion = Self.json(#"{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{not json"}}]},"finish_reason":"tool_calls"}]}"#)
        #expect(throws: ProviderError.self) { try MessagesResponseTranslator(provider: "p").message(completion, model: "m") }
    }

    // MARK: Replay

    static let rich = json("""
    {"id":"msg_01","type":"message","role":"assistant","model":"claude-alias","container":{"id":"c1","expires_at":"2026-01-01T00:00:00Z"},
     "content":[
      {"type":"thinking","thinking":"Let me think.","signature":"EqQBCgIYAhIM"},
      {"type":"redacted_thinking","data":"EmwKAhgBEgy"},
      {"type":"text","text":"Paris is sunny.","citations":[{"type":"char_location","cited_text":"sunny","document_index":0,"start_char_index":0,"end_char_index":5}]},
      {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"paris weather"}},
      {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris","days":[1,2]}},
      {"type":"hologram","frames":[1,2]}],
     "stop_reason":"tool_use","stop_sequence":null,"stop_details":null,"future_member":{"x":1},
     "usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":7,"output_tokens":30,"server_tool_use":{"web_search_requests":1}}}
    """)

    @Test func aStoredMessageReplaysAsEventsThatAssembleIntoIt() {
        let events = MessagesReplayer.events(Self.rich)
        let types = events.map { $0["type"]?.stringValue ?? "" }
        #expect(types.first == "message_start" && types.suffix(2) == ["message_delta", "message_stop"])
        #expect(types[1...2] == ["content_block_start", "ping"])
        #expect(events[0]["message"]?["content"] == .array([]))
        #expect(events[0]["message"]?["stop_reason"] == .null)
        #expect(events.filter { $0["type"] == "content_block_start" }.map { $0["index"]?.intValue } == [0, 1, 2, 3, 4, 5])
        #expect(events.contains(Self.json(#"{"type":"content_block_delta","index":4,"delta":{"type":"input_json_delta","partial_json":"{\"city\":\"Paris\",\"days\":[1,2]}"}}"#)))
        #expect(events.contains(Self.json(#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}}"#)))
        var assembler = MessagesStreamAssembler()
        for event in events { assembler.add(event) }
        #expect(assembler.stopped)
        let rebuilt = assembler.result()
        // Same members and values (message_delta's members come last in the rebuilt order).
        #expect(rebuilt.map { Dictionary(uniqueKeysWithValues: $0.pairs.map { ($0.key, $0.value) }) }
                == Dictionary(uniqueKeysWithValues: Self.rich.pairs.map { ($0.key, $0.value) }))
    }

    // MARK: Pass-through

    static let key = "sk-ant-api03-SECRET-abcdef"

    func provider(_ transport: ScriptedTransport) -> AnthropicProvider {
        AnthropicProvider(baseURL: "https://api.anthropic.com", apiKey: Self.key, transport: transport)
    }

    @Test func aForwardedRequestGoesAsWrittenWithTheProvidersKeyAndTheAllowedHeaders() async throws {
        let transport = ScriptedTransport(.body(ProviderFixture.text("anthropic/message-text.json")), .body(#"{"input_tokens":12}"#))
        let body = Array(#"{"model":"claude-x", "max_tokens":5,"messages":[{"role":"user","content":"hi"}],"new_field":[1.50]}"#.utf8)
        var client = HTTPHeaders()
        client.append("x-api-key", "client-secret")
        client.append("Authorization", "Bearer client-secret")
        client.append("anthropic-beta", "a-2025")
        client.append("anthropic-beta", "b-2025")
        client.append("anthropic-version", "2023-06-01")
        let headers = MessagesForwardingPolicy.clientHeaders(client)
        #expect(headers == [HTTPHeaderField("anthropic-version", "2023-06-01"), HTTPHeaderField("anthropic-beta", "a-2025,b-2025")])
        let answer = try await provider(transport).forwardMessage(ForwardedMessagesRequest(body: body, headers: headers, requestID: "r"))
        #expect(answer.text == Array(ProviderFixture.text("anthropic/message-text.json").utf8))
        let sent = try #require(transport.requests.first)
        #expect(sent.url == "https://api.anthropic.com/v1/messages")
        #expect(sent.body == body)
        #expect(header(sent, "x-api-key") == Self.key)
        #expect(header(sent, "anthropic-beta") == "a-2025,b-2025")
        #expect(!sent.headers.contains { $0.value.contains("client-secret") })
        let counted = try await provider(transport).countTokens(ForwardedMessagesRequest(body: body, headers: [], requestID: "r"))
        #expect(counted.object["input_tokens"] == 12)
        #expect(transport.requests.last?.url == "https://api.anthropic.com/v1/messages/count_tokens")
        #expect(MessagesForwardingPolicy.clientHeaders(HTTPHeaders()) == [HTTPHeaderField("anthropic-version", AnthropicWire.apiVersion)])
        // A provider configured with its own beta header sends that one, once.
        let configured = AnthropicProvider(baseURL: "https://api.anthropic.com", apiKey: Self.key,
                                           headers: [HTTPHeaderField("Anthropic-Beta", "operator-beta")], transport: transport)
        _ = try? await configured.countTokens(ForwardedMessagesRequest(body: body, headers: headers, requestID: "r"))
        let last = try #require(transport.requests.last)
        #expect(last.headers.filter { $0.name.lowercased() == "anthropic-beta" }.map(\.value) == ["operator-beta"])
        #expect(header(last, "anthropic-version") == "2023-06-01")
    }

    /// Every event passes as it came (ping included), split anywhere, and assembles into the Message.
    @Test(arguments: ["anthropic/stream-text.sse", "anthropic/stream-tool-use.sse"])
    func aForwardedStreamPassesEveryEventWhereverTheBytesSplit(_ fixture: String) async throws {
        let sse = ProviderFixture.text(fixture)
        var parser = SSEParser()
        let expected = (parser.feed(Array(sse.utf8)) + parser.finish()).compactMap { try? JSONParser.parse($0.data).objectValue }
        for sizes in [[], [1], [7, 3, 50], [4096]] {
            let transport = ScriptedTransport(.body(sse, split: sizes.isEmpty ? [] : Array(repeating: sizes, count: 400).flatMap { $0 }))
            let stream = try await provider(transport).streamMessage(ForwardedMessagesRequest(body: [], headers: [], requestID: "r"))
            let (events, error) = await collect(stream)
            #expect(error == nil)
            #expect(events == expected)
        }
        var assembler = MessagesStreamAssembler()
        for event in expected { assembler.add(event) }
        let message = try #require(assembler.result())
        #expect(assembler.stopped)
        if fixture.hasSuffix("tool-use.sse") {
            #expect(message["stop_reason"] == "tool_use")
            let call = try #require(message["content"]?.arrayValue?.last)
            #expect(call["type"] == "tool_use" && call["input"]?.objectValue?.isEmpty == false)
        } else {
            #expect(expected.contains { $0["type"] == "ping" })
            #expect(message["content"]?.arrayValue?.first?["text"]?.stringValue?.isEmpty == false)
        }
    }

    @Test func aForwardedStreamCutOrFailedEndsInAnError() async throws {
        let sse = ProviderFixture.text("anthropic/stream-text.sse")
        let cut = String(sse[..<sse.range(of: "event: message_stop")!.lowerBound])
        let transport = ScriptedTransport(.body(cut), .body(ProviderFixture.text("anthropic/stream-error-overloaded.sse")))
        let p = provider(transport)
        let (_, cutError) = await collect(try await p.streamMessage(ForwardedMessagesRequest(body: [], headers: [], requestID: "r")))
        #expect((cutError as? ProviderError)?.message == "stream ended before message_stop")
        let (_, failed) = await collect(try await p.streamMessage(ForwardedMessagesRequest(body: [], headers: [], requestID: "r")))
        #expect((failed as? ProviderError)?.kind == .http(status: 529))
    }
}
