extension GatewayMetrics {
    /// One embeddings request's items: how many the per-item cache answered and how many it did
    /// not (those went upstream, or shared another request's call).
    public func recordEmbeddingItems(model name: String, hits: Int, misses: Int) {
        let label = model(name).name
        families.embeddingItems.labels(label, "hit").increment(by: hits)
        families.embeddingItems.labels(label, "miss").increment(by: misses)
    }
}
