import UltraGateHTTP
import UltraGateSupport
import Foundation

/// When a streaming client's answer starts, and the keep-alive comments before its first event:
/// what every streaming client (chat completions, Messages, Responses) does alike. The stream's
/// head goes out with the first event, or with the first keep-alive tick when that comes first
/// (every `interval` while the first event is awaited, an SSE comment line), except while the
/// flight waits to retry a failed call, or within `interval` of a retry's start (`retryState`):
/// starting the stream then would turn a final failure (a 429 with its `Retry-After`) into an
/// error event inside a 200, so each attempt gets a whole interval, as the first one does.
///
/// The flight's events (`claimEvent`, `claimFinish`, `claimFailure`) and the loop's ticks both
/// read the state, hence the lock. The ticks are a loop timer rather than a sleeping task:
/// starting and cancelling one per stream costs no thread wake-ups.
package final class StreamStart: @unchecked Sendable {
    private let responder: HTTPResponder
    private let startNanos: UInt64
    private let interval: Double
    /// The model a stream started by a tick names (known before the first event, or nil).
    private let knownModel: String?
    private let retryState: @Sendable () -> (waiting: Bool, retryStartedNanos: UInt64)
    private let sendHead: @Sendable (_ model: String?, _ secondsToHead: Double) -> Void

    private let lock = NSLock()
    private var started = false
    private var sawEvent = false
    private var finished = false
    private var stopped = false
    private var timer: LoopTimer?
    private var headersSeconds: Double?

    /// `sendHead` sends the stream's head naming `model` (and the seconds it took to go out);
    /// `retryState` is the flight's (`CompletionFlight.retryState`).
    package init(responder: HTTPResponder, startNanos: UInt64, interval: Double, knownModel: String?,
                 retryState: @escaping @Sendable () -> (waiting: Bool, retryStartedNanos: UInt64),
                 sendHead: @escaping @Sendable (_ model: String?, _ secondsToHead: Double) -> Void) {
        self.responder = responder
        self.startNanos = startNanos
        self.interval = interval
        self.knownModel = knownModel
        self.retryState = retryState
        self.sendHead = sendHead
    }

    /// Sends the head, naming `model`: once, by whoever claimed the start.
    package func writeHead(_ model: String?) {
        sendHead(model, secondsToHead ?? 0)
    }

    /// Seconds from the request's arrival to the stream's head, once it went out.
    package var secondsToHead: Double? {
        lock.lock()
        defer { lock.unlock() }
        return headersSeconds
    }

    /// Starts the keep-alive ticks (the next one `after` seconds, by default an interval).
    package func scheduleKeepAlive(after delay: Double? = nil) {
        lock.lock()
        if !finished && !stopped {
            timer = responder.schedule(after: delay ?? interval) { [weak self] in self?.tick() }
        }
        lock.unlock()
    }

    /// No more ticks: the answer ended or the client left.
    package func stopKeepAlive() {
        lock.lock()
        let timer = self.timer
        self.timer = nil
        stopped = true
        lock.unlock()
        if let timer { responder.cancel(timer) }
    }

    /// On the loop thread, each interval while the first event is awaited.
    private func tick() {
        let retry = retryState()
        // Seconds since the retry under way began, when that is less than an interval.
        let retryAge = retry.retryStartedNanos == 0 ? interval : Double(Clock.nanos() &- retry.retryStartedNanos) / 1e9
        let holdBack = retry.waiting || retryAge < interval
        lock.lock()
        let waiting = !sawEvent && !finished && !stopped
        let mustStart = waiting && !started && !holdBack
        if mustStart { markStarted() }
        let streaming = started
        lock.unlock()
        guard waiting else { return }
        if mustStart { writeHead(knownModel) }
        if streaming { responder.writeStreamChunk(SSEWriter.comment("keep-alive")) }
        // Held back for a young retry: the next tick when it has had its interval.
        scheduleKeepAlive(after: !streaming && !retry.waiting && retryAge < interval ? max(0.001, interval - retryAge) : nil)
    }

    /// An event arrived; true when the caller must send the head now (before the event).
    package func claimEvent() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        sawEvent = true
        let mustStart = !started
        if mustStart { markStarted() }
        return mustStart
    }

    /// The answer finished: whether the caller must send the head now, and whether no event came
    /// (the flight ran without streaming: its answer is replayed).
    package func claimFinish() -> (mustStart: Bool, replay: Bool) {
        lock.lock()
        finished = true
        let replay = !sawEvent
        let mustStart = !started
        if mustStart { markStarted() }
        lock.unlock()
        stopKeepAlive()
        return (mustStart, replay)
    }

    /// The flight failed: whether the stream had started (else the failure is an HTTP status),
    /// and whether any event went out (else only keep-alives did).
    package func claimFailure() -> (started: Bool, sawEvent: Bool) {
        lock.lock()
        finished = true
        let outcome = (started, sawEvent)
        started = true
        lock.unlock()
        stopKeepAlive()
        return outcome
    }

    /// The stream starts now (called with `lock` held, once).
    private func markStarted() {
        started = true
        headersSeconds = Double(Clock.nanos() - startNanos) / 1e9
    }
}

extension Gateway {
    /// The `StreamStart` of a client of `context`: its head carries the request id, the cache
    /// status and the model, and the first part of `Server-Timing` (the cache lookup, read now,
    /// before the flight can touch the context, and the time to the head).
    package func streamStart(_ responder: HTTPResponder, _ context: RequestContext, cacheStatus: String, interval: Double,
                             knownModel: String?,
                             retryState: @escaping @Sendable () -> (waiting: Bool, retryStartedNanos: UInt64)) -> StreamStart {
        let cacheSeconds = context.timing[.cache]
        return StreamStart(responder: responder, startNanos: context.startNanos, interval: interval, knownModel: knownModel,
                           retryState: retryState) { [self] model, secondsToHead in
            var headers = commonHeaders(context, cacheStatus: cacheStatus, model: model)
            headers.append(contentsOf: Gateway.sseHeaders)
            headers.append(Gateway.streamHeadTiming(cacheSeconds: cacheSeconds, headersSeconds: secondsToHead))
            responder.startStream(status: 200, headers: headers)
        }
    }

    /// Ends a started stream with the `Server-Timing` trailer (the head's part left out). Runs in
    /// the flight's event order, after the stream started, so the context is this thread's alone.
    package func finishStream(_ responder: HTTPResponder, _ context: RequestContext, _ start: StreamStart) {
        if let seconds = start.secondsToHead { context.timing.record(.headers, seconds: seconds) }
        responder.finishStream(trailers: [serverTimingTrailer(context)])
    }
}
