import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// The outcome of a response-cache lookup.
public enum CacheLookupResult: String, Sendable, CaseIterable {
    case hit, miss, bypass
}

/// The response cache's own numbers, read at scrape time.
public struct CacheStatsSample: Sendable, Equatable {
    public var entries: Int
    public var bytes: Int
    public var evictions: Int
    /// Entries that could not be stored.
    public var writeErrors: Int
    /// Answers larger than `cache.max_entry_bytes`: served, not stored.
    public var tooLarge: Int
    public init(entries: Int, bytes: Int, evictions: Int, writeErrors: Int = 0, tooLarge: Int = 0) {
        self.entries = entries
        self.bytes = bytes
        self.evictions = evictions
        self.writeErrors = writeErrors
        self.tooLarge = tooLarge
    }
}

/// UltraGate's own metric families (their names are a contract with dashboards) and typed,
/// cheap recording methods. Per-model and per-(provider, model) children are resolved once and
/// kept in handles (`model(_:)`, `upstream(provider:model:)`); callers on the hot path may keep
/// those handles themselves to skip even that lookup.
public final class GatewayMetrics: @unchecked Sendable {
    public static let overheadBuckets: [Double] = [
        5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    ]
    public static let upstreamDurationBuckets: [Double] = [
        0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300,
    ]
    public static let timeToFirstTokenBuckets: [Double] = [
        0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60,
    ]
    public static let retryWaitBuckets: [Double] = [
        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
    ]
    /// Model names beyond this many distinct ones are recorded as `other`, so clients sending
    /// arbitrary model names cannot grow the label space without bound.
    public static let otherModel = "other"
    /// Longer model or ensemble names are recorded as `other`: names come from requests, and
    /// `provider/model` routes any model name to its provider.
    public static let maxLabelBytes = 200
    /// Ensemble names recorded before the rest are recorded as `other` (ad-hoc ensembles are named
    /// after the request's model).
    public static let maxEnsembles = 64

