import UltraGateProviders
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// One Messages call as each route of its chain (the asked model, then its fallbacks) is tried.
package struct MessagesCall: Sendable {
    package let request: MessagesRequest
    /// The client's header fields an Anthropic upstream may see (`MessagesForwardingPolicy.clientHeaders`).
    package let clientHeaders: [HTTPHeaderField]
    package let requestID: String

    package init(request: MessagesRequest, clientHeaders: [HTTPHeaderField], requestID: String) {
        self.request = request
        self.clientHeaders = clientHeaders
        self.requestID = requestID
    }

    /// Pass-through: the client's body for `route`'s provider, which speaks Messages.
    package func forwarded(to route: ModelRoute) -> ForwardedMessagesRequest {
        ForwardedMessagesRequest(body: request.upstreamBytes(for: route), headers: clientHeaders, requestID: requestID,
                                 timeouts: route.timeouts)
    }

    /// Translation: the hub request for `route`'s provider (400 for what it cannot carry).
    package func hubRequest(for route: ModelRoute) throws(ProviderError) -> ProviderRequest {
        let hub = try MessagesRequestTranslator(provider: route.providerName, kind: route.provider.type).request(request.body)
        return ProviderRequest(body: route.upstreamBody(hub), requestID: requestID, timeouts: route.timeouts)
    }
}

/// Messages calls with the retries and fallbacks of chat calls. Each route of the chain is asked
/// in its own dialect: a provider with `MessagesForwarding` (Anthropic) gets the client's body and
/// answers as it came; any other gets the request translated to the hub and its answer translated
/// back (`MessagesResponseTranslator`, `MessagesStreamEncoder`). Either way the outcome's
/// `completion` is a Message named after the answering route, and streams deliver Anthropic events.
extension Orchestrator {
    package func completeMessage(_ route: ModelRoute, call: MessagesCall) async throws(GatewayError) -> CallOutcome {
        try await callWithRetries(route) { candidate in
            let t0 = Clock.nanos()
            var message: JSONObject
            var text: [UInt8]?
            if let native = candidate.provider as? any MessagesForwarding {
                let answer = try await native.forwardMessage(call.forwarded(to: candidate))
                guard answer.object["type"] == "message" else {
                    throw ProviderError(kind: .invalidResponse, provider: candidate.providerName, message: "response is not a Message")
                }
                message = answer.object
                text = answer.text
            } else {
                let hubRequest = try call.hubRequest(for: candidate)
                let completion = HubUsageWatch.completing(try await candidate.provider.complete(hubRequest), request: hubRequest.body)
                message = try MessagesResponseTranslator(provider: candidate.providerName)
                    .message(completion, model: candidate.name, stopSequences: call.request.stopSequences)
            }
            let seconds = Double(Clock.nanos() - t0) / 1e9
            events.upstreamFinished(candidate, seconds, nil)
            message["model"] = .string(candidate.name)
            return CallOutcome(completion: message, upstreamText: text, route: candidate, upstreamSeconds: seconds,
                               timeToFirstToken: nil, attempts: 1)
        }
    }

    /// Streams a Messages call: `onEvent` gets each Anthropic event in order (`message_start`
    /// naming the answering route); returns the assembled Message once the stream ended well. As
    /// for chat streams, nothing is retried once an event went out.
    package func streamMessage(_ route: ModelRoute, call: MessagesCall, onRetryWait: @Sendable (Bool) -> Void = { _ in },
                               onEvent: @Sendable (JSONObject) async -> Void) async throws(GatewayError) -> CallOutcome {
        try await callWithRetries(route, onRetryWait: onRetryWait) { candidate in
            let t0 = Clock.nanos()
            var delivered = false
            var ttft: Double?
            var assembler = MessagesStreamAssembler()
            func deliver(_ event: JSONObject) async {
                if ttft == nil, AnthropicWire.eventCarriesContent(event) { ttft = Double(Clock.nanos() - t0) / 1e9 }
                delivered = true
                assembler.add(event)
                await onEvent(event)
            }
            do {
                if let native = candidate.provider as? any MessagesForwarding {
                    for try await var event in try await native.streamMessage(call.forwarded(to: candidate)) {
                        if event["type"] == "message_start", case .object(var message)? = event["message"] {
                            message["model"] = .string(candidate.name)
                            event["message"] = .object(message)
                        }
                        await deliver(event)
                    }
                } else {
                    var encoder = MessagesStreamEncoder(model: candidate.name, stopSequences: call.request.stopSequences)
                    let hubRequest = try call.hubRequest(for: candidate)
                    var usage = HubUsageWatch(request: hubRequest.body)
                    for try await chunk in try await candidate.provider.stream(hubRequest) {
                        usage.add(chunk)
                        for event in encoder.add(chunk) { await deliver(event) }
                    }
                    if let chunk = usage.missingUsageChunk(model: candidate.name) {
                        for event in encoder.add(chunk) { await deliver(event) }
                    }
                    for event in encoder.finish() { await deliver(event) }
                }
            } catch {
                throw streamFailure(error, on: candidate, delivered: delivered)
            }
            if Task.isCancelled { throw FinalFailure(error: .clientClosed) }
            guard let message = assembler.result() else {
                throw ProviderError(kind: .invalidResponse, provider: candidate.providerName, message: "stream had no message_start")
            }
            let seconds = Double(Clock.nanos() - t0) / 1e9
            events.upstreamFinished(candidate, seconds, ttft)
            return CallOutcome(completion: message, route: candidate, upstreamSeconds: seconds, timeToFirstToken: ttft, attempts: 1)
        }
    }
}
