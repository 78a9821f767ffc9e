import Foundation

/// Turns a `GatewayConfig` into running parts: providers, the model router, the cache, the gateway.
public struct GatewayBuilder {
    public let config: GatewayConfig
    public let transport: UpstreamTransport?
    /// Lines worth telling the operator at start-up (never containing keys).
    public private(set) var notes: [String] = []

    public init(config: GatewayConfig, transport: UpstreamTransport? = nil) {
        self.config = config
        self.transport = transport
    }

    /// True when the mock provider serves: forced, or nothing else is configured.
    public var usesMock: Bool { config.forceMock || (config.providers.isEmpty && config.models.isEmpty) }

    public mutating func makeRouter() throws -> ModelRouter {
        var providers: [String: ChatProvider] = [:]
        var settingsByName: [String: ProviderSettings] = [:]
        var routes: [ModelRoute] = []
        var listed: [(id: String, ownedBy: String)] = []
        let mock = MockProvider(config: MockProviderConfig(latencyMs: config.mock.latencyMs,
                                                           timeToFirstTokenMs: config.mock.timeToFirstTokenMs,
                                                           models: config.mock.models))
        if usesMock {
            providers["mock"] = mock
            for model in config.mock.models {
                routes.append(ModelRoute(name: model, providerName: "mock", provider: mock, upstreamModel: model, retry: config.retry))
                listed.append((model, "ultragate-mock"))
            }
            notes.append("serving the built-in mock provider: \(config.mock.models.joined(separator: ", "))")
            return ModelRouter(routes: routes, providers: providers, providerSettings: [:], defaultRetry: config.retry, listed: listed)
        }
        let transport = try self.transport ?? CurlTransport()
        for settings in config.providers {
            let trusting = settings.caFile.map { CABundleTransport(base: transport, caBundlePath: $0) as any UpstreamTransport }
            providers[settings.name] = try makeProvider(settings, transport: trusting ?? transport, mock: mock)
            settingsByName[settings.name] = settings
            if settings.apiKey == nil && settings.type != "mock" && settings.baseURL.contains("api.") {
                notes.append("provider \(settings.name) has no API key; its requests will be rejected upstream")
            }
        }
        if providers["mock"] == nil && config.models.contains(where: { $0.provider == "mock" }) {
            providers["mock"] = mock
        }
        var ensembles: [ModelSettings] = []
        for model in config.models {
            if model.ensemble != nil {
                // A bad pattern or prompt key is a start-up error, not a 400 at request time.
                do { _ = try EnsembleSpec(settings: model) } catch {
                    throw ConfigError("models.\(model.name): \(error.message)")
                }
                ensembles.append(model)
                listed.append((model.name, "ultragate-ensemble"))
                continue
            }
            let providerName = model.provider ?? String(model.name.split(separator: "/").first ?? "")
            guard let provider = providers[providerName] else {
                throw ConfigError("models.\(model.name): provider `\(providerName)` is not configured")
            }
            let settings = settingsByName[providerName]
            routes.append(ModelRoute(name: model.name, providerName: providerName, provider: provider,
                                     upstreamModel: model.model ?? model.name, params: model.params,
                                     fallbacks: model.fallbacks, ttl: model.ttl,
                                     retry: settings?.retry ?? config.retry,
                                     timeouts: settings?.timeouts ?? UpstreamTimeouts(), price: model.price))
            listed.append((model.name, providerName))
        }
        if config.models.isEmpty {
            // Keys from the environment only: list each provider's well-known models.
            for settings in config.providers {
                for model in GatewayBuilder.defaultModels[settings.type] ?? [] {
                    listed.append(("\(settings.name)/\(model)", settings.name))
                }
            }
        }
        return ModelRouter(routes: routes, ensembles: ensembles, providers: providers, providerSettings: settingsByName,
                           defaultRetry: config.retry, listed: listed)
    }

    static let defaultModels: [String: [String]] = [
        "openai": ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"],
        "anthropic": ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"],
        "gemini": ["gemini-2.5-flash", "gemini-2.5-pro"],
    ]

    func makeProvider(_ settings: ProviderSettings, transport: UpstreamTransport, mock: MockProvider) throws -> ChatProvider {
        switch settings.type {
        case "mock": return mock
        case "openai":
            return OpenAICompatibleProvider(name: settings.name, baseURL: settings.baseURL, apiKey: settings.apiKey,
                                            headers: settings.headers, transport: transport)
        case "anthropic":
            return AnthropicProvider(name: settings.name, baseURL: settings.baseURL, apiKey: settings.apiKey,
                                     headers: settings.headers, transport: transport)
        case "gemini":
            return GeminiProvider(name: settings.name, baseURL: settings.baseURL, apiKey: settings.apiKey,
                                  headers: settings.headers, transport: transport)
        default: throw ConfigError("providers.\(settings.name): provider type `\(settings.type)` is not available in this build")
        }
    }

    public func makeCache() throws -> ResponseCache? {
        guard config.cache.enabled else { return nil }
        var cacheConfig = ResponseCacheConfig(directory: config.cache.directory)
        cacheConfig.maxBytes = config.cache.maxBytes
        cacheConfig.defaultTTL = config.cache.defaultTTL
        do {
            return try ResponseCache(cacheConfig)
        } catch let error as LMDBError {
            throw CacheOpenError(directory: cacheConfig.directory, reason: error.description)
        } catch {
            // Foundation's errors (the directory could not be created) print as a dictionary dump.
            throw CacheOpenError(directory: cacheConfig.directory, reason: (error as NSError).localizedDescription)
        }
    }
}

/// The cache directory could not be created or opened, said in one line that names it.
public struct CacheOpenError: Error, CustomStringConvertible {
    public let directory: String
    public let reason: String
    public var description: String { "cannot open the cache in \(directory) (`cache.dir`, `--cache-dir`): \(reason)" }
}
