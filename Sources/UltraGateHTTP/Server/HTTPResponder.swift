import UltraGateSupport
import Foundation

/// The handle a handler answers one request through. Safe to use from any thread: calls made
/// off the loop thread are queued onto it. Exactly one `respond`, or one `startStream` … `finishStream`.
public final class HTTPResponder: @unchecked Sendable {
    private let connection: HTTPConnection
    private let loop: EventLoop
    public let head: HTTPRequestHead
    /// Set on the loop thread when a stream starts.
    package var chunked = false

    /// Runs once when the exchange ends: the status sent, the body bytes written, and whether the
    /// client went away first. Set it before answering.
    public var onComplete: (@Sendable (_ status: Int, _ bodyBytes: Int, _ clientGone: Bool) -> Void)?
    /// The last body bytes of this stream when the server ends it at the end of the shutdown
    /// grace period, for an API whose streams end otherwise than the handler's
    /// `streamEndingForShutdown`. Set it before answering.
    public var shutdownEnding: [UInt8]?
    /// Loop-thread bookkeeping for `onComplete`.
    package var status = 0
    package var bodyBytes = 0
    private var completed = false

    private let lock = NSLock()
    private var streaming = false
    private var gone = false
    /// The answer was fully handed to the socket: the client going away no longer matters.
    private var answered = false
    private var goneHandlers: [@Sendable () -> Void] = []

    package init(connection: HTTPConnection, loop: EventLoop, head: HTTPRequestHead) {
        self.connection = connection
        self.loop = loop
        self.head = head
    }

    /// The client's IP address (see `HTTPConnection.peerAddress`). Ask on the loop thread, while
    /// the request is being handled.
    public var clientAddress: String? { connection.peerAddress() }

    /// Whatever the handler keeps for this connection from one request to the next (it lives as
    /// long as the connection): e.g. what it worked out from a header every request repeats. Read
    /// and set it on the loop thread only, while the request is being handled.
    public var connectionMemo: AnyObject? {
        get { connection.handlerMemo }
        set { connection.handlerMemo = newValue }
    }

    /// The executor of the connection's event loop: work for this request preferring it runs on the
    /// loop thread.
    public var taskExecutor: any TaskExecutor { loop }

    /// Runs `work` on the connection's loop thread after `delay` seconds unless cancelled first.
    package func schedule(after delay: Double, _ work: @escaping () -> Void) -> LoopTimer {
        loop.schedule(after: delay, work)
    }

    package func cancel(_ timer: LoopTimer) { loop.cancel(timer) }

    /// True once the client disconnected before its answer was complete.
    public var isClientGone: Bool {
        lock.lock()
        defer { lock.unlock() }
        return gone
    }

    package var isStreaming: Bool {
        lock.lock()
        defer { lock.unlock() }
        return streaming
    }

    /// Runs `handler` when the client goes away before the answer is complete (at once if it
    /// already has; never once the answer is complete). Used to cancel upstream work nobody will read.
    public func onClientGone(_ handler: @escaping @Sendable () -> Void) {
        lock.lock()
        if gone {
            lock.unlock()
            handler()
            return
        }
        if !answered { goneHandlers.append(handler) }
        lock.unlock()
    }

    /// Called on the loop thread when the response is fully handed to the socket, or abandoned.
    /// Drops the callbacks: they often capture what captures this responder (a streaming session,
    /// a flight), and keeping them would keep all of that alive for ever.
    package func complete(clientGone: Bool) {
        guard !completed else { return }
        completed = true
        let callback = onComplete
        onComplete = nil
        if !clientGone {
            lock.lock()
            answered = true
            goneHandlers = []
            lock.unlock()
        }
        callback?(status, bodyBytes, clientGone)
    }

    package func markClientGone() {
        complete(clientGone: true)
        lock.lock()
        gone = true
        let handlers = goneHandlers
        goneHandlers = []
        lock.unlock()
        for handler in handlers { handler() }
    }

    public func respond(status: Int, headers: [HTTPHeaderField] = [], body: [UInt8]) {
        let connection = self.connection
        loop.execute { connection.writeResponse(self, status: status, headers: headers, body: body) }
    }

    public func startStream(status: Int = 200, headers: [HTTPHeaderField]) {
        lock.lock()
        streaming = true
        lock.unlock()
        let connection = self.connection
        loop.execute { connection.startStream(self, status: status, headers: headers) }
    }

    /// `flushNow` sends at once instead of at the end of the loop iteration (where pieces written
    /// together leave in one `send`).
    public func writeStreamChunk(_ bytes: [UInt8], flushNow: Bool = false) {
        let connection = self.connection
        loop.execute { connection.writeStreamChunk(self, bytes, flushNow: flushNow) }
    }

    /// Ends the stream; `trailers` go in the chunked body's trailer section (announce them with a
    /// `Trailer` head field). A response that is not chunked (to HTTP/1.0) has none: they are dropped.
    public func finishStream(trailers: [HTTPHeaderField] = []) {
        let connection = self.connection
        loop.execute { connection.finishStream(self, trailers: trailers) }
    }
}
