import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

/// Wire shapes from Anthropic's API reference ("Messages", "Streaming Messages", "Errors") and the
/// event sequences shown there.
@Suite struct AnthropicProviderTests {
    static let key = "sk-ant-api03-SECRET-abcdef"

    func provider(_ transport: ScriptedTransport) -> AnthropicProvider {
        AnthropicProvider(baseURL: "https://api.anthropic.com/", apiKey: Self.key,
                          headers: [HTTPHeaderField("anthropic-beta", "pdfs-2024-09-25")], transport: transport)
    }

    func request(_ text: String) throws -> ProviderRequest {
        ProviderRequest(body: try #require(try JSONParser.parse(text).objectValue), requestID: "req_1")
    }

    static let textMessage = ProviderFixture.text("anthropic/message-text.json")

    @Test func translatesAFullConversation() async throws {
        let transport = ScriptedTransport(.body(Self.textMessage))
        let body = """
        {"model":"claude-sonnet-4-20250514","messages":[
          {"role":"system","content":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral"}}]},
          {"role":"developer","content":"Answer in English."},
          {"role":"user","content":"What is in these?"},
          {"role":"user","content":[
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
            {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"high"}},
            {"type":"file","file":{"filename":"paper.pdf","file_data":"data:application/pdf;base64,JVBERi0xLjQ="}},
            {"type":"file","file":{"filename":"notes.txt","file_data":"data:text/plain;base64,aGVsbG8gd29ybGQ="}},
            {"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}]},
          {"role":"assistant","content":"Let me check the weather.","tool_calls":[
            {"id":"toolu_01A09q90qw90lq917835lq9","type":"function","function":{"name":"get_weather","arguments":"{\\"location\\":\\"San Francisco, CA\\"}"}}]},
          {"role":"tool","tool_call_id":"toolu_01A09q90qw90lq917835lq9","content":"15 degrees"},
          {"role":"user","content":"Thanks"}],
         "max_completion_tokens":512,"max_tokens":99,"stop":"END","temperature":0.5,"top_p":0.9,
         "tools":[{"type":"function","function":{"name":"get_weather","description":"Get the weather",
           "parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}],
         "tool_choice":{"type":"function","function":{"name":"get_weather"}},"user":"u-42"}
        """
        let completion = try await provider(transport).complete(try request(body))
        let sent = try #require(transport.requests.first)
        #expect(sent.url == "https://api.anthropic.com/v1/messages")
        #expect(header(sent, "x-api-key") == Self.key)
        #expect(header(sent, "anthropic-version") == "2023-06-01")
        #expect(header(sent, "content-type") == "application/json")
        #expect(header(sent, "anthropic-beta") == "pdfs-2024-09-25")
        #expect(!String(decoding: sent.body, as: UTF8.self).contains(Self.key))
        let expected = """
        {"model":"claude-sonnet-4-20250514",
         "system":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Answer in English."}],
         "messages":[
          {"role":"user","content":[
            {"type":"text","text":"What is in these?"},
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
            {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}},
            {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQ="},"title":"paper.pdf"},
            {"type":"document","source":{"type":"text","media_type":"text/plain","data":"hello world"},"title":"notes.txt"},
            {"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}]},
          {"role":"assistant","content":[
            {"type":"text","text":"Let me check the weather."},
            {"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":"San Francisco, CA"}}]},
          {"role":"user","content":[
            {"type":"tool_result","tool_use_id":"toolu_01A09q90qw90lq917835lq9","content":"15 degrees"},
            {"type":"text","text":"Thanks"}]}],
         "max_tokens":512,"stop_sequences":["END"],"temperature":0.5,"top_p":0.9,
         "tools":[{"name":"get_weather","description":"Get the weather",
           "input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}],
         "tool_choice":{"type":"tool","name":"get_weather"},"metadata":{"user_id":"u-42"}}
        """
        #expect(try bodyJSON(sent) == (try JSONParser.parse(expected)))

        try expectValidCompletion(completion)
        let choice = try #require(completion["choices"]?.arrayValue?.first)
        #expect(choice["message"]?["content"] == "Hi! My name is Claude.")
        #expect(choice["finish_reason"] == "stop")
        #expect(completion["model"] == "claude-sonnet-4-20250514")
        // prompt_tokens = input + cache writes + cache reads; cached = cache reads.
        #expect(completion["usage"] == ["prompt_tokens": 3995, "completion_tokens": 503, "total_tokens": 4498,
                                        "prompt_tokens_details": ["cached_tokens": 1800]])
    }

    @Test func defaultsAndSimpleForms() throws {
        let t = AnthropicTranslator(provider: "anthropic")
        let out = try t.request(try #require(try JSONParser.parse("""
        {"model":"claude-3-5-haiku-latest","messages":[{"role":"system","content":"A"},{"role":"system","content":"B"},
         {"role":"user","content":"Hello"}],"stop":["x","y"],
         "tools":[{"type":"function","function":{"name":"now"}}],"tool_choice":"required","parallel_tool_calls":false}
        """).objectValue), stream: true)
        #expect(out["system"] == "A\n\nB")
        #expect(out["messages"] == [["role": "user", "content": "Hello"]])
        #expect(out["max_tokens"] == 4096)
        #expect(out["stop_sequences"] == ["x", "y"])
        #expect(out["tools"] == [["name": "now", "input_schema": ["type": "object", "properties": [:]]]])
        #expect(out["tool_choice"] == ["type": "any", "disable_parallel_tool_use": true])
        #expect(out["stream"] == true)
        for (choice, expected) in [("auto", JSON.object(["type": "auto"])), ("none", JSON.object(["type": "none"]))] {
            let o = try t.request(["model": "m", "messages": [], "tool_choice": .string(choice)], stream: false)
            #expect(o["tool_choice"] == expected)
        }
        #expect(try t.request(["model": "m", "messages": [], "max_tokens": 10], stream: false)["max_tokens"] == 10)
    }

    @Test func unsupportedInputIsA400() throws {
        let t = AnthropicTranslator(provider: "anthropic")
        let error = #expect(throws: ProviderError.self) {
            _ = try t.request(try #require(try JSONParser.parse(
                #"{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/zip;base64,UEs="}}]}]}"#
            ).objectValue), stream: false)
        }
        #expect(error?.kind == .http(status: 400))
        #expect(error?.isRetryable == false)
    }

    @Test func toolUseResponse() throws {
        let message = ProviderFixture.text("anthropic/message-tool-use.json")
        let completion = try AnthropicTranslator(provider: "a").response(try #require(try JSONParser.parse(message).objectValue),
                                                                          requestModel: "x")
        try expectValidCompletion(completion)
        let choice = try #require(completion["choices"]?.arrayValue?.first)
        #expect(choice["finish_reason"] == "tool_calls")
        #expect(choice["message"]?["content"] == "I'll check.")
        #expect(choice["message"]?["tool_calls"] == [["id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
            "function": ["name": "get_weather", "arguments": #"{"location":"San Francisco, CA","unit":"celsius"}"#]]])
        #expect(completion["usage"] == ["prompt_tokens": 472, "completion_tokens": 91, "total_tokens": 563])
    }

    @Test func moreThanOneChoiceIsRefusedNotIgnored() throws {
        let t = AnthropicTranslator(provider: "anthropic")
        for n in ["1", "null"] {
            _ = try t.request(try #require(try JSONParser.parse(#"{"model":"m","n":\#(n),"messages":[{"role":"user","content":"x"}]}"#).objectValue), stream: false)
        }
        do {
            _ = try t.request(try #require(try JSONParser.parse(#"{"model":"m","n":3,"messages":[{"role":"user","content":"x"}]}"#).objectValue), stream: true)
            Issue.record("n: 3 was accepted")
        } catch let error as ProviderError {
            #expect(error.kind == .http(status: 400))
            #expect(error.code == "unsupported_parameter")
            #expect(error.message.hasPrefix("n: "))
        }
    }

    @Test(arguments: [#"{"type":"message","role":"assistant","model":"m"}"#,
                      #"{"type":"message","role":"assistant","model":"m","content":{},"stop_reason":"end_turn"}"#,
                      #"{"type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"cut"}]}"#,
                      #"{"type":"message","role":"assistant","model":"m","content":[],"stop_reason":null}"#])
    func messageWithoutContentOrStopReasonIsInvalid(_ body: String) throws {
        let message = try #require(try JSONParser.parse(body).objectValue)
        do {
            _ = try AnthropicTranslator(provider: "a").response(message, requestModel: "m")
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.kind == .invalidResponse)
        }
    }

    @Test(arguments: [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
                      ("tool_use", "tool_calls"), ("refusal", "content_filter"), ("pause_turn", "stop")])
    func finishReasonMapping(_ stop: String, _ expected: String) throws {
        let message: JSONObject = ["type": "message", "role": "assistant", "model": "m", "content": [],
                                   "stop_reason": .string(stop), "usage": ["input_tokens": 1, "output_tokens": 0]]
        let completion = try AnthropicTranslator(provider: "a").response(message, requestModel: "m")
        try expectValidCompletion(completion)
        #expect(completion["choices"]?.arrayValue?.first?["finish_reason"] == .string(expected))
    }

    static let textStream = ProviderFixture.text("anthropic/stream-text.sse")

    @Test func textStreamAcrossAwkwardSplits() async throws {
        var reference: [JSONObject]?
        for sizes in awkwardSplits {
            let transport = ScriptedTransport(.body(Self.textStream.replacingOccurrences(of: "\n", with: "\r\n"), split: sizes))
            let (chunks, error) = await collect(try await provider(transport).stream(
                try request(#"{"model":"claude-sonnet-4-20250514","messages":[{"role":"user","content":"Hi"}]}"#)))
            #expect(error == nil)
            let sent = try #require(transport.requests.first)
            #expect(try bodyJSON(sent)["stream"] == true)
            #expect(header(sent, "accept") == "text/event-stream")
            try expectValidStream(chunks)
            #expect(streamedContent(chunks) == "Hello wörld 👋")
            #expect(finishReasons(chunks) == ["stop"])
            #expect(chunks.last?["usage"] == ["prompt_tokens": 35, "completion_tokens": 15, "total_tokens": 50,
                                              "prompt_tokens_details": ["cached_tokens": 10]])
            #expect(chunks.count == 5)  // role, 2 deltas, finish, usage
            if let reference { #expect(normalized(chunks) == normalized(reference)) } else { reference = chunks }
        }
    }

    @Test func toolUseStream() async throws {
        let sse = ProviderFixture.text("anthropic/stream-tool-use.sse")
        for sizes in awkwardSplits {
            let transport = ScriptedTransport(.body(sse, split: sizes))
            let (chunks, error) = await collect(try await provider(transport).stream(try request(#"{"model":"m","messages":[]}"#)))
            #expect(error == nil)
            try expectValidStream(chunks)
            let toolDeltas = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue?.first }
            #expect(toolDeltas.first == ["index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                                         "function": ["name": "get_weather", "arguments": ""]])
            let arguments = toolDeltas.compactMap { $0["function"]?["arguments"]?.stringValue }.joined()
            #expect(arguments == #"{"location": "San Francisco, CA", "unit": "fahrenheit"}"#)
            #expect(toolDeltas.allSatisfy { $0["index"] == 0 })
            #expect(finishReasons(chunks) == ["tool_calls"])
            #expect(chunks.last?["usage"]?["completion_tokens"] == 89)
        }
    }

    @Test func streamedToolWithoutParametersGetsEmptyObjectArguments() async throws {
        // A parameterless tool streams only an empty `partial_json` (or none): its arguments are
        // `{}`, as in the whole Message's `input: {}`. The second tool has arguments as usual.
        let sse = ProviderFixture.text("anthropic/stream-tools-without-arguments.sse")
        let (chunks, error) = await collect(try await provider(ScriptedTransport(.body(sse))).stream(try request(#"{"model":"m","messages":[]}"#)))
        #expect(error == nil)
        try expectValidStream(chunks)
        let toolDeltas = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue?.first }
        func arguments(_ index: Int) -> String {
            toolDeltas.filter { $0["index"] == .int(index) }.compactMap { $0["function"]?["arguments"]?.stringValue }.joined()
        }
        #expect(arguments(0) == "{}")
        #expect(arguments(1) == #"{"city": "Paris"}"#)
        #expect(finishReasons(chunks) == ["tool_calls"])
    }

    @Test func errorEventMidStream() async throws {
        let sse = ProviderFixture.text("anthropic/stream-error-overloaded.sse")
        for sizes in awkwardSplits {
            let (chunks, error) = await collect(try await provider(ScriptedTransport(.body(sse, split: sizes)))
                .stream(try request(#"{"model":"m","messages":[]}"#)))
            #expect(streamedContent(chunks) == "Par")
            let e = try #require(error as? ProviderError)
            #expect(e.kind == .http(status: 529))
            #expect(e.message == "Overloaded")
            #expect(e.code == "overloaded_error")
        }
    }

    @Test func errorStatusesKeepProviderDetails() async throws {
        let overloaded = ProviderFixture.text("anthropic/error-overloaded.json")
        let date = "Wed, 21 Oct 2099 07:28:00 GMT"
        for streaming in [false, true] {
            let transport = ScriptedTransport(.body(overloaded, status: 529, headers: [HTTPHeaderField("Retry-After", date)]))
            let p = provider(transport)
            let error = await #expect(throws: ProviderError.self) {
                if streaming { _ = try await p.stream(try request(#"{"model":"m","messages":[]}"#)) }
                else { _ = try await p.complete(try request(#"{"model":"m","messages":[]}"#)) }
            }
            #expect(error?.kind == .http(status: 529))
            #expect(error?.message == "Overloaded")
            #expect(error?.code == "overloaded_error")
            #expect((error?.retryAfter ?? 0) > 1_000_000)
            #expect(error?.isRetryable == true)
        }
        let past = ProviderHTTP.retryAfter(UpstreamResponseHead(status: 429, headers: [HTTPHeaderField("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]))
        #expect(past == 0)
        let fixed = ProviderHTTP.retryAfter(UpstreamResponseHead(status: 429, headers: [HTTPHeaderField("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
                                            now: Date(timeIntervalSince1970: 784_111_777 - 30))
        #expect(fixed == 30)
    }

    @Test func truncatedStreamIsBrokenAndCutJSONIsInvalid() async throws {
        let boundary = try #require(Self.textStream.range(of: "event: ping"))
        let cleanCut = String(Self.textStream[..<boundary.lowerBound])
        var (chunks, error) = await collect(try await provider(ScriptedTransport(.body(cleanCut))).stream(try request(#"{"model":"m","messages":[]}"#)))
        #expect(chunks.count == 1)
        if case .transport(.broken)? = (error as? ProviderError)?.kind {} else { Issue.record("got \(String(describing: error))") }
        let inJSON = try #require(Self.textStream.range(of: #""text": "Hel"#))
        let midJSON = String(Self.textStream[..<inJSON.upperBound])
        (chunks, error) = await collect(try await provider(ScriptedTransport(.body(midJSON))).stream(try request(#"{"model":"m","messages":[]}"#)))
        #expect((error as? ProviderError)?.kind == .invalidResponse)
    }
}
