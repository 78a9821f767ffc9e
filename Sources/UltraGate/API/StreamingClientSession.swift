import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// One streaming client attached to a flight: writes each chunk as an SSE event as it arrives
/// (in its front's dialect, `encoding`),
/// keeps the connection alive with SSE comments while the first token is awaited, and turns a
/// failure into an HTTP error (before anything was sent) or an SSE error event (after).
/// `Server-Timing` goes out in two parts: the head tells the cache lookup and the time to the
/// head, a trailer after the last chunk tells the rest (time to first token, upstream, retries,
/// total).
package final class StreamingClientSession: @unchecked Sendable {
    private let gateway: Gateway
    private let responder: HTTPResponder
    private let context: RequestContext
    private let encoding: any ClientStreamEncoding
    private let cacheStatus: String
    private let keepAliveInterval: Double
    /// This client joined a flight another request started.
    private let joined: Bool
    /// The model that will answer when that is known before the first token (a route without
    /// fallbacks), so a stream started early by a keep-alive still names it.
    private let knownModel: String?
    /// The cache lookup's time, read before the flight can touch the context.
    private let cacheSeconds: Double?

    private let lock = NSLock()
    private var started = false
    private var sawChunk = false
    private var finished = false
    private var keepAlive: LoopTimer?
    /// The flight this client listens to (set by `attach`).
    private weak var flight: CompletionFlight?
    /// No more keep-alive ticks: the answer ended or the client left.
    private var keepAliveStopped = false
    /// Seconds from the request's arrival to the stream's head, set when the stream starts.
    private var headersSeconds: Double?
    /// A chunk with output went to the client. Touched only in `handle`, which the flight calls
    /// one event at a time.
    private var tokenSent = false

    package init(gateway: Gateway, responder: HTTPResponder, context: RequestContext, encoding: any ClientStreamEncoding,
         cacheStatus: String, keepAliveInterval: Double, joined: Bool, knownModel: String? = nil) {
        self.joined = joined
        self.knownModel = knownModel
        self.gateway = gateway
        self.responder = responder
        self.context = context
        self.encoding = encoding
        self.cacheStatus = cacheStatus
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
        scheduleKeepAlive()
    }

    private func scheduleKeepAlive() {
        lock.lock()
        if !finished && !keepAliveStopped {
            keepAlive = responder.schedule(after: keepAliveInterval) { [weak self] in self?.keepAliveTick() }
        }
        lock.unlock()
    }

    /// On the loop thread, each interval while the first token is awaited: an SSE comment line
    /// (starting the stream if needed), then the next tick. A loop timer rather than a sleeping
    /// task: starting and cancelling one per stream costs no thread wake-ups.
    ///
    /// While nothing was sent and the flight waits to retry (after a 429 or a 5xx), the tick sends
    /// nothing: starting the stream would turn the final failure, if it comes, into an error event
    /// inside a 200 instead of its HTTP status (429 with `Retry-After`), which SDKs retry on.
    private func keepAliveTick() {
        let (waiting, mustStart, streaming) = claimKeepAlive(holdBack: flight?.isWaitingToRetry == true)
        guard waiting else { return }
        if mustStart { startStream(model: knownModel) }
        if streaming { responder.writeStreamChunk(SSEWriter.comment("keep-alive")) }
        scheduleKeepAlive()
    }

    /// Whether the first token is still awaited, whether this call must start the stream (not
    /// when told to `holdBack`), and whether the stream is under way (so a comment may go out).
    private func claimKeepAlive(holdBack: Bool = false) -> (waiting: Bool, mustStart: Bool, streaming: Bool) {
        lock.lock()
        defer { lock.unlock() }
        let waiting = !sawChunk && !finished
        let mustStart = waiting && !started && !holdBack
        if mustStart { markStarted() }
        return (waiting, mustStart, started)
    }

    /// The stream starts now (called with `lock` held, once).
    private func markStarted() {
        started = true
        headersSeconds = Double(Clock.nanos() - context.startNanos) / 1e9
    }

    private func stopKeepAlive() {
        lock.lock()
        let timer = keepAlive
        keepAlive = nil
        keepAliveStopped = true
        lock.unlock()
        if let timer { responder.cancel(timer) }
    }

    private func startStream(model: String?) {
        var headers = gateway.commonHeaders(context, cacheStatus: cacheStatus, model: model)
        headers.append(contentsOf: Gateway.sseHeaders)
        lock.lock()
        let headersSeconds = self.headersSeconds ?? 0
        lock.unlock()
        headers.append(Gateway.streamHeadTiming(cacheSeconds: cacheSeconds, headersSeconds: headersSeconds))
        responder.startStream(status: 200, headers: headers)
    }

    /// Ends the stream with the `Server-Timing` trailer (the head's part left out). Runs in the
    /// flight's event order, after the stream started, so the context is this thread's alone.
    private func finishStream() {
        lock.lock()
        let headersSeconds = self.headersSeconds
        lock.unlock()
        if let headersSeconds { context.timing.record(.headers, seconds: headersSeconds) }
        responder.finishStream(trailers: [gateway.serverTimingTrailer(context)])
    }

    /// Called by the flight in event order (under its lock).
    private func handle(_ event: CompletionFlight.Event) {
        switch event {
        case .chunk(let chunk):
            lock.lock()
            let mustStart = !started
            if mustStart { markStarted() }
            sawChunk = true
            lock.unlock()
            if mustStart { startStream(model: encoding.model(of: chunk)) }
            if let bytes = encoding.encode(chunk) {
                // Until the first token has gone, chunks leave at once when this is the only call
                // in flight; otherwise (and after it) chunks produced together share one `send`
                // per loop iteration. Measured: at c=1 the first token arrived 10-30 µs sooner;
                // flushing early under load cost 14 % of streams/s at 64 connections.
                var flushNow = false
                if !tokenSent {
                    if encoding.carriesContent(chunk) { tokenSent = true }
                    flushNow = gateway.flights.count <= 1
                }
                responder.writeStreamChunk(bytes, flushNow: flushNow)
            }
        case .finished(let result):
            gateway.noteFinished(result, context: context, joined: joined)
            lock.lock()
            let mustStart = !started
            let replay = !sawChunk
            if mustStart { markStarted() }
            finished = true
            lock.unlock()
            stopKeepAlive()
            if mustStart { startStream(model: result.outcome.route.name) }
            // Without chunks the flight ran without streaming (another client asked first): the
            // answer is replayed.
            responder.writeStreamChunk(encoding.end(result, replay: replay))
            finishStream()
        case .failed(let error):
            lock.lock()
            let wasStarted = started
            started = true
            finished = true
            lock.unlock()
            stopKeepAlive()
            if !wasStarted {
                gateway.fail(responder, context, error)
            } else {
                if error.isClientClosed && responder.isClientGone { return }
                let shown = error.isClientClosed ? Gateway.upstreamCancelled : error
                responder.writeStreamChunk(encoding.failure(shown))
                finishStream()
            }
        }
    }
}
