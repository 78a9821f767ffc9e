import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

/// Wire shapes from OpenAI's API reference ("Create chat completion", "The chat completion chunk
/// object") and the OpenAPI document's examples.
@Suite struct OpenAICompatibleProviderTests {
    static let key = "sk-test-SECRET-123456"

    func provider(_ transport: ScriptedTransport, key: String? = key) -> OpenAICompatibleProvider {
        OpenAICompatibleProvider(name: "groq", baseURL: "https://api.groq.com/openai/v1/", apiKey: key,
                                 headers: [HTTPHeaderField("X-Title", "UltraGate")], transport: transport)
    }

    func request(_ text: String) throws -> ProviderRequest {
        ProviderRequest(body: try #require(try JSONParser.parse(text).objectValue), requestID: "req_1")
    }

    static let completionJSON = """
    {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14",\
    "choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null,\
    "annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,\
    "total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0}},"service_tier":"default"}
    """

    @Test func forwardsBodyByteStableWithAuthAndExtraHeaders() async throws {
        let transport = ScriptedTransport(.body(Self.completionJSON))
        let body = #"{"model":"llama-3.3-70b","messages":[{"role":"user","content":"Hi"}],"temperature":1.0,"seed":12345678901234567890,"x_vendor":{"b":1,"a":2}}"#
        let completion = try await provider(transport).complete(try request(body))
        let sent = try #require(transport.requests.first)
        #expect(sent.method == "POST")
        #expect(sent.url == "https://api.groq.com/openai/v1/chat/completions")
        #expect(String(decoding: sent.body, as: UTF8.self) == body)
        #expect(header(sent, "Authorization") == "Bearer \(Self.key)")
        #expect(header(sent, "X-Title") == "UltraGate")
        #expect(header(sent, "Content-Type") == "application/json")
        #expect(!sent.url.contains(Self.key))
        #expect(completion == (try JSONParser.parse(Self.completionJSON)).objectValue)
        try expectValidCompletion(completion)
    }

    @Test func noAuthorizationHeaderWithoutKey() async throws {
        let transport = ScriptedTransport(.body(Self.completionJSON))
        _ = try await provider(transport, key: nil).complete(try request(#"{"model":"m","messages":[]}"#))
        #expect(header(try #require(transport.requests.first), "Authorization") == nil)
    }

    @Test func fillsMissingRequiredFieldsFromSparseServers() async throws {
        // e.g. a llama.cpp-style answer without id/created.
        let transport = ScriptedTransport(.body(#"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok","refusal":null},"logprobs":null,"finish_reason":"stop"}]}"#))
        let completion = try await provider(transport).complete(try request(#"{"model":"local-model","messages":[]}"#))
        #expect(completion["model"] == "local-model")
        try expectValidCompletion(completion)
    }

    @Test func streamAddsStreamOptionsAndPassesChunksThrough() async throws {
        let sse = """
        data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Héllo"},"logprobs":null,"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":" 世界"},"logprobs":null,"finish_reason":null}],"usage":null}

        data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}

        data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}

        data: [DONE]


        """.replacingOccurrences(of: "\n", with: "\r\n")
        var reference: [JSONObject]?
        for sizes in awkwardSplits {
            let transport = ScriptedTransport(.body(sse, split: sizes))
            let body = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}"#
            let (chunks, error) = await collect(try await provider(transport).stream(try request(body)))
            #expect(error == nil)
            let sent = try #require(transport.requests.first)
            #expect(String(decoding: sent.body, as: UTF8.self)
                == #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}"#)
            try expectValidStream(chunks)
            #expect(streamedContent(chunks) == "Héllo 世界")
            #expect(finishReasons(chunks) == ["stop"])
            #expect(chunks.last?["usage"]?["total_tokens"] == 12)
            #expect(chunks.allSatisfy { $0["id"] == "chatcmpl-123" })
            if let reference { #expect(chunks == reference) } else { reference = chunks }
        }
    }

    @Test func usageOnTheFinishChunkMovesToATrailingUsageChunkAndARoleChunkOpensTheStream() async throws {
        // Some servers omit the role and attach usage to the last content chunk.
        let sse = """
        data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}

        data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}

        data: [DONE]


        """
        let transport = ScriptedTransport(.body(sse))
        let (chunks, error) = await collect(try await provider(transport).stream(try request(#"{"model":"m","messages":[]}"#)))
        #expect(error == nil)
        try expectValidStream(chunks)
        #expect(chunks.count == 4)
        #expect(chunks[0]["choices"] == [["index": 0, "delta": ["role": "assistant", "content": ""], "logprobs": .null,
                                           "finish_reason": .null]])
        #expect(chunks[1]["choices"]?.arrayValue?.first?["delta"] == ["content": "a"], "the upstream's chunk passes unchanged")
        #expect(finishReasons(chunks) == ["length"])
    }

    /// A sparse server's stream (no role, no `created`, no `finish_reason` key until the end, no
    /// usage although asked): every chunk comes out valid, the upstream's text unchanged.
    @Test func aSparseStreamIsCompletedToTheChunkSchema() async throws {
        let sse = """
        data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"Hel"}}]}

        data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":""}]}

        data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"delta":{},"finish_reason":"stop"}]}

        data: [DONE]


        """
        let (chunks, error) = await collect(try await provider(ScriptedTransport(.body(sse))).stream(try request(#"{"model":"m","messages":[]}"#)))
        #expect(error == nil)
        try expectValidStream(chunks, expectUsage: false)
        #expect(chunks.count == 4)
        #expect(streamedContent(chunks) == "Hello")
        #expect(finishReasons(chunks) == ["stop"])
        #expect(chunks.map { $0["choices"]?.arrayValue?.first?["finish_reason"] } == [.null, .null, .null, "stop"])
        #expect(Set(chunks.compactMap { $0["created"]?.intValue }).count == 1, "one `created` for the whole stream")
    }

    @Test func aSparseAnswerLosesItsTextOnlyWhenSomethingWasFilled() async throws {
        let complete = try await provider(ScriptedTransport(.body(Self.completionJSON)))
            .completeKeepingText(try request(#"{"model":"m","messages":[]}"#))
        #expect(complete.text == Array(Self.completionJSON.utf8))
        let sparse = try await provider(ScriptedTransport(.body(ChatCompletionNormalizerTests.llamaCpp)))
            .completeKeepingText(try request(#"{"model":"m","messages":[]}"#))
        #expect(sparse.text == nil)
        try expectValidCompletion(sparse.completion)
    }

    @Test func errorStatusKeepsStatusMessageCodeAndRetryAfter() async throws {
        let body = #"{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM)","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#
        for streaming in [false, true] {
            let transport = ScriptedTransport(.body(body, status: 429, headers: [HTTPHeaderField("retry-after", "20")]))
            let p = provider(transport)
            let error = await #expect(throws: ProviderError.self) {
                if streaming { _ = try await p.stream(try request(#"{"model":"m","messages":[]}"#)) }
                else { _ = try await p.complete(try request(#"{"model":"m","messages":[]}"#)) }
            }
            #expect(error?.kind == .http(status: 429))
            #expect(error?.message.hasPrefix("Rate limit reached") == true)
            #expect(error?.code == "rate_limit_exceeded")
            #expect(error?.retryAfter == 20)
            #expect(error?.isRetryable == true)
        }
    }

    @Test func errorKeepsTheParamAndANullCode() async throws {
        let body = #"{"error":{"message":"Invalid value for 'temperature'.","type":"invalid_request_error","param":"temperature","code":null}}"#
        for streaming in [false, true] {
            let p = provider(ScriptedTransport(.body(body, status: 400)))
            let error = await #expect(throws: ProviderError.self) {
                if streaming { _ = try await p.stream(try request(#"{"model":"m","messages":[]}"#)) }
                else { _ = try await p.complete(try request(#"{"model":"m","messages":[]}"#)) }
            }
            #expect(error?.param == "temperature")
            #expect(error?.code == nil)
            let shown = try #require(error?.gatewayError)
            #expect(shown.status == 400 && shown.type == "invalid_request_error")
            #expect(shown.param == "temperature" && shown.code == nil)
        }
        // Inside a stream, the type still decides the status when the code is null.
        let embedded = ProviderHTTP.embeddedError(try JSONParser.parse(body), provider: "p", redactor: SecretRedactor())
        #expect(embedded.kind == .http(status: 400) && embedded.code == nil && embedded.param == "temperature")
        // Anthropic and Google errors have no `code` of their own: their type or status stands in.
        let anthropic = ProviderHTTP.errorDetails(try JSONParser.parse(#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#))
        #expect(anthropic.code == "overloaded_error" && anthropic.param == nil)
        let google = ProviderHTTP.errorDetails(try JSONParser.parse(#"{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED"}}"#))
        #expect(google.code == "RESOURCE_EXHAUSTED")
    }

    @Test func keyEchoedByUpstreamIsRedacted() async throws {
        let body = #"{"error":{"message":"Incorrect API key provided: \#(Self.key).","type":"invalid_request_error","code":"invalid_api_key"}}"#
        let transport = ScriptedTransport(.body(body, status: 401))
        let error = await #expect(throws: ProviderError.self) {
            _ = try await provider(transport).complete(try request(#"{"model":"m","messages":[]}"#))
        }
        #expect(error?.kind == .http(status: 401))
        #expect(error?.message.contains(Self.key) == false)
        #expect(error?.gatewayError.message.contains(Self.key) == false)
    }

    /// The audit's case: a 401 echoing slices of the key (here 17 characters from its middle)
    /// reached the client. No piece of 8 or more characters of any configured secret (the key, a
    /// credential header) survives, in a JSON error, a plain-text one, or a stream's error status.
    @Test func upstream401EchoingSlicesOfTheKeyReachesNoClient() async throws {
        let key = "sk-live-Zq7Lm0Np4Rt8Vx2Bc6Df1Gh5Jk9"
        let headerSecret = "org-secret-Ab12Cd34Ef56"
        let bytes = Array(key.utf8)
        func slice(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        let echoes = [slice(0..<8), slice(9..<26), slice(bytes.count - 8..<bytes.count), slice(3..<11), key,
                      String(headerSecret.dropFirst(4))]
        for echo in echoes {
            for body in [#"{"error":{"message":"Incorrect API key provided: \#(echo). You can find your key at https://example.com.","type":"invalid_request_error","param":"\#(echo)","code":"invalid_api_key"}}"#,
                         "<html>401: key \(echo) unknown</html>"] {
                for streaming in [false, true] {
                    let p = OpenAICompatibleProvider(name: "up", baseURL: "https://up.example/v1", apiKey: key,
                                                     headers: [HTTPHeaderField("X-Org-Token", headerSecret)],
                                                     transport: ScriptedTransport(.body(body, status: 401)))
                    let error = await #expect(throws: ProviderError.self) {
                        if streaming { _ = try await p.stream(try request(#"{"model":"m","messages":[]}"#)) }
                        else { _ = try await p.complete(try request(#"{"model":"m","messages":[]}"#)) }
                    }
                    let answer = String(decoding: try #require(error?.gatewayError.body), as: UTF8.self)
                    #expect(answer.contains("[redacted]"), "\(answer)")
                    for secret in [key, headerSecret] {
                        let s = Array(secret.utf8)
                        for start in 0...(s.count - 8) {
                            let piece = String(decoding: s[start..<start + 8], as: UTF8.self)
                            #expect(!answer.contains(piece), "\(piece) leaked in \(answer)")
                        }
                    }
                }
            }
        }
        // Shorter than 8 characters: ordinary text, left alone.
        let short = slice(10..<17)
        let p = provider(ScriptedTransport(.body(#"{"error":{"message":"bad key ...\#(short)","type":"x"}}"#, status: 401)), key: key)
        let error = await #expect(throws: ProviderError.self) { _ = try await p.complete(try request(#"{"model":"m","messages":[]}"#)) }
        #expect(error?.message == "bad key ...\(short)")
    }

    /// Azure OpenAI's `?api-version=` and any other query in a base URL stay after the path.
    @Test func baseURLQueryStaysAfterThePath() async throws {
        let cases = [("https://gw.example/v1?api-version=2024-10-21", "https://gw.example/v1/chat/completions?api-version=2024-10-21"),
                     ("https://gw.example/v1/?a=1&b=%2F", "https://gw.example/v1/chat/completions?a=1&b=%2F"),
                     ("https://gw.example/v1#frag", "https://gw.example/v1/chat/completions"),
                     ("https://gw.example/v1?", "https://gw.example/v1/chat/completions")]
        for (base, expected) in cases {
            let transport = ScriptedTransport(.body(Self.completionJSON))
            let p = OpenAICompatibleProvider(baseURL: base, apiKey: "k", transport: transport)
            _ = try await p.complete(try request(#"{"model":"m","messages":[]}"#))
            #expect(transport.requests.first?.url == expected)
        }
        #expect(ProviderHTTP.join("https://h/p?x=1", "/a", query: "y=2") == "https://h/p/a?x=1&y=2")
    }

    /// Azure OpenAI: `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`,
    /// the key in `api-key` (no bearer), the route's model as the deployment, the body as OpenAI's.
    @Test func azureAddressesTheDeploymentWithAPIKeyHeader() async throws {
        let sse = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"
        let transport = ScriptedTransport(.body(Self.completionJSON), .body(sse))
        let azure = OpenAICompatibleProvider(name: "az", baseURL: "https://res.openai.azure.com/", apiKey: "azure-key-0123456789",
                                             headers: [HTTPHeaderField("X-Title", "UltraGate")],
                                             flavor: .azure(apiVersion: "2024-10-21"), transport: transport)
        #expect(azure.type == "azure")
        let body = #"{"model":"gpt-4o-prod","messages":[{"role":"user","content":"Hi"}],"x_vendor":1}"#
        _ = try await azure.complete(try request(body))
        let (chunks, error) = await collect(try await azure.stream(try request(body)))
        #expect(error == nil && !chunks.isEmpty)
        let sent = transport.requests
        #expect(sent.count == 2)
        for r in sent {
            #expect(r.url == "https://res.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21")
            #expect(header(r, "api-key") == "azure-key-0123456789")
            #expect(header(r, "Authorization") == nil)
            #expect(header(r, "X-Title") == "UltraGate")
        }
        #expect(String(decoding: sent[0].body, as: UTF8.self) == body)
        #expect(String(decoding: sent[1].body, as: UTF8.self).hasSuffix(#""stream":true,"stream_options":{"include_usage":true}}"#))
    }

    @Test func connectFailureIsTransportError() async throws {
        let transport = ScriptedTransport(ScriptedTransport.Reply(sendError: .connect("connection refused")))
        let error = await #expect(throws: ProviderError.self) {
            _ = try await provider(transport).stream(try request(#"{"model":"m","messages":[]}"#))
        }
        #expect(error?.kind == .transport(.connect("connection refused")))
        #expect(error?.isRetryable == true)
    }

    @Test func midStreamFailuresFinishTheStream() async throws {
        let first = #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"x"},"finish_reason":null}]}"# + "\n\n"
        // Transport broke.
        var reply = ScriptedTransport.Reply.body(first)
        reply.failure = .broken("connection reset")
        var (chunks, error) = await collect(try await provider(ScriptedTransport(reply)).stream(try request(#"{"model":"m","messages":[]}"#)))
        #expect(chunks.count == 1)
        #expect((error as? ProviderError)?.kind == .transport(.broken("connection reset")))
        // Garbage instead of JSON.
        (chunks, error) = await collect(try await provider(ScriptedTransport(.body(first + "data: {not json\n\n"))).stream(try request(#"{"model":"m","messages":[]}"#)))
        #expect((error as? ProviderError)?.kind == .invalidResponse)
        // An error object inside the stream.
        (chunks, error) = await collect(try await provider(ScriptedTransport(.body(first + #"data: {"error":{"message":"The server had an error","type":"server_error","code":null}}"# + "\n\n"))).stream(try request(#"{"model":"m","messages":[]}"#)))
        #expect((error as? ProviderError)?.kind == .http(status: 500))
        #expect((error as? ProviderError)?.message == "The server had an error")
        // Ended without [DONE] or a finish reason: truncated.
        (chunks, error) = await collect(try await provider(ScriptedTransport(.body(first))).stream(try request(#"{"model":"m","messages":[]}"#)))
        if case .transport(.broken)? = (error as? ProviderError)?.kind {} else { Issue.record("expected broken, got \(String(describing: error))") }
    }

    /// A consumer that stops reading drops the stream (ChunkStream reports termination when
    /// the stream is released or the consuming task is cancelled): the upstream body must be cancelled.
    @Test func consumerStoppingCancelsTheUpstreamBody() async throws {
        let first = #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"x"},"finish_reason":null}]}"# + "\n\n"
        func hanging() -> ScriptedTransport {
            var reply = ScriptedTransport.Reply.body(first)
            reply.hang = true
            return ScriptedTransport(reply)
        }
        func readOneAndStop(_ p: OpenAICompatibleProvider) async throws -> Int {
            var n = 0
            for try await _ in try await p.stream(try request(#"{"model":"m","messages":[]}"#)) { n += 1; break }
            return n
        }
        let transport = hanging()
        #expect(try await readOneAndStop(provider(transport)) == 1)
        for _ in 0..<200 where transport.bodyTerminations.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        #expect(transport.bodyTerminations == ["cancelled"])

        let transport2 = hanging()
        let stream = try await provider(transport2).stream(try request(#"{"model":"m","messages":[]}"#))
        let consumer = Task { await collect(stream) }
        try await Task.sleep(for: .milliseconds(20))
        consumer.cancel()
        _ = await consumer.value
        for _ in 0..<200 where transport2.bodyTerminations.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        #expect(transport2.bodyTerminations == ["cancelled"])
    }

    @Test func schemaCheckerRejectsBrokenObjects() throws {
        let spec = try #require(OpenAPISchema.shared)
        let good = try #require(try JSONParser.parse(Self.completionJSON).objectValue)
        #expect(spec.problems(good, against: "CreateChatCompletionResponse").isEmpty)
        var noCreated = good
        noCreated.removeValue(forKey: "created")
        #expect(!spec.problems(noCreated, against: "CreateChatCompletionResponse").isEmpty)
        var badReason = good
        badReason["choices"] = [["index": 0, "message": ["role": "assistant", "content": "x", "refusal": nil],
                                 "logprobs": nil, "finish_reason": "done"]]
        #expect(!spec.problems(badReason, against: "CreateChatCompletionResponse").isEmpty)
        var badUsage = good
        badUsage["usage"] = ["prompt_tokens": 1, "completion_tokens": 2]
        #expect(!spec.problems(badUsage, against: "CreateChatCompletionResponse").isEmpty)
        let chunkWithoutDelta: JSONObject = ["id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
                                             "choices": [["index": 0, "finish_reason": nil]]]
        #expect(!spec.problems(chunkWithoutDelta, against: "CreateChatCompletionStreamResponse").isEmpty)
    }

    /// An error body's excerpt never shows U+FFFD: the 512-byte cut does not split a character,
    /// and bytes that are not UTF-8 are written as `\xHH`.
    @Test func errorBodyExcerptsAreTextWithoutReplacementCharacters() {
        let euros = Array(repeating: UInt8(ascii: "a"), count: 511) + Array(String(repeating: "\u{20AC}", count: 10).utf8)
        #expect(ProviderHTTP.excerpt(euros) == String(repeating: "a", count: 511))
        let fits = Array(repeating: UInt8(ascii: "a"), count: 510) + Array("\u{E9}\u{E9}".utf8)
        #expect(ProviderHTTP.excerpt(fits) == String(repeating: "a", count: 510) + "\u{E9}")
        #expect(ProviderHTTP.excerpt(Array("oops ".utf8) + [0xFF] + Array(" bad\n".utf8)) == "oops \\xFF bad\\x0A")
        #expect(ProviderHTTP.excerpt(Array("caf\u{E9}".utf8)) == "caf\u{E9}")
        for body in [[0x80, 0x80, 0x80, 0x80, 0x80] + Array(repeating: 0x80, count: 600), [0xED, 0xA0, 0x80]] as [[UInt8]] {
            #expect(!ProviderHTTP.excerpt(body).contains("\u{FFFD}"))
        }
        let error = ProviderHTTP.httpError(head: UpstreamResponseHead(status: 400, headers: []), body: Array("oops ".utf8) + [0xFF],
                                           provider: "p", redactor: SecretRedactor())
        #expect(error.message == "HTTP 400: oops \\xFF")
    }
}
