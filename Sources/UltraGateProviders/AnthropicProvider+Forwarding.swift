import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// Anthropic serves the Messages API natively: `/v1/messages` requests pass through.
extension AnthropicProvider: MessagesForwarding {
    /// The client's allowed fields go along, except those the provider's configuration sets
    /// itself (an operator's `anthropic-beta` or `anthropic-version` wins, and is not sent twice).
    private func forwarded(_ path: String, _ request: ForwardedMessagesRequest, stream: Bool) -> UpstreamRequest {
        let configured = Set(connection.extraHeaders.map { $0.name.lowercased() })
        let headers = configured.isEmpty ? request.headers : request.headers.filter { !configured.contains($0.name.lowercased()) }
        return connection.post(path, bytes: request.body, authHeader: "x-api-key", headers: headers, stream: stream,
                               timeouts: request.timeouts)
    }

    /// An error object inside a 2xx answer is the error it reports.
    package func forwardMessage(_ request: ForwardedMessagesRequest) async throws -> ForwardedAnswer {
        let answer = try await connection.sendJSONKeepingText(forwarded("/v1/messages", request, stream: false))
        if answer.object["type"] == "error" {
            throw ProviderHTTP.embeddedError(.object(answer.object), provider: name, redactor: connection.redactor)
        }
        return ForwardedAnswer(object: answer.object, text: answer.text)
    }

    package func streamMessage(_ request: ForwardedMessagesRequest) async throws -> ChunkStream<JSONObject> {
        try await connection.stream(forwarded("/v1/messages", request, stream: true),
                                    translator: AnthropicEventPassThrough(provider: name, redactor: connection.redactor))
    }

    package func countTokens(_ request: ForwardedMessagesRequest) async throws -> ForwardedAnswer {
        let answer = try await connection.sendJSONKeepingText(forwarded("/v1/messages/count_tokens", request, stream: false))
        return ForwardedAnswer(object: answer.object, text: answer.text)
    }
}

/// Anthropic's stream events passed on as they came, each parsed once (to patch `model`, find
/// the usage and assemble the answer for the cache). `message_stop` ends the stream; an `error`
/// event, or an end without `message_stop`, fails it, so a cut stream is never taken as whole.
package struct AnthropicEventPassThrough: SSEChunkTranslator {
    package let provider: String
    package let redactor: SecretRedactor
    package private(set) var isDone = false

    package init(provider: String, redactor: SecretRedactor) {
        self.provider = provider
        self.redactor = redactor
    }

    package mutating func translate(_ event: SSEEvent) throws(ProviderError) -> [JSONObject] {
        guard case .object(var object)? = try? JSONParser.parse(event.data) else {
            throw ProviderError(kind: .invalidResponse, provider: provider, message: "stream event `\(event.event)` is not a JSON object")
        }
        if object["type"] == nil { object = JSONObject([(key: "type", value: .string(event.event))] + object.pairs) }
        switch object["type"]?.stringValue {
        case "error": throw ProviderHTTP.embeddedError(.object(object), provider: provider, redactor: redactor)
        case "message_stop": isDone = true
        default: break
        }
        return [object]
    }

    package func finish() throws(ProviderError) -> [JSONObject] {
        guard isDone else {
            throw ProviderError(kind: .transport(.broken("stream ended before message_stop")), provider: provider,
                                message: "stream ended before message_stop")
        }
        return []
    }
}
