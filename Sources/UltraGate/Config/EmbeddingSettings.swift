/// How `/v1/embeddings` batches (`embeddings.*`).
public struct EmbeddingSettings: Sendable {
    /// Milliseconds items that miss the cache wait for items of other requests to the same model,
    /// to go upstream in one call (`embeddings.batch_window_ms`); 0 sends each request's items at
    /// once. A batch that reaches its provider's limit goes without waiting.
    public var batchWindowMs: Double = 2
    public init() {}
}
