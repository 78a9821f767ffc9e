import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP

/// What a handler typically builds per request: an object holding the responder whose
/// client-gone callback captures it back (the gateway's streaming session does exactly this).
private final class Session: @unchecked Sendable {
    let responder: HTTPResponder
    init(responder: HTTPResponder) { self.responder = responder }
}

private final class CycleMakingHandler: HTTPHandler, @unchecked Sendable {
    let sessions = LockedBox<[WeakSession]>([])

    struct WeakSession: @unchecked Sendable { weak var session: Session? }

    func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let session = Session(responder: responder)
        sessions.update { $0.append(WeakSession(session: session)) }
        responder.onClientGone { _ = session }
        responder.onComplete = { _, _, _ in _ = session }
        if request.head.path == "/stream" {
            session.responder.startStream(headers: [HTTPHeaderField("Content-Type", "text/event-stream")])
            session.responder.writeStreamChunk(Array("data: 1\n\n".utf8))
            session.responder.finishStream()
        } else {
            session.responder.respond(status: 200, body: Array("ok".utf8))
        }
    }
}

@Suite struct ResponderLifetimeTests {
    /// Once an answer is complete the responder drops its callbacks, so per-request objects that
    /// hold the responder are freed. A cycle here once leaked every streaming request's session.
    @Test(arguments: ["/plain", "/stream"]) func perRequestObjectsAreFreedAfterTheAnswer(path: String) async throws {
        let handler = CycleMakingHandler()
        let server = try startOneLoopServer(handler)
        defer { server.shutdown() }
        let port = server.boundPort
        let statuses = try await blocking {
            let client = try TestHTTPClient(port: port)
            return try (0..<5).map { _ -> Int in
                client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                return try client.readResponse().status
            }
        }
        #expect(statuses == [200, 200, 200, 200, 200])
        func alive() -> Int { handler.sessions.value.filter { $0.session != nil }.count }
        for _ in 0..<200 where alive() > 0 { try await Task.sleep(nanoseconds: 5_000_000) }
        #expect(handler.sessions.value.count == 5)
        #expect(alive() == 0)
    }
}
