import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Everything `ultragate serve` runs with. Built from defaults, then the JSON config file, then
/// command-line flags (each later source overrides the earlier).
public struct GatewayConfig: Sendable {
    public var server = HTTPServerConfig()
    public var cache = CacheSettings()
    public var auth = AuthSettings()
    public var mock = MockSettings()
    public var embeddings = EmbeddingSettings()
    /// Serve from the built-in mock provider even when provider keys are present.
    public var forceMock = false
    /// Provider name → settings, in the order written.
    public var providers: [ProviderSettings] = []
    /// Model route name → settings, in the order written.
    public var models: [ModelSettings] = []
    public var retry = RetrySettings()
    /// Stored responses of `/v1/responses` (`responses.*`).
    public var responses = ResponsesSettings()
    /// `stderr`, a file path, or nil for no access log.
    public var accessLog: String? = nil
    /// Seconds between SSE comment lines sent while a stream waits for its first token.
    public var streamKeepAliveInterval: Double = 10
    /// Seconds a `GET /health?deep=1` result is reused before the models are asked again.
    public var healthCacheSeconds: Double = 10

    public init() {}

    public func provider(named name: String) -> ProviderSettings? { providers.first { $0.name == name } }
    public func model(named name: String) -> ModelSettings? { models.first { $0.name == name } }
}

public struct CacheSettings: Sendable {
    public var enabled = true
    public var directory = ".ultragate-cache"
    public var maxBytes = 1 << 30
    /// Seconds an entry stays fresh; 0 means forever.
    public var defaultTTL: Double = 7 * 86_400
    /// Keys are scoped by namespace; one shared namespace unless configured.
    public var namespace = "default"
    /// Commit a miss's entry before answering it (any answered request then survives `kill -9`),
    /// rather than answering first and committing right after (faster: the commit overlaps the
    /// client's next round trip; a crash in between can lose that entry, never corrupt one).
    public var commitBeforeAnswer = false
    /// Answers larger than this are served but not stored.
    public var maxEntryBytes = ResponseCacheConfig.defaultMaxEntryBytes
    public init() {}
}

/// Client authentication (`auth.*`): with no master key, no request is authenticated and the
/// gateway serves only on loopback unless `allowUnauthenticated`.
public struct AuthSettings: Sendable {
    /// `auth.master_key` or `ULTRAGATE_MASTER_KEY`: every endpoint but `GET /health` then needs a key.
    public var masterKey: String?
    /// `auth.metrics_key`: a read-only key for `/metrics` and `/v1/stats`.
    public var metricsKey: String?
    /// `auth.allow_unauthenticated` / `--allow-unauthenticated`: serve a non-loopback address without a master key.
    public var allowUnauthenticated = false
    /// `auth.keys_dir`: the LMDB directory of the virtual keys; nil means `cache.directory`.
    public var keysDirectory: String?
    /// `auth.failed_attempts_per_second`: failed authentications allowed per client address per second.
    public var failedAttemptsPerSecond = 20

    public var isEnabled: Bool { masterKey != nil }
    public init() {}
}

/// Stored responses (`store: true` on `/v1/responses`).
public struct ResponsesSettings: Sendable {
    /// `responses.ttl`: seconds a stored response is kept; 0 keeps it until the storage is full.
    public var ttl: Double = 30 * 86_400
    public init() {}
}

public struct MockSettings: Sendable {
    /// Whether the mock models answer by their names next to real providers (`mock.enabled`).
    public var enabled = true
    public var latencyMs: Double = 0
    public var timeToFirstTokenMs: Double = 0
    public var models = ["mock-gpt", "mock-claude", "mock-gemini"]
    /// The mock's embedding models and their vectors' default length.
    public var embeddingModels = MockProviderConfig.defaultEmbeddingModels
    public var embeddingDimensions = MockProviderConfig.defaultEmbeddingDimensions
    public init() {}
}

public struct RetrySettings: Sendable, Equatable {
    /// Attempts per model, the first included.
    public var maxAttempts = 3
    public var baseDelay: Double = 0.25
    public var maxDelay: Double = 8
    /// Upper bound on all attempts of one model, retries and waits included (seconds).
    public var deadline: Double = 120
    public init() {}
}

public struct ProviderSettings: Sendable {
    public var name: String
    /// `openai`, `azure`, `anthropic`, `gemini` or `mock`.
    public var type: String
    public var baseURL: String
    public var apiKey: String?
    /// Azure OpenAI's `api-version` (type `azure` only; nil: `OpenAICompatibleProvider.defaultAzureAPIVersion`).
    public var apiVersion: String?
    public var headers: [HTTPHeaderField] = []
    public var timeouts = UpstreamTimeouts()
    public var retry: RetrySettings?
    /// How large an answer and one stream event may be.
    public var limits = UpstreamLimits()
    /// PEM file of the CAs trusted for this provider instead of the system's (`ca_file`).
    public var caFile: String?
    /// `responses`: send `/v1/responses` requests to this provider's own `/responses` endpoint
    /// as written (type `openai` only). Nil: yes for OpenAI itself (`api.openai.com`), else no.
    public var responses: Bool?

    /// Whether this provider takes Responses requests natively.
    public var servesResponses: Bool {
        guard type == "openai" else { return false }
        return responses ?? baseURL.hasPrefix("https://api.openai.com/")
    }

    public init(name: String, type: String, baseURL: String, apiKey: String? = nil) {
        self.name = name
        self.type = type
        self.baseURL = baseURL
        self.apiKey = apiKey
    }

    /// nil for `azure`, whose endpoint names the operator's own resource.
    public static func defaultBaseURL(type: String) -> String? {
        switch type {
        case "openai": return "https://api.openai.com/v1"
        case "anthropic": return "https://api.anthropic.com"
        case "gemini": return "https://generativelanguage.googleapis.com"
        case "mock": return "mock://"
        default: return nil
        }
    }
}

/// Prices in USD per million tokens, for cost and savings metrics.
public struct ModelPriceSettings: Sendable, Equatable {
    public var input: Double
    public var output: Double
    public var cachedInput: Double
    public init(input: Double, output: Double, cachedInput: Double? = nil) {
        self.input = input
        self.output = output
        self.cachedInput = cachedInput ?? input
    }
}

public struct ModelSettings: Sendable {
    public var name: String
    public var provider: String?
    /// The provider's own model name (defaults to `name`).
    public var model: String?
    /// Request fields merged into every request for this model (the client's values win).
    public var params: JSONObject = [:]
    public var fallbacks: [String] = []
    /// Cache TTL for this model's answers, seconds (nil: the cache default).
    public var ttl: Double?
    public var price: ModelPriceSettings?
    /// Ensemble routes: member route names (repeats allowed).
    public var ensemble: [String]?
    public var synthesizer: String?
    public var backupSynthesizer: String?
    public var pattern: String?
    /// Ensemble deadline in seconds and quorum.
    public var deadline: Double?
    public var minAnswers: Int?
    public var prompts: [String: String] = [:]
    /// What the model serves (`kind`), and an embedding model's vector length (`dimensions`).
    public var kind: ModelKind?
    public var dimensions: Int?

    public init(name: String, provider: String? = nil, model: String? = nil) {
        self.name = name
        self.provider = provider
        self.model = model
    }
}
