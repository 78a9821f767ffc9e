import UltraGateHTTP
import UltraGateSupport

/// OpenAI's rate-limit response fields: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`,
/// the reset being the time until the bucket is full again, written as OpenAI does (`1s`,
/// `6m0s`, `250ms`).
package enum RateLimitHeaders {
    package static func fields(requests: TokenBucket?, tokens: TokenBucket?) -> [HTTPHeaderField] {
        var fields: [HTTPHeaderField] = []
        fields.reserveCapacity((requests == nil ? 0 : 3) + (tokens == nil ? 0 : 3))
        if let requests { append(requests, Self.requestNames, to: &fields) }
        if let tokens { append(tokens, Self.tokenNames, to: &fields) }
        return fields
    }

    // The names as literals: made at run time, each would be a string on the heap per request.
    private static let requestNames = ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests")
    private static let tokenNames = ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")

    private static func append(_ bucket: TokenBucket, _ names: (limit: String, remaining: String, reset: String),
                               to fields: inout [HTTPHeaderField]) {
        fields.append(HTTPHeaderField(names.limit, DecimalText.string(Int(saturating: bucket.capacity))))
        fields.append(HTTPHeaderField(names.remaining, DecimalText.string(max(0, Int(saturating: bucket.level.rounded(.down))))))
        fields.append(HTTPHeaderField(names.reset, duration(bucket.secondsUntilFull)))
    }

    /// `0s`, `250ms`, `1.5s`, `6m0s`, `1h2m3s`.
    package static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds > 0 else { return "0s" }
        let seconds = min(seconds, 1e12)  // a reservation owed for ages: the figure stays an integer
        // Integer arithmetic and concatenation: a Double's description, and string interpolation,
        // cost more than everything else here (this runs twice on every request of a limited key).
        let decimal = DecimalText.string
        if seconds < 1 { return decimal(max(1, Int((seconds * 1000).rounded(.up)))) + "ms" }
        if seconds < 60 {
            let tenths = Int((seconds * 10).rounded(.up))
            return tenths % 10 == 0 ? decimal(tenths / 10) + "s" : decimal(tenths / 10) + "." + decimal(tenths % 10) + "s"
        }
        let total = Int(seconds.rounded(.up))
        let h = total / 3600, m = total % 3600 / 60, s = total % 60
        let minutes = decimal(m) + "m" + decimal(s) + "s"
        return h > 0 ? decimal(h) + "h" + minutes : minutes
    }
}
