import UltraGateSupport
import CUltraGateShims
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP/1.1 server: one non-blocking listening socket shared by `config.threads` epoll event
/// loops (EPOLLEXCLUSIVE, so one loop wakes per new connection).
public final class HTTPServer: @unchecked Sendable {
    public let config: HTTPServerConfig
    package let handler: HTTPHandler
    /// `config.maxConnections`, counted across all loops.
    package let connectionLimiter: ConnectionLimiter
    package private(set) var loops: [EventLoop] = []
    private var listenFD: Int32 = -1
    /// The port actually bound (useful with port 0).
    public private(set) var boundPort: Int = 0
    package private(set) var shutdownDeadline: Double = .infinity

    /// Called with +1/−1 as connections open and close (for metrics). Set before `start()`.
    public var onConnectionCountChange: (@Sendable (Int) -> Void)?

    public init(config: HTTPServerConfig, handler: HTTPHandler) {
        self.config = config
        self.handler = handler
        connectionLimiter = ConnectionLimiter(limit: config.maxConnections)
    }

    package func connectionOpened() { onConnectionCountChange?(1) }

    package func connectionClosed() {
        connectionLimiter.release()
        onConnectionCountChange?(-1)
    }

    /// The loop other than `loop` with the most keep-alive connections idle, if any has one.
    /// O(threads); asked only at the connection cap.
    package func loopWithMostIdleConnections(besides loop: EventLoop) -> EventLoop? {
        var best: EventLoop?
        var bestCount = 0
        for other in loops where other !== loop {
            let count = other.idleCount.load(ordering: .relaxed)
            if count > bestCount {
                best = other
                bestCount = count
            }
        }
        return best
    }

    public func start() throws {
        listenFD = try HTTPServer.makeListeningSocket(host: config.host, port: config.port)
        boundPort = HTTPServer.localPort(of: listenFD)
        for i in 0..<max(1, config.threads) {
            loops.append(try EventLoop(index: i, server: self))
        }
        for loop in loops { loop.start(listenFD: listenFD) }
    }

    /// Graceful stop: no new connections, idle ones closed, requests in flight finish (within the
    /// grace period) with `Connection: close`. Returns when every loop has exited.
    public func shutdown() {
        guard listenFD >= 0 else { return }
        shutdownDeadline = EventLoop.monotonicNow() + config.shutdownGracePeriod
        for loop in loops { loop.beginShutdown(listenFD: listenFD) }
        // Refuse new connections now: a listening socket that is only removed from epoll keeps
        // completing handshakes into its backlog, and those clients would hang for the whole
        // grace period. On Linux, shutdown(2) on a listener resets queued connections and makes
        // new ones get ECONNREFUSED; the fd stays open (no reuse race with the loops).
        _ = Glibc.shutdown(listenFD, Int32(SHUT_RDWR))
        for loop in loops { loop.waitUntilFinished() }
        close(listenFD)
        listenFD = -1
    }

    package static func makeListeningSocket(host: String, port: Int) throws -> Int32 {
        let isIPv6 = host.contains(":")
        let fd = socket(isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError.system("socket", errno) }
        _ = ug_set_int_sockopt(fd, UG_SOL_SOCKET, UG_SO_REUSEADDR, 1)
        var result: Int32
        if isIPv6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = in_port_t(UInt16(port).bigEndian)
            let host6 = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
            guard inet_pton(AF_INET6, host6, &addr.sin6_addr) == 1 else {
                close(fd)
                throw HTTPServerError.invalidAddress(host)
            }
            result = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            let host4 = host == "localhost" ? "127.0.0.1" : host
            guard inet_pton(AF_INET, host4, &addr.sin_addr) == 1 else {
                close(fd)
                throw HTTPServerError.invalidAddress(host)
            }
            result = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw HTTPServerError.system("bind \(host):\(port)", code)
        }
        guard listen(fd, 4096) == 0 else {
            let code = errno
            close(fd)
            throw HTTPServerError.system("listen", code)
        }
        _ = ug_set_nonblocking(fd)
        return fd
    }

    package static func localPort(of fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        if Int32(storage.ss_family) == AF_INET6 {
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }
}
