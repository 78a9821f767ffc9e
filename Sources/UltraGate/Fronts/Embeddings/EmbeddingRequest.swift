import UltraGateProviders
import UltraGateJSON
import UltraGateSupport

/// How vectors are written in the answer (`encoding_format`): JSON numbers, or base64 of
/// little-endian float32 (what the official SDK asks for by default).
package enum EmbeddingEncoding: String, Sendable, CaseIterable {
    case float
    case base64
}

/// A validated `POST /v1/embeddings` body: the items, each in its canonical form, and the fields
/// that shape the call or the answer. Unknown fields are kept in `options` and passed on to
/// OpenAI-compatible providers (they are part of every item's cache key).
package struct EmbeddingRequest: Sendable {
    package var model: String
    package var inputs: [EmbeddingInput]
    package var encoding: EmbeddingEncoding
    package var dimensions: Int?
    package var user: String?
    package var options: JSONObject

    /// The tokens the call may use, for the access gate's limits: the items' estimated sizes.
    package var estimatedTokens: Int { inputs.reduce(0) { $0.addingSaturated($1.estimatedTokens) } }

    /// The fields this front reads itself; every other one is an option passed on.
    package static let knownFields: Set<String> = ["model", "input", "encoding_format", "dimensions", "user"]
}
