import UltraGateCache
import UltraGateHTTP
import UltraGateSupport

/// Per-request facts gathered along the way (touched by one request's code at a time).
package final class RequestContext: @unchecked Sendable {
    package let id: String
    package let startNanos: UInt64
    package var route = ""
    package var model: String?
    package var provider: String?
    package var cacheResult: CacheLookupResult?
    package var timing = ServerTiming()
    package var upstreamSeconds: Double = 0
    package var promptTokens: Int?
    package var completionTokens: Int?
    package var cachedTokens: Int?
    package var costUSD: Double?
    /// Set when the request was answered without an upstream call of its own (a cache hit, or a
    /// flight another request started): what that saved, 0 without a price. The key is then
    /// charged nothing; nil means the request's own call is charged (`costUSD`, tokens).
    package var savedUSD: Double?
    /// The metrics of the model a hit was stored under, when `bookHit` looked them up.
    package var hitModelMetrics: ModelMetrics?
    /// What the access gate took for this request (see `AccessGate.admit`).
    package var admission: KeyAdmission?
    /// Whether the access gate booked this request's usage (see `AccessGate.book`).
    package var booked = false

    /// Upstream tokens this request's own call used: none for a hit or a joined flight.
    package var chargedTokens: Int { savedUSD == nil ? max(0, promptTokens ?? 0).addingSaturated(max(0, completionTokens ?? 0)) : 0 }
    /// Who is asking, as the access gate found out (`authenticated(as:)`).
    package private(set) var caller: Caller = .open
    /// The grant of `caller` when it is a virtual key, not retained (`caller` holds it): read
    /// through `withKeyGrant` by each step of a keyed request without reference counting.
    private var keyGrant: Unmanaged<KeyGrant>?
    /// Whether `caller` is a virtual key.
    package var isKeyed: Bool { keyGrant != nil }

    /// Notes who is asking.
    package func authenticated(as caller: Caller) {
        if case .key(let grant) = caller { keyGrant = Unmanaged.passUnretained(grant) } else { keyGrant = nil }
        self.caller = caller
    }

    /// `body` on the caller's grant; nil when the caller is not a virtual key.
    @inline(__always) package func withKeyGrant<T>(_ body: (KeyGrant) -> T) -> T? {
        keyGrant?._withUnsafeGuaranteedRef(body)
    }
    /// The cache namespace of this request's tenant: every cache key, key memo digest and flight
    /// key of the request is made in it (the caller's cache scope within `cache.namespace`).
    package var cacheNamespace: String
    /// The shape errors are drawn in: that of the API the request came in on.
    package var errorDialect: ErrorDialect = .openAI
    /// `x-ratelimit-*` fields the access gate computed for a keyed request: sent on every answer.
    package var rateLimitHeaders: [HTTPHeaderField] = []

    package init(id: String, startNanos: UInt64, cacheNamespace: String = "default") {
        self.id = id
        self.startNanos = startNanos
        self.cacheNamespace = cacheNamespace
    }
}
