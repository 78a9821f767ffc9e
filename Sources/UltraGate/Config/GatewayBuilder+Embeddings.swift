import UltraGateProviders

extension GatewayBuilder {
    /// Embedding models are checked at start-up, not on the first request: one declared
    /// `kind: embedding` must be served by a provider that embeds (not `anthropic`), and its
    /// fallbacks must be embedding models of the same vector length, declared on both sides
    /// (`dimensions` or `params.dimensions`), since a client stores vectors of one length and one
    /// model's vectors are compared with each other's.
    package func checkEmbeddingModels(_ router: ModelRouter) throws {
        for model in config.models where model.ensemble == nil {
            guard let route = router.route(named: model.name) else { continue }
            let path = "models.\(model.name)"
            let fallbacks = model.fallbacks.compactMap { name in router.route(named: name).map { (name, $0) } }
            let embedding = route.kind == .embedding || fallbacks.contains { $0.1.kind == .embedding }
            guard embedding else { continue }
            guard route.provider is any EmbeddingProvider else {
                throw ConfigError("\(path) is an embedding model, but provider `\(route.providerName)` (type \(route.provider.type)) has no embeddings API")
            }
            for (name, fallback) in fallbacks {
                guard fallback.kind == .embedding, fallback.provider is any EmbeddingProvider else {
                    throw ConfigError("\(path).fallbacks names `\(name)`, which is not an embedding model (declare `\"kind\": \"embedding\"`)")
                }
                guard let mine = route.defaultDimensions, let theirs = fallback.defaultDimensions else {
                    throw ConfigError("\(path).fallbacks names `\(name)`: an embedding model and its fallbacks must declare `dimensions` (the length of their vectors)")
                }
                guard mine == theirs else {
                    throw ConfigError("\(path).fallbacks names `\(name)`, whose vectors have \(theirs) dimensions, not \(mine): a fallback must answer with vectors of the same length")
                }
            }
        }
    }
}
