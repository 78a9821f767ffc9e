import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// The mock's embeddings: for each item a deterministic unit vector drawn from an FNV-1a hash of
/// the model and the item (a text's bytes, or its token ids), `dimensions` long (default
/// `MockProviderConfig.embeddingDimensions`), so the same item always gets the same vector and
/// two items different ones, and cosine similarity is a plain dot product. Tokens are counted by
/// `MockTokenEstimator` (a token array by its length). `[[mock:status=N]]` or `delay_ms` in an
/// item's text fail or slow the call, as in chat messages (`MockDirectives`).
extension MockProvider: EmbeddingProvider {
    public var embeddingBatchLimit: Int { 2048 }
    /// Longest vector the mock makes: a request's `dimensions` is the client's to choose.
    public static let maxEmbeddingDimensions = 16_384

    public func embed(_ call: EmbeddingCall) async throws -> EmbeddingAnswer {
        let texts = call.inputs.compactMap { input -> JSON? in
            if case .text(let text) = input { return ["content": .string(text)] }
            return nil
        }
        let directives = MockDirectives(messages: texts)
        let answer = try embeddings(for: call, directives: directives)
        try await Self.sleep(milliseconds: directives.delayMs + config.latencyMs)
        return answer
    }

    /// The answer to `call`, computed without delay; throws as the directives and limits say.
    package func embeddings(for call: EmbeddingCall, directives: MockDirectives = MockDirectives()) throws(ProviderError) -> EmbeddingAnswer {
        guard config.embeddingModels.contains(call.model) else {
            throw ProviderError(kind: .http(status: 404), provider: name,
                                message: "The model `\(call.model)` does not exist or you do not have access to it.",
                                code: "model_not_found")
        }
        if let error = directives.error(provider: name, model: call.model) { throw error }
        let dimensions = call.dimensions ?? config.embeddingDimensions
        guard (1...Self.maxEmbeddingDimensions).contains(dimensions) else {
            throw ProviderError(kind: .http(status: 400), provider: name,
                                message: "dimensions must be between 1 and \(Self.maxEmbeddingDimensions) for \(call.model)",
                                code: "invalid_value", param: "dimensions")
        }
        let vectors = call.inputs.map { Self.unitVector(model: call.model, input: $0, dimensions: dimensions) }
        return EmbeddingAnswer(vectors: vectors, tokens: call.inputs.map(Self.tokenCount))
    }

    package static func tokenCount(_ input: EmbeddingInput) -> Int {
        switch input {
        case .text(let text): return MockTokenEstimator.count(text)
        case .tokens(let ids): return ids.count
        }
    }

    /// A unit vector seeded by the model and the item (tagged, so a text never seeds as a token array).
    package static func unitVector(model: String, input: EmbeddingInput, dimensions: Int) -> [Float] {
        var seedBytes = Array(model.utf8)
        seedBytes.append(0)
        switch input {
        case .text(let text):
            seedBytes.append(UInt8(ascii: "s"))
            seedBytes.append(contentsOf: text.utf8)
        case .tokens(let ids):
            seedBytes.append(UInt8(ascii: "t"))
            for id in ids { withUnsafeBytes(of: Int64(id).littleEndian) { seedBytes.append(contentsOf: $0) } }
        }
        var rng = MockText.Generator(seed: MockText.fnv1a(seedBytes))
        var vector = [Float](repeating: 0, count: dimensions)
        var norm: Double = 0
        for i in 0..<dimensions {
            let value = Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1
            vector[i] = Float(value)
            norm += Double(vector[i]) * Double(vector[i])
        }
        let scale = norm > 0 ? Float(1 / norm.squareRoot()) : 1
        for i in 0..<dimensions { vector[i] *= scale }
        return vector
    }
}
