/// The kinds of entry the cache holds, each in a database of its own within the one environment,
/// with its own value format. They share the age index, so eviction takes the oldest entries of
/// any kind, and `cache.max_bytes` bounds them all together.
package enum CacheStore: Sendable, CaseIterable {
    /// Whole answers (`CachedResponse`), keyed by `CacheKey.make`.
    case responses
    /// Embedding vectors item by item (`CachedEmbedding`), keyed by `EmbeddingKeyPrefix`.
    case embeddings

    /// An entry's creation and expiry times, read from its stored bytes without decoding the rest;
    /// nil when the bytes are not an entry of this kind.
    package func peekTimes(_ raw: UnsafeRawBufferPointer) -> (createdAt: Double, expiresAt: Double)? {
        switch self {
        case .responses: return CachedResponse.peekTimes(raw)
        case .embeddings: return CachedEmbedding.peekTimes(raw)
        }
    }
}
