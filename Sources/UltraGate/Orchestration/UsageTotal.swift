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

    package mutating func add(_ usage: JSON?) {
        guard let usage, case .object = usage else { return }
        let p = usage["prompt_tokens"]?.intValue ?? 0
        let c = usage["completion_tokens"]?.intValue ?? 0
        prompt += p
        completion += c
        total += usage["total_tokens"]?.intValue ?? (p + c)
        calls += 1
    }

    package var json: JSON {
        ["prompt_tokens": .int(prompt), "completion_tokens": .int(completion), "total_tokens": .int(total)]
    }
}
