import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// A validated `POST /v1/chat/completions` body. `body` is the client's object as sent, unknown
/// fields included, so the gateway forwards exactly what it was given; the typed fields are the
/// few the pipeline itself needs for routing, caching and streaming.
public struct ChatCompletionRequest: Sendable {
    public var body: JSONObject
    public var model: String
    public var messages: [JSON]
    public var stream: Bool
    /// `stream_options.include_usage` (only meaningful, and only allowed, when streaming).
    public var includeUsage: Bool
    /// Number of choices asked for (`n`, default 1).
    public var n: Int

    public init(body: JSONObject, model: String, messages: [JSON], stream: Bool, includeUsage: Bool, n: Int) {
        self.body = body
        self.model = model
        self.messages = messages
        self.stream = stream
        self.includeUsage = includeUsage
        self.n = n
    }

    /// The tokens a call may use, reserved against a key's token limit before it runs: the prompt
    /// by the mock's estimator plus the output limit asked for (`max_completion_tokens`,
    /// `max_tokens`) or `defaultOutputReservation`. Reconciled with the upstream's usage after.
    public var estimatedTokens: Int {
        let prompt = MockTokenEstimator.promptTokens(messages: messages, tools: body["tools"])
        let output = body["max_completion_tokens"]?.intValue ?? body["max_tokens"]?.intValue ?? Self.defaultOutputReservation
        return prompt.addingSaturated(Swift.max(0, output).multipliedSaturated(by: Swift.max(1, n)))
    }

    /// Output tokens reserved for a request that sets no output limit.
    public static let defaultOutputReservation = 1024

    /// Parses and validates in one step, as the router needs it.
    public static func parse(_ json: JSON) throws(GatewayError) -> ChatCompletionRequest {
        try ChatRequestValidator.validate(json).get()
    }
}
