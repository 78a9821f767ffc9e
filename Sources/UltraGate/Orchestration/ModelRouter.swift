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
    /// Names listed by `GET /v1/models` (configured, mock and default models), with their owner.
    public let listed: [(id: String, ownedBy: String)]

    public init(routes: [ModelRoute], ensembles: [ModelSettings] = [], providers: [String: ChatProvider],
                providerSettings: [String: ProviderSettings], defaultRetry: RetrySettings,
                listed: [(id: String, ownedBy: String)]) {
        self.routes = routes
        self.ensembles = ensembles
        self.providers = providers
        self.providerSettings = providerSettings
        self.defaultRetry = defaultRetry
        self.listed = listed
    }

    public func route(named name: String) -> ModelRoute? {
        if let route = routes.first(where: { $0.name == name }) { return route }
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
