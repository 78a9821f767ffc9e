import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP
@testable import UltraGateUpstream

/// A handler that forwards each request to the fake upstream through `CurlTransport`, from a task
/// running on the connection's event loop: the transfers take the loop-owned multi path.
private final class ForwardingHandler: HTTPHandler, @unchecked Sendable {
    let transport: CurlTransport
    let upstream: String
    private let lock = NSLock()
    private var onLoopFlags: [Bool] = []

    init(transport: CurlTransport, upstream: String) {
        self.transport = transport
        self.upstream = upstream
    }

    /// Whether each forwarded call was made on an event-loop thread.
    var onLoop: [Bool] { lock.withLock { onLoopFlags } }

    func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let url = upstream + request.head.path
        let streaming = request.head.path.hasPrefix("/stream")
        let task = Task.immediate(executorPreference: responder.taskExecutor) { [self] in
            lock.withLock { onLoopFlags.append(EventLoop.current != nil) }
            do {
                if streaming {
                    let response = try await transport.stream(UpstreamRequest(url: url))
                    responder.startStream(status: response.head.status, headers: [HTTPHeaderField("Content-Type", "text/event-stream")])
                    for try await chunk in response.body { responder.writeStreamChunk(chunk) }
                    responder.finishStream()
                } else {
                    let response = try await transport.send(UpstreamRequest(url: url))
                    responder.respond(status: response.head.status, body: response.body)
                }
            } catch {
                if !responder.isClientGone { responder.respond(status: 502, body: Array("\(error)".utf8)) }
            }
        }
        responder.onClientGone { task.cancel() }
    }
}

@Suite struct CurlLoopTransportTests {
    private static func start(_ upstream: FakeUpstreamServer) throws -> (HTTPServer, ForwardingHandler, CurlTransport) {
        let transport = try CurlTransport()
        let handler = ForwardingHandler(transport: transport, upstream: upstream.baseURL)
        var config = HTTPServerConfig()
        config.port = 0
        config.threads = 2
        let server = HTTPServer(config: config, handler: handler)
        try server.start()
        return (server, handler, transport)
    }

    @Test func bufferedTransfersRunOnTheEventLoop() async throws {
        let upstream = try FakeUpstreamServer { request in .text("echo \(request.path)") }
        defer { upstream.stop() }
        let (server, handler, transport) = try Self.start(upstream)
        defer { server.shutdown(); transport.shutdown() }
        let port = server.boundPort
        let bodies = try await blocking {
            let client = try TestHTTPClient(port: port)
            return try (0..<20).map { i -> String in
                client.send("GET /item/\(i) HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try client.readResponse()
                return "\(response.status) " + String(decoding: response.body, as: UTF8.self)
            }
        }
        #expect(bodies == (0..<20).map { "200 echo /item/\($0)" })
        #expect(handler.onLoop.count == 20 && handler.onLoop.allSatisfy { $0 })
        #expect(transport.loopDrivers.loopCount >= 1)
        // Keep-alive to the upstream works on the loop-owned multi too.
        #expect(upstream.connectionCount <= 2)
    }

    /// Each upstream answer waits until all eight requests have arrived (a barrier in the fake's
    /// per-connection threads), so the test passes only when the loop runs the transfers at once;
    /// one after the other, the first would wait out the barrier's 30 s and fail.
    @Test func concurrentTransfersOnTheLoop() async throws {
        let barrier = ThreadBarrier(count: 8)
        let upstream = try FakeUpstreamServer { request in
            barrier.arriveAndWait()
            return .text("slow \(request.path)")
        }
        defer { upstream.stop() }
        let (server, _, transport) = try Self.start(upstream)
        defer { server.shutdown(); transport.shutdown() }
        let port = server.boundPort
        let results = await concurrently(8) { i -> String in
            let client = try TestHTTPClient(port: port)
            client.send("GET /c/\(i) HTTP/1.1\r\nHost: x\r\n\r\n")
            return String(decoding: try client.readResponse().body, as: UTF8.self)
        }
        #expect(results.map { try? $0.get() } == (0..<8).map { "slow /c/\($0)" })
        #expect(!barrier.timedOut)
    }

    @Test func streamedResponseArrivesIncrementally() async throws {
        let upstream = try FakeUpstreamServer { _ in .sse(events: ["one", "two", "three", "four"], delayMs: 150) }
        defer { upstream.stop() }
        let (server, handler, transport) = try Self.start(upstream)
        defer { server.shutdown(); transport.shutdown() }
        let port = server.boundPort
        let (firstChunkLead, body) = try await blocking { () -> (Double, String) in
            let client = try TestHTTPClient(port: port)
            client.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            var firstChunkAt: Date?
            let response = try client.readResponse { _ in
                if firstChunkAt == nil { firstChunkAt = Date() }
            }
            return (Date().timeIntervalSince(firstChunkAt ?? Date()), String(decoding: response.body, as: UTF8.self))
        }
        #expect(body == "data: one\n\ndata: two\n\ndata: three\n\ndata: four\n\n")
        // The parts leave the upstream 150 ms apart: the first must arrive ~450 ms before the end.
        #expect(firstChunkLead > 0.3)
        #expect(handler.onLoop == [true])
    }

    @Test func clientDisconnectClosesTheUpstreamConnection() async throws {
        let upstream = try FakeUpstreamServer { _ in .sse(events: (0..<50).map { "tick \($0)" }, delayMs: 1000) }
        defer { upstream.stop() }
        let (server, handler, transport) = try Self.start(upstream)
        defer { server.shutdown(); transport.shutdown() }
        let port = server.boundPort
        try await blocking {
            let client = try TestHTTPClient(port: port)
            client.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try client.readLine()  // the stream has started
            client.closeNow()
        }
        // Closed by the cancellation itself, well before the next part would have been written to
        // a consumer that is gone (which also aborts the transfer).
        #expect(await upstream.waitUntil(timeout: 0.5) { $0.connectionCount == 1 && $0.openConnectionCount == 0 })
        #expect(upstream.streamedPartsSent < 50)
        #expect(handler.onLoop == [true])
    }
}
