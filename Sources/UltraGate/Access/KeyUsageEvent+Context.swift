extension KeyUsageEvent {
    /// What a finished request of the virtual key `name` used, as the fronts booked it on its
    /// context (model, tokens, cost; saved cost for a cache hit or a joined flight), at `at`.
    package init(_ context: RequestContext, name: String, at: Double) {
        self.init(name: name, model: context.model ?? "", at: at)
        promptTokens = context.promptTokens ?? 0
        completionTokens = context.completionTokens ?? 0
        costUSD = context.costUSD ?? 0
        savedUSD = context.savedUSD ?? 0
    }
}
