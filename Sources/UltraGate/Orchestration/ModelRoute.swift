import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// A model name resolved to the provider that serves it.
public struct ModelRoute: Sendable {
    /// The name clients use (config alias, `provider/model`, or a mock model).
    public let name: String
    public let providerName: String
    public let provider: ChatProvider
    /// The provider's own model name.
    public let upstreamModel: String
    /// Request fields merged into every request (the client's values win).
    public let params: JSONObject
    public let fallbacks: [String]
    public let ttl: Double?
    public let retry: RetrySettings
    public let timeouts: UpstreamTimeouts
    public let price: ModelPriceSettings?
    /// What the model serves, when declared (nil: whatever its provider takes).
    public let kind: ModelKind?
    /// The length of an embedding model's vectors when a request names no `dimensions`, when
    /// declared (`models.NAME.dimensions`); `params.dimensions` sets it too (`defaultDimensions`).
    public let dimensions: Int?

    public init(name: String, providerName: String, provider: ChatProvider, upstreamModel: String,
                params: JSONObject = [:], fallbacks: [String] = [], ttl: Double? = nil,
                retry: RetrySettings = RetrySettings(), timeouts: UpstreamTimeouts = UpstreamTimeouts(),
                price: ModelPriceSettings? = nil, kind: ModelKind? = nil, dimensions: Int? = nil) {
        self.name = name
        self.providerName = providerName
        self.provider = provider
        self.upstreamModel = upstreamModel
        self.params = params
        self.fallbacks = fallbacks
        self.ttl = ttl
        self.retry = retry
        self.timeouts = timeouts
        self.price = price
        self.kind = kind
        self.dimensions = dimensions
    }

    /// The vector length of an embeddings request naming no `dimensions`, when known: the
    /// route's `params.dimensions`, else its declared `dimensions`.
    public var defaultDimensions: Int? { params["dimensions"]?.intValue ?? dimensions }

    /// What the cache key calls this route: two aliases of one provider model share answers
    /// (their params are part of the request body the key covers).
    public var cacheRoute: String { "\(providerName)/\(upstreamModel)" }

    /// The client's request with the route's params merged in (client values win). `model` stays
    /// the client's name; `upstreamBody` swaps it for the provider's.
    public func mergedBody(_ body: JSONObject) -> JSONObject {
        guard !params.isEmpty else { return body }
        var merged = body
        for (key, value) in params where merged[key] == nil { merged[key] = value }
        return merged
    }

    /// The body sent to the provider: merged params, the provider's model name, no stream flags.
    public func upstreamBody(_ body: JSONObject) -> JSONObject {
        var upstream = mergedBody(body)
        upstream["model"] = .string(upstreamModel)
        upstream["stream"] = nil
        upstream["stream_options"] = nil
        return upstream
    }
}
