import UltraGateSupport
import CUltraGateShims

#if canImport(Glibc)
import Glibc
#endif

/// Admitting new clients under `server.max_connections`, which counts the connections of every
/// loop together (`ConnectionLimiter`).
///
/// At the cap, the keep-alive connections idle the longest make room: an idle connection between
/// requests can be closed cleanly (clients reopen one, as they must after any keep-alive close).
/// This loop's own come first (O(1): the oldest of its idle list). With none, the new client is
/// handed once to the loop holding the most idle connections, through that loop's work queue,
/// which closes its idlest and adopts the client. With none anywhere (every connection busy, or
/// new and not yet past `request_timeout`), the client is refused with a 503.
extension EventLoop {
    /// How long a refused client's socket stays open after the 503 (see `refuse`).
    package static let refusalLinger: Double = 2
    /// Refused sockets lingering on one loop at most; past that they are closed at once.
    package static let maxLingeringRefusals = 1024

    /// Takes `fd`, just accepted here (`mayHandOver`) or handed over by another loop, as a
    /// connection of this loop if the cap allows, closing idle ones as needed.
    package func admit(_ fd: Int32, mayHandOver: Bool) {
        let limiter = server.connectionLimiter
        while !limiter.tryAcquire() {
            // Another loop may take the slot an eviction frees: then evict again, or give up.
            if let idlest = takeIdlest() {
                // Its next request may be arriving (not yet read): closing would reset it. It
                // leaves the list all the same, and rejoins once that request is answered.
                if !idlest.hasUnreadInput { idlest.close() }
                continue
            }
            if mayHandOver, let other = server.loopWithMostIdleConnections(besides: self) {
                other.submit { [other] in other.adoptHandedOver(fd) }
                return
            }
            refuse(fd)
            return
        }
        register(fd)
    }

    private func adoptHandedOver(_ fd: Int32) {
        // The loop stopped meanwhile (the work then runs on its thread after the loop, or elsewhere).
        guard inLoopThread, !draining else {
            close(fd)
            return
        }
        admit(fd, mayHandOver: false)
    }

    /// Answers 503 with `Connection: close` at once, before reading the request, and half-closes.
    /// Closing outright would reset the connection as soon as the client's request arrives, and a
    /// reset can destroy the answer before the client reads it: so the socket stays open for
    /// `refusalLinger` seconds, then what arrived is read and dropped and it is closed. Not
    /// counted as a connection.
    package func refuse(_ fd: Int32) {
        let rejection = HTTPServerRejection(status: 503, message: "The server is at its connection limit (server.max_connections); retry shortly.",
                                            code: "server_overloaded", isServerSide: true)
        let (rendered, body) = server.handler.rejection(rejection)
        let headers = rendered + [HTTPHeaderField("Retry-After", "1")]
        var response: [UInt8] = []
        HTTPResponseHead.serialize(status: rejection.status, headers: headers, contentLength: body.count, chunked: false,
                                   keepAlive: false, date: dateHeader, into: &response)
        response.append(contentsOf: body)
        _ = response.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(UG_MSG_NOSIGNAL)) }
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
        guard refusedSockets.count < EventLoop.maxLingeringRefusals, !draining else {
            EventLoop.discardInputAndClose(fd)
            return
        }
        refusedSockets.insert(fd)
        _ = schedule(after: EventLoop.refusalLinger) { [self] in
            guard refusedSockets.remove(fd) != nil else { return }
            EventLoop.discardInputAndClose(fd)
        }
    }

    private static func discardInputAndClose(_ fd: Int32) {
        var scratch = [UInt8](repeating: 0, count: 4096)
        while scratch.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}  // non-blocking socket
        close(fd)
    }
}
