/// What every adapter holds: where the provider lives, its key, extra configured headers and the
/// transport; and the three steps they share: build the request, send it, open a translated stream.
struct ProviderConnection: Sendable {
    let name: String
    let baseURL: String
    /// Only ever placed in the auth header; scrubbed from upstream error text.
    let apiKey: String?
    let extraHeaders: [HTTPHeaderField]
    let transport: any UpstreamTransport

    /// A JSON POST to `{baseURL}{path}` with `authHeader: <key>` when a key is set.
    func post(_ path: String, body: JSONObject, authHeader: String, authPrefix: String = "",
              headers: [HTTPHeaderField] = [], stream: Bool, timeouts: UpstreamTimeouts) -> UpstreamRequest {
        var all = [HTTPHeaderField("content-type", "application/json")] + headers
        if stream { all.append(HTTPHeaderField("accept", "text/event-stream")) }
        if let apiKey, !apiKey.isEmpty { all.append(HTTPHeaderField(authHeader, authPrefix + apiKey)) }
        all += extraHeaders
        return UpstreamRequest(url: ProviderHTTP.join(baseURL, path), headers: all,
                               body: JSONWriter.serialize(.object(body)), timeouts: timeouts)
    }

    /// Sends and returns the 2xx body as a JSON object.
    func sendJSON(_ request: UpstreamRequest) async throws(ProviderError) -> JSONObject {
        let response = try await ProviderHTTP.send(request, via: transport, provider: name, secret: apiKey)
        return try ProviderHTTP.jsonObject(response.body, provider: name)
    }

    /// Opens the stream (throwing on an error status) and translates its events.
    func stream<T: SSEChunkTranslator>(_ request: UpstreamRequest, translator: T) async throws(ProviderError)
        -> ChunkStream<JSONObject> {
        let response = try await ProviderHTTP.openStream(request, via: transport, provider: name, secret: apiKey)
        return ProviderStreamPump.run(response, translator: translator, provider: name)
    }
}
