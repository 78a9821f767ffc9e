import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// OpenAI "Create embeddings" (POST `{base}/embeddings`; Azure `{endpoint}/openai/deployments/
/// {deployment}/embeddings?api-version=…`): OpenAPI `CreateEmbeddingRequest` (`model`, `input` as
/// an array of strings or of token-id arrays, at most 2048 items, `encoding_format`, `dimensions`,
/// `user`) and `CreateEmbeddingResponse` (`data[].{index, embedding}`, `usage.prompt_tokens`).
///
/// The items go as given; the gateway always asks for `base64` (little-endian float32, the
/// official SDK's default, so any server that serves the SDK speaks it), a third of the float
/// text's size and exact, and also reads float arrays from a server that ignores the format.
extension OpenAICompatibleProvider: EmbeddingProvider {
    public var embeddingBatchLimit: Int { 2048 }

    package func embeddingsRequest(_ call: EmbeddingCall) throws(ProviderError) -> UpstreamRequest {
        var body = JSONObject()
        body.append("model", .string(call.model))
        body.append("input", .array(call.inputs.map { input in
            switch input {
            case .text(let text): return .string(text)
            case .tokens(let ids): return .array(ids.map(JSON.int))
            }
        }))
        body.append("encoding_format", "base64")
        if let dimensions = call.dimensions { body.append("dimensions", .int(dimensions)) }
        if let user = call.user { body.append("user", .string(user)) }
        // One pass (a lookup per option would be quadratic in a client's many unknown fields).
        let own: Set<String> = ["model", "input", "encoding_format", "dimensions", "user"]
        for (key, value) in call.options where !own.contains(key) { body.append(key, value) }
        return try post("/embeddings", model: call.model, body: body, stream: false, timeouts: call.timeouts)
    }

    public func embed(_ call: EmbeddingCall) async throws -> EmbeddingAnswer {
        let answer = try await connection.sendJSON(try embeddingsRequest(call))
        return try Self.embeddingAnswer(answer, inputs: call.inputs, provider: name, redactor: connection.redactor)
    }

    /// Reads a `CreateEmbeddingResponse`: one embedding per input, placed by its `index` (by
    /// position when there is none); anything missing, repeated or unreadable makes the answer
    /// invalid (a 502), never a response with holes.
    package static func embeddingAnswer(_ answer: JSONObject, inputs: [EmbeddingInput], provider: String,
                                        redactor: SecretRedactor) throws(ProviderError) -> EmbeddingAnswer {
        guard let data = answer["data"]?.arrayValue else {
            if answer["error"] != nil { throw ProviderHTTP.embeddedError(.object(answer), provider: provider, redactor: redactor) }
            throw EmbeddingVectors.invalid(provider, "embeddings response has no `data` array")
        }
        guard data.count == inputs.count else {
            throw EmbeddingVectors.invalid(provider, "embeddings response has \(data.count) embeddings for \(inputs.count) inputs")
        }
        var vectors = [[Float]?](repeating: nil, count: inputs.count)
        for (position, item) in data.enumerated() {
            let index = item["index"]?.intValue ?? position
            guard vectors.indices.contains(index), vectors[index] == nil else {
                throw EmbeddingVectors.invalid(provider, "embeddings response has a missing or repeated index \(index)")
            }
            guard let vector = EmbeddingVectors.decode(item["embedding"]), !vector.isEmpty else {
                throw EmbeddingVectors.invalid(provider, "embedding \(index) is neither a float array nor base64 float32")
            }
            vectors[index] = vector
        }
        let total = answer["usage"]?["prompt_tokens"]?.tokenCount ?? answer["usage"]?["total_tokens"]?.tokenCount
        return EmbeddingAnswer(vectors: vectors.map { $0! }, tokens: EmbeddingAnswer.apportion(total, over: inputs))
    }
}
