import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Google's Gemini API (generativelanguage.googleapis.com) behind the OpenAI chat-completions interface.
///
/// Reference: Gemini API reference — POST `{base}/v1beta/models/{model}:generateContent` and
/// `:streamGenerateContent?alt=sse`, key in the `x-goog-api-key` header; errors are
/// `{"error":{"code","message","status"}}` (ai.google.dev/api, "Troubleshooting" error codes).
public struct GeminiProvider: ChatProvider {
    package let connection: ProviderConnection
    public var name: String { connection.name }
    public var type: String { "gemini" }
    public var baseURL: String { connection.baseURL }

    public init(name: String = "gemini", baseURL: String = "https://generativelanguage.googleapis.com", apiKey: String?,
                headers: [HTTPHeaderField] = [], transport: any UpstreamTransport, limits: UpstreamLimits = UpstreamLimits(),
                redactor: SecretRedactor? = nil) {
        connection = ProviderConnection(name: name, baseURL: baseURL, apiKey: apiKey, extraHeaders: headers,
                                        transport: transport, limits: limits, redactor: redactor)
    }

    package var translator: GeminiTranslator { GeminiTranslator(provider: name) }

    /// The model's name in the URL: `models/gemini-2.5-flash` and `gemini-2.5-flash` are one model.
    package static func resourceName(_ model: String) -> String {
        model.hasPrefix("models/") ? String(model.dropFirst("models/".count)) : model
    }

    /// The name is a path segment of the URL (`ModelPathSegment`).
    public func upstreamModelProblem(_ model: String) -> String? {
        ModelPathSegment.problem(Self.resourceName(model))
    }

    package func upstreamRequest(_ request: ProviderRequest, stream: Bool) throws(ProviderError) -> UpstreamRequest {
        let model = try ModelPathSegment.encoded(Self.resourceName(request.model), provider: name)
        return connection.post("/v1beta/models/\(model)" + (stream ? ":streamGenerateContent" : ":generateContent"),
                               query: stream ? "alt=sse" : nil, body: try translator.request(request.body),
                               authHeader: "x-goog-api-key", stream: stream, timeouts: request.timeouts)
    }

    public func complete(_ request: ProviderRequest) async throws -> JSONObject {
        try translator.response(try await connection.sendJSON(try upstreamRequest(request, stream: false)),
                                requestModel: request.model, redactor: connection.redactor)
    }

    public func stream(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject> {
        try await connection.stream(try upstreamRequest(request, stream: true),
                                    translator: GeminiStreamTranslator(provider: name, model: request.model,
                                                                       redactor: connection.redactor))
    }
}
