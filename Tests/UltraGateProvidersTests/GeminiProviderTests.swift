import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

/// Wire shapes from the Gemini API reference ("Generating content": generateContent,
/// streamGenerateContent with alt=sse; "Function calling"; error codes) and googleapis/python-genai types.
@Suite struct GeminiProviderTests {
    static let key = "AIzaSy-SECRET-0123456789"

    func provider(_ transport: ScriptedTransport) -> GeminiProvider {
        GeminiProvider(baseURL: "https://generativelanguage.googleapis.com", apiKey: Self.key, transport: transport)
    }

    func request(_ text: String) throws -> ProviderRequest {
        ProviderRequest(body: try #require(try JSONParser.parse(text).objectValue), requestID: "req_1")
    }

    static let textResponse = ProviderFixture.text("gemini/response-text.json")

    @Test func translatesAFullConversation() async throws {
        let transport = ScriptedTransport(.body(Self.textResponse))
        let body = """
        {"model":"gemini-2.5-flash","messages":[
          {"role":"system","content":"You are a helpful assistant."},
          {"role":"user","content":[{"type":"text","text":"Describe these"},
            {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}},
            {"type":"image_url","image_url":{"url":"gs://bucket/photo.png"}},
            {"type":"file","file":{"filename":"report.pdf","file_data":"data:application/pdf;base64,JVBERi0x"}}]},
          {"role":"user","content":"and the weather in Paris"},
          {"role":"assistant","content":null,"tool_calls":[{"id":"call_abc","type":"function",
            "function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"},
            "extra_content":{"google":{"thought_signature":"c2lnbmF0dXJl"}}}]},
          {"role":"tool","tool_call_id":"call_abc","content":"{\\"temp_c\\":21}"},
          {"role":"tool","tool_call_id":"call_abc","content":"sunny"}],
         "temperature":0.2,"top_p":0.8,"max_tokens":256,"stop":["END"],"n":2,"seed":7,
         "response_format":{"type":"json_schema","json_schema":{"name":"w","strict":true,
           "schema":{"type":"object","properties":{"additionalProperties":{"type":"string"}},"additionalProperties":false}}},
         "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather by city",
           "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}],
         "tool_choice":{"type":"function","function":{"name":"get_weather"}}}
        """
        let completion = try await provider(transport).complete(try request(body))
        let sent = try #require(transport.requests.first)
        #expect(sent.url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent")
        #expect(header(sent, "x-goog-api-key") == Self.key)
        #expect(header(sent, "content-type") == "application/json")
        #expect(!sent.url.contains(Self.key))
        #expect(!String(decoding: sent.body, as: UTF8.self).contains(Self.key))
        let expected = """
        {"contents":[
          {"role":"user","parts":[{"text":"Describe these"},
            {"inlineData":{"mimeType":"image/jpeg","data":"/9j/4AAQ"}},
            {"fileData":{"mimeType":"image/png","fileUri":"gs://bucket/photo.png"}},
            {"inlineData":{"mimeType":"application/pdf","data":"JVBERi0x"}},
            {"text":"and the weather in Paris"}]},
          {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2lnbmF0dXJl"}]},
          {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp_c":21}}},
            {"functionResponse":{"name":"get_weather","response":{"content":"sunny"}}}]}],
         "systemInstruction":{"parts":[{"text":"You are a helpful assistant."}]},
         "tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather by city",
           "parametersJsonSchema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}]}],
         "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}},
         "generationConfig":{"temperature":0.2,"topP":0.8,"maxOutputTokens":256,"stopSequences":["END"],"candidateCount":2,
           "seed":7,"responseMimeType":"application/json",
           "responseJsonSchema":{"type":"object","properties":{"additionalProperties":{"type":"string"}},"additionalProperties":false}}}
        """
        #expect(try bodyJSON(sent) == (try JSONParser.parse(expected)))

        try expectValidCompletion(completion)
        #expect(completion["model"] == "gemini-2.5-flash")
        let choice = try #require(completion["choices"]?.arrayValue?.first)
        #expect(choice["message"]?["content"] == "Hello! How can I help?")
        #expect(choice["finish_reason"] == "stop")
        #expect(completion["usage"] == ["prompt_tokens": 120, "completion_tokens": 58, "total_tokens": 178,
                                        "prompt_tokens_details": ["cached_tokens": 100],
                                        "completion_tokens_details": ["reasoning_tokens": 50]])
    }

    @Test func toolChoiceModesAndRequestErrors() throws {
        let t = GeminiTranslator(provider: "gemini")
        for (choice, mode) in [("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")] {
            let out = try t.request(["messages": [], "tool_choice": .string(choice)])
            #expect(out["toolConfig"] == ["functionCallingConfig": ["mode": .string(mode)]])
        }
        let jsonMode = try t.request(["messages": [], "response_format": ["type": "json_object"], "max_completion_tokens": 9])
        #expect(jsonMode["generationConfig"] == ["maxOutputTokens": 9, "responseMimeType": "application/json"])
        let orphan = #expect(throws: ProviderError.self) {
            _ = try t.request(["messages": [["role": "tool", "tool_call_id": "call_zzz", "content": "x"]]])
        }
        #expect(orphan?.kind == .http(status: 400))
    }

    @Test func functionCallResponseAndFinishReasons() throws {
        let t = GeminiTranslator(provider: "gemini")
        let calls = try t.response(try #require(try JSONParser.parse(ProviderFixture.text("gemini/response-function-calls.json")).objectValue),
                                   requestModel: "gemini-2.0-flash")
        try expectValidCompletion(calls)
        #expect(calls["model"] == "gemini-2.0-flash")
        let choice = try #require(calls["choices"]?.arrayValue?.first)
        #expect(choice["finish_reason"] == "tool_calls")
        #expect(choice["message"]?["content"] == .null)
        let toolCalls = try #require(choice["message"]?["tool_calls"]?.arrayValue)
        #expect(toolCalls.count == 2)
        #expect(toolCalls[0]["function"] == ["name": "get_weather", "arguments": #"{"city":"Paris"}"#])
        #expect(toolCalls[0]["extra_content"] == ["google": ["thought_signature": "c2ln"]])
        #expect(toolCalls[1]["function"]?["arguments"] == "{}")
        #expect(toolCalls[0]["id"]?.stringValue?.hasPrefix("call_") == true && toolCalls[0]["id"] != toolCalls[1]["id"])
        #expect(calls["usage"] == ["prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15])

        for (reason, expected) in [("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"),
                                   ("RECITATION", "content_filter"), ("BLOCKLIST", "content_filter"),
                                   ("PROHIBITED_CONTENT", "content_filter"), ("SPII", "content_filter")] {
            let r = try t.response(["candidates": [["content": ["role": "model", "parts": [["text": "x"]]],
                                                    "finishReason": .string(reason)]]], requestModel: "m")
            try expectValidCompletion(r)
            #expect(r["choices"]?.arrayValue?.first?["finish_reason"] == .string(expected), "\(reason)")
        }
    }

    @Test func openAISchemasGoToTheJSONSchemaFieldsUnchanged() throws {
        // Strict-mode shapes Gemini's OpenAPI `Schema` cannot hold: a type union, `$defs`/`$ref`.
        let schema = ##"{"type":"object","properties":{"note":{"type":["string","null"]},"item":{"$ref":"#/$defs/item"}},"$defs":{"item":{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],"additionalProperties":false}},"required":["note","item"],"additionalProperties":false}"##
        let dialect = ##"{"$schema":"https://json-schema.org/draft/2020-12/schema","##
        let responseFormat = ##"{"type":"json_schema","json_schema":{"name":"r","strict":true,"schema":"## + dialect + String(schema.dropFirst()) + "}}"
        let tools = ##"[{"type":"function","function":{"name":"f","parameters":"## + schema + "}}]"
        let body = ##"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":"## + responseFormat + ##","tools":"## + tools + "}"
        let sent = try GeminiTranslator(provider: "gemini").request(try #require(try JSONParser.parse(body).objectValue))
        let expected = try JSONParser.parse(schema)
        #expect(sent["generationConfig"]?["responseJsonSchema"] == expected)
        #expect(sent["generationConfig"]?["responseSchema"] == nil)
        #expect(sent["tools"]?.arrayValue?.first?["functionDeclarations"]?.arrayValue?.first?["parametersJsonSchema"] == expected)
        #expect(sent["tools"]?.arrayValue?.first?["functionDeclarations"]?.arrayValue?.first?["parameters"] == nil)
    }

    @Test func candidateWithoutFinishReasonIsIncomplete() throws {
        let t = GeminiTranslator(provider: "gemini")
        for body: JSONObject in [["candidates": [["index": 0]]],
                                 ["candidates": [["content": ["role": "model", "parts": [["text": "cut"]]], "index": 0]]],
                                 ["candidates": [["content": ["role": "model", "parts": [["text": "a"]]], "finishReason": "STOP"],
                                                 ["content": ["role": "model", "parts": [["text": "b"]]]]]]] {
            do {
                _ = try t.response(body, requestModel: "m")
                Issue.record("accepted \(body)")
            } catch {
                #expect(error.kind == .invalidResponse)
                #expect(error.message.contains("finishReason"))
            }
        }
        // An empty candidate that did finish is a (rare) empty answer, not an error.
        let empty = try t.response(["candidates": [["content": ["role": "model", "parts": []], "finishReason": "STOP"]]],
                                   requestModel: "m")
        #expect(empty["choices"]?.arrayValue?.first?["message"]?["content"] == "")
    }

    @Test func blockedPromptBecomesContentFilterChoice() throws {
        let r = try GeminiTranslator(provider: "gemini").response(
            try #require(try JSONParser.parse(ProviderFixture.text("gemini/response-blocked-prompt.json")).objectValue), requestModel: "m")
        try expectValidCompletion(r)
        let choice = try #require(r["choices"]?.arrayValue?.first)
        #expect(choice["finish_reason"] == "content_filter")
        #expect(choice["message"]?["content"] == "")
        #expect(r["usage"] == ["prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9])
    }

    static let textStream = ProviderFixture.text("gemini/stream-text.sse", crlf: true)

    @Test func textStreamAcrossAwkwardSplits() async throws {
        var reference: [JSONObject]?
        for sizes in awkwardSplits {
            let transport = ScriptedTransport(.body(Self.textStream, split: sizes))
            let (chunks, error) = await collect(try await provider(transport).stream(
                try request(#"{"model":"gemini-2.0-flash","messages":[{"role":"user","content":"Write a story"}]}"#)))
            #expect(error == nil)
            let sent = try #require(transport.requests.first)
            #expect(sent.url == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse")
            #expect(try bodyJSON(sent) == ["contents": [["role": "user", "parts": [["text": "Write a story"]]]]])
            try expectValidStream(chunks)
            #expect(streamedContent(chunks) == "The quick brown fox jumps — über the lazy dog 🐕")
            #expect(finishReasons(chunks) == ["stop"])
            #expect(chunks.last?["usage"] == ["prompt_tokens": 8, "completion_tokens": 12, "total_tokens": 20])
            #expect(chunks.count == 5)
            if let reference { #expect(normalized(chunks) == normalized(reference)) } else { reference = chunks }
        }
    }

    @Test func functionCallStream() async throws {
        let sse = ProviderFixture.text("gemini/stream-function-call.sse", crlf: true)
        let (chunks, error) = await collect(try await provider(ScriptedTransport(.body(sse, split: [3]))).stream(try request(#"{"model":"gemini-2.5-flash","messages":[]}"#)))
        #expect(error == nil)
        try expectValidStream(chunks)
        let call = try #require(chunks.first?["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue?.first)
        #expect(call["index"] == 0)
        #expect(call["type"] == "function")
        #expect(call["function"] == ["name": "get_weather", "arguments": #"{"city":"Paris"}"#])
        #expect(finishReasons(chunks) == ["tool_calls"])
        #expect(chunks.first?["model"] == "gemini-2.5-flash")
    }

    @Test func blockedPromptStreamAndErrors() async throws {
        let blocked = ProviderFixture.text("gemini/stream-blocked-prompt.sse", crlf: true)
        var (chunks, error) = await collect(try await provider(ScriptedTransport(.body(blocked))).stream(try request(#"{"model":"m","messages":[]}"#)))
        #expect(error == nil)
        try expectValidStream(chunks)
        #expect(finishReasons(chunks) == ["content_filter"])

        let midError = String(Self.textStream.prefix(200)).components(separatedBy: "\r\n\r\n")[0] + "\r\n\r\n"
            + "data: " + #"{"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}"# + "\r\n\r\n"
        (chunks, error) = await collect(try await provider(ScriptedTransport(.body(midError, split: [5]))).stream(try request(#"{"model":"m","messages":[]}"#)))
        #expect(streamedContent(chunks) == "The")
        let e = try #require(error as? ProviderError)
        #expect(e.kind == .http(status: 503))
        #expect(e.code == "UNAVAILABLE")
        #expect(e.message == "The model is overloaded. Please try again later.")

        var broken = ScriptedTransport.Reply.body(midError.components(separatedBy: "data: {\"error")[0])
        broken.failure = .broken("reset")
        (chunks, error) = await collect(try await provider(ScriptedTransport(broken)).stream(try request(#"{"model":"m","messages":[]}"#)))
        #expect((error as? ProviderError)?.kind == .transport(.broken("reset")))
    }

    @Test func errorStatusWithRetryInfo() async throws {
        let body = ProviderFixture.text("gemini/error-quota.json")
        for streaming in [false, true] {
            let transport = ScriptedTransport(.body(body, status: 429))
            let p = provider(transport)
            let error = await #expect(throws: ProviderError.self) {
                if streaming { _ = try await p.stream(try request(#"{"model":"m","messages":[]}"#)) }
                else { _ = try await p.complete(try request(#"{"model":"m","messages":[]}"#)) }
            }
            #expect(error?.kind == .http(status: 429))
            #expect(error?.code == "RESOURCE_EXHAUSTED")
            #expect(error?.message.hasPrefix("You exceeded your current quota") == true)
            #expect(error?.retryAfter == 37)
        }
        let notJSON = ScriptedTransport(.body("<html>Bad Gateway</html>", status: 502))
        let e = await #expect(throws: ProviderError.self) { _ = try await provider(notJSON).complete(try request(#"{"model":"m","messages":[]}"#)) }
        #expect(e?.kind == .http(status: 502))
        #expect(e?.message == "HTTP 502: <html>Bad Gateway</html>")
    }
}
