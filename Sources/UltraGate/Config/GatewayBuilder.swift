import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Turns a `GatewayConfig` into running parts: providers, the model router, the cache, the gateway.
public struct GatewayBuilder {
    public let config: GatewayConfig
    public let transport: UpstreamTransport?
    /// Lines worth telling the operator at start-up (never containing keys).
    public private(set) var notes: [String] = []
    /// Scrubs every configured secret (all providers' keys and credential headers) from upstream
    /// error text, whichever provider answered; a secret configured elsewhere (a gateway master
    /// key) is `register`ed here before `makeRouter`.
    public var redactor: SecretRedactor

    public init(config: GatewayConfig, transport: UpstreamTransport? = nil) {
        self.config = config
        self.transport = transport
        redactor = SecretRedactor(providers: config.providers)
    }

    /// True when the mock provider alone serves: forced, or nothing else is configured.
    public var usesMock: Bool { config.forceMock || (config.providers.isEmpty && config.models.isEmpty) }

    public mutating func makeRouter() throws -> ModelRouter {
        var providers: [String: ChatProvider] = [:]
        var settingsByName: [String: ProviderSettings] = [:]
        var routes: [ModelRoute] = []
        var listed: [(id: String, ownedBy: String)] = []
        let mock = MockProvider(config: MockProviderConfig(latencyMs: config.mock.latencyMs,
                                                           timeToFirstTokenMs: config.mock.timeToFirstTokenMs,
                                                           models: config.mock.models,
                                                           embeddingModels: config.mock.embeddingModels,
                                                           embeddingDimensions: config.mock.embeddingDimensions))
        let mockNames = config.mock.models + config.mock.embeddingModels
        if usesMock {
            providers["mock"] = mock
            addMockModels(mock, to: &routes, &listed)
            notes.append("serving the built-in mock provider: \(mockNames.joined(separator: ", "))")
            return ModelRouter(routes: routes, providers: providers, providerSettings: [:], defaultRetry: config.retry,
                               listed: listed, checked: mockNames)
        }
        let transport = try self.transport ?? CurlTransport()
        for settings in config.providers {
            let trusting = settings.caFile.map { CABundleTransport(base: transport, caBundlePath: $0) as any UpstreamTransport }
            providers[settings.name] = try makeProvider(settings, transport: trusting ?? transport, mock: mock, redactor: redactor)
            settingsByName[settings.name] = settings
            if settings.apiKey == nil && settings.type != "mock" && settings.baseURL.contains("api.") {
                notes.append("provider \(settings.name) has no API key; its requests will be rejected upstream")
            }
        }
        if providers["mock"] == nil && (config.mock.enabled || config.models.contains(where: { $0.provider == "mock" })) {
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
            if let problem = provider.upstreamModelProblem(model.model ?? model.name) {
                let key = model.model == nil ? "models.\(model.name) (the name is the provider's model name)" : "models.\(model.name).model"
                throw ConfigError("\(key): `\(model.model ?? model.name)` cannot be sent to provider `\(providerName)`: it \(problem)")
            }
            routes.append(ModelRoute(name: model.name, providerName: providerName, provider: provider,
                                     upstreamModel: model.model ?? model.name, params: model.params,
                                     fallbacks: model.fallbacks, ttl: model.ttl,
                                     retry: settings?.retry ?? config.retry,
                                     timeouts: settings?.timeouts ?? UpstreamTimeouts(), price: model.price,
                                     kind: model.kind, dimensions: model.dimensions))
            listed.append((model.name, providerName))
        }
        let checked = routes.map(\.name)
        var assumed: [String: [String]] = [:]
        if config.models.isEmpty {
            // Keys from the environment only: each provider's well-known models stand in for its
            // own list while that cannot be had, and are what the availability check asks.
            for settings in config.providers {
                assumed[settings.name] = GatewayBuilder.defaultModels[settings.type] ?? []
            }
        }
        // The mock's models keep answering by their names (the quick start's `mock-gpt`) next to
        // real providers, after the configured names, unless `mock.enabled` is false.
        if config.mock.enabled {
            addMockModels(mock, to: &routes, &listed)
            notes.append("the built-in mock models answer too: \(mockNames.joined(separator: ", ")) (`mock.enabled: false` turns them off)")
        }
        let assumedChecked = assumed.keys.sorted().flatMap { name in assumed[name]!.map { "\(name)/\($0)" } }
        let router = ModelRouter(routes: routes, ensembles: ensembles, providers: providers, providerSettings: settingsByName,
                                 defaultRetry: config.retry, listed: listed, assumedModels: assumed,
                                 checked: checked + assumedChecked)
        try checkReferencedModels(router)
        try checkEmbeddingModels(router)
        return router
    }

