import UltraGateProviders
import UltraGateCache
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// One client of a Responses flight: a JSON answer at the end, or the typed events as they come.
/// A client that joined another's flight gets the same answer under its own response id (and its
/// own echoed `store`, `metadata`, `user`), and each stores its own record when `store` is true.
/// The stream's head goes out with the first event, so a failure before it is still an HTTP error;
/// while the first event is awaited, keep-alive comments go out as on the other APIs
/// (`StreamStart`).
package final class ResponsesClient: @unchecked Sendable {
    private let gateway: Gateway
    private let call: ResponsesCall
    private let context: RequestContext
    private let responder: HTTPResponder
    /// This client's own id, when it is not the flight's (it joined).
    private let responseID: String?
    /// The id this client's answer carries (its own, or the flight's).
    private let streamID: String
    private let cacheStatus: String
    private let joined: Bool
    private let knownModel: String?
    private var start: StreamStart!
    private weak var flight: CompletionFlight?
    // Touched only in `handle`, which the flight calls one event at a time.
    private var nextSequence = 0
    /// The response as the last lifecycle event showed it (for a failure event's `response.failed`).
    private var lastResponse: JSONObject?

    package init(gateway: Gateway, call: ResponsesCall, context: RequestContext, responder: HTTPResponder, responseID: String?,
                 flightID: String, cacheStatus: String, joined: Bool, knownModel: String?, keepAliveInterval: Double) {
        self.gateway = gateway
        self.call = call
        self.context = context
        self.responder = responder
        self.responseID = responseID
        streamID = responseID ?? flightID
        self.cacheStatus = cacheStatus
        self.joined = joined
        self.knownModel = knownModel
        start = gateway.streamStart(responder, context, cacheStatus: cacheStatus, interval: keepAliveInterval,
                                    knownModel: knownModel) { [weak self] in self?.flight?.retryState ?? (false, 0) }
    }

    package func attach(to flight: CompletionFlight) {
        self.flight = flight
        let id = flight.subscribe { [self] event in handle(event) }
        guard let id else { return }
        responder.onClientGone { [self] in
            flight.unsubscribe(id)
            start.stopKeepAlive()
        }
        if call.request.stream { start.scheduleKeepAlive() }
    }

    /// The flight's response as this client's.
    private func own(_ response: JSONObject) -> JSONObject {
        guard let responseID else { return response }
        return ResponseObject.personalized(response, id: responseID, createdAt: nil, request: call.request.body)
    }

    private func handle(_ event: CompletionFlight.Event) {
        switch event {
        case .chunk(var event):
            guard call.request.stream else { return }
            if case .object(let response)? = event["response"] {
                let mine = own(response)
                lastResponse = mine
                if responseID != nil { event["response"] = .object(mine) }
            }
            nextSequence = (event["sequence_number"]?.intValue ?? nextSequence) + 1
            if start.claimEvent() { start.writeHead(lastResponse?["model"]?.stringValue ?? knownModel) }
            responder.writeStreamChunk(ResponsesStreamEncoder.sse(event), flushNow: gateway.flights.count <= 1)
        case .finished(let result):
            gateway.noteFinished(result, context: context, joined: joined)
            let response = own(result.outcome.completion)
            gateway.storeResponse(response, call: call, context: context)
            let (mustStart, replay) = start.claimFinish()
            if call.request.stream {
                if mustStart { start.writeHead(result.outcome.route.name) }
                if replay {
                    // The flight ran without streaming (another client asked first): replay its answer.
                    var bytes: [UInt8] = []
                    for event in ResponsesStreamEncoder.replay(response) { bytes += ResponsesStreamEncoder.sse(event) }
                    responder.writeStreamChunk(bytes)
                }
                gateway.finishStream(responder, context, start)
            } else {
                var headers = gateway.commonHeaders(context, cacheStatus: cacheStatus, model: result.outcome.route.name)
                headers.append(HTTPHeaderField("Content-Type", "application/json"))
                headers.append(gateway.serverTiming(context))
                responder.respond(status: 200, headers: headers,
                                  body: responseID == nil ? result.body : JSONWriter.serialize(.object(response)))
            }
        case .failed(let error):
            let (started, sawEvent) = start.claimFailure()
            guard started else { return gateway.fail(responder, context, error) }
            if error.isClientClosed && responder.isClientGone { return }
            let shown = error.isClientClosed ? Gateway.upstreamCancelled : error
            // After events, the stream goes on from the last; after keep-alives alone, it is the
            // whole failed sequence (`response.created` first).
            var encoder = sawEvent
                ? ResponsesStreamEncoder(continuing: lastResponse ?? [:], nextSequence: nextSequence)
                : ResponsesStreamEncoder(shell: ResponseObject.shell(request: call.request.body, id: streamID,
                                                                     createdAt: Int(Clock.wallNow()),
                                                                     model: knownModel ?? call.request.model))
            var bytes: [UInt8] = []
            for event in encoder.fail(shown) { bytes += ResponsesStreamEncoder.sse(event) }
            responder.writeStreamChunk(bytes)
            gateway.finishStream(responder, context, start)
        }
    }
}
