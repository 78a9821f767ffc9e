/// Google's Gemini API (generativelanguage.googleapis.com) behind the OpenAI chat-completions interface.
///
/// Reference: Gemini API reference — POST `{base}/v1beta/models/{model}:generateContent` and
/// `:streamGenerateContent?alt=sse`, key in the `x-goog-api-key` header; errors are
/// `{"error":{"code","message","status"}}` (ai.google.dev/api, "Troubleshooting" error codes).
public struct GeminiProvider: ChatProvider {
    let connection: ProviderConnection
    public var name: String { connection.name }
    public var type: String { "gemini" }
    public var baseURL: String { connection.baseURL }

    public init(name: String = "gemini", baseURL: String = "https://generativelanguage.googleapis.com", apiKey: String?,
                headers: [HTTPHeaderField] = [], transport: any UpstreamTransport, redactor: SecretRedactor? = nil) {
        connection = ProviderConnection(name: name, baseURL: baseURL, apiKey: apiKey, extraHeaders: headers,
                                        transport: transport, redactor: redactor)
    }

    var translator: GeminiTranslator { GeminiTranslator(provider: name) }

    func upstreamRequest(_ request: ProviderRequest, stream: Bool) throws(ProviderError) -> UpstreamRequest {
        var model = Substring(request.model)
        if model.hasPrefix("models/") { model = model.dropFirst("models/".count) }
        let method = stream ? ":streamGenerateContent?alt=sse" : ":generateContent"
        return connection.post("/v1beta/models/\(model)\(method)", body: try translator.request(request.body),
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
