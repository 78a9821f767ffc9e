import Foundation
import Glibc
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP
@testable import UltraGateUpstream

/// A blocking TCP client that writes raw bytes, so the fake server is tested without libcurl.
private final class RawClient {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, LinuxSocket.stream, 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        var timeout = timeval(tv_sec: 15, tv_usec: 0)  // a bound for a loaded machine; reads end at their marker
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, LinuxSocket.noSignal) }
    }

    /// Reads until `marker` has arrived `times` times, the peer closes, or 15 s pass.
    func read(until marker: String? = nil, times: Int = 1) -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let marker, String(decoding: received, as: UTF8.self).components(separatedBy: marker).count > times { break }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }
}

@Suite(.serialized) struct FakeUpstreamServerTests {
    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        let server = try FakeUpstreamServer { request in .text("you asked for \(request.path)") }
        let client = try RawClient(port: server.port)
        client.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = client.read(until: "/one")
        client.send("POST /two?a=1&b=x%20y HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-Key: v\r\n\r\nhello")
        let second = client.read(until: "/two")

        #expect(first.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(first.contains("Content-Length: 18\r\n"))
        #expect(first.hasSuffix("\r\n\r\nyou asked for /one"))
        #expect(second.hasSuffix("you asked for /two"))
        #expect(server.connectionCount == 1)
        let requests = server.requests
        #expect(requests.map(\.method) == ["GET", "POST"])
        #expect(requests.map(\.connectionID) == [1, 1])
        #expect(requests[1].path == "/two")
        #expect(requests[1].query == "a=1&b=x%20y")
        #expect(requests[1].queryItems == ["a": "1", "b": "x y"])
        #expect(requests[1].header("x-key") == "v")
        #expect(requests[1].bodyString == "hello")
    }

    @Test func chunkedRequestBodiesAreReassembled() async throws {
        let server = try FakeUpstreamServer()
        let client = try RawClient(port: server.port)
        client.send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{\"a\": \r\n2;ext=1\r\n42\r\n1\r\n}\r\n0\r\nTrailer: t\r\n\r\n")
        let response = client.read(until: "}")
        #expect(response.contains("{\"ok\":true}"))
        #expect(server.lastRequest?.json == ["a": 42])
    }

    @Test func expectContinueIsAnswered() async throws {
        let server = try FakeUpstreamServer { request in .text(request.bodyString) }
        let client = try RawClient(port: server.port)
        client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        #expect(client.read(until: "\r\n\r\n").hasPrefix("HTTP/1.1 100 Continue"))
        client.send("abc")
        #expect(client.read(until: "abc").hasSuffix("\r\n\r\nabc"))
    }

    @Test func streamedResponsesUseChunkedFramingAndSSEBuilderFramesEvents() async throws {
        let server = try FakeUpstreamServer { _ in .sse(events: ["{\"n\":1}", "event: ping\ndata: {}", "[DONE]"]) }
        let client = try RawClient(port: server.port)
        client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = client.read(until: "0\r\n\r\n")
        #expect(response.contains("Content-Type: text/event-stream\r\n"))
        #expect(response.contains("Transfer-Encoding: chunked\r\n"))
        #expect(response.hasSuffix("\r\n\r\nf\r\ndata: {\"n\":1}\n\n\r\n16\r\nevent: ping\ndata: {}\n\n\r\ne\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"))
        #expect(server.streamedPartsSent == 3)
    }

    @Test func closeDelimitedBodiesEndWithTheConnection() async throws {
        let server = try FakeUpstreamServer { _ in .streamed(parts: [FakeUpstreamPart("ab"), FakeUpstreamPart(delayMs: 10, "cd")], framing: .closeDelimited) }
        let client = try RawClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = client.read()
        #expect(response.contains("Connection: close\r\n"))
        #expect(response.hasSuffix("\r\n\r\nabcd"))
    }

    @Test func respondInOrderRepeatsTheLastResponse() async throws {
        let server = try FakeUpstreamServer()
        server.respond(inOrder: [.text(status: 503, "busy"), .text("fine")])
        let client = try RawClient(port: server.port)
        var answers: [String] = []
        for _ in 0..<3 {
            client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = client.read(until: answers.isEmpty ? "busy" : "fine")
            answers.append(response.prefix(12) + " " + response.suffix(4))
        }
        #expect(answers == ["HTTP/1.1 503 busy", "HTTP/1.1 200 fine", "HTTP/1.1 200 fine"])
    }

    @Test func clientLeavingDuringADelayCountsAsAborted() async throws {
        let server = try FakeUpstreamServer { _ in .delayed(ms: 10_000, .text("late")) }
        do {
            let client = try RawClient(port: server.port)
            client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await server.waitUntil { $0.requests.count == 1 })
        }
        #expect(await server.waitUntil(timeout: 10) { $0.abortedResponseCount == 1 && $0.openConnectionCount == 0 })
    }

    @Test func stopWakesHungAndIdleConnectionsPromptly() async throws {
        let server = try FakeUpstreamServer { _ in .hang }
        let hung = try RawClient(port: server.port)
        hung.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let idle = try RawClient(port: server.port)
        #expect(await server.waitUntil { $0.requests.count == 1 && $0.connectionCount == 2 })
        let start = Date()
        server.stop()
        #expect(Date().timeIntervalSince(start) < 5, "stop does not wait for the hung response (it never ends)")
        #expect(server.openConnectionCount == 0)
        #expect(hung.read() == "")
        #expect(idle.read() == "")
        #expect(server.abortedResponseCount == 0)
    }

    @Test func resetSendsRSTWithoutAResponse() async throws {
        let server = try FakeUpstreamServer { _ in .reset }
        let client = try RawClient(port: server.port)
        client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        var byte: UInt8 = 0
        let n = recv(client.fd, &byte, 1, 0)
        #expect(n == -1 && errno == ECONNRESET)
    }
}