    package struct Families: Sendable {
        package let requests: MetricFamily<Counter>
        package let cacheLookups: MetricFamily<Counter>
        package let cacheEvictions: MetricFamily<Counter>
        package let cacheWriteErrors: MetricFamily<Counter>
        package let cacheEntriesTooLarge: MetricFamily<Counter>
        package let cacheEntries: MetricFamily<Gauge>
        package let cacheBytes: MetricFamily<Gauge>
        package let upstreamDuration: MetricFamily<Histogram>
        package let timeToFirstToken: MetricFamily<Histogram>
        package let overhead: MetricFamily<Histogram>
        package let retries: MetricFamily<Counter>
        package let attempts: MetricFamily<Counter>
        package let retryWait: MetricFamily<Histogram>
        package let fallbacks: MetricFamily<Counter>
        package let upstreamErrors: MetricFamily<Counter>
        package let tokens: MetricFamily<Counter>
        package let estimatedTokens: MetricFamily<Counter>
        package let cost: MetricFamily<Counter>
        package let costSaved: MetricFamily<Counter>
        package let inFlight: MetricFamily<Gauge>
        package let openConnections: MetricFamily<Gauge>
        package let ensembleMembers: MetricFamily<Counter>
        package let embeddingItems: MetricFamily<Counter>

        package init(_ r: MetricsRegistry) {
            requests = r.counterFamily("ultragate_requests_total", help: "Requests answered, by route, model and HTTP status.", labelNames: ["route", "model", "status"])
            cacheLookups = r.counterFamily("ultragate_cache_lookups_total", help: "Response cache lookups by result.", labelNames: ["result"])
            cacheEvictions = r.counterFamily("ultragate_cache_evictions_total", help: "Entries evicted from the response cache.")
            cacheWriteErrors = r.counterFamily("ultragate_cache_write_errors_total", help: "Answers that could not be stored in the response cache (full disk, entry too large, ...).")
            cacheEntriesTooLarge = r.counterFamily("ultragate_cache_entries_too_large_total", help: "Answers served but not stored in the response cache because they are larger than cache.max_entry_bytes.")
            cacheEntries = r.gaugeFamily("ultragate_cache_entries", help: "Entries in the response cache.")
            cacheBytes = r.gaugeFamily("ultragate_cache_bytes", help: "Bytes held by the response cache.")
            upstreamDuration = r.histogramFamily("ultragate_upstream_request_duration_seconds", help: "Upstream call duration in seconds, to the last byte.", labelNames: ["provider", "model"], upperBounds: GatewayMetrics.upstreamDurationBuckets)
            timeToFirstToken = r.histogramFamily("ultragate_upstream_time_to_first_token_seconds", help: "Time from sending the upstream request to its first chunk with content (text, a tool call, a refusal, reasoning), in seconds.", labelNames: ["provider", "model"], upperBounds: GatewayMetrics.timeToFirstTokenBuckets)
            overhead = r.histogramFamily("ultragate_gateway_overhead_seconds", help: "Time spent in the gateway itself (total minus upstream), in seconds.", upperBounds: GatewayMetrics.overheadBuckets)
            retries = r.counterFamily("ultragate_upstream_retries_total", help: "Upstream calls retried.", labelNames: ["provider", "model"])
            attempts = r.counterFamily("ultragate_upstream_attempts_total", help: "Upstream calls made: first attempts, retries and fallbacks.", labelNames: ["provider", "model"])
            retryWait = r.histogramFamily("ultragate_upstream_retry_wait_seconds", help: "Time waited before retrying a failed upstream call (backoff, Retry-After), in seconds.", labelNames: ["provider", "model"], upperBounds: GatewayMetrics.retryWaitBuckets)
            fallbacks = r.counterFamily("ultragate_fallbacks_total", help: "Requests that fell back from one model or provider to another.", labelNames: ["from", "to"])
            upstreamErrors = r.counterFamily("ultragate_upstream_errors_total", help: "Failed upstream calls by kind.", labelNames: ["provider", "model", "kind"])
            tokens = r.counterFamily("ultragate_tokens_total", help: "Tokens used upstream, by model and kind (cached is the part of prompt served from the provider's prompt cache).", labelNames: ["model", "kind"])
            estimatedTokens = r.counterFamily("ultragate_estimated_tokens_total", help: "The part of ultragate_tokens_total the gateway estimated because the upstream reported no usage, by model and kind.", labelNames: ["model", "kind"])
            cost = r.counterFamily("ultragate_cost_usd_total", help: "Estimated upstream cost in USD from the configured price table.", labelNames: ["model"])
            costSaved = r.counterFamily("ultragate_cost_saved_usd_total", help: "Estimated upstream cost in USD avoided by response cache hits.", labelNames: ["model"])
            inFlight = r.gaugeFamily("ultragate_in_flight_requests", help: "Requests being handled.")
            openConnections = r.gaugeFamily("ultragate_open_connections", help: "Open client connections.")
            ensembleMembers = r.counterFamily("ultragate_ensemble_members_total", help: "Ensemble member calls by ensemble and result.", labelNames: ["ensemble", "result"])
            embeddingItems = r.counterFamily("ultragate_embedding_items_total", help: "Embedding input items by model and per-item cache result (hit: answered from the cache; miss: not in it).", labelNames: ["model", "result"])
        }
    }

    /// Gateway-wide counts behind `/v1/stats` totals.
    package struct Totals: Sendable {
        package let requests = Counter()
        package let errors = Counter()
    }

    /// Children of the (provider, model) families, resolved once.
    public final class UpstreamMetrics: Sendable {
        public let provider: String
        public let model: String
        package let duration: Histogram
        package let timeToFirstToken: Histogram
        package let retries: Counter
        package let attempts: Counter
        package let retryWait: Histogram
        package let modelMetrics: ModelMetrics

        package init(provider: String, model: ModelMetrics, families: Families) {
            self.provider = provider
            self.model = model.name
            modelMetrics = model
            duration = families.upstreamDuration.labels(provider, model.name)
            timeToFirstToken = families.timeToFirstToken.labels(provider, model.name)
            retries = families.retries.labels(provider, model.name)
            attempts = families.attempts.labels(provider, model.name)
            retryWait = families.retryWait.labels(provider, model.name)
        }

        /// One finished upstream call; `ttftSeconds` when a chunk with content arrived (streaming).
        public func record(durationSeconds: Double, ttftSeconds: Double?) {
            duration.observe(durationSeconds)
            modelMetrics.upstreamSeconds.add(durationSeconds)
            if let ttftSeconds {
                timeToFirstToken.observe(ttftSeconds)
                modelMetrics.timeToFirstToken.record(seconds: ttftSeconds)
            }
        }

        public func recordRetry() { retries.increment() }

        public func recordAttempt() { attempts.increment() }

        /// A wait before a retry, as long as it lasted.
        public func recordRetryWait(seconds: Double) { retryWait.observe(max(0, seconds)) }
    }

    private struct ProviderModel: Hashable {
        let provider: String
        let model: String
    }

