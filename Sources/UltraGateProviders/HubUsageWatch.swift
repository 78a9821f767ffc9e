import UltraGateJSON

/// The same promise as `Orchestrator.complete` and `stream` make for chat completions, for every
/// other front that calls a provider through the hub (Anthropic Messages, Responses): an answer
/// always carries usage, the gateway's estimate when the upstream reported none, so the client's
/// dialect gets the counts its schema requires and metrics, costs and budgets count the call.
package struct HubUsageWatch: Sendable {
    private var assembler = ChatStreamAssembler()
    private let request: JSONObject

    /// `request`: the hub (chat) request sent upstream.
    package init(request: JSONObject) { self.request = request }

    /// Notes one chunk of the hub stream.
    package mutating func add(_ chunk: JSONObject) { assembler.add(chunk) }

    /// The usage chunk to feed the encoder after the last one when the stream carried no usage
    /// (the upstream ignored `include_usage`); nil when it did.
    package func missingUsageChunk(model: String) -> JSONObject? {
        guard assembler.usage == nil else { return nil }
        let usage = EstimatedUsage.usage(request: request, completion: assembler.completion())
        return EstimatedUsage.chunk(usage, id: assembler.id ?? OpenAIShapes.completionID(),
                                    created: assembler.created?.intValue ?? OpenAIShapes.now(), model: model)
    }

    /// A whole hub answer with usage: as it came when it has some, else with the estimate.
    package static func completing(_ completion: JSONObject, request: JSONObject) -> JSONObject {
        guard !EstimatedUsage.isReported(in: completion) else { return completion }
        var out = completion
        out["usage"] = EstimatedUsage.usage(request: request, completion: completion)
        return out
    }
}
