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
/// while the first event is awaited, an SSE comment every `keepAliveInterval` (starting the
/// stream, unless the flight waits to retry a 429 or 5xx) keeps idle-timing proxies and clients
/// from dropping a slow start, as on the other APIs.
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
    private let cacheSeconds: Double?
    private let keepAliveInterval: Double
    /// Guards `started`, `sawEvent`, `finished`, `headersSeconds` and the keep-alive timer: the
    /// flight's events and the loop's keep-alive ticks both read them.
    private let lock = NSLock()
    private var started = false
    private var sawEvent = false
    private var finished = false
    private var headersSeconds: Double = 0
    private var keepAlive: LoopTimer?
    private var keepAliveStopped = false
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
        self.keepAliveInterval = keepAliveInterval
        cacheSeconds = context.timing[.cache]
    }

    package func attach(to flight: CompletionFlight) {
        self.flight = flight
        let id = flight.subscribe { [self] event in handle(event) }
        guard let id else { return }
        responder.onClientGone { [self] in
            flight.unsubscribe(id)
            stopKeepAlive()
        }
        if call.request.stream { scheduleKeepAlive() }
    }

    private func scheduleKeepAlive() {
        lock.lock()
        if !finished && !keepAliveStopped {
            keepAlive = responder.schedule(after: keepAliveInterval) { [weak self] in self?.keepAliveTick() }
        }
        lock.unlock()
    }

    /// On the loop thread, each interval while the first event is awaited.
    private func keepAliveTick() {
        let holdBack = flight?.isWaitingToRetry == true
        lock.lock()
        let waiting = !sawEvent && !finished && !keepAliveStopped
        let mustStart = waiting && !started && !holdBack
        if mustStart { markStarted() }
        let streaming = started
        lock.unlock()
        guard waiting else { return }
        if mustStart { writeHead(model: knownModel) }
        if streaming { responder.writeStreamChunk(SSEWriter.comment("keep-alive")) }
        scheduleKeepAlive()
    }

    private func stopKeepAlive() {
        lock.lock()
        let timer = keepAlive
        keepAlive = nil
        keepAliveStopped = true
        lock.unlock()
        if let timer { responder.cancel(timer) }
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
            lock.lock()
            sawEvent = true
            let mustStart = !started
            if mustStart { markStarted() }
            lock.unlock()
            if mustStart { writeHead(model: lastResponse?["model"]?.stringValue ?? knownModel) }
            responder.writeStreamChunk(ResponsesStreamEncoder.sse(event), flushNow: gateway.flights.count <= 1)
        case .finished(let result):
            gateway.noteFinished(result, context: context, joined: joined)
            let response = own(result.outcome.completion)
            gateway.storeResponse(response, call: call, context: context)
            lock.lock()
            finished = true
            let replay = !sawEvent
            let mustStart = !started
            if mustStart { markStarted() }
            lock.unlock()
            stopKeepAlive()
            if call.request.stream {
                if mustStart { writeHead(model: result.outcome.route.name) }
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
            lock.lock()
            finished = true
            let wasStarted = started
            let sawEvents = sawEvent
            lock.unlock()
            stopKeepAlive()
            guard wasStarted else { return gateway.fail(responder, context, error) }
            if error.isClientClosed && responder.isClientGone { return }
            let shown = error.isClientClosed ? Gateway.upstreamCancelled : error
            // After events, the stream goes on from the last; after keep-alives alone, it is the
            // whole failed sequence (`response.created` first).
            var encoder = sawEvents
                ? ResponsesStreamEncoder(continuing: lastResponse ?? [:], nextSequence: nextSequence)
                : ResponsesStreamEncoder(shell: ResponseObject.shell(request: call.request.body, id: streamID,
                                                                     createdAt: Int(Clock.wallNow()),
                                                                     model: knownModel ?? call.request.model))
            var bytes: [UInt8] = []
            for event in encoder.fail(shown) { bytes += ResponsesStreamEncoder.sse(event) }
            responder.writeStreamChunk(bytes)
            finishStream()
        }
    }

    /// The stream starts now (called with `lock` held, once).
    private func markStarted() {
        started = true
        headersSeconds = Double(Clock.nanos() - context.startNanos) / 1e9
    }

    private func writeHead(model: String?) {
        lock.lock()
        let headersSeconds = self.headersSeconds
        lock.unlock()
        var headers = gateway.commonHeaders(context, cacheStatus: cacheStatus, model: model)
        headers.append(contentsOf: Gateway.sseHeaders)
        headers.append(Gateway.streamHeadTiming(cacheSeconds: cacheSeconds, headersSeconds: headersSeconds))
        responder.startStream(status: 200, headers: headers)
    }

    private func finishStream() {
        lock.lock()
        let headersSeconds = self.headersSeconds
        lock.unlock()
        context.timing.record(.headers, seconds: headersSeconds)
        responder.finishStream(trailers: [gateway.serverTimingTrailer(context)])
    }
}