    public let registry: MetricsRegistry
    public let maxModels: Int
    package let families: Families
    private let prices: [String: ModelPrice]
    private let startedAt: Date
    private let startedMonotonic: UInt64

    private let cacheHit: Counter
    private let cacheMiss: Counter
    private let cacheBypass: Counter
    private let cacheEvictions: Counter
    private let cacheWriteErrors: Counter
    private let cacheEntriesTooLarge: Counter
    private let cacheEntries: Gauge
    private let cacheBytes: Gauge
    private let overhead: Histogram
    private let inFlight: Gauge
    private let openConnections: Gauge
    private let totals = Totals()

    private let lock = NSLock()
    private var models: [String: ModelMetrics] = [:]  // guarded by lock
    private var upstreams: [ProviderModel: UpstreamMetrics] = [:]  // guarded by lock
    private var ensembles: Set<String> = []  // guarded by lock
    private var cacheStatsSource: (@Sendable () -> CacheStatsSample)?  // guarded by lock

    /// `prices` maps model names (as recorded) to their price; models without one cost nothing.
    public init(prices: [String: ModelPrice] = [:], registry: MetricsRegistry = MetricsRegistry(), maxModels: Int = 512) {
        self.registry = registry
        self.prices = prices
        self.maxModels = maxModels
        families = Families(registry)
        startedAt = Date()
        startedMonotonic = Self.monotonicNanos()
        cacheHit = families.cacheLookups.labels(CacheLookupResult.hit.rawValue)
        cacheMiss = families.cacheLookups.labels(CacheLookupResult.miss.rawValue)
        cacheBypass = families.cacheLookups.labels(CacheLookupResult.bypass.rawValue)
        cacheEvictions = families.cacheEvictions.unlabeled
        cacheWriteErrors = families.cacheWriteErrors.unlabeled
        cacheEntriesTooLarge = families.cacheEntriesTooLarge.unlabeled
        cacheEntries = families.cacheEntries.unlabeled
        cacheBytes = families.cacheBytes.unlabeled
        overhead = families.overhead.unlabeled
        inFlight = families.inFlight.unlabeled
        openConnections = families.openConnections.unlabeled
        registry.addCollectHook { [weak self] in self?.copyCacheStats() }
    }

    // MARK: Handles

    /// The per-model handle, created on first use (model names past `maxModels`, or longer than
    /// `maxLabelBytes`, map to `other`).
    public func model(_ name: String) -> ModelMetrics {
        lock.lock()
        defer { lock.unlock() }
        if let m = models[name] { return m }
        let label = models.count < maxModels && name.utf8.count <= Self.maxLabelBytes && !KeyLikeText.contains(name)
            ? name : Self.otherModel
        if let m = models[label] { return m }
        let m = ModelMetrics(name: label, price: prices[label], families: families, totals: totals)
        models[label] = m
        return m
    }

    public func upstream(provider: String, model name: String) -> UpstreamMetrics {
        let m = model(name)
        let key = ProviderModel(provider: provider, model: m.name)
        lock.lock()
        defer { lock.unlock() }
        if let u = upstreams[key] { return u }
        let u = UpstreamMetrics(provider: provider, model: m, families: families)
        upstreams[key] = u
        return u
    }

    // MARK: Recording

    /// One answered request. `model` is "" when the route has none (e.g. `/v1/models`).
    public func recordRequest(route: String, model: String, status: Int, durationSeconds: Double) {
        guard model.isEmpty else {
            self.model(model).recordRequest(route: route, status: status, durationSeconds: durationSeconds)
            return
        }
        totals.requests.increment()
        if status >= 400 { totals.errors.increment() }
        families.requests.labels([route, model, String(status)]).increment()
    }

    /// A response-cache lookup; with `model`, it also counts toward that model's hit ratio.
    public func recordCacheLookup(_ result: CacheLookupResult, model: String? = nil) {
        switch result {
        case .hit: cacheHit.increment()
        case .miss: cacheMiss.increment()
        case .bypass: cacheBypass.increment()
        }
        guard let model, result != .bypass else { return }
        let m = self.model(model)
        if result == .hit { m.cacheHits.increment() } else { m.cacheMisses.increment() }
    }

    /// The same, with a model handle the caller kept (no lookup).
    public func recordCacheLookup(_ result: CacheLookupResult, model: ModelMetrics) {
        switch result {
        case .hit: cacheHit.increment(); model.cacheHits.increment()
        case .miss: cacheMiss.increment(); model.cacheMisses.increment()
        case .bypass: cacheBypass.increment()
        }
    }

