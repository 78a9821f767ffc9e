import UltraGateProviders
import UltraGateCache
import UltraGateJSON
import UltraGateSupport

/// One `POST /v1/responses` once its conversation is resolved: what every attempt, the cache key
/// and each client's answer are made from.
package struct ResponsesCall: Sendable {
    package var request: ResponsesRequest
    /// The whole input: the stored chain `previous_response_id` stands for, then this request's items.
    package var items: [JSON]
    /// The Responses body as one self-contained request: `input` is `items`, no `previous_response_id`.
    package var resolvedBody: JSONObject
    /// The hub (chat) body for translated routes; nil when the request cannot be translated.
    package var chatBody: JSONObject?
    /// Why it cannot be translated (kept for a translated route, which then answers 400).
    package var translationError: GatewayError?

    package init(request: ResponsesRequest, priorItems: [JSON]) {
        self.request = request
        items = priorItems + request.input
        var body = request.body
        body["input"] = .array(items)
        body["previous_response_id"] = nil
        resolvedBody = body
        do {
            chatBody = try ResponsesChatCodec.chatBody(request.body, items: items)
        } catch {
            translationError = error
        }
    }

    /// The cache and flight key for an answer of `route` (`native`: the route's provider speaks
    /// Responses). Made from the resolved conversation, so one continued by id and the same one
    /// stated inline share an entry, and two different conversations never do; the dialect is the
    /// key's variant, so a chat entry is never a response and the reverse.
    package func key(namespace: String, route: ModelRoute, native: Bool) -> CacheKey {
        if native {
            return CacheKey.make(namespace: namespace, route: route.cacheRoute, request: route.mergedBody(resolvedBody),
                                 variant: "responses-native")
        }
        return CacheKey.make(namespace: namespace, route: route.cacheRoute, request: route.mergedBody(chatBody ?? [:]),
                             variant: "responses")
    }

    /// The chat body for `route`'s provider: its model name, its params merged (the client's win).
    package func chatRequest(for route: ModelRoute, upstreamModel: String) throws(GatewayError) -> JSONObject {
        guard var chat = chatBody else { throw translationError ?? .invalidRequest("The request cannot be translated.") }
        chat = route.mergedBody(chat)
        chat["model"] = .string(upstreamModel)
        return chat
    }
}

extension ModelRoute {
    /// Whether this route's provider takes Responses requests as written.
    package var forwardsResponses: Bool {
        (provider as? any ResponsesForwarding)?.forwardsResponses == true
    }
}

extension Usage {
    /// The token counts of a `Response`'s `usage`.
    package init(response: JSONObject) {
        self.init([:])
        (prompt, completion, cached) = ResponseObject.tokens(response)
    }
}
