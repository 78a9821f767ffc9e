import UltraGateHTTP
import UltraGateSupport

/// OpenAI's rate-limit response fields: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`,
/// the reset being the time until the bucket is full again, written as OpenAI does (`1s`,
/// `6m0s`, `250ms`).
package enum RateLimitHeaders {
    package static func fields(requests: TokenBucket?, tokens: TokenBucket?) -> [HTTPHeaderField] {
        var fields: [HTTPHeaderField] = []
        if let requests { append(requests, "requests", to: &fields) }
        if let tokens { append(tokens, "tokens", to: &fields) }
        return fields
    }

    private static func append(_ bucket: TokenBucket, _ kind: String, to fields: inout [HTTPHeaderField]) {
        fields.append(HTTPHeaderField("x-ratelimit-limit-\(kind)", String(Int(saturating: bucket.capacity))))
        fields.append(HTTPHeaderField("x-ratelimit-remaining-\(kind)", String(max(0, Int(saturating: bucket.level.rounded(.down))))))
        fields.append(HTTPHeaderField("x-ratelimit-reset-\(kind)", duration(bucket.secondsUntilFull)))
    }

    /// `0s`, `250ms`, `1.5s`, `6m0s`, `1h2m3s`.
    package static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds > 0 else { return "0s" }
        let seconds = min(seconds, 1e12)  // a reservation owed for ages: the figure stays an integer
        if seconds < 1 { return "\(max(1, Int((seconds * 1000).rounded(.up))))ms" }
        if seconds < 60 {
            // Integer arithmetic: a Double's description costs more than everything else here.
            let tenths = Int((seconds * 10).rounded(.up))
            return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
        }
        let total = Int(seconds.rounded(.up))
        let h = total / 3600, m = total % 3600 / 60, s = total % 60
        return h > 0 ? "\(h)h\(m)m\(s)s" : "\(m)m\(s)s"
    }
}
