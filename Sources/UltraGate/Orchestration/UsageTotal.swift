import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// The sum of the `usage` objects of several calls.
package struct UsageTotal: Sendable {
    package private(set) var prompt = 0
    package private(set) var completion = 0
    package private(set) var total = 0
    package private(set) var calls = 0
    /// Some call's usage was the gateway's estimate, so the sum is one too.
    package private(set) var estimated = false

    package mutating func add(_ usage: JSON?) {
        guard let usage, case .object = usage else { return }
        let p = usage["prompt_tokens"]?.tokenCount ?? 0
        let c = usage["completion_tokens"]?.tokenCount ?? 0
        prompt += p
        completion += c
        total += usage["total_tokens"]?.tokenCount ?? (p + c)
        calls += 1
        if EstimatedUsage.isEstimate(usage) { estimated = true }
    }

    package var json: JSON {
        var usage: JSONObject = ["prompt_tokens": .int(prompt), "completion_tokens": .int(completion), "total_tokens": .int(total)]
        if estimated { usage[EstimatedUsage.marker] = true }
        return .object(usage)
    }
}