    public func recordUpstream(provider: String, model: String, durationSeconds: Double, ttftSeconds: Double?) {
        upstream(provider: provider, model: model).record(durationSeconds: durationSeconds, ttftSeconds: ttftSeconds)
    }

    /// Time spent in the gateway itself: total minus upstream time.
    @inline(__always) public func recordOverhead(seconds: Double) {
        overhead.observe(max(0, seconds))
    }

    public func recordRetry(provider: String, model: String) {
        upstream(provider: provider, model: model).recordRetry()
    }

    /// An upstream call begins (any attempt).
    public func recordAttempt(provider: String, model: String) {
        upstream(provider: provider, model: model).recordAttempt()
    }

    public func recordRetryWait(provider: String, model: String, seconds: Double) {
        upstream(provider: provider, model: model).recordRetryWait(seconds: seconds)
    }

    public func recordFallback(from: String, to: String) {
        families.fallbacks.labels(from, to).increment()
    }

    /// `kind` should come from a small fixed set (timeout, connect, http_5xx, …), not error text.
    public func recordUpstreamError(provider: String, model: String, kind: String) {
        families.upstreamErrors.labels(provider, self.model(model).name, kind).increment()
    }

    /// Token usage of an upstream call; also adds its cost (see `ModelPrice.cost`). `estimated`:
    /// the counts are the gateway's estimate (the upstream reported none).
    public func recordTokens(model: String, prompt: Int, completion: Int, cached: Int, estimated: Bool = false) {
        self.model(model).recordTokens(prompt: prompt, completion: completion, cached: cached, estimated: estimated)
    }

    /// A cache hit: adds the cost of the upstream call the hit avoided (the stored usage).
    public func recordCacheSavings(model: String, prompt: Int, completion: Int, cached: Int) {
        self.model(model).recordCacheSavings(prompt: prompt, completion: completion, cached: cached)
    }

    public func recordEnsembleMember(ensemble: String, result: String) {
        lock.lock()
        var label = ensemble
        if !ensembles.contains(ensemble) {
            if ensembles.count < Self.maxEnsembles && ensemble.utf8.count <= Self.maxLabelBytes {
                ensembles.insert(ensemble)
            } else {
                label = Self.otherModel
            }
        }
        lock.unlock()
        families.ensembleMembers.labels(label, result).increment()
    }

    @inline(__always) public func connectionOpened() { openConnections.increment() }
    @inline(__always) public func connectionClosed() { openConnections.decrement() }
    @inline(__always) public func requestStarted() { inFlight.increment() }
    @inline(__always) public func requestFinished() { inFlight.decrement() }

    /// Where the cache gauges and eviction counter come from; called at each scrape.
    public func setCacheStatsSource(_ source: @escaping @Sendable () -> CacheStatsSample) {
        lock.lock()
        cacheStatsSource = source
        lock.unlock()
    }

    private func copyCacheStats() {
        lock.lock()
        let source = cacheStatsSource
        lock.unlock()
        guard let stats = source?() else { return }
        cacheEntries.set(Double(stats.entries))
        cacheBytes.set(Double(stats.bytes))
        cacheEvictions.mirror(total: Double(stats.evictions))
        cacheWriteErrors.mirror(total: Double(stats.writeErrors))
        cacheEntriesTooLarge.mirror(total: Double(stats.tooLarge))
    }

    // MARK: Export

    public func prometheusText() -> String { registry.prometheusText() }

    public func statsSnapshot() -> StatsSnapshot {
        lock.lock()
        let current = models.values.sorted { $0.name < $1.name }
        lock.unlock()
        let perModel = current.map { $0.snapshot() }
        let hits = cacheHit.integerValue
        let misses = cacheMiss.integerValue
        return StatsSnapshot(
            startedAt: startedAt,
            uptimeSeconds: Double(Self.monotonicNanos() &- startedMonotonic) / 1e9,
            requests: totals.requests.integerValue,
            errors: totals.errors.integerValue,
            cacheHits: hits,
            cacheMisses: misses,
            cacheBypasses: cacheBypass.integerValue,
            promptTokens: perModel.reduce(0) { $0 &+ $1.promptTokens },
            completionTokens: perModel.reduce(0) { $0 &+ $1.completionTokens },
            cachedTokens: perModel.reduce(0) { $0 &+ $1.cachedTokens },
            costUSD: perModel.reduce(0) { $0 + $1.costUSD },
            costSavedUSD: perModel.reduce(0) { $0 + $1.costSavedUSD },
            models: perModel)
    }

    public func statsJSON() -> JSON { statsSnapshot().json }

    package static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
