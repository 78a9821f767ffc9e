import UltraGateSupport
import CUltraGateShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One client connection, touched only on its event loop's thread.
///
/// Requests are answered one at a time, in order: while a response is in progress, further
/// pipelined requests stay in the parser's buffer. The response decides keep-alive; errors from the
/// parser are answered with their status and the connection is closed (RFC 9112 §9.6 style).
package final class HTTPConnection: IdleListMember {
    package enum State {
        case idle
        case responding(HTTPResponder)
        case closed
    }

    package let fd: Int32
    package unowned let loop: EventLoop
    package private(set) var state: State = .idle
    private var parser: HTTPRequestParser
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var closeWhenFlushed = false
    /// The shutdown grace period ended this response (`endForShutdown`).
    private var endedForShutdown = false
    private var writeInterest = false
    private var readInterest = true
    private var peerHalfClosed = false
    private var inProcessInput = false
    private var lastActivity: Double
    private var lastRead: Double
    private let openedAt: Double
    /// A response was completed: from then on the connection waits for requests as a keep-alive
    /// connection (`idleTimeout`, closable at the connection cap); before, it is new
    /// (`requestReadTimeout`).
    private var answeredAny = false
    /// Loop-thread state of the loop's `IdleList`.
    package var idleLinks = IdleListLinks<HTTPConnection>()
    /// What the handler keeps for this connection between its requests (`HTTPResponder.connectionMemo`).
    package var handlerMemo: AnyObject?
    private var partialSince: Double?
    /// Streaming to a client that reads slower than we write: beyond this, the client is dropped.
    private static let maxBufferedOutput = 64 << 20
    /// While a request is being answered, read no further once this much is buffered.
    private static let maxBufferedInputWhileBusy = 1 << 20

    package init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
        self.parser = HTTPRequestParser(limits: loop.server.config.limits)
        lastActivity = loop.now
        lastRead = loop.now
        openedAt = loop.now
    }

    package var isIdle: Bool {
        if case .idle = state { return outputOffset >= output.count && !parser.hasPartialRequest }
        return false
    }

    package var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Whether `responder` may still write: the response in progress, and not already ended by
    /// the shutdown (nothing may follow its last chunk).
    package func isCurrent(_ responder: HTTPResponder) -> Bool {
        if case .responding(let current) = state { return current === responder && !endedForShutdown }
        return false
    }

    // MARK: Events

    package func handleEvents(_ events: UInt32) {
        if events & (UG_EPOLLERR | UG_EPOLLHUP) != 0 && events & UG_EPOLLIN == 0 {
            close()
            return
        }
        if events & (UG_EPOLLIN | UG_EPOLLRDHUP) != 0 && readInterest {
            readAvailable()
        }
        if events & UG_EPOLLOUT != 0, !isClosed {
            flush()
        }
        refreshIdleListing()
    }

    /// Whether the connection waits between requests with nothing in progress (keep-alive idle).
    private var isKeepAliveIdle: Bool {
        answeredAny && isIdle && !closeWhenFlushed && !peerHalfClosed
    }

    /// Bytes (a request) wait in the socket, not yet read. End of file is not input.
    package var hasUnreadInput: Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK)) > 0  // non-blocking socket
    }

    /// Joins or leaves the loop's list of idle keep-alive connections. Called after anything that
    /// may change `isKeepAliveIdle`: at the end of each event and of each response.
    private func refreshIdleListing() {
        if !isClosed { loop.setKeepAliveIdle(self, isKeepAliveIdle) }
    }

    private func readAvailable() {
        var sawEOF = false
        var gotBytes = false
        loop.withReadBuffer { buffer in
            while true {
                let n = recv(fd, buffer.baseAddress, buffer.count, 0)
                if n > 0 {
                    gotBytes = true
                    parser.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    if n < buffer.count { return }
                    continue
                }
                if n == 0 { sawEOF = true; return }
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { sawEOF = true; peerHalfClosed = true }
                return
            }
        }
        if gotBytes {
            // Leaves the idle list now: back in it after this request, it is the newest, not the idlest.
            loop.setKeepAliveIdle(self, false)
            lastRead = loop.now
            lastActivity = loop.now
            if partialSince == nil, case .idle = state { partialSince = loop.now }
        }
        if sawEOF {
            peerHalfClosed = true
            readInterest = false
            updateInterest()
        }
        if gotBytes { processInput() }
        guard sawEOF, !isClosed else { return }
        switch state {
        case .responding:
            // The client closed its side while its answer is still being made: like nginx and Go's
            // net/http, take that as "gone", so the upstream call nobody will read is cancelled.
            close()
        case .idle:
            if outputOffset >= output.count { close() } else { closeWhenFlushed = true }
        case .closed:
            break
        }
    }

    /// Turns buffered bytes into requests while no response is in progress.
    package func processInput() {
        guard !inProcessInput else { return }
        inProcessInput = true
        defer { inProcessInput = false }
        while case .idle = state, !closeWhenFlushed {
            switch parser.next() {
            case .needMoreData:
                if !parser.hasPartialRequest { partialSince = nil }
                return
            case .continueExpected(let head):
                if let answer = loop.server.handler.answerBeforeBody(head, clientAddress: { self.peerAddress() }) {
                    // Refused on its head: the announced body is never read, so the connection ends.
                    HTTPResponseHead.serialize(status: answer.status, headers: answer.headers, contentLength: answer.body.count,
                                               chunked: false, keepAlive: false, date: loop.dateHeader, into: &output)
                    if head.method != "HEAD" { output.append(contentsOf: answer.body) }
                    closeWhenFlushed = true
                    flush()
                    return
                }
                output.append(contentsOf: HTTPConnection.continueLine)
                flush()
            case .request(let request):
                partialSince = parser.hasPartialRequest ? loop.now : nil
                let responder = HTTPResponder(connection: self, loop: loop, head: request.head)
                state = .responding(responder)
                loop.server.handler.handle(request, responder)
                if case .responding = state, parser.bufferedByteCount > HTTPConnection.maxBufferedInputWhileBusy {
                    readInterest = false
                    updateInterest()
                }
            case .error(let error):
                writeServerError(error)
                return
            }
        }
    }

    private static let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private func writeServerError(_ error: HTTPParseError, code: String = "bad_http_request", serverSide: Bool = false) {
        let rejection = HTTPServerRejection(status: error.status, message: error.message, code: code, isServerSide: serverSide,
                                            path: error.path ?? parser.pendingPath)
        let (headers, body) = loop.server.handler.rejection(rejection)
        HTTPResponseHead.serialize(status: error.status, headers: headers, contentLength: body.count, chunked: false,
                                   keepAlive: false, date: loop.dateHeader, into: &output)
        output.append(contentsOf: body)
        closeWhenFlushed = true
        flush()
    }

    // MARK: Responses (called through HTTPResponder, on the loop thread)

    private func keepAlive(for responder: HTTPResponder) -> Bool {
        responder.head.keepAlive && !loop.draining && !peerHalfClosed
    }

    package func writeResponse(_ responder: HTTPResponder, status: Int, headers: [HTTPHeaderField], body: [UInt8]) {
        guard isCurrent(responder) else { return }
        let keepAlive = keepAlive(for: responder)
        HTTPResponseHead.serialize(status: status, headers: headers, contentLength: body.count, chunked: false,
                                   keepAlive: keepAlive, date: loop.dateHeader, into: &output)
        if responder.head.method != "HEAD" { output.append(contentsOf: body) }
        responder.status = status
        responder.bodyBytes = body.count
        finishResponse(keepAlive: keepAlive)
        responder.complete(clientGone: false)
    }

    package func startStream(_ responder: HTTPResponder, status: Int, headers: [HTTPHeaderField]) {
        guard isCurrent(responder) else { return }
        // HTTP/1.0 has no chunked coding: the body is delimited by closing the connection.
        let chunked = responder.head.versionMinor >= 1
        responder.chunked = chunked
        responder.status = status
        HTTPResponseHead.serialize(status: status, headers: headers, contentLength: nil, chunked: chunked,
                                   keepAlive: chunked && keepAlive(for: responder), date: loop.dateHeader, into: &output)
        scheduleFlush()
    }

    package func writeStreamChunk(_ responder: HTTPResponder, _ bytes: [UInt8], flushNow: Bool = false) {
        guard isCurrent(responder), !bytes.isEmpty else { return }
        responder.bodyBytes += bytes.count
        if responder.chunked {
            ChunkedEncoding.appendChunk(bytes, to: &output)
        } else {
            output.append(contentsOf: bytes)
        }
        if output.count - outputOffset > HTTPConnection.maxBufferedOutput {
            close()
            return
        }
        if flushNow { flush() } else { scheduleFlush() }
    }

    /// Stream pieces are sent once per loop iteration: chunks produced together leave in one
    /// `send` instead of one system call each.
    private var flushScheduled = false

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.flushLater(self)
    }

    /// Called by the loop at the end of an iteration.
    package func flushScheduledOutput() {
        guard flushScheduled else { return }
        flushScheduled = false
        flush()
    }

    package func finishStream(_ responder: HTTPResponder, trailers: [HTTPHeaderField] = []) {
        guard isCurrent(responder) else { return }
        if responder.chunked {
            ChunkedEncoding.appendLastChunk(trailers: trailers, to: &output)
            finishResponse(keepAlive: keepAlive(for: responder))
        } else {
            finishResponse(keepAlive: false)
        }
        responder.complete(clientGone: false)
    }

    private func finishResponse(keepAlive: Bool) {
        state = .idle
        answeredAny = true
        lastActivity = loop.now
        if !keepAlive { closeWhenFlushed = true }
        if !readInterest && !peerHalfClosed {
            readInterest = true
            updateInterest()
        }
        flush()
        if !isClosed && !inProcessInput { processInput() }
        refreshIdleListing()
    }

    // MARK: Output

    private func flush() {
        guard !isClosed else { return }
        while outputOffset < output.count {
            let n = output.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + outputOffset, raw.count - outputOffset, Int32(UG_MSG_NOSIGNAL))
            }
            if n > 0 {
                outputOffset += n
                lastActivity = loop.now
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if !writeInterest {
                    writeInterest = true
                    updateInterest()
                }
                return
            }
            close()  // EPIPE, ECONNRESET: the client is gone
            return
        }
        if output.capacity > 1 << 20 {
            output = []
        } else {
            output.removeAll(keepingCapacity: true)
        }
        outputOffset = 0
        if writeInterest {
            writeInterest = false
            updateInterest()
        }
        if closeWhenFlushed { close() }
    }

    private func updateInterest() {
        guard !isClosed else { return }
        loop.setInterest(fd: fd, read: readInterest, write: writeInterest)
    }

    // MARK: Timeouts and closing

    package func checkTimeouts(now: Double, config: HTTPServerConfig, draining: Bool, shutdownDeadline: Double) {
        switch state {
        case .closed:
            return
        case .responding(let responder):
            guard draining && now > shutdownDeadline else { return }
            // Ended in-protocol at one sweep; closed at the next if the client has not taken it.
            if endedForShutdown { close() } else { endForShutdown(responder) }
        case .idle:
            if outputOffset < output.count {
                if now - lastActivity > config.idleTimeout { close() }  // a client that stopped reading
            } else if let partialSince, parser.hasPartialRequest {
                if now - partialSince > config.requestReadTimeout || now - lastRead > config.readInactivityTimeout {
                    writeServerError(HTTPParseError(status: 408, message: "The request was not received in time."))
                }
            } else if draining {
                close()
            } else if answeredAny ? now - lastActivity > config.idleTimeout : now - openedAt > config.requestReadTimeout {
                // A new connection that sent no request is held only as long as a request may take.
                close()
            }
        }
    }

    /// The grace period is over and this response is not done: it still ends within the protocol
    /// before the connection closes. Not begun: a 503. A chunked stream: the handler's ending (an
    /// error event) and the last chunk. Anything else (a body already under way) can only be cut.
    private func endForShutdown(_ responder: HTTPResponder) {
        endedForShutdown = true
        if responder.status == 0 {
            writeServerError(HTTPParseError(status: 503, message: "The server is shutting down; the request was not finished in time."),
                            code: "server_shutting_down", serverSide: true)
            return
        }
        if responder.chunked {
            let ending = responder.shutdownEnding ?? loop.server.handler.streamEndingForShutdown()
            if !ending.isEmpty { ChunkedEncoding.appendChunk(ending, to: &output) }
            output.append(contentsOf: ChunkedEncoding.terminator)
            closeWhenFlushed = true
            flush()
            return
        }
        close()
    }

    package func close() {
        if case .closed = state { return }
        let previous = state
        state = .closed
        Glibc.close(fd)
        output = []
        loop.connectionClosed(self)
        if case .responding(let responder) = previous {
            responder.markClientGone()
        }
    }
}
