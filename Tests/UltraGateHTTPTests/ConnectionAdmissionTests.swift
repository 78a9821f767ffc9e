import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP

#if canImport(Glibc)
import Glibc
#endif

/// Answers at once, except `/hold`, which it keeps unanswered until `releaseHeld`.
private final class HoldingHandler: HTTPHandler, @unchecked Sendable {
    let held = LockedBox<[HTTPResponder]>([])

    func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        if request.head.path == "/hold" {
            held.update { $0.append(responder) }
        } else {
            responder.respond(status: 200, body: Array("ok".utf8))
        }
    }

    func releaseHeld() {
        for responder in held.value { responder.respond(status: 200, body: Array("late".utf8)) }
    }
}

/// The connection cap across event loops, driven through the loops' own admission with socket
/// pairs, so the test decides which loop takes which client (the kernel decides for accepted ones).
@Suite struct ConnectionAdmissionTests {
    private func twoLoopServer(cap: Int, handler: HoldingHandler) throws -> HTTPServer {
        var config = HTTPServerConfig()
        config.port = 0
        config.threads = 2
        config.maxConnections = cap
        let server = HTTPServer(config: config, handler: handler)
        try server.start()
        return server
    }

    /// A client whose server end `loop` admits as if it had just accepted it.
    private func connect(to loop: EventLoop) -> TestHTTPClient {
        var fds: [Int32] = [0, 0]
        _ = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds)
        let serverEnd = fds[0], clientEnd = fds[1]
        _ = fcntl(clientEnd, F_SETFL, 0)  // the test client blocks (with a receive timeout)
        loop.submit { loop.admit(serverEnd, mayHandOver: true) }
        return TestHTTPClient(connectedSocket: clientEnd)
    }

    private func get(_ client: TestHTTPClient, _ path: String = "/") throws -> TestHTTPClient.Response {
        client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        return try client.readResponse()
    }

    @Test func aLoopWithNoIdleConnectionHandsTheClientToOneThatHasSome() async throws {
        let handler = HoldingHandler()
        let server = try twoLoopServer(cap: 2, handler: handler)
        defer { server.shutdown() }
        let (a, b) = (server.loops[0], server.loops[1])
        try await blocking { () throws -> Void in
            let first = self.connect(to: b), second = self.connect(to: b)
            #expect(try self.get(first).status == 200)
            #expect(try self.get(second).status == 200)  // both wait on loop B, `first` the longest
            let third = self.connect(to: a)  // A is at the cap with nothing idle of its own
            #expect(try self.get(third).status == 200)
            #expect(first.isClosedByServer(), "B closed its idlest to take the client over")
            #expect(try self.get(second).status == 200)
            #expect(server.connectionLimiter.count == 2)
        }
    }

    @Test func withEveryConnectionBusyANewClientGets503AndTheBusyOnesFinish() async throws {
        let handler = HoldingHandler()
        let server = try twoLoopServer(cap: 2, handler: handler)
        defer { server.shutdown() }
        let (a, b) = (server.loops[0], server.loops[1])
        try await blocking { () throws -> Void in
            let busy = [self.connect(to: a), self.connect(to: b)]
            for client in busy { client.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n") }
            for _ in 0..<1000 where handler.held.value.count < 2 { usleep(2000) }
            #expect(handler.held.value.count == 2)
            for loop in [a, b] {
                let refused = self.connect(to: loop)
                let response = try refused.readResponse()  // written before any request was sent
                #expect(response.status == 503)
                #expect(response.header("connection") == "close" && response.header("retry-after") == "1")
                // Drawn by the handler (this one keeps the server's plain-text default; the gateway's is
                // OpenAI-shaped, checked end to end).
                #expect(response.text.contains("connection limit"))
                #expect(refused.isClosedByServer())
            }
            handler.releaseHeld()
            for client in busy { #expect(try client.readResponse().text == "late") }
            #expect(server.connectionLimiter.count == 2)
        }
    }

    @Test func closedConnectionsGiveTheirSlotsBack() async throws {
        let handler = HoldingHandler()
        let server = try twoLoopServer(cap: 2, handler: handler)
        defer { server.shutdown() }
        let (a, b) = (server.loops[0], server.loops[1])
        try await blocking { () throws -> Void in
            for round in 0..<5 {
                let clients = [self.connect(to: a), self.connect(to: b)]
                for client in clients { #expect(try self.get(client).status == 200, "round \(round)") }
                for client in clients { client.closeNow() }
                for _ in 0..<1000 where server.connectionLimiter.count > 0 { usleep(2000) }
                #expect(server.connectionLimiter.count == 0)
            }
        }
    }
}