    /// Routes and lists the mock's models by their own names, except names configured already.
    private func addMockModels(_ mock: MockProvider, to routes: inout [ModelRoute], _ listed: inout [(id: String, ownedBy: String)]) {
        let taken = Set(routes.map(\.name) + listed.map(\.id))
        for model in config.mock.models where !taken.contains(model) {
            routes.append(ModelRoute(name: model, providerName: "mock", provider: mock, upstreamModel: model, retry: config.retry,
                                     kind: .chat))
            listed.append((model, "ultragate-mock"))
        }
        for model in config.mock.embeddingModels where !taken.contains(model) {
            routes.append(ModelRoute(name: model, providerName: "mock", provider: mock, upstreamModel: model, retry: config.retry,
                                     kind: .embedding, dimensions: config.mock.embeddingDimensions))
            listed.append((model, "ultragate-mock"))
        }
    }

    /// `provider/model` names in fallbacks, ensembles and synthesizers resolve to direct routes:
    /// one whose model name the provider cannot take (see `ChatProvider.upstreamModelProblem`)
    /// is a start-up error naming the key, as for a route's own `model`.
    package func checkReferencedModels(_ router: ModelRouter) throws {
        for model in config.models {
            let references: [(key: String, names: [String])] = [
                ("fallbacks", model.fallbacks), ("ensemble", model.ensemble ?? []),
                ("synthesizer", model.synthesizer.map { [$0] } ?? []),
                ("backup_synthesizer", model.backupSynthesizer.map { [$0] } ?? []),
            ]
            for (key, names) in references {
                for name in names {
                    guard let route = router.route(named: name),
                          let problem = route.provider.upstreamModelProblem(route.upstreamModel) else { continue }
                    throw ConfigError("models.\(model.name).\(key) names `\(name)`, whose model `\(route.upstreamModel)` cannot be sent to provider `\(route.providerName)`: it \(problem)")
                }
            }
        }
    }

    package static let defaultModels: [String: [String]] = [
        "openai": ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"],
        "anthropic": ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"],
        "gemini": ["gemini-2.5-flash", "gemini-2.5-pro"],
    ]

    package func makeProvider(_ settings: ProviderSettings, transport: UpstreamTransport, mock: MockProvider,
                      redactor: SecretRedactor) throws -> ChatProvider {
        switch settings.type {
        case "mock": return mock
        case "openai", "azure":
            let flavor: OpenAICompatibleProvider.Flavor = settings.type == "openai" ? .openAI
                : .azure(apiVersion: settings.apiVersion ?? OpenAICompatibleProvider.defaultAzureAPIVersion)
            var provider = OpenAICompatibleProvider(name: settings.name, baseURL: settings.baseURL, apiKey: settings.apiKey,
                                                    headers: settings.headers, flavor: flavor, transport: transport,
                                                    limits: settings.limits, redactor: redactor)
            provider.servesResponses = settings.servesResponses
            return provider
        case "anthropic":
            return AnthropicProvider(name: settings.name, baseURL: settings.baseURL, apiKey: settings.apiKey,
                                     headers: settings.headers, transport: transport, limits: settings.limits, redactor: redactor)
        case "gemini":
            return GeminiProvider(name: settings.name, baseURL: settings.baseURL, apiKey: settings.apiKey,
                                  headers: settings.headers, transport: transport, limits: settings.limits, redactor: redactor)
        default: throw ConfigError("providers.\(settings.name): provider type `\(settings.type)` is not available in this build")
        }
    }

    public func makeCache() throws -> ResponseCache? {
        guard config.cache.enabled else { return nil }
        var cacheConfig = ResponseCacheConfig(directory: config.cache.directory)
        cacheConfig.maxBytes = config.cache.maxBytes
        cacheConfig.defaultTTL = config.cache.defaultTTL
        cacheConfig.maxEntryBytes = config.cache.maxEntryBytes
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

extension GatewayBuilder {
    /// The cache already in `cache.dir`, for commands that only read or empty one (`ultragate
    /// cache stats|clear`): where there is none (a mistyped directory), it says so and creates
    /// nothing, neither the directory nor LMDB's files.
    public func openExistingCache() throws -> ResponseCache {
        guard GatewayBuilder.holdsLMDB(config.cache.directory) else {
            throw CacheOpenError(directory: config.cache.directory, reason: "no cache exists there")
        }
        var settings = config
        settings.cache.enabled = true  // the directory is read even if serving would skip the cache
        guard let cache = try GatewayBuilder(config: settings).makeCache() else {
            throw CacheOpenError(directory: config.cache.directory, reason: "the cache is disabled")
        }
        return cache
    }
}

extension GatewayBuilder {
    /// Whether `directory` holds an LMDB environment: LMDB keeps it in `data.mdb` (and `lock.mdb`).
    package static func holdsLMDB(_ directory: String) -> Bool {
        let dataFile = URL(fileURLWithPath: directory).appendingPathComponent("data.mdb").path
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: dataFile, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
}

/// The cache directory could not be created or opened, said in one line that names it.
public struct CacheOpenError: Error, CustomStringConvertible {
    public let directory: String
    public let reason: String
    public var description: String { "cannot open the cache in \(directory) (`cache.dir`, `--cache-dir`): \(reason)" }
}
