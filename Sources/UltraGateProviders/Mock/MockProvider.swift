import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// How the built-in mock provider behaves.
public struct MockProviderConfig: Sendable, Equatable {
    /// Total simulated time to produce the whole answer (the last stream chunk arrives then).
    public var latencyMs: Double
    /// Time until the first streamed chunk with content (the role chunk comes with it).
    public var timeToFirstTokenMs: Double
    /// Target number of content pieces per choice when streaming.
    public var chunkCount: Int
    /// Model names it answers to; others get a 404 `model_not_found`.
    public var models: [String]
    /// Embedding model names it answers to (`MockProvider.embed`).
    public var embeddingModels: [String]
    /// Length of its vectors when a request names no `dimensions`.
    public var embeddingDimensions: Int

    public static let defaultEmbeddingModels = ["mock-embedding"]
    /// text-embedding-3-small's length, so responses are the size real ones are.
    public static let defaultEmbeddingDimensions = 1536

    public init(latencyMs: Double = 0, timeToFirstTokenMs: Double = 0, chunkCount: Int = 8,
                models: [String] = ["mock-gpt", "mock-claude", "mock-gemini"],
                embeddingModels: [String] = MockProviderConfig.defaultEmbeddingModels,
                embeddingDimensions: Int = MockProviderConfig.defaultEmbeddingDimensions) {
        self.latencyMs = latencyMs
        self.timeToFirstTokenMs = timeToFirstTokenMs
        self.chunkCount = chunkCount
        self.models = models
        self.embeddingModels = embeddingModels
        self.embeddingDimensions = embeddingDimensions
    }
}

/// A provider that needs no network: it answers any chat request with deterministic text, so
/// the gateway (cache, retries, streaming, accounting) can be tested and benchmarked alone.
///
/// - The text is 15–60 words of readable sentences seeded by an FNV-1a hash of the canonical
///   messages JSON, the model and the choice index: the same request always gets the same
///   answer, a different prompt or model a different one; `n > 1` gives `n` different choices.
/// - `response_format` `json_schema` gets a JSON value made up from the schema, `json_object` an
///   object; otherwise prose.
/// - `max_completion_tokens` / `max_tokens` cut the answer (finish_reason `length`).
/// - With `tools` and `tool_choice` `"required"` or a named function, each choice is a tool
///   call with arguments made up from the function's `parameters` schema (finish_reason
///   `tool_calls`).
/// - `usage` counts come from `MockTokenEstimator`, the same for streamed and whole answers.
/// - Message text may carry directives for error-path tests (see `MockDirectives`):
///   `[[mock:status=429]]` (or 400, 500, 503, …) throws `ProviderError(kind: .http(status:))`
///   with the provider's usual message (429 with `retryAfter` 1), `[[mock:delay_ms=N]]` adds
///   N ms of latency, `[[mock:break_after=N]]` breaks a stream after N chunks.
public struct MockProvider: ChatProvider {
    public let name: String
    public var type: String { "mock" }
    public let config: MockProviderConfig

    public init(name: String = "mock", config: MockProviderConfig = MockProviderConfig()) {
        self.name = name
        self.config = config
    }

    public func complete(_ request: ProviderRequest) async throws -> JSONObject {
        let messages = request.body["messages"]?.arrayValue ?? []
        let directives = MockDirectives(messages: messages)
        if let error = directives.error(provider: name, model: request.model) {
            try await Self.sleep(milliseconds: directives.delayMs)
            throw error
        }
        let completion = try completion(for: request.body, requestID: request.requestID)
        try await Self.sleep(milliseconds: directives.delayMs + max(config.latencyMs, config.timeToFirstTokenMs))
        if directives.breakAfter != nil { throw brokenError }
        return completion
    }

