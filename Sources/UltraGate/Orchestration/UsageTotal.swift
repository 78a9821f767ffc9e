/// The sum of the `usage` objects of several calls.
struct UsageTotal: Sendable {
    private(set) var prompt = 0
    private(set) var completion = 0
    private(set) var total = 0
    private(set) var calls = 0

    mutating func add(_ usage: JSON?) {
        guard let usage, case .object = usage else { return }
        let p = usage["prompt_tokens"]?.intValue ?? 0
        let c = usage["completion_tokens"]?.intValue ?? 0
        prompt += p
        completion += c
        total += usage["total_tokens"]?.intValue ?? (p + c)
        calls += 1
    }

    var json: JSON {
        ["prompt_tokens": .int(prompt), "completion_tokens": .int(completion), "total_tokens": .int(total)]
    }
}
