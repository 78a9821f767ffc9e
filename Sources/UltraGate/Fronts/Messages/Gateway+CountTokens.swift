import UltraGateProviders
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// `POST /v1/messages/count_tokens`: a route served by Anthropic forwards the request (Anthropic
/// counts with the model's own tokenizer); any other route, or an ensemble, is answered with the
/// gateway's estimate (`MessagesTokenEstimate`, the mock's tokenizer stand-in), marked as such by
/// `X-UltraGate-Token-Count: estimate`.
extension Gateway {
    package func handleCountTokens(_ request: HTTPRequest, _ responder: HTTPResponder, _ context: RequestContext) {
        if let problem = Gateway.bodyProblem(request) { return fail(responder, context, problem) }
        let json: JSON
        do { json = try JSONParser.parse(request.body) } catch { return fail(responder, context, .invalidJSON(error)) }
        let counted: MessagesRequest
        do { counted = try MessagesRequestValidator.check(json, raw: request.body, countTokens: true) } catch {
            return fail(responder, context, error)
        }
        if let refusal = admit(context, model: counted.model, estimatedTokens: 0) { return fail(responder, context, refusal) }
        context.model = counted.model
        let isEnsemble = router.ensemble(named: counted.model) != nil
        let route = isEnsemble ? nil : router.route(named: counted.model)
        if !isEnsemble, route == nil {
            return fail(responder, context, .modelNotFound(counted.model, suggestions: suggestions(for: context)))
        }
        guard let route, let native = route.provider as? any MessagesForwarding else {
            var headers = commonHeaders(context, cacheStatus: nil, model: nil)
            headers.append(HTTPHeaderField("Content-Type", "application/json"))
            headers.append(HTTPHeaderField("X-UltraGate-Token-Count", "estimate"))
            let body: JSON = ["input_tokens": .int(MessagesTokenEstimate.inputTokens(counted.body))]
            return responder.respond(status: 200, headers: headers, body: JSONWriter.serialize(body))
        }
        context.provider = route.providerName
        let forwarded = MessagesCall(request: counted, clientHeaders: MessagesForwardingPolicy.clientHeaders(request.head.headers),
                                     requestID: context.id).forwarded(to: route)
        Task(executorPreference: responder.taskExecutor) { [self] in
            do {
                let answer = try await native.countTokens(forwarded)
                var headers = commonHeaders(context, cacheStatus: nil, model: route.name)
                headers.append(HTTPHeaderField("Content-Type", "application/json"))
                responder.respond(status: 200, headers: headers, body: answer.text)
            } catch {
                fail(responder, context, Orchestrator.providerError(error, provider: route.providerName).gatewayError)
            }
        }
    }
}
