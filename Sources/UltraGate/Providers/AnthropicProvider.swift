/// Anthropic's Messages API behind the OpenAI chat-completions interface.
///
/// Reference: Anthropic API reference "Messages" — POST `{base}/v1/messages` with headers `x-api-key`,
/// `anthropic-version: 2023-06-01` and `content-type: application/json`; errors are
/// `{"type":"error","error":{"type","message"}}` (docs.anthropic.com/en/api/errors).
public struct AnthropicProvider: ChatProvider {
    public static let apiVersion = "2023-06-01"
    public let name: String
    public var type: String { "anthropic" }
    public let baseURL: String
    let apiKey: String?
    let extraHeaders: [HTTPHeaderField]
    let transport: any UpstreamTransport

    public init(name: String = "anthropic", baseURL: String = "https://api.anthropic.com", apiKey: String?,
                headers: [HTTPHeaderField] = [], transport: any UpstreamTransport) {
        self.name = name
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.extraHeaders = headers
        self.transport = transport
    }

    var translator: AnthropicTranslator { AnthropicTranslator(provider: name) }

    func upstreamRequest(_ request: ProviderRequest, stream: Bool) throws(ProviderError) -> UpstreamRequest {
        let body = try translator.request(request.body, stream: stream)
        var headers = [HTTPHeaderField("content-type", "application/json"),
                       HTTPHeaderField("anthropic-version", Self.apiVersion)]
        if stream { headers.append(HTTPHeaderField("accept", "text/event-stream")) }
        if let apiKey, !apiKey.isEmpty { headers.append(HTTPHeaderField("x-api-key", apiKey)) }
        headers += extraHeaders
        return UpstreamRequest(url: ProviderHTTP.join(baseURL, "/v1/messages"), headers: headers,
                               body: JSONWriter.serialize(.object(body)), timeouts: request.timeouts)
    }

    public func complete(_ request: ProviderRequest) async throws -> JSONObject {
        let response = try await ProviderHTTP.send(try upstreamRequest(request, stream: false), via: transport,
                                                   provider: name, secret: apiKey)
        let message = try ProviderHTTP.jsonObject(response.body, provider: name)
        return try translator.response(message, requestModel: request.model)
    }

    public func stream(_ request: ProviderRequest) async throws -> AsyncThrowingStream<JSONObject, Error> {
        let response = try await ProviderHTTP.openStream(try upstreamRequest(request, stream: true), via: transport,
                                                         provider: name, secret: apiKey)
        return ProviderStreamPump.run(response, translator: AnthropicStreamTranslator(provider: name, model: request.model,
                                                                                      secret: apiKey),
                                      provider: name)
    }
}
