import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// One streaming client attached to a flight: writes each chunk as an SSE event as it arrives
/// (in its front's dialect, `encoding`),
/// keeps the connection alive with SSE comments while the first token is awaited (`StreamStart`),
/// and turns a failure into an HTTP error (before anything was sent) or an SSE error event (after).
/// `Server-Timing` goes out in two parts: the head tells the cache lookup and the time to the
/// head, a trailer after the last chunk tells the rest (time to first token, upstream, retries,
/// total).
package final class StreamingClientSession: @unchecked Sendable {
    private let gateway: Gateway
    private let responder: HTTPResponder
    private let context: RequestContext
    private let encoding: any ClientStreamEncoding
    /// This client joined a flight another request started.
    private let joined: Bool
    private var start: StreamStart!
    /// The flight this client listens to (set by `attach`).
    private weak var flight: CompletionFlight?
    /// A chunk with output went to the client. Touched only in `handle`, which the flight calls
    /// one event at a time.
    private var tokenSent = false

    /// `knownModel`: the model that will answer when that is known before the first token (a
    /// route without fallbacks), so a stream started early by a keep-alive still names it.
    package init(gateway: Gateway, responder: HTTPResponder, context: RequestContext, encoding: any ClientStreamEncoding,
         cacheStatus: String, keepAliveInterval: Double, joined: Bool, knownModel: String? = nil) {
        self.joined = joined
        self.gateway = gateway
        self.responder = responder
        self.context = context
        self.encoding = encoding
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
        start.scheduleKeepAlive()
    }

    /// Called by the flight in event order (under its lock).
    private func handle(_ event: CompletionFlight.Event) {
        switch event {
        case .chunk(let chunk):
            if start.claimEvent() { start.writeHead(encoding.model(of: chunk)) }
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
            let (mustStart, replay) = start.claimFinish()
            if mustStart { start.writeHead(result.outcome.route.name) }
            // Without chunks the flight ran without streaming (another client asked first): the
            // answer is replayed.
            responder.writeStreamChunk(encoding.end(result, replay: replay))
            gateway.finishStream(responder, context, start)
        case .failed(let error):
            guard start.claimFailure().started else { return gateway.fail(responder, context, error) }
            if error.isClientClosed && responder.isClientGone { return }
            let shown = error.isClientClosed ? Gateway.upstreamCancelled : error
            responder.writeStreamChunk(encoding.failure(shown))
            gateway.finishStream(responder, context, start)
        }
    }
}
