import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// What `GET /v1/stats` reports since start: totals and, per model, latency percentiles (from
/// the fine-grained sketches, not the Prometheus buckets), throughput, cache hit ratio and money.
/// Durations are in milliseconds, money in USD; a figure with no data yet is `null`.
public struct StatsSnapshot: Sendable {
    public struct ModelStats: Sendable {
        public var model: String
        public var requests: UInt64
        public var errors: UInt64
        public var latencyP50: Double?  // seconds
        public var latencyP90: Double?
        public var latencyP99: Double?
        public var ttftP50: Double?
        public var ttftP99: Double?
        /// Completion tokens per second of upstream time.
        public var tokensPerSecond: Double?
        public var hitRatio: Double?
        public var promptTokens: UInt64
        public var completionTokens: UInt64
        public var cachedTokens: UInt64
        public var costUSD: Double
        public var costSavedUSD: Double
    }

    public var startedAt: Date
    public var uptimeSeconds: Double
    public var requests: UInt64
    /// Requests answered with an HTTP status of 400 or more.
    public var errors: UInt64
    public var cacheHits: UInt64
    public var cacheMisses: UInt64
    public var cacheBypasses: UInt64
    public var promptTokens: UInt64
    public var completionTokens: UInt64
    public var cachedTokens: UInt64
    public var costUSD: Double
    public var costSavedUSD: Double
    public var models: [ModelStats]

    /// Hits over hits plus misses (bypassed lookups are not counted).
    public var hitRatio: Double? {
        let lookups = cacheHits + cacheMisses
        return lookups > 0 ? Double(cacheHits) / Double(lookups) : nil
    }

    public var json: JSON {
        var totals = JSONObject()
        totals.append("requests", .number(String(requests)))
        totals.append("errors", .number(String(errors)))
        totals.append("cache", [
            "hits": .number(String(cacheHits)), "misses": .number(String(cacheMisses)),
            "bypass": .number(String(cacheBypasses)), "hit_ratio": Self.number(hitRatio, places: 4),
        ])
        totals.append("tokens", Self.tokens(promptTokens, completionTokens, cachedTokens))
        totals.append("cost_usd", Self.number(costUSD, places: 6))
        totals.append("cost_saved_usd", Self.number(costSavedUSD, places: 6))

        var perModel = JSONObject()
        for m in models {
            var o = JSONObject()
            o.append("requests", .number(String(m.requests)))
            o.append("errors", .number(String(m.errors)))
            o.append("latency_ms", [
                "p50": Self.millis(m.latencyP50), "p90": Self.millis(m.latencyP90), "p99": Self.millis(m.latencyP99),
            ])
            o.append("ttft_ms", ["p50": Self.millis(m.ttftP50), "p99": Self.millis(m.ttftP99)])
            o.append("tokens_per_second", Self.number(m.tokensPerSecond, places: 2))
            o.append("hit_ratio", Self.number(m.hitRatio, places: 4))
            o.append("tokens", Self.tokens(m.promptTokens, m.completionTokens, m.cachedTokens))
            o.append("cost_usd", Self.number(m.costUSD, places: 6))
            o.append("cost_saved_usd", Self.number(m.costSavedUSD, places: 6))
            perModel.append(m.model, .object(o))
        }

        var root = JSONObject()
        root.append("started_at", .string(ISO8601Timestamp.format(secondsSince1970: startedAt.timeIntervalSince1970)))
        root.append("uptime_seconds", Self.number(uptimeSeconds, places: 3))
        root.append("totals", .object(totals))
        root.append("models", .object(perModel))
        return .object(root)
    }

    private static func tokens(_ prompt: UInt64, _ completion: UInt64, _ cached: UInt64) -> JSON {
        ["prompt": .number(String(prompt)), "completion": .number(String(completion)), "cached": .number(String(cached))]
    }

    private static func millis(_ seconds: Double?) -> JSON {
        number(seconds.map { $0 * 1000 }, places: 3)
    }

    /// A number rounded to `places` decimals (money and ratios need no more), or null.
    package static func number(_ value: Double?, places: Int) -> JSON {
        guard let value, value.isFinite else { return .null }
        let scale = pow(10.0, Double(places))
        return .double((value * scale).rounded() / scale)
    }
}
