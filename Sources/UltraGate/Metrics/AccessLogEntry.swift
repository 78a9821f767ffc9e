import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// What the access log keeps about one request: routing, sizes, timing, usage and money — never
/// message content, headers or keys.
public struct AccessLogEntry: Sendable {
    /// When the request finished, seconds since 1970 (UTC).
    public var time: Double
    public var requestID: String
    public var method: String
    public var route: String
    /// The model(s) asked for: one usually, several for an ensemble, none for e.g. `/v1/models`.
    public var models: [String]
    public var provider: String?
    public var cache: CacheLookupResult?
    public var status: Int
    public var bytesIn: Int
    public var bytesOut: Int
    public var timing: ServerTiming
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var cachedTokens: Int?
    public var costUSD: Double?
    /// A short error kind (`upstream_timeout`, …) for failed requests, never a message body.
    public var errorKind: String?
    /// The virtual key's name (never its secret) and team; `master` for the master key.
    public var key: String?
    public var team: String?

    public init(
        time: Double = ISO8601Timestamp.currentTime(), requestID: String, method: String, route: String,
        models: [String] = [], provider: String? = nil, cache: CacheLookupResult? = nil, status: Int,
        bytesIn: Int = 0, bytesOut: Int = 0, timing: ServerTiming = ServerTiming(),
        promptTokens: Int? = nil, completionTokens: Int? = nil, cachedTokens: Int? = nil,
        costUSD: Double? = nil, errorKind: String? = nil, key: String? = nil, team: String? = nil
    ) {
        self.key = key
        self.team = team
        self.time = time
        self.requestID = requestID
        self.method = method
        self.route = route
        self.models = models
        self.provider = provider
        self.cache = cache
        self.status = status
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.timing = timing
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
        self.costUSD = costUSD
        self.errorKind = errorKind
    }

    /// The entry as one JSON object (key order fixed; absent optional parts are null or left out).
    public var json: JSON {
        var o = JSONObject()
        o.append("time", .string(ISO8601Timestamp.format(secondsSince1970: time)))
        o.append("request_id", .string(requestID))
        o.append("method", .string(method))
        o.append("route", .string(route))
        o.append("model", models.first.map { .string(KeyLikeText.redacted($0)) } ?? .null)
        if models.count > 1 { o.append("models", .array(models.map { .string(KeyLikeText.redacted($0)) })) }
        o.append("provider", provider.map(JSON.string) ?? .null)
        o.append("cache", cache.map { .string($0.rawValue) } ?? .null)
        if let key { o.append("key", .string(key)) }
        if let team { o.append("team", .string(team)) }
        o.append("status", .int(status))
        o.append("bytes_in", .int(bytesIn))
        o.append("bytes_out", .int(bytesOut))
        var timings = JSONObject()
        for (phase, ms) in timing.phasesMilliseconds { timings.append(phase.name, StatsSnapshot.number(ms, places: 3)) }
        o.append("timing_ms", .object(timings))
        if timing.attempts > 0 { o.append("attempts", .int(timing.attempts)) }
        if promptTokens != nil || completionTokens != nil || cachedTokens != nil {
            o.append("tokens", [
                "prompt": promptTokens.map(JSON.int) ?? .null,
                "completion": completionTokens.map(JSON.int) ?? .null,
                "cached": cachedTokens.map(JSON.int) ?? .null,
            ])
        }
        o.append("cost_usd", StatsSnapshot.number(costUSD, places: 8))
        if let errorKind { o.append("error", .string(errorKind)) }
        return .object(o)
    }

    /// Appends the JSON line (with its trailing newline).
    public func appendLine(to bytes: inout [UInt8]) {
        var writer = JSONWriter(capacity: 0)
        swap(&writer.bytes, &bytes)
        writer.write(json)
        writer.bytes.append(0x0A)
        swap(&writer.bytes, &bytes)
    }
}
