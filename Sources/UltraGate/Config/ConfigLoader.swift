import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// A config file that cannot be used, with a message naming the offending key.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads the JSON config file (see README "Configuration") into a `GatewayConfig`, replacing
/// `${VAR}` with environment variables, and fills in providers from the environment when the file
/// names none.
public struct ConfigLoader {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func load(path: String?) throws -> GatewayConfig {
        var config = GatewayConfig()
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigError("cannot read config file \(path)")
            }
            let json: JSON
            do { json = try JSONParser.parse([UInt8](data)) } catch {
                throw ConfigError("config file \(path) is not valid JSON: \(error)")
            }
            guard let root = json.objectValue else { throw ConfigError("config file \(path): the top level must be an object") }
            try apply(root, to: &config)
        }
        try addProvidersFromEnvironment(to: &config)
        // The environment wins over the file, as containers expect.
        if let key = environment["ULTRAGATE_MASTER_KEY"], !key.isEmpty { config.auth.masterKey = key }
        if let key = environment["ULTRAGATE_METRICS_KEY"], !key.isEmpty { config.auth.metricsKey = key }
        try checkAuth(config.auth)
        return config
    }

    /// Applies a parsed config object (exposed for tests). Every level is checked against what
    /// is read here (see `ConfigSection`): an unknown key anywhere is refused with its full path.
    public func apply(_ root: JSONObject, to config: inout GatewayConfig) throws {
        try ConfigSection(root, path: "").readAll { root in try apply(root, to: &config) }
        try check(config)
    }

    private func apply(_ root: ConfigSection, to config: inout GatewayConfig) throws {
        try root.section("server") { s in try applyServer(s, to: &config) }
        try root.section("cache") { c in try applyCache(c, to: &config.cache) }
        try root.section("mock") { mock in
            config.mock.enabled = try mock.bool("enabled") ?? config.mock.enabled
            config.mock.latencyMs = try mock.double("latency_ms") ?? config.mock.latencyMs
            config.mock.timeToFirstTokenMs = try mock.double("ttft_ms") ?? config.mock.timeToFirstTokenMs
            if let models = try mock.stringArray("models") { config.mock.models = models }
            if let models = try mock.stringArray("embedding_models") { config.mock.embeddingModels = models }
            if let dimensions = try mock.int("embedding_dimensions") {
                guard (1...MockProvider.maxEmbeddingDimensions).contains(dimensions) else {
                    throw ConfigError("mock.embedding_dimensions must be between 1 and \(MockProvider.maxEmbeddingDimensions)")
                }
                config.mock.embeddingDimensions = dimensions
            }
        }
        try root.section("embeddings") { e in
            if let window = try e.double("batch_window_ms") {
                guard window <= 1000 else { throw ConfigError("embeddings.batch_window_ms must be at most 1000") }
                config.embeddings.batchWindowMs = window
            }
        }
        try root.section("retry") { r in config.retry = try parseRetry(r, base: config.retry) }
        try root.section("auth") { a in try applyAuth(a, to: &config.auth) }
        try root.section("responses") { r in
            if let ttl = try r.double("ttl") {
                guard ttl >= 0 else { throw ConfigError("\(r.path("ttl")) must be 0 (never expire) or positive seconds") }
                config.responses.ttl = ttl
            }
        }
        if let log = root.value("access_log") {
            switch log {
            case .bool(false): config.accessLog = nil
            case .bool(true): config.accessLog = "stderr"
            case .string(let s): config.accessLog = s == "off" ? nil : s
            default: throw ConfigError("`access_log` must be \"stderr\", a file path, or false")
            }
        }
        if let interval = try root.double("stream_keepalive_interval") {
            guard interval > 0 else { throw ConfigError("`stream_keepalive_interval` must be positive") }
            config.streamKeepAliveInterval = interval
        }
        try root.eachSection("providers") { name, p in config.providers.append(try parseProvider(name: name, p)) }
        try root.eachSection("models") { name, m in config.models.append(try parseModel(name: name, m)) }
    }

    private func applyServer(_ s: ConfigSection, to config: inout GatewayConfig) throws {
        if let host = try s.string("host") { config.server.host = host }
        if let port = try s.int("port") {
            guard (0...65535).contains(port) else { throw ConfigError("server.port must be between 0 and 65535") }
            config.server.port = port
        }
        if let threads = try s.int("threads") {
            guard threads >= 1 && threads <= 256 else { throw ConfigError("server.threads must be between 1 and 256") }
            config.server.threads = threads
        }
        if let body = try s.int("max_body_bytes") {
            guard body >= 1024 else { throw ConfigError("server.max_body_bytes must be at least 1024") }
            config.server.limits.maxBodyBytes = body
        }
        if let v = try s.double("idle_timeout") { config.server.idleTimeout = v }
        if let v = try s.double("request_timeout") { config.server.requestReadTimeout = v }
        if let v = try s.double("shutdown_grace_period") { config.server.shutdownGracePeriod = v }
        if let v = try s.int("max_connections") {
            guard v >= 1 else { throw ConfigError("server.max_connections must be at least 1") }
            config.server.maxConnections = v
        }
        if let v = try s.double("health_cache_seconds") { config.healthCacheSeconds = v }
    }

    private func applyCache(_ c: ConfigSection, to cache: inout CacheSettings) throws {
        if let enabled = try c.bool("enabled") { cache.enabled = enabled }
        if let dir = try c.string("dir") { cache.directory = dir }
        if let max = try c.int("max_bytes") {
            guard max >= 1 << 20 else { throw ConfigError("cache.max_bytes must be at least 1048576") }
            cache.maxBytes = max
        }
        if let ttl = try c.double("ttl") {
            guard ttl >= 0 else { throw ConfigError("cache.ttl must not be negative") }
            cache.defaultTTL = ttl
        }
        if let ns = try c.string("namespace") {
            // Control characters are kept for the namespaces of key and team scopes (a NUL first);
            // format characters and line separators have no business in a name either.
            let refused: Set<Unicode.GeneralCategory> = [.control, .format, .lineSeparator, .paragraphSeparator]
            guard !ns.isEmpty, !ns.unicodeScalars.contains(where: { refused.contains($0.properties.generalCategory) }) else {
                throw ConfigError("cache.namespace must be a non-empty string without control or format characters")
            }
            cache.namespace = ns
        }
        if let v = try c.bool("commit_before_answer") { cache.commitBeforeAnswer = v }
        if let v = try c.int("max_entry_bytes") {
            guard v >= 1024 else { throw ConfigError("cache.max_entry_bytes must be at least 1024") }
            cache.maxEntryBytes = v
        }
    }

    /// `auth.*`. Keys may come from the environment (`${VAR}`); a key that substitutes to nothing
    /// counts as unset, so a missing variable never becomes an empty (guessable) key.
    private func applyAuth(_ a: ConfigSection, to auth: inout AuthSettings) throws {
        func key(_ name: String) throws -> String? {
            guard let raw = try a.string(name) else { return nil }
            let value = substitute(raw)
            return value.isEmpty ? nil : value
        }
        if let v = try key("master_key") { auth.masterKey = v }
        if let v = try key("metrics_key") { auth.metricsKey = v }
        if let v = try a.bool("allow_unauthenticated") { auth.allowUnauthenticated = v }
        if let v = try a.string("keys_dir") { auth.keysDirectory = v }
        if let v = try a.int("failed_attempts_per_second") {
            guard v >= 1 else { throw ConfigError("auth.failed_attempts_per_second must be at least 1") }
            auth.failedAttemptsPerSecond = v
        }
    }

    /// Keys short enough to guess are refused, and the metrics key must differ from the master key
    /// (it would otherwise grant everything).
    private func checkAuth(_ auth: AuthSettings) throws {
        if let master = auth.masterKey, master.utf8.count < 16 {
            throw ConfigError("auth.master_key (or ULTRAGATE_MASTER_KEY) must be at least 16 characters; generate one with `openssl rand -hex 32`")
        }
        if let metrics = auth.metricsKey {
            guard metrics.utf8.count >= 16 else { throw ConfigError("auth.metrics_key must be at least 16 characters") }
            guard metrics != auth.masterKey else { throw ConfigError("auth.metrics_key must differ from auth.master_key") }
            guard auth.masterKey != nil else { throw ConfigError("auth.metrics_key needs auth.master_key: without it nothing is authenticated") }
        }
    }

    package func parseRetry(_ r: ConfigSection, base: RetrySettings) throws -> RetrySettings {
        var retry = base
        if let v = try r.int("max_attempts") {
            guard v >= 1 && v <= 20 else { throw ConfigError("\(r.path("max_attempts")) must be between 1 and 20") }
            retry.maxAttempts = v
        }
        if let v = try r.double("base_delay") { retry.baseDelay = v }
        if let v = try r.double("max_delay") { retry.maxDelay = v }
        if let v = try r.double("deadline") { retry.deadline = v }
        return retry
    }

    /// A value sent in an upstream header (after `${VAR}` substitution) may not hold a line break or
    /// other control character: every request would fail. Refused here, without echoing the value
    /// (it may be a key).
    private func checkHeaderValue(_ value: String, _ path: String) throws {
        guard value.utf8.allSatisfy(HTTPSyntax.isFieldValueByte) else {
            throw ConfigError("\(path) contains a line break or another control character (after `${VAR}` substitution)")
        }
    }

    private func parseProvider(name: String, _ p: ConfigSection) throws -> ProviderSettings {
        let path = p.path
        guard let type = try p.string("type") else { throw ConfigError("\(path).type is required (openai, azure, anthropic, gemini or mock)") }
        guard ["openai", "azure", "anthropic", "gemini", "mock"].contains(type) else {
            throw ConfigError("\(path).type `\(type)` is not one of openai, azure, anthropic, gemini, mock")
        }
        guard let base = try p.string("base_url") ?? ProviderSettings.defaultBaseURL(type: type) else {
            throw ConfigError("\(path).base_url is required for type \(type) (the resource endpoint, https://{resource}.openai.azure.com)")
        }
        var settings = ProviderSettings(name: name, type: type, baseURL: base.hasSuffix("/") ? String(base.dropLast()) : base)
        if let version = try p.string("api_version") {
            guard type == "azure" else { throw ConfigError("\(path).api_version applies to type azure only") }
            settings.apiVersion = try azureAPIVersion(version, "\(path).api_version")
        }
        if let key = try p.string("api_key") {
            let resolved = substitute(key)
            try checkHeaderValue(resolved, "\(path).api_key")
            settings.apiKey = resolved.isEmpty ? nil : resolved
        }
        for (k, s) in try p.stringMap("headers") ?? [] {
            guard !k.isEmpty, k.utf8.allSatisfy(HTTPSyntax.isTokenChar) else {
                throw ConfigError("\(path).headers: `\(k)` is not a valid header name")
            }
            let value = substitute(s)
            try checkHeaderValue(value, "\(path).headers.\(k)")
            settings.headers.append(HTTPHeaderField(k, value))
        }
        try p.section("timeouts") { t in
            settings.timeouts.connect = try t.double("connect") ?? settings.timeouts.connect
            settings.timeouts.firstByte = try t.double("first_byte") ?? settings.timeouts.firstByte
            settings.timeouts.idle = try t.double("idle") ?? settings.timeouts.idle
            settings.timeouts.total = try t.double("total") ?? settings.timeouts.total
        }
        try p.section("retry") { r in settings.retry = try parseRetry(r, base: RetrySettings()) }
        if let v = try p.int("max_response_bytes") {
            guard v >= 1024 else { throw ConfigError("\(path).max_response_bytes must be at least 1024") }
            settings.limits.maxResponseBytes = v
        }
        if let v = try p.int("max_event_bytes") {
            guard v >= 1024 else { throw ConfigError("\(path).max_event_bytes must be at least 1024") }
            settings.limits.maxEventBytes = v
        }
        if let file = try p.string("ca_file") { settings.caFile = try checkCAFile(file, "\(path).ca_file") }
        if let responses = try p.bool("responses") {
            guard type == "openai" else { throw ConfigError("\(path).responses applies to type openai only") }
            settings.responses = responses
        }
        return settings
    }

    /// A CA bundle that cannot be read would fail every request to the provider: refused at
    /// start-up instead. Returns the absolute path (libcurl reads it again for each new connection).
    private func checkCAFile(_ file: String, _ path: String) throws -> String {
        let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
        guard let data = FileManager.default.contents(atPath: absolute) else {
            throw ConfigError("\(path): cannot read `\(file)`")
        }
        guard data.range(of: Data("-----BEGIN CERTIFICATE-----".utf8)) != nil else {
            throw ConfigError("\(path): `\(file)` holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        return absolute
    }

    /// An `api-version` goes into the query as it is: letters, digits, `.`, `-` and `_` only.
    private func azureAPIVersion(_ version: String, _ path: String) throws -> String {
        let allowed = version.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == 0x2E || b == 0x2D || b == 0x5F
        }
        guard !version.isEmpty, allowed else {
            throw ConfigError("\(path) must be an Azure OpenAI API version such as \"\(OpenAICompatibleProvider.defaultAzureAPIVersion)\"")
        }
        return version
    }

    private func parseModel(name: String, _ m: ConfigSection) throws -> ModelSettings {
        let path = m.path
        var model = ModelSettings(name: name, provider: try m.string("provider"), model: try m.string("model"))
        if let params = try m.object("params") { model.params = params }
        model.fallbacks = try m.stringArray("fallbacks") ?? []
        model.ttl = try m.double("ttl")
        try m.section("price") { price in
            model.price = ModelPriceSettings(input: try price.double("input") ?? 0,
                                             output: try price.double("output") ?? 0,
                                             cachedInput: try price.double("cached_input"))
        }
        model.ensemble = try m.stringArray("ensemble")
        model.synthesizer = try m.string("synthesizer")
        model.backupSynthesizer = try m.string("backup_synthesizer")
        model.pattern = try m.string("pattern")
        model.deadline = try m.double("deadline")
        model.minAnswers = try m.int("min_answers")
        for (k, s) in try m.stringMap("prompts") ?? [] { model.prompts[k] = s }
        if let kind = try m.string("kind") {
            guard let known = ModelKind(rawValue: kind) else {
                throw ConfigError("\(path).kind `\(kind)` is not one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            model.kind = known
        }
        model.dimensions = try m.int("dimensions")
        for (key, value) in [("dimensions", model.dimensions), ("params.dimensions", model.params["dimensions"].map { $0.intValue ?? 0 })] {
            guard let value else { continue }
            guard value >= 1 else { throw ConfigError("\(path).\(key) must be a positive integer") }
        }
        if model.ensemble == nil && model.provider == nil && !name.contains("/") {
            throw ConfigError("\(path) needs a `provider` (or an `ensemble`)")
        }
        return model
    }

    private func check(_ config: GatewayConfig) throws {
        let names = Set(config.models.map(\.name))
        let ensembles = Set(config.models.filter { $0.ensemble != nil }.map(\.name))
        for model in config.models {
            let path = "models.\(model.name)"
            if let provider = model.provider, config.provider(named: provider) == nil && provider != "mock" {
                throw ConfigError("\(path).provider `\(provider)` is not defined in `providers`")
            }
            for fallback in model.fallbacks {
                try checkSingleModel(fallback, "\(path).fallbacks", of: model.name, names: names, ensembles: ensembles,
                                     rule: "a fallback is a model, not an ensemble")
            }
            if let members = model.ensemble {
                if members.isEmpty { throw ConfigError("\(path).ensemble must name at least one model") }
                for member in members {
                    try checkSingleModel(member, "\(path).ensemble", of: model.name, names: names, ensembles: ensembles,
                                         rule: "an ensemble cannot be a member of an ensemble")
                }
            }
            for (key, name) in [("synthesizer", model.synthesizer), ("backup_synthesizer", model.backupSynthesizer)] {
                guard let name else { continue }
                try checkSingleModel(name, "\(path).\(key)", of: model.name, names: names, ensembles: ensembles,
                                     rule: "a synthesizer is a model, not an ensemble")
            }
        }
    }

    /// A fallback, ensemble member or synthesizer is called as one model: a configured model or a
    /// `provider/model` name, never an ensemble (itself included). Refused here rather than
    /// listed by /v1/models and failing, or silently skipped, on every request.
    private func checkSingleModel(_ name: String, _ path: String, of owner: String, names: Set<String>,
                                  ensembles: Set<String>, rule: String) throws {
        if ensembles.contains(name) {
            let which = name == owner ? "this ensemble itself" : "an ensemble"
            throw ConfigError("\(path) names `\(name)`, which is \(which); \(rule)")
        }
        if !names.contains(name) && !name.contains("/") {
            throw ConfigError("\(path) names `\(name)`, which is not a model")
        }
    }

    /// With no providers in the file, each known key in the environment registers its provider.
    /// Azure OpenAI needs its endpoint too: `AZURE_OPENAI_API_KEY` and `AZURE_OPENAI_ENDPOINT`
    /// (and optionally `AZURE_OPENAI_API_VERSION` or, as OpenAI's SDK reads it, `OPENAI_API_VERSION`).
    package func addProvidersFromEnvironment(to config: inout GatewayConfig) throws {
        guard config.providers.isEmpty else { return }
        let known: [(type: String, variables: [String])] = [
            ("openai", ["OPENAI_API_KEY"]), ("anthropic", ["ANTHROPIC_API_KEY"]), ("gemini", ["GEMINI_API_KEY", "GOOGLE_API_KEY"]),
        ]
        for (type, variables) in known {
            guard let key = variables.lazy.compactMap({ self.environment[$0] }).first(where: { !$0.isEmpty }) else { continue }
            var settings = ProviderSettings(name: type, type: type, baseURL: ProviderSettings.defaultBaseURL(type: type)!, apiKey: key)
            if type == "openai", let base = environment["OPENAI_BASE_URL"], !base.isEmpty { settings.baseURL = base }
            if type == "anthropic", let base = environment["ANTHROPIC_BASE_URL"], !base.isEmpty { settings.baseURL = base }
            config.providers.append(settings)
        }
        guard let key = environment["AZURE_OPENAI_API_KEY"], !key.isEmpty,
              let endpoint = environment["AZURE_OPENAI_ENDPOINT"], !endpoint.isEmpty else { return }
        var azure = ProviderSettings(name: "azure", type: "azure", baseURL: endpoint, apiKey: key)
        for variable in ["AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION"] {
            guard let version = environment[variable], !version.isEmpty else { continue }
            azure.apiVersion = try azureAPIVersion(version, variable)
            break
        }
        config.providers.append(azure)
    }

    /// Replaces every `${NAME}` with the environment's value (empty when unset).
    public func substitute(_ text: String) -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                result += rest[start.lowerBound...]
                return result
            }
            result += environment[String(rest[start.upperBound..<end])] ?? ""
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}
