import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// Gemini embeddings (ai.google.dev/api/embeddings): POST `{base}/v1beta/models/{model}:
/// batchEmbedContents` with `{"requests": [EmbedContentRequest]}`, each `{"model": "models/{model}",
/// "content": {"parts": [{"text"}]}, "outputDimensionality", "taskType", "title"}`; the answer is
/// `{"embeddings": [{"values": [number]}]}` in request order, with `usageMetadata.promptTokenCount`
/// where the model reports it. At most 100 requests per call.
///
/// `dimensions` becomes `outputDimensionality`; the OpenAI-style options `task_type` and `title`
/// become `taskType` and `title` (other options have no place in the API and are not sent). Token
/// ids cannot be sent: the API takes text only and the gateway has no Gemini tokenizer.
extension GeminiProvider: EmbeddingProvider {
    public var embeddingBatchLimit: Int { 100 }

    public func embeddingInputProblem(_ input: EmbeddingInput) -> String? {
        input.isTokens ? "takes text only: token ids cannot be embedded by a `gemini` provider (the gateway has no Gemini tokenizer)" : nil
    }

    package func embeddingsRequest(_ call: EmbeddingCall) throws(ProviderError) -> UpstreamRequest {
        let resource = Self.resourceName(call.model)
        let model = try ModelPathSegment.encoded(resource, provider: name)
        var shared = JSONObject()
        if let dimensions = call.dimensions { shared.append("outputDimensionality", .int(dimensions)) }
        if let taskType = call.options["task_type"] ?? call.options["taskType"] { shared.append("taskType", taskType) }
        if let title = call.options["title"] { shared.append("title", title) }
        var requests: [JSON] = []
        requests.reserveCapacity(call.inputs.count)
        for input in call.inputs {
            guard case .text(let text) = input else {
                throw ProviderError(kind: .http(status: 400), provider: name,
                                    message: "token ids cannot be embedded by a `gemini` provider", param: "input")
            }
            var request = JSONObject()
            request.append("model", .string("models/" + resource))
            request.append("content", ["parts": [["text": .string(text)]]])
            for (key, value) in shared { request.append(key, value) }
            requests.append(.object(request))
        }
        return connection.post("/v1beta/models/\(model):batchEmbedContents", body: ["requests": .array(requests)],
                               authHeader: "x-goog-api-key", stream: false, timeouts: call.timeouts)
    }

    public func embed(_ call: EmbeddingCall) async throws -> EmbeddingAnswer {
        let answer = try await connection.sendJSON(try embeddingsRequest(call))
        guard let embeddings = answer["embeddings"]?.arrayValue else {
            if answer["error"] != nil {
                throw ProviderHTTP.embeddedError(.object(answer), provider: name, redactor: connection.redactor)
            }
            throw EmbeddingVectors.invalid(name, "batchEmbedContents response has no `embeddings` array")
        }
        guard embeddings.count == call.inputs.count else {
            throw EmbeddingVectors.invalid(name, "batchEmbedContents response has \(embeddings.count) embeddings for \(call.inputs.count) inputs")
        }
        var vectors: [[Float]] = []
        vectors.reserveCapacity(embeddings.count)
        for (index, embedding) in embeddings.enumerated() {
            guard case .array? = embedding["values"], let vector = EmbeddingVectors.decode(embedding["values"]), !vector.isEmpty else {
                throw EmbeddingVectors.invalid(name, "embedding \(index) has no `values` array of numbers")
            }
            vectors.append(vector)
        }
        let total = answer["usageMetadata"]?["promptTokenCount"]?.tokenCount
        return EmbeddingAnswer(vectors: vectors, tokens: EmbeddingAnswer.apportion(total, over: call.inputs))
    }
}
