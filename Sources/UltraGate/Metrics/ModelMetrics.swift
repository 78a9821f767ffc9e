import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Everything recorded per model, resolved once: the model's children in the Prometheus families
/// plus the counters and latency sketches behind `/v1/stats`. Hot paths may keep this handle
/// (from `GatewayMetrics.model(_:)`) so recording needs no lookup at all.
public final class ModelMetrics: @unchecked Sendable {
    public let name: String
    public let price: ModelPrice?

    private struct RouteStatus: Hashable {
        let route: String
        let status: Int
    }
    private let requestFamily: MetricFamily<Counter>
    private let totals: GatewayMetrics.Totals
    private let lock = NSLock()
    private var requestCounters: [RouteStatus: Counter] = [:]  // guarded by lock; a cache of requestFamily's children

    package let promptTokens: Counter
    package let completionTokens: Counter
    package let cachedTokens: Counter
    package let estimatedPromptTokens: Counter
    package let estimatedCompletionTokens: Counter
    package let cost: Counter
    package let costSaved: Counter

    package let requests = Counter()
    package let errors = Counter()
    package let cacheHits = Counter()
    package let cacheMisses = Counter()
    package let upstreamSeconds = Counter()
    package let latency = LatencySketch()
    package let timeToFirstToken = LatencySketch()

    package init(name: String, price: ModelPrice?, families: GatewayMetrics.Families, totals: GatewayMetrics.Totals) {
        self.name = name
        self.price = price
        self.totals = totals
        requestFamily = families.requests
        promptTokens = families.tokens.labels(name, "prompt")
        completionTokens = families.tokens.labels(name, "completion")
        cachedTokens = families.tokens.labels(name, "cached")
        estimatedPromptTokens = families.estimatedTokens.labels(name, "prompt")
        estimatedCompletionTokens = families.estimatedTokens.labels(name, "completion")
        cost = families.cost.labels(name)
        costSaved = families.costSaved.labels(name)
    }

    /// One answered request for this model. The (route, status) child is cached here, keyed by
    /// the status as an integer, so the common case is one short-string hash under a lock.
    public func recordRequest(route: String, status: Int, durationSeconds: Double) {
        let key = RouteStatus(route: route, status: status)
        lock.lock()
        let cached = requestCounters[key]
        lock.unlock()
        let counter = cached ?? {
            let c = requestFamily.labels([route, name, String(status)])
            lock.lock()
            requestCounters[key] = c
            lock.unlock()
            return c
        }()
        counter.increment()
        requests.increment()
        totals.requests.increment()
        if status >= 400 {
            errors.increment()
            totals.errors.increment()
        }
        latency.record(seconds: durationSeconds)
    }

    /// Token usage of a call that went upstream; adds its cost from the price table. Estimated
    /// counts (the upstream reported none) are counted as tokens and also as estimated tokens.
    public func recordTokens(prompt: Int, completion: Int, cached: Int, estimated: Bool = false) {
        promptTokens.increment(by: prompt)
        completionTokens.increment(by: completion)
        cachedTokens.increment(by: cached)
        if estimated {
            estimatedPromptTokens.increment(by: prompt)
            estimatedCompletionTokens.increment(by: completion)
        }
        if let price { cost.add(price.cost(prompt: prompt, completion: completion, cached: cached)) }
    }

    /// A gateway cache hit: adds what the avoided upstream call would have cost.
    public func recordCacheSavings(prompt: Int, completion: Int, cached: Int) {
        if let price { costSaved.add(price.cost(prompt: prompt, completion: completion, cached: cached)) }
    }

    package func snapshot() -> StatsSnapshot.ModelStats {
        let latencies = latency.snapshot()
        let ttfts = timeToFirstToken.snapshot()
        let hits = cacheHits.integerValue
        let lookups = hits + cacheMisses.integerValue
        let seconds = upstreamSeconds.value
        return StatsSnapshot.ModelStats(
            model: name,
            requests: requests.integerValue,
            errors: errors.integerValue,
            latencyP50: latencies.percentile(0.50),
            latencyP90: latencies.percentile(0.90),
            latencyP99: latencies.percentile(0.99),
            ttftP50: ttfts.percentile(0.50),
            ttftP99: ttfts.percentile(0.99),
            tokensPerSecond: seconds > 0 ? Double(completionTokens.integerValue) / seconds : nil,
            hitRatio: lookups > 0 ? Double(hits) / Double(lookups) : nil,
            promptTokens: promptTokens.integerValue,
            completionTokens: completionTokens.integerValue,
            cachedTokens: cachedTokens.integerValue,
            costUSD: cost.value,
            costSavedUSD: costSaved.value)
    }
}
