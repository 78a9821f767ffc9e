import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Gemini `streamGenerateContent?alt=sse` → `chat.completion.chunk`s.
///
/// Reference: Gemini API reference "models.streamGenerateContent" (ai.google.dev/api/generate-content):
/// each SSE `data:` line is a whole `GenerateContentResponse` holding the next piece of each candidate;
/// the last one carries `finishReason` and the final `usageMetadata`. There is no end marker: the
/// stream ends with the body.
package struct GeminiStreamTranslator: SSEChunkTranslator {
    package let provider: String
    package let redactor: SecretRedactor
    private var builder: OpenAIChunkBuilder
    package var isDone: Bool { false }
    private var finished: Set<Int> = []
    /// Candidates seen: each must finish, or the stream was cut (a partial answer is never cached).
    private var seen: Set<Int> = []
    private var toolCallCount: [Int: Int] = [:]
    private var usage: JSON?

    package init(provider: String, model: String, redactor: SecretRedactor) {
        self.provider = provider
        self.redactor = redactor
        builder = OpenAIChunkBuilder(model: model)
    }

    package mutating func translate(_ event: SSEEvent) throws(ProviderError) -> [JSONObject] {
        guard let json = try? JSONParser.parse(event.data), json.objectValue != nil else {
            throw ProviderError(kind: .invalidResponse, provider: provider, message: "stream event is not a JSON object")
        }
        if json["error"] != nil, json["candidates"] == nil {
            throw ProviderHTTP.embeddedError(json, provider: provider, redactor: redactor)
        }
        if let model = json["modelVersion"]?.stringValue { builder.model = model }
        if let u = json["usageMetadata"], u.objectValue != nil { usage = GeminiTranslator.usage(u) }
        var chunks: [JSONObject] = []
        let candidates = json["candidates"]?.arrayValue ?? []
        if candidates.isEmpty, json["promptFeedback"]?["blockReason"] != nil {
            finished.insert(0)
            return [builder.delta(["content": ""], finishReason: "content_filter")]
        }
        for (position, candidate) in candidates.enumerated() {
            let index = candidate["index"]?.intValue ?? position
            seen.insert(index)
            let (text, calls) = GeminiTranslator.contentAndCalls(candidate)
            var delta = JSONObject()
            if !text.isEmpty { delta["content"] = .string(text) }
            if !calls.isEmpty {
                let base = toolCallCount[index, default: 0]
                toolCallCount[index] = base + calls.count
                delta["tool_calls"] = .array(calls.enumerated().map { (n, call) in
                    guard var c = call.objectValue else { return call }
                    c = JSONObject([(key: "index", value: .int(base + n))] + c.pairs)
                    return .object(c)
                })
            }
            if !delta.isEmpty || !builder.hasStarted { chunks.append(builder.delta(delta, index: index)) }
            let hadCalls = toolCallCount[index, default: 0] > 0
            if let reason = GeminiTranslator.finishReason(candidate["finishReason"]?.stringValue, hasToolCalls: hadCalls) {
                finished.insert(index)
                chunks.append(builder.delta([:], finishReason: reason, index: index))
            }
        }
        return chunks
    }

    package mutating func finish() throws(ProviderError) -> [JSONObject] {
        guard !finished.isEmpty, seen.isSubset(of: finished) else {
            throw ProviderError(kind: .transport(.broken("stream ended before a finish reason")), provider: provider,
                                message: "stream ended before a finish reason")
        }
        return usage.map { [builder.usageChunk($0)] } ?? []
    }
}
