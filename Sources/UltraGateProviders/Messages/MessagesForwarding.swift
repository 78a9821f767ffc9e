import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// A Messages request passed through to a provider that speaks Anthropic's Messages API itself:
/// the body is the client's, with only `model` renamed and the route's params merged.
package struct ForwardedMessagesRequest: Sendable {
    package var body: [UInt8]
    /// The client's header fields the upstream may see (`MessagesForwardingPolicy.clientHeaders`).
    package var headers: [HTTPHeaderField]
    package var requestID: String
    package var timeouts: UpstreamTimeouts

    package init(body: [UInt8], headers: [HTTPHeaderField], requestID: String, timeouts: UpstreamTimeouts = UpstreamTimeouts()) {
        self.body = body
        self.headers = headers
        self.requestID = requestID
        self.timeouts = timeouts
    }
}

/// A 2xx answer passed through: the object and the text it was parsed from.
package struct ForwardedAnswer: Sendable {
    package var object: JSONObject
    package var text: [UInt8]

    package init(object: JSONObject, text: [UInt8]) {
        self.object = object
        self.text = text
    }
}

/// The capability of serving Messages requests natively (pass-through). Adapters that have it
/// get `/v1/messages` bodies untranslated and hand their answers back as they came, so nothing
/// is lost (thinking signatures, citations, server tools, cache usage, fields the gateway does
/// not know); the others get the request translated to the hub and back.
package protocol MessagesForwarding: Sendable {
    /// A whole Message (`POST /v1/messages`). Errors are `ProviderError`s, as for chat calls.
    func forwardMessage(_ request: ForwardedMessagesRequest) async throws -> ForwardedAnswer
    /// The stream's events as parsed objects, in order, `message_stop` included (`ping`, unknown
    /// types too). An `error` event or a stream cut before `message_stop` ends it with an error.
    func streamMessage(_ request: ForwardedMessagesRequest) async throws -> ChunkStream<JSONObject>
    /// `POST /v1/messages/count_tokens`.
    func countTokens(_ request: ForwardedMessagesRequest) async throws -> ForwardedAnswer
}

/// Which of a Messages client's header fields go upstream on pass-through.
package enum MessagesForwardingPolicy {
    /// The client header fields passed on, an allow-list: `anthropic-version` (the default one
    /// when the client sent none) and `anthropic-beta` (features the client opts into). Never the
    /// client's `x-api-key` or `Authorization`: the provider's own key is used.
    package static func clientHeaders(_ headers: HTTPHeaders) -> [HTTPHeaderField] {
        var out = [HTTPHeaderField("anthropic-version", headers["anthropic-version"] ?? AnthropicWire.apiVersion)]
        let betas = headers.values("anthropic-beta")
        if !betas.isEmpty { out.append(HTTPHeaderField("anthropic-beta", betas.joined(separator: ","))) }
        return out
    }
}