    public func stream(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject> {
        let messages = request.body["messages"]?.arrayValue ?? []
        let directives = MockDirectives(messages: messages)
        if let error = directives.error(provider: name, model: request.model) {
            try await Self.sleep(milliseconds: directives.delayMs)
            throw error
        }
        let completion = try completion(for: request.body, requestID: request.requestID)
        let chunks = ChatCompletionReplayer.chunks(from: completion, includeUsage: true, piecesPerChoice: config.chunkCount)
        let schedule = self.schedule(count: chunks.count, delayMs: directives.delayMs,
                                     firstContent: chunks.firstIndex(where: OpenAIShapes.chunkCarriesContent) ?? 0)
        let broken = brokenError

        let (stream, continuation) = ChunkStream<JSONObject>.makeStream()
        let producer = Task {
            let start = ContinuousClock.now
            do {
                for (i, chunk) in chunks.enumerated() {
                    if let limit = directives.breakAfter, i >= limit { throw broken }
                    try await Task.sleep(until: start + .microseconds(Int64(schedule[i] * 1000)), clock: .continuous)
                    continuation.yield(chunk)
                }
                continuation.finish()
            } catch is CancellationError {
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in producer.cancel() }
        return stream
    }

    /// When each of `count` chunks is due, in ms from the start: the first with content (index
    /// `firstContent`) and those before it (the role chunk) at the time to first token, the last
    /// at the total latency, evenly in between.
    package func schedule(count: Int, delayMs: Double, firstContent: Int = 0) -> [Double] {
        let first = delayMs + config.timeToFirstTokenMs
        let last = delayMs + max(config.latencyMs, config.timeToFirstTokenMs)
        let start = min(max(0, firstContent), max(0, count - 1))
        guard count - start > 1 else { return Array(repeating: first, count: count) }
        return (0..<count).map { i in
            i <= start ? first : first + (last - first) * Double(i - start) / Double(count - 1 - start)
        }
    }

    package var brokenError: ProviderError {
        ProviderError(kind: .transport(.broken("connection reset by the mock provider ([[mock:break_after]])")),
                      provider: name, message: "the stream broke off (simulated)")
    }

    package static func sleep(milliseconds: Double) async throws {
        guard milliseconds > 0 else { return }
        try await Task.sleep(nanoseconds: Seconds.nanoseconds(milliseconds / 1000))
    }

    // MARK: The answer itself (no waiting)

    /// The `chat.completion` for `body`, computed without delay. Throws a 404 for unknown models.
    public func completion(for body: JSONObject, requestID: String = "",
                           created: Int = Int(Date().timeIntervalSince1970)) throws(ProviderError) -> JSONObject {
        let model = body["model"]?.stringValue ?? ""
        guard config.models.contains(model) else {
            throw ProviderError(kind: .http(status: 404), provider: name,
                                message: "The model `\(model)` does not exist or you do not have access to it.",
                                code: "model_not_found")
        }
        let messages = body["messages"]?.arrayValue ?? []
        var seedBytes = JSONWriter.serialize(.array(messages), canonical: true)
        seedBytes.append(0)
        seedBytes.append(contentsOf: model.utf8)
        let seed = MockText.fnv1a(seedBytes)
        let n = max(1, body["n"]?.intValue ?? 1)
        let maxTokens = body["max_completion_tokens"]?.intValue ?? body["max_tokens"]?.intValue
        let forcedTool = Self.forcedTool(body)

        var choices: [JSON] = []
        var completionTokens = 0
        for index in 0..<n {
            let choiceSeed = MockText.fnv1a(String(index).utf8, seed: seed)
            var message = JSONObject()
            message.append("role", "assistant")
            let finish: String
            if let tool = forcedTool {
                var rng = MockText.Generator(seed: choiceSeed)
                let name = tool["name"]?.stringValue ?? ""
                let arguments = JSON.object(MockText.arguments(for: tool["parameters"], &rng)).serializedString
                let id = "call_" + Self.token(choiceSeed, length: 24)
                message.append("content", .null)
                message.append("refusal", .null)
                message.append("tool_calls", [["id": .string(id), "type": "function",
                                               "function": ["name": .string(name), "arguments": .string(arguments)]]])
                completionTokens += MockTokenEstimator.count(name) + MockTokenEstimator.count(arguments)
                finish = "tool_calls"
            } else {
                var text = MockJudge.answer(to: Self.lastUserText(messages), seed: choiceSeed)
                    ?? Self.answerText(body["response_format"], seed: choiceSeed)
                var truncated = false
                if let maxTokens { (text, truncated) = MockTokenEstimator.prefix(text, tokens: maxTokens) }
                message.append("content", .string(text))
                message.append("refusal", .null)
                completionTokens += MockTokenEstimator.count(text)
                finish = truncated ? "length" : "stop"
            }
            message.append("annotations", [])
            choices.append(["index": .int(index), "message": .object(message), "logprobs": .null, "finish_reason": .string(finish)])
        }

        let promptTokens = MockTokenEstimator.promptTokens(messages: messages, tools: body["tools"])
        var out = JSONObject()
        out.append("id", .string("chatcmpl-" + Self.token(MockText.fnv1a(requestID.utf8, seed: seed), length: 29)))
        out.append("object", "chat.completion")
        out.append("created", .int(created))
        out.append("model", .string(model))
        out.append("choices", .array(choices))
        out.append("usage", [
            "prompt_tokens": .int(promptTokens),
            "completion_tokens": .int(completionTokens),
            "total_tokens": .int(promptTokens + completionTokens),
            "prompt_tokens_details": ["cached_tokens": 0, "audio_tokens": 0],
            "completion_tokens_details": ["reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0],
        ])
        out.append("service_tier", "default")
        out.append("system_fingerprint", "fp_mock")
        return out
    }

    /// The text of the last user message (string content or its text parts), "" when none.
    package static func lastUserText(_ messages: [JSON]) -> String {
        guard let last = messages.last(where: { $0["role"]?.stringValue == "user" }) else { return "" }
        if let text = last["content"]?.stringValue { return text }
        return (last["content"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
    }

    /// The answer's text honours `response_format`: a JSON value made up from a `json_schema`'s
    /// schema (as the SDK's `parse` helpers expect), an object for `json_object`, prose otherwise.
    package static func answerText(_ format: JSON?, seed: UInt64) -> String {
        switch format?["type"]?.stringValue {
        case "json_schema":
            var rng = MockText.Generator(seed: seed)
            let schema = format?["json_schema"]?["schema"]
            return MockText.value(for: schema ?? ["type": "object"], root: schema, &rng).serializedString
        case "json_object":
            return JSON.object(["answer": .string(MockText.paragraph(seed: seed))]).serializedString
        default:
            return MockText.paragraph(seed: seed)
        }
    }

    /// The function the request forces a call to: the named one, or with `"required"` one
    /// chosen by the request hash among the function tools.
    package static func forcedTool(_ body: JSONObject) -> JSONObject? {
        let functions = (body["tools"]?.arrayValue ?? []).compactMap { tool -> JSONObject? in
            tool["type"]?.stringValue == "function" ? tool["function"]?.objectValue : nil
        }
        guard !functions.isEmpty, let choice = body["tool_choice"] else { return nil }
        if choice.stringValue == "required" {
            let hash = MockText.fnv1a(JSONWriter.serialize(body["messages"] ?? .null, canonical: true))
            return functions[Int(hash % UInt64(functions.count))]
        }
        guard choice["type"]?.stringValue == "function", let name = choice["function"]?["name"]?.stringValue else { return nil }
        return functions.first { $0["name"]?.stringValue == name }
    }

    package static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// `length` base-62 characters drawn from `seed`, for ids.
    package static func token(_ seed: UInt64, length: Int) -> String {
        var rng = MockText.Generator(seed: seed)
        return String((0..<length).map { _ in alphabet[Int(rng.next() % 62)] })
    }
}
