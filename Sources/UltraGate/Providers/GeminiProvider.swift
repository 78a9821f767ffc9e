/// Google's Gemini API (generativelanguage.googleapis.com) behind the OpenAI chat-completions interface.
///
/// Reference: Gemini API reference — POST `{base}/v1beta/models/{model}:generateContent` and
/// `:streamGenerateContent?alt=sse`, key in the `x-goog-api-key` header; errors are
/// `{"error":{"code","message","status"}}` (ai.google.dev/api, "Troubleshooting" error codes).
public struct GeminiProvider: ChatProvider {
    public let name: String
    public var type: String { "gemini" }
    public let baseURL: String
    let apiKey: String?
    let extraHeaders: [HTTPHeaderField]
    let transport: any UpstreamTransport

    public init(name: String = "gemini", baseURL: String = "https://generativelanguage.googleapis.com", apiKey: String?,
                headers: [HTTPHeaderField] = [], transport: any UpstreamTransport) {
        self.name = name
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.extraHeaders = headers
        self.transport = transport
    }

    var translator: GeminiTranslator { GeminiTranslator(provider: name) }

    func upstreamRequest(_ request: ProviderRequest, stream: Bool) throws(ProviderError) -> UpstreamRequest {
        let body = try translator.request(request.body)
        var model = Substring(request.model)
        if model.hasPrefix("models/") { model = model.dropFirst("models/".count) }
        let method = stream ? ":streamGenerateContent?alt=sse" : ":generateContent"
        var headers = [HTTPHeaderField("content-type", "application/json")]
        if stream { headers.append(HTTPHeaderField("accept", "text/event-stream")) }
        if let apiKey, !apiKey.isEmpty { headers.append(HTTPHeaderField("x-goog-api-key", apiKey)) }
        headers += extraHeaders
        return UpstreamRequest(url: ProviderHTTP.join(baseURL, "/v1beta/models/\(model)\(method)"), headers: headers,
                               body: JSONWriter.serialize(.object(body)), timeouts: request.timeouts)
    }

    public func complete(_ request: ProviderRequest) async throws -> JSONObject {
        let response = try await ProviderHTTP.send(try upstreamRequest(request, stream: false), via: transport,
                                                   provider: name, secret: apiKey)
        let object = try ProviderHTTP.jsonObject(response.body, provider: name)
        return try translator.response(object, requestModel: request.model)
    }

    public func stream(_ request: ProviderRequest) async throws -> AsyncThrowingStream<JSONObject, Error> {
        let response = try await ProviderHTTP.openStream(try upstreamRequest(request, stream: true), via: transport,
                                                         provider: name, secret: apiKey)
        return ProviderStreamPump.run(response, translator: GeminiStreamTranslator(provider: name, model: request.model,
                                                                                   secret: apiKey),
                                      provider: name)
    }
}
