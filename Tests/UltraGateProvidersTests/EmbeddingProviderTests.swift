import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

/// Little-endian float32 bytes as base64, as OpenAI sends `encoding_format: "base64"`.
private func base64(_ floats: [Float]) -> String {
    var bytes: [UInt8] = []
    for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
    return Base64.encode(bytes)
}

/// Wire shapes from OpenAI's OpenAPI (`CreateEmbeddingRequest`, `CreateEmbeddingResponse`) and the
/// Gemini API reference (`models.batchEmbedContents`, `EmbedContentRequest`, `ContentEmbedding`).
@Suite struct EmbeddingProviderTests {
    @Test func openAISendsItemsAsGivenAsksForBase64AndReadsBothFormatsByIndex() async throws {
        let a: [Float] = [0.1, -0.25, 3.5e-7], b: [Float] = [1, 0, -1]
        let answer = #"{"object":"list","data":[{"object":"embedding","index":1,"embedding":"\#(base64(b))"},"#
            + #"{"object":"embedding","index":0,"embedding":[0.1,-0.25,3.5e-7]}],"model":"m","usage":{"prompt_tokens":9,"total_tokens":9}}"#
        let transport = ScriptedTransport(.body(answer))
        let provider = OpenAICompatibleProvider(baseURL: "https://api.example/v1?tenant=7", apiKey: "sk-test-123", transport: transport)
        let call = EmbeddingCall(model: "text-embedding-3-small", inputs: [.text("hello world"), .text("a")], dimensions: 3,
                                 user: "u-1", options: ["input_type": "query"])
        let result = try await provider.embed(call)
        #expect(result.vectors == [a, b])
        #expect(result.tokens.reduce(0, +) == 9)
        let sent = transport.requests[0]
        #expect(sent.url == "https://api.example/v1/embeddings?tenant=7")
        #expect(header(sent, "authorization") == "Bearer sk-test-123")
        #expect(try bodyJSON(sent) == [
            "model": "text-embedding-3-small", "input": ["hello world", "a"], "encoding_format": "base64",
            "dimensions": 3, "user": "u-1", "input_type": "query",
        ])
    }

    @Test func openAISendsTokenArraysAndAzureUsesTheDeploymentPath() async throws {
        let transport = ScriptedTransport(.body(#"{"data":[{"index":0,"embedding":"\#(base64([2]))"}],"usage":{"prompt_tokens":3}}"#))
        let provider = OpenAICompatibleProvider(name: "az", baseURL: "https://r.openai.azure.com", apiKey: "azure-key",
                                                flavor: .azure(apiVersion: "2024-10-21"), transport: transport)
        let result = try await provider.embed(EmbeddingCall(model: "my-embedder", inputs: [.tokens([1, 2, 3])]))
        #expect(result == EmbeddingAnswer(vectors: [[2]], tokens: [3]))
        #expect(transport.requests[0].url == "https://r.openai.azure.com/openai/deployments/my-embedder/embeddings?api-version=2024-10-21")
        #expect(header(transport.requests[0], "api-key") == "azure-key")
        #expect(try bodyJSON(transport.requests[0])["input"] == [[1, 2, 3]])
    }

    @Test(arguments: [
        #"{"data":[{"index":0,"embedding":[1]}]}"#,  // one embedding for two inputs
        #"{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]}"#,  // a repeated index
        #"{"data":[{"index":0,"embedding":[1]},{"index":5,"embedding":[2]}]}"#,  // an index out of range
        #"{"data":[{"index":0,"embedding":"not base64!"},{"index":1,"embedding":[2]}]}"#,
        #"{"data":[{"index":0,"embedding":"AAA="},{"index":1,"embedding":[2]}]}"#,  // 2 bytes: no float32
        #"{"data":[{"index":0,"embedding":[]},{"index":1,"embedding":[2]}]}"#,
        #"{"data":[{"index":0,"embedding":["x"]},{"index":1,"embedding":[2]}]}"#,
        #"{"object":"list"}"#,
    ])
    func openAIAnswersWithHolesAreInvalid(_ body: String) async throws {
        let provider = OpenAICompatibleProvider(apiKey: nil, transport: ScriptedTransport(.body(body)))
        do {
            _ = try await provider.embed(EmbeddingCall(model: "m", inputs: [.text("a"), .text("b")]))
            Issue.record("accepted \(body)")
        } catch let error as ProviderError {
            #expect(error.kind == .invalidResponse)
        }
    }

    @Test func openAIErrorsKeepTheirStatusAndParam() async throws {
        let transport = ScriptedTransport(.body(#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"input","code":null}}"#,
                                                status: 400))
        let provider = OpenAICompatibleProvider(apiKey: "k", transport: transport)
        do {
            _ = try await provider.embed(EmbeddingCall(model: "m", inputs: [.text("a")]))
            Issue.record("no error")
        } catch let error as ProviderError {
            #expect(error.kind == .http(status: 400) && error.param == "input" && !error.isRetryable)
        }
    }

    @Test func geminiBatchEmbedsWithOutputDimensionalityAndTaskType() async throws {
        let transport = ScriptedTransport(.body(#"{"embeddings":[{"values":[0.5,-0.5]},{"values":[1,2]}],"usageMetadata":{"promptTokenCount":4}}"#))
        let provider = GeminiProvider(baseURL: "https://g.example", apiKey: "AIza-key-123", transport: transport)
        let call = EmbeddingCall(model: "models/gemini-embedding-001", inputs: [.text("x"), .text("y")], dimensions: 2,
                                 options: ["task_type": "RETRIEVAL_QUERY", "unrelated": 1])
        let result = try await provider.embed(call)
        #expect(result == EmbeddingAnswer(vectors: [[0.5, -0.5], [1, 2]], tokens: [2, 2]))
        let sent = transport.requests[0]
        #expect(sent.url == "https://g.example/v1beta/models/gemini-embedding-001:batchEmbedContents")
        #expect(header(sent, "x-goog-api-key") == "AIza-key-123")
        #expect(try bodyJSON(sent) == ["requests": [
            ["model": "models/gemini-embedding-001", "content": ["parts": [["text": "x"]]], "outputDimensionality": 2, "taskType": "RETRIEVAL_QUERY"],
            ["model": "models/gemini-embedding-001", "content": ["parts": [["text": "y"]]], "outputDimensionality": 2, "taskType": "RETRIEVAL_QUERY"],
        ]])
        #expect(provider.embeddingBatchLimit == 100)
        #expect(provider.embeddingInputProblem(.tokens([1])) != nil && provider.embeddingInputProblem(.text("a")) == nil)
    }

    @Test func geminiAnswersOfTheWrongSizeAreInvalid() async throws {
        let provider = GeminiProvider(apiKey: "k", transport: ScriptedTransport(.body(#"{"embeddings":[{"values":[1]}]}"#)))
        await #expect(throws: ProviderError.self) {
            _ = try await provider.embed(EmbeddingCall(model: "text-embedding-004", inputs: [.text("a"), .text("b")]))
        }
        let noValues = GeminiProvider(apiKey: "k", transport: ScriptedTransport(.body(#"{"embeddings":[{"values":"AAAAAA=="}]}"#)))
        await #expect(throws: ProviderError.self) {
            _ = try await noValues.embed(EmbeddingCall(model: "text-embedding-004", inputs: [.text("a")]))
        }
    }

    @Test func mockVectorsAreDeterministicUnitVectorsOfTheAskedLength() async throws {
        let mock = MockProvider()
        let call = EmbeddingCall(model: "mock-embedding", inputs: [.text("alpha"), .text("beta"), .text("alpha"), .tokens([1, 2])])
        let first = try await mock.embed(call)
        let again = try await mock.embed(call)
        #expect(first == again)
        #expect(first.vectors.allSatisfy { $0.count == MockProviderConfig.defaultEmbeddingDimensions })
        #expect(first.vectors[0] == first.vectors[2] && first.vectors[0] != first.vectors[1] && first.vectors[3] != first.vectors[0])
        for vector in first.vectors {
            let norm = vector.reduce(0) { $0 + Double($1) * Double($1) }
            #expect(abs(norm - 1) < 1e-4)
        }
        #expect(first.tokens == [2, 1, 2, 2])  // "alpha" is two 4-character pieces
        let short = try await mock.embed(EmbeddingCall(model: "mock-embedding", inputs: [.text("alpha")], dimensions: 8))
        #expect(short.vectors[0].count == 8)
        await #expect(throws: ProviderError.self) { _ = try await mock.embed(EmbeddingCall(model: "mock-gpt", inputs: [.text("a")])) }
        await #expect(throws: ProviderError.self) {
            _ = try await mock.embed(EmbeddingCall(model: "mock-embedding", inputs: [.text("a")], dimensions: 1_000_000))
        }
        await #expect(throws: ProviderError.self) {
            _ = try await mock.embed(EmbeddingCall(model: "mock-embedding", inputs: [.text("ok"), .text("[[mock:status=400]]")]))
        }
    }

    @Test func apportionedSharesAddUpToTheTotalInProportion() {
        let inputs: [EmbeddingInput] = [.text("one two six ten"), .text("five"), .tokens([1, 2, 3, 4, 5, 6, 7, 8])]
        #expect(EmbeddingAnswer.apportion(13, over: inputs) == [4, 1, 8])
        #expect(EmbeddingAnswer.apportion(nil, over: inputs) == [4, 1, 8])
        let shares = EmbeddingAnswer.apportion(100, over: inputs)
        #expect(shares.reduce(0, +) == 100 && shares[2] > shares[0] && shares[0] > shares[1])
        #expect(EmbeddingAnswer.apportion(7, over: [.text("anything at all")]) == [7])
        #expect(EmbeddingAnswer.apportion(2, over: [.text("a"), .text("b"), .text("c")]) == [1, 1, 0])
        #expect(EmbeddingAnswer.apportion(.max, over: inputs).allSatisfy { $0 >= 0 })
    }

    /// An answer whose vectors differ in length, miss the asked `dimensions` or hold a number
    /// that is not finite is refused as a whole (then nothing of it is served or cached).
    @Test func vectorsOfTheWrongLengthOrNotFiniteAreAProblem() {
        let tokens = [1, 1]
        #expect(EmbeddingAnswer(vectors: [[1, 2], [3, 4]], tokens: tokens).problem(dimensions: nil) == nil)
        #expect(EmbeddingAnswer(vectors: [[1, 2], [3, 4]], tokens: tokens).problem(dimensions: 2) == nil)
        #expect(EmbeddingAnswer(vectors: [[1, 2], [3, 4]], tokens: tokens).problem(dimensions: 4) != nil)
        #expect(EmbeddingAnswer(vectors: [[1, 2, 3], [3, 4]], tokens: tokens).problem(dimensions: nil) != nil)
        #expect(EmbeddingAnswer(vectors: [[1, .nan], [3, 4]], tokens: tokens).problem(dimensions: nil) != nil)
        #expect(EmbeddingAnswer(vectors: [[1, 2], [-.infinity, 4]], tokens: tokens).problem(dimensions: 2) != nil)
    }
}
