import Foundation
@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

/// An embeddings provider for tests: every call is recorded; each item's vector is derived from
/// its text (`vector(for:)`), so a test can tell whose vector a client got; one token per item.
/// A call holding an item that contains `bad` fails with a 400, as an upstream refusing one input
/// does; `failures` fail whole calls in order first (status 503 by default).
package final class ScriptedEmbeddingProvider: ChatProvider, EmbeddingProvider, @unchecked Sendable {
    package let name: String
    package var type: String { "openai" }
    package let embeddingBatchLimit: Int
    /// Waited before each call answers (lets concurrent requests pile up behind a call).
    package let delay: Double
    private let lock = NSLock()
    private var recorded: [EmbeddingCall] = []
    private var failures: [Int]

    package init(name: String = "emb", batchLimit: Int = 2048, delay: Double = 0, failures: [Int] = []) {
        self.name = name
        embeddingBatchLimit = batchLimit
        self.delay = delay
        self.failures = failures
    }

    /// Every call so far, in arrival order.
    package var calls: [EmbeddingCall] { lock.withLock { recorded } }
    /// Items sent upstream in all calls together.
    package var itemsSent: Int { calls.reduce(0) { $0 + $1.inputs.count } }

    package static func vector(for input: EmbeddingInput, dimensions: Int? = nil) -> [Float] {
        let seed: Float
        switch input {
        case .text(let text): seed = Float(MockText.fnv1a(text.utf8) % 10_000) / 10_000
        case .tokens(let ids): seed = Float(ids.reduce(0, +) % 10_000) / 10_000 + 1
        }
        return (0..<(dimensions ?? 3)).map { seed + Float($0) }
    }

    package func embed(_ call: EmbeddingCall) async throws -> EmbeddingAnswer {
        let failure: Int? = lock.withLock {
            recorded.append(call)
            return failures.isEmpty ? nil : failures.removeFirst()
        }
        if delay > 0 { try await Task.sleep(nanoseconds: Seconds.nanoseconds(delay)) }
        if let failure {
            throw ProviderError(kind: .http(status: failure), provider: name, message: "scripted \(failure)")
        }
        if let bad = call.inputs.firstIndex(where: { if case .text(let t) = $0 { return t.contains("bad") } else { return false } }) {
            throw ProviderError(kind: .http(status: 400), provider: name, message: "input[\(bad)] is not accepted",
                                code: "invalid_value", param: "input")
        }
        return EmbeddingAnswer(vectors: call.inputs.map { Self.vector(for: $0, dimensions: call.dimensions) },
                               tokens: call.inputs.map { _ in 1 })
    }

    package func complete(_ request: ProviderRequest) async throws -> JSONObject {
        throw ProviderError(kind: .http(status: 400), provider: name, message: "embeddings only")
    }

    package func stream(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject> {
        throw ProviderError(kind: .http(status: 400), provider: name, message: "embeddings only")
    }
}
