import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Resolves the model name of a request to a route: a configured alias, a mock model, a
/// `provider/model` name, or a bare name whose prefix says which configured provider serves it.
public final class ModelRouter: Sendable {
    public let routes: [ModelRoute]
    package let providers: [String: ChatProvider]
    package let providerSettings: [String: ProviderSettings]
    package let defaultRetry: RetrySettings
    public let ensembles: [ModelSettings]
    /// Names `GET /v1/models` always lists (configured aliases, ensembles, mock models), with
    /// their owner; `ModelCatalog` adds each provider's own models.
    public let listed: [(id: String, ownedBy: String)]
    /// Per provider, the models assumed to be there when its own list cannot be had (the
    /// well-known models of a provider registered from an environment key).
    public let assumedModels: [String: [String]]
    /// The names `ultragate check` and `GET /health?deep=1` ask (default: every route).
    public let checked: [String]
    /// A few names that route, offered in the message of a 404 for an unknown model (chat models:
    /// no embedding model, which a chat request could not use).
    public let suggestions: [String]
    /// The same for embeddings requests: a few embedding models.
    public let embeddingSuggestions: [String]

    public init(routes: [ModelRoute], ensembles: [ModelSettings] = [], providers: [String: ChatProvider],
                providerSettings: [String: ProviderSettings], defaultRetry: RetrySettings,
                listed: [(id: String, ownedBy: String)], assumedModels: [String: [String]] = [:],
                checked: [String]? = nil) {
        self.routes = routes
        self.ensembles = ensembles
        self.providers = providers
        self.providerSettings = providerSettings
        self.defaultRetry = defaultRetry
        self.listed = listed
        self.assumedModels = assumedModels
        self.checked = checked ?? routes.map(\.name)
        var seen = Set<String>()
        let embedding = Set(routes.filter { $0.kind == .embedding }.map(\.name))
        let names = (listed.map(\.id) + self.checked).filter { seen.insert($0).inserted }
        suggestions = Array(names.filter { !embedding.contains($0) }.prefix(5))
        embeddingSuggestions = Array(names.filter { embedding.contains($0) }.prefix(5))
    }

    /// The names of the configured providers, in a fixed order.
    public var providerNames: [String] { providers.keys.sorted() }

    public func route(named name: String) -> ModelRoute? {
        if let route = routes.first(where: { $0.name == name }) { return route }
        // A key pasted as a model name is never sent upstream, stored or made a metrics label.
        if KeyLikeText.contains(name) { return nil }
        if let slash = name.firstIndex(of: "/") {
            let providerName = String(name[..<slash])
            let model = String(name[name.index(after: slash)...])
            if !model.isEmpty, let provider = providers[providerName] {
                return directRoute(name: name, providerName: providerName, provider: provider, model: model)
            }
            return nil
        }
        if let providerName = guessProvider(for: name), let provider = providers[providerName] {
            return directRoute(name: name, providerName: providerName, provider: provider, model: name)
        }
        return nil
    }

    public func ensemble(named name: String) -> ModelSettings? { ensembles.first { $0.name == name } }

    private func directRoute(name: String, providerName: String, provider: ChatProvider, model: String) -> ModelRoute {
        let settings = providerSettings[providerName]
        return ModelRoute(name: name, providerName: providerName, provider: provider, upstreamModel: model,
                          retry: settings?.retry ?? defaultRetry, timeouts: settings?.timeouts ?? UpstreamTimeouts())
    }

    /// Bare model names map to a configured provider by their family prefix, as LiteLLM does.
    private func guessProvider(for model: String) -> String? {
        let type: String
        if model.hasPrefix("gpt-") || model.hasPrefix("o1") || model.hasPrefix("o3") || model.hasPrefix("o4")
            || model.hasPrefix("chatgpt-") {
            type = "openai"
        } else if model.hasPrefix("claude") {
            type = "anthropic"
        } else if model.hasPrefix("gemini") {
            type = "gemini"
        } else {
            return nil
        }
        return providerSettings.values.filter { $0.type == type }.map(\.name).sorted().first
    }
}
