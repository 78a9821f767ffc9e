import UltraGateProviders
import UltraGateCache
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// One client of a Responses flight: a JSON answer at the end, or the typed events as they come.
/// A client that joined another's flight gets the same answer under its own response id (and its
/// own echoed `store`, `metadata`, `user`), and each stores its own record when `store` is true.
/// The stream's head goes out with the first event, so a failure before it is still an HTTP error.
package final class ResponsesClient: @unchecked Sendable {
    private let gateway: Gateway
    private let call: ResponsesCall
    private let context: RequestContext
    private let responder: HTTPResponder
    /// This client's own id, when it is not the flight's (it joined).
    private let responseID: String?
    private let cacheStatus: String
    private let joined: Bool
    private let knownModel: String?
    private let cacheSeconds: Double?
    // Touched only in `handle`, which the flight calls one event at a time.
    private var started = false
    private var headersSeconds: Double = 0
    private var nextSequence = 0
    /// The response as the last lifecycle event showed it (for a failure event's `response.failed`).
    private var lastResponse: JSONObject?

    package init(gateway: Gateway, call: ResponsesCall, context: RequestContext, responder: HTTPResponder, responseID: String?,
                 cacheStatus: String, joined: Bool, knownModel: String?) {
        self.gateway = gateway
        self.call = call
        self.context = context
        self.responder = responder
        self.responseID = responseID
        self.cacheStatus = cacheStatus
        self.joined = joined
        self.knownModel = knownModel
        cacheSeconds = context.timing[.cache]
    }

    package func attach(to flight: CompletionFlight) {
        let id = flight.subscribe { [self] event in handle(event) }
        if let id { responder.onClientGone { flight.unsubscribe(id) } }
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
            startIfNeeded(model: lastResponse?["model"]?.stringValue ?? knownModel)
            responder.writeStreamChunk(ResponsesStreamEncoder.sse(event), flushNow: gateway.flights.count <= 1)
        case .finished(let result):
            gateway.noteFinished(result, context: context, joined: joined)
            let response = own(result.outcome.completion)
            gateway.storeResponse(response, call: call, context: context)
            if call.request.stream {
                let replay = !started
                startIfNeeded(model: result.outcome.route.name)
                if replay {
                    // The flight ran without streaming (another client asked first): replay its answer.
                    var bytes: [UInt8] = []
                    for event in ResponsesStreamEncoder.replay(response) { bytes += ResponsesStreamEncoder.sse(event) }
                    responder.writeStreamChunk(bytes)
                }
                finishStream()
            } else {
                var headers = gateway.commonHeaders(context, cacheStatus: cacheStatus, model: result.outcome.route.name)
                headers.append(HTTPHeaderField("Content-Type", "application/json"))
                headers.append(gateway.serverTiming(context))
                responder.respond(status: 200, headers: headers,
                                  body: responseID == nil ? result.body : JSONWriter.serialize(.object(response)))
            }
        case .failed(let error):
            guard started else { return gateway.fail(responder, context, error) }
            if error.isClientClosed && responder.isClientGone { return }
            let shown = error.isClientClosed ? Gateway.upstreamCancelled : error
            var encoder = ResponsesStreamEncoder(continuing: lastResponse ?? [:], nextSequence: nextSequence)
            var bytes: [UInt8] = []
            for event in encoder.fail(shown) { bytes += ResponsesStreamEncoder.sse(event) }
            responder.writeStreamChunk(bytes)
            finishStream()
        }
    }

    private func startIfNeeded(model: String?) {
        guard !started else { return }
        started = true
        headersSeconds = Double(Clock.nanos() - context.startNanos) / 1e9
        var headers = gateway.commonHeaders(context, cacheStatus: cacheStatus, model: model)
        headers.append(contentsOf: Gateway.sseHeaders)
        headers.append(Gateway.streamHeadTiming(cacheSeconds: cacheSeconds, headersSeconds: headersSeconds))
        responder.startStream(status: 200, headers: headers)
    }

    private func finishStream() {
        context.timing.record(.headers, seconds: headersSeconds)
        responder.finishStream(trailers: [gateway.serverTimingTrailer(context)])
    }
}
