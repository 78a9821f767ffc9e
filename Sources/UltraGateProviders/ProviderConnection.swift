import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// What every adapter holds: where the provider lives, its key, extra configured headers and the
/// transport; and the three steps they share: build the request, send it, open a translated stream.
package struct ProviderConnection: Sendable {
    package let name: String
    package let baseURL: String
    /// Only ever placed in the auth header; scrubbed from upstream error text.
    package let apiKey: String?
    package let extraHeaders: [HTTPHeaderField]
    package let transport: any UpstreamTransport
    /// How large an answer (and one stream event) may be.
    package let limits: UpstreamLimits
    /// Scrubs secrets from upstream error text: by default this provider's key and credential
    /// headers; the gateway passes one holding every configured secret.
    package let redactor: SecretRedactor
    /// `baseURL` split once into the part paths go after and its query (kept after the path).
    private let base: ProviderHTTP.BaseURL

    package init(name: String, baseURL: String, apiKey: String?, extraHeaders: [HTTPHeaderField], transport: any UpstreamTransport,
         limits: UpstreamLimits = UpstreamLimits(), redactor: SecretRedactor? = nil) {
        self.name = name
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.extraHeaders = extraHeaders
        self.transport = transport
        self.limits = limits
        self.redactor = redactor ?? SecretRedactor(apiKey: apiKey, headers: extraHeaders)
        base = ProviderHTTP.BaseURL(baseURL)
    }

    /// A JSON POST to `{baseURL}{path}` (the base URL's query, then `query`, after the path) with
    /// `authHeader: <key>` when a key is set.
    package func post(_ path: String, query: String? = nil, body: JSONObject, authHeader: String, authPrefix: String = "",
              headers: [HTTPHeaderField] = [], stream: Bool, timeouts: UpstreamTimeouts) -> UpstreamRequest {
        post(path, query: query, bytes: JSONWriter.serialize(.object(body)), authHeader: authHeader, authPrefix: authPrefix,
             headers: headers, stream: stream, timeouts: timeouts)
    }

    /// The same with a body already written (a client's request passed through).
    package func post(_ path: String, query: String? = nil, bytes: [UInt8], authHeader: String, authPrefix: String = "",
              headers: [HTTPHeaderField] = [], stream: Bool, timeouts: UpstreamTimeouts) -> UpstreamRequest {
        var all: [HTTPHeaderField] = []
        all.reserveCapacity(3 + headers.count + extraHeaders.count)
        all.append(HTTPHeaderField("content-type", "application/json"))
        all += headers
        if stream { all.append(HTTPHeaderField("accept", "text/event-stream")) }
        if let apiKey, !apiKey.isEmpty { all.append(HTTPHeaderField(authHeader, authPrefix + apiKey)) }
        all += extraHeaders
        return UpstreamRequest(url: base.url(path, query: query), headers: all, body: bytes,
                               timeouts: timeouts, maxResponseBytes: limits.maxResponseBytes)
    }

    /// Sends and returns the 2xx body as a JSON object.
    package func sendJSON(_ request: UpstreamRequest) async throws(ProviderError) -> JSONObject {
        try await sendJSONKeepingText(request).object
    }

    /// Also returns the body text the object was parsed from.
    package func sendJSONKeepingText(_ request: UpstreamRequest) async throws(ProviderError) -> (object: JSONObject, text: [UInt8]) {
        let response = try await ProviderHTTP.send(request, via: transport, provider: name, redactor: redactor)
        return (try ProviderHTTP.jsonObject(response.body, provider: name), response.body)
    }

    /// Opens the stream (throwing on an error status) and translates its events.
    package func stream<T: SSEChunkTranslator>(_ request: UpstreamRequest, translator: T) async throws(ProviderError)
        -> ChunkStream<JSONObject> {
        let response = try await ProviderHTTP.openStream(request, via: transport, provider: name, redactor: redactor)
        return ProviderStreamPump.run(response, translator: translator, provider: name, maxEventBytes: limits.maxEventBytes)
    }
}
