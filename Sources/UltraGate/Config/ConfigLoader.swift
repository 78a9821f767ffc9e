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
        addProvidersFromEnvironment(to: &config)
        return config
    }

    /// Applies a parsed config object (exposed for tests).
    public func apply(_ root: JSONObject, to config: inout GatewayConfig) throws {
        let known: Set = ["server", "cache", "mock", "retry", "access_log", "stream_keepalive_interval", "providers", "models"]
        for key in root.keys where !known.contains(key) { throw ConfigError("unknown config key `\(key)`") }
        if let server = try object(root, "server") { try applyServer(server, to: &config.server) }
        if let cache = try object(root, "cache") { try applyCache(cache, to: &config.cache) }
        if let mock = try object(root, "mock") {
            config.mock.latencyMs = try double(mock, "latency_ms", path: "mock") ?? config.mock.latencyMs
            config.mock.timeToFirstTokenMs = try double(mock, "ttft_ms", path: "mock") ?? config.mock.timeToFirstTokenMs
            if let models = try stringArray(mock, "models", path: "mock") { config.mock.models = models }
        }
        if let retry = try object(root, "retry") { config.retry = try parseRetry(retry, path: "retry", base: config.retry) }
        if let log = root["access_log"] {
            switch log {
            case .null, .bool(false): config.accessLog = nil
            case .bool(true): config.accessLog = "stderr"
            case .string(let s): config.accessLog = s == "off" ? nil : s
            default: throw ConfigError("`access_log` must be \"stderr\", a file path, or false")
            }
        }
        if let interval = try double(root, "stream_keepalive_interval", path: "") {
            guard interval > 0 else { throw ConfigError("`stream_keepalive_interval` must be positive") }
            config.streamKeepAliveInterval = interval
        }
        if let providers = try object(root, "providers") {
            for (name, value) in providers {
                guard let p = value.objectValue else { throw ConfigError("providers.\(name) must be an object") }
                config.providers.append(try parseProvider(name: name, p))
            }
        }
        if let models = try object(root, "models") {
            for (name, value) in models {
                guard let m = value.objectValue else { throw ConfigError("models.\(name) must be an object") }
                config.models.append(try parseModel(name: name, m))
            }
        }
        try check(config)
    }

    private func applyServer(_ s: JSONObject, to server: inout HTTPServerConfig) throws {
        if let host = try string(s, "host", path: "server") { server.host = host }
        if let port = try int(s, "port", path: "server") {
            guard (0...65535).contains(port) else { throw ConfigError("server.port must be between 0 and 65535") }
            server.port = port
        }
        if let threads = try int(s, "threads", path: "server") {
            guard threads >= 1 && threads <= 256 else { throw ConfigError("server.threads must be between 1 and 256") }
            server.threads = threads
        }
        if let body = try int(s, "max_body_bytes", path: "server") {
            guard body >= 1024 else { throw ConfigError("server.max_body_bytes must be at least 1024") }
            server.limits.maxBodyBytes = body
        }
        if let v = try double(s, "idle_timeout", path: "server") { server.idleTimeout = v }
        if let v = try double(s, "request_timeout", path: "server") { server.requestReadTimeout = v }
        if let v = try double(s, "shutdown_grace_period", path: "server") { server.shutdownGracePeriod = v }
        if let v = try int(s, "max_connections", path: "server") {
            guard v >= 1 else { throw ConfigError("server.max_connections must be at least 1") }
            server.maxConnections = v
        }
    }

    private func applyCache(_ c: JSONObject, to cache: inout CacheSettings) throws {
        if let enabled = c["enabled"] {
            guard let b = enabled.boolValue else { throw ConfigError("cache.enabled must be a boolean") }
            cache.enabled = b
        }
        if let dir = try string(c, "dir", path: "cache") { cache.directory = dir }
        if let max = try int(c, "max_bytes", path: "cache") {
            guard max >= 1 << 20 else { throw ConfigError("cache.max_bytes must be at least 1048576") }
            cache.maxBytes = max
        }
        if let ttl = try double(c, "ttl", path: "cache") {
            guard ttl >= 0 else { throw ConfigError("cache.ttl must not be negative") }
            cache.defaultTTL = ttl
        }
        if let ns = try string(c, "namespace", path: "cache") { cache.namespace = ns }
        if let v = c["commit_before_answer"] {
            guard let b = v.boolValue else { throw ConfigError("cache.commit_before_answer must be a boolean") }
            cache.commitBeforeAnswer = b
        }
    }

    func parseRetry(_ r: JSONObject, path: String, base: RetrySettings) throws -> RetrySettings {
        var retry = base
        if let v = try int(r, "max_attempts", path: path) {
            guard v >= 1 && v <= 20 else { throw ConfigError("\(path).max_attempts must be between 1 and 20") }
            retry.maxAttempts = v
        }
        if let v = try double(r, "base_delay", path: path) { retry.baseDelay = v }
        if let v = try double(r, "max_delay", path: path) { retry.maxDelay = v }
        if let v = try double(r, "deadline", path: path) { retry.deadline = v }
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

    private func parseProvider(name: String, _ p: JSONObject) throws -> ProviderSettings {
        let path = "providers.\(name)"
        guard let type = try string(p, "type", path: path) else { throw ConfigError("\(path).type is required (openai, anthropic, gemini or mock)") }
        guard ["openai", "anthropic", "gemini", "mock"].contains(type) else {
            throw ConfigError("\(path).type `\(type)` is not one of openai, anthropic, gemini, mock")
        }
        let base = try string(p, "base_url", path: path) ?? ProviderSettings.defaultBaseURL(type: type)!
        var settings = ProviderSettings(name: name, type: type, baseURL: base.hasSuffix("/") ? String(base.dropLast()) : base)
        if let key = try string(p, "api_key", path: path) {
            let resolved = substitute(key)
            try checkHeaderValue(resolved, "\(path).api_key")
            settings.apiKey = resolved.isEmpty ? nil : resolved
        }
        if let headers = try object(p, "headers", path: path) {
            for (k, v) in headers {
                guard let s = v.stringValue else { throw ConfigError("\(path).headers.\(k) must be a string") }
                guard !k.isEmpty, k.utf8.allSatisfy(HTTPSyntax.isTokenChar) else {
                    throw ConfigError("\(path).headers: `\(k)` is not a valid header name")
                }
                let value = substitute(s)
                try checkHeaderValue(value, "\(path).headers.\(k)")
                settings.headers.append(HTTPHeaderField(k, value))
            }
        }
        if let t = try object(p, "timeouts", path: path) {
            let tp = "\(path).timeouts"
            settings.timeouts.connect = try double(t, "connect", path: tp) ?? settings.timeouts.connect
            settings.timeouts.firstByte = try double(t, "first_byte", path: tp) ?? settings.timeouts.firstByte
            settings.timeouts.idle = try double(t, "idle", path: tp) ?? settings.timeouts.idle
            settings.timeouts.total = try double(t, "total", path: tp) ?? settings.timeouts.total
        }
        if let r = try object(p, "retry", path: path) { settings.retry = try parseRetry(r, path: "\(path).retry", base: RetrySettings()) }
        if let file = try string(p, "ca_file", path: path) { settings.caFile = try checkCAFile(file, "\(path).ca_file") }
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

    private func parseModel(name: String, _ m: JSONObject) throws -> ModelSettings {
        let path = "models.\(name)"
        var model = ModelSettings(name: name, provider: try string(m, "provider", path: path), model: try string(m, "model", path: path))
        if let params = try object(m, "params", path: path) { model.params = params }
        model.fallbacks = try stringArray(m, "fallbacks", path: path) ?? []
        model.ttl = try double(m, "ttl", path: path)
        if let price = try object(m, "price", path: path) {
            let pp = "\(path).price"
            model.price = ModelPriceSettings(input: try double(price, "input", path: pp) ?? 0,
                                             output: try double(price, "output", path: pp) ?? 0,
                                             cachedInput: try double(price, "cached_input", path: pp))
        }
        model.ensemble = try stringArray(m, "ensemble", path: path)
        model.synthesizer = try string(m, "synthesizer", path: path)
        model.backupSynthesizer = try string(m, "backup_synthesizer", path: path)
        model.pattern = try string(m, "pattern", path: path)
        model.deadline = try double(m, "deadline", path: path)
        model.minAnswers = try int(m, "min_answers", path: path)
        if let prompts = try object(m, "prompts", path: path) {
            for (k, v) in prompts {
                guard let s = v.stringValue else { throw ConfigError("\(path).prompts.\(k) must be a string") }
                model.prompts[k] = s
            }
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
    func addProvidersFromEnvironment(to config: inout GatewayConfig) {
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

    // MARK: Typed field access with messages that name the key

    private func object(_ o: JSONObject, _ key: String, path: String = "") throws -> JSONObject? {
        guard let v = o[key], !v.isNull else { return nil }
        guard let obj = v.objectValue else { throw ConfigError("\(join(path, key)) must be an object") }
        return obj
    }
    private func string(_ o: JSONObject, _ key: String, path: String) throws -> String? {
        guard let v = o[key], !v.isNull else { return nil }
        guard let s = v.stringValue else { throw ConfigError("\(join(path, key)) must be a string") }
        return s
    }
    /// Every number in the config is a duration, size, price or count: finite and not negative.
    private func double(_ o: JSONObject, _ key: String, path: String) throws -> Double? {
        guard let v = o[key], !v.isNull else { return nil }
        guard let d = v.doubleValue, d.isFinite, d >= 0, d <= 1e9 else {
            throw ConfigError("\(join(path, key)) must be a number from 0 to 1e9")
        }
        return d
    }
    private func int(_ o: JSONObject, _ key: String, path: String) throws -> Int? {
        guard let v = o[key], !v.isNull else { return nil }
        guard let i = v.intValue else { throw ConfigError("\(join(path, key)) must be an integer") }
        return i
    }
    private func stringArray(_ o: JSONObject, _ key: String, path: String) throws -> [String]? {
        guard let v = o[key], !v.isNull else { return nil }
        guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
            throw ConfigError("\(join(path, key)) must be an array of strings")
        }
        return a.compactMap(\.stringValue)
    }
    private func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}
