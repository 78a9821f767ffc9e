import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Anthropic's Messages API behind the OpenAI chat-completions interface.
///
/// Reference: Anthropic API reference "Messages" — POST `{base}/v1/messages` with headers `x-api-key`,
/// `anthropic-version: 2023-06-01` and `content-type: application/json`; errors are
/// `{"type":"error","error":{"type","message"}}` (docs.anthropic.com/en/api/errors).
public struct AnthropicProvider: ChatProvider {
    public static let apiVersion = AnthropicWire.apiVersion
    package let connection: ProviderConnection
    public var name: String { connection.name }
    public var type: String { "anthropic" }
    public var baseURL: String { connection.baseURL }

    public init(name: String = "anthropic", baseURL: String = "https://api.anthropic.com", apiKey: String?,
                headers: [HTTPHeaderField] = [], transport: any UpstreamTransport, limits: UpstreamLimits = UpstreamLimits(),
                redactor: SecretRedactor? = nil) {
        connection = ProviderConnection(name: name, baseURL: baseURL, apiKey: apiKey, extraHeaders: headers,
                                        transport: transport, limits: limits, redactor: redactor)
    }

    package var translator: AnthropicTranslator { AnthropicTranslator(provider: name) }

    package func upstreamRequest(_ request: ProviderRequest, stream: Bool) throws(ProviderError) -> UpstreamRequest {
        connection.post("/v1/messages", body: try translator.request(request.body, stream: stream), authHeader: "x-api-key",
                        headers: [HTTPHeaderField("anthropic-version", Self.apiVersion)], stream: stream,
                        timeouts: request.timeouts)
    }

    public func complete(_ request: ProviderRequest) async throws -> JSONObject {
        try translator.response(try await connection.sendJSON(try upstreamRequest(request, stream: false)),
                                requestModel: request.model)
    }

    public func stream(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject> {
        try await connection.stream(try upstreamRequest(request, stream: true),
                                    translator: AnthropicStreamTranslator(provider: name, model: request.model,
                                                                          redactor: connection.redactor))
    }
}
