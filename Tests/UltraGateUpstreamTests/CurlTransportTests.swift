import Foundation
import Glibc
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench
import CCurl

/// Collects a streamed body until it ends or fails.
private func collect(_ body: ChunkStream<[UInt8]>) async -> (bytes: [UInt8], error: Error?) {
    var bytes: [UInt8] = []
    do {
        for try await chunk in body { bytes += chunk }
        return (bytes, nil)
    } catch {
        return (bytes, error)
    }
}

/// Random bytes from the kernel (a Swift loop is slow in debug builds).
private func randomBytes(_ count: Int) throws -> [UInt8] {
    let handle = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
    defer { try? handle.close() }
    return Array(handle.readData(ofLength: count))
}

private func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.count == b.count && (a.isEmpty || a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } })
}

private func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

/// A port with a bound but not listening socket: connecting to it is refused, reliably.
private final class RefusingPort {
    let fd: Int32
    let port: UInt16
    init() {
        let fd = socket(AF_INET, LinuxSocket.stream, 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        port = UInt16(bigEndian: addr.sin_port)
    }
    deinit { close(fd) }
}

@Suite(.serialized) struct CurlTransportTests {
    let server: FakeUpstreamServer
    let transport: CurlTransport

    init() throws {
        server = try FakeUpstreamServer()
        transport = try CurlTransport(options: .init(userAgent: "UltraGate-test"))
    }

    // MARK: round trips

    @Test func getRoundTripCarriesQueryHeadersAndReturnsTheResponse() async throws {
        server.handler = { request in
            .json(["path": .string(request.path), "q": .string(request.queryItems["q"] ?? "")],
                  headers: [HTTPHeaderField("X-Upstream", "yes"), HTTPHeaderField("Set-Cookie", "a=1"), HTTPHeaderField("Set-Cookie", "b=2")])
        }
        let response = try await transport.send(UpstreamRequest(
            method: "GET", url: server.url("/v1/models?q=hello%20world"),
            headers: [HTTPHeaderField("X-Api-Key", "secret-key"), HTTPHeaderField("X-Empty", "")]))

        #expect(response.head.status == 200)
        #expect(response.head.header("x-upstream") == "yes")
        #expect(response.head.headers.filter { $0.name.lowercased() == "set-cookie" }.map(\.value) == ["a=1", "b=2"])
        #expect(response.head.header("content-type") == "application/json")
        let json = try JSONParser.parse(response.body)
        #expect(json["path"] == "/v1/models")
        #expect(json["q"] == "hello world")

        let seen = try #require(server.lastRequest)
        #expect(seen.method == "GET")
        #expect(seen.query == "q=hello%20world")
        #expect(seen.header("x-api-key") == "secret-key")
        #expect(seen.headerValues("x-empty") == [""])
        #expect(seen.header("user-agent") == "UltraGate-test")
        #expect(seen.header("accept-encoding")?.contains("gzip") == true)
        #expect(seen.body.isEmpty)
    }

    @Test func postSendsTheBodyWithLengthAndWithoutExpect() async throws {
        let payload: JSON = ["model": "gpt-4o", "messages": [["role": "user", "content": "hi"]], "stream": false]
        server.handler = { request in .json(status: 201, request.json ?? .null) }
        let response = try await transport.send(UpstreamRequest(
            url: server.url("/v1/chat/completions"),
            headers: [HTTPHeaderField("Content-Type", "application/json"), HTTPHeaderField("Authorization", "Bearer sk-test")],
            body: JSONWriter.serialize(payload)))

        #expect(response.head.status == 201)
        #expect(try JSONParser.parse(response.body) == payload)
        let seen = try #require(server.lastRequest)
        #expect(seen.method == "POST")
        #expect(seen.path == "/v1/chat/completions")
        #expect(seen.json == payload)
        #expect(seen.header("content-length") == String(JSONWriter.serialize(payload).count))
        #expect(seen.header("content-type") == "application/json")
        #expect(seen.header("authorization") == "Bearer sk-test")
        #expect(seen.header("expect") == nil)
    }

    @Test func largePostBodyIsSentAtOnceWithoutExpectContinue() async throws {
        let body = try randomBytes(2 << 20)
        server.handler = { request in .text("\(request.body.count) \(request.header("expect") ?? "none")") }
        let response = try await transport.send(UpstreamRequest(url: server.url("/upload"), body: body))
        #expect(String(decoding: response.body, as: UTF8.self) == "\(body.count) none")
        #expect(sameBytes(server.lastRequest?.body ?? [], body))
        #expect(server.lastRequest?.header("content-type") == nil)
    }

    @Test(arguments: ["PUT", "PATCH", "DELETE"])
    func otherMethodsUseCustomRequest(method: String) async throws {
        server.handler = { request in .text("\(request.method) \(request.bodyString)") }
        let response = try await transport.send(UpstreamRequest(method: method, url: server.url("/x"), body: Array("data".utf8)))
        #expect(String(decoding: response.body, as: UTF8.self) == "\(method) data")
    }

    @Test(arguments: [400, 401, 404, 429, 500, 503])
    func errorStatusesAreReturnedNotThrown(status: Int) async throws {
        server.handler = { _ in .json(status: status, ["error": ["message": "nope"]], headers: [HTTPHeaderField("Retry-After", "7")]) }
        let response = try await transport.send(UpstreamRequest(url: server.url("/v1/chat/completions"), body: [1]))
        #expect(response.head.status == status)
        #expect(response.head.header("retry-after") == "7")
        #expect(try JSONParser.parse(response.body)["error"]?["message"] == "nope")
    }

    @Test func gzipBodiesAreDecodedAndTheHeadNoLongerClaimsAnEncoding() async throws {
        // gzip.compress(b'{"msg":"hello gzip"}', mtime=0) from CPython's gzip module.
        let gzipped: [UInt8] = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0xca, 0x2d, 0x4e, 0x57, 0xb2, 0x52,
            0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0x48, 0xaf, 0xca, 0x2c, 0x50, 0xaa, 0x05, 0x00, 0xb5, 0x42, 0x4e, 0x48,
            0x14, 0x00, 0x00, 0x00,
        ]
        server.handler = { _ in
            .full(status: 200, headers: [HTTPHeaderField("Content-Type", "application/json"),
                                         HTTPHeaderField("Content-Encoding", "gzip")], body: gzipped)
        }
        let response = try await transport.send(UpstreamRequest(method: "GET", url: server.url("/gz")))
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"msg":"hello gzip"}"#)
        #expect(response.head.header("content-encoding") == nil)
        #expect(response.head.header("content-length") == nil)
    }

    @Test func fiveMegabyteBodyArrivesIntact() async throws {
        let body = try randomBytes(5 << 20)
        server.handler = { _ in .full(status: 200, body: body) }
        let response = try await transport.send(UpstreamRequest(method: "GET", url: server.url("/big")))
        #expect(response.body.count == body.count)
        #expect(sameBytes(response.body, body))

        let streamed = try await transport.stream(UpstreamRequest(method: "GET", url: server.url("/big")))
        let collected = await collect(streamed.body)
        #expect(collected.error == nil)
        #expect(sameBytes(collected.bytes, body))
    }

    // MARK: streaming

    @Test func streamReturnsAtTheHeadAndDeliversChunksAsTheyArrive() async throws {
        server.handler = { _ in
            .streamed(headers: [HTTPHeaderField("X-Stream", "1")], parts: [
                FakeUpstreamPart(delayMs: 1000, "first"), FakeUpstreamPart(delayMs: 1000, "second"), FakeUpstreamPart(delayMs: 100, "third"),
            ])
        }
        let response = try await transport.stream(UpstreamRequest(url: server.url("/stream"), body: Array("{}".utf8)))
        // The head came back while the server still sleeps before its first part.
        #expect(server.streamedPartsSent == 0)
        #expect(response.head.status == 200)
        #expect(response.head.header("x-stream") == "1")

        var iterator = response.body.makeAsyncIterator()
        let first = try await iterator.next()
        #expect(first.map { String(decoding: $0, as: UTF8.self) } == "first")
        // The first chunk is here before the server has written the second (the fake counts a part
        // after writing it, so the count may still read 0).
        #expect(server.streamedPartsSent <= 1)
        var rest: [UInt8] = []
        while let chunk = try await iterator.next() { rest += chunk }
        #expect(String(decoding: rest, as: UTF8.self) == "secondthird")
    }

    @Test func slowConsumerPausesTheTransferInsteadOfBufferingEverything() async throws {
        let partSize = 64 << 10, partCount = 400
        let parts = (0..<partCount).map { i in FakeUpstreamPart([UInt8](repeating: UInt8(i & 0xff), count: partSize)) }
        server.handler = { _ in .streamed(parts: parts) }
        let response = try await transport.stream(UpstreamRequest(method: "GET", url: server.url("/firehose")))
        var iterator = response.body.makeAsyncIterator()
        var received = try await iterator.next() ?? []
        try await Task.sleep(nanoseconds: 800_000_000)
        // Unbounded buffering would have swallowed all 25 MB by now; paused, libcurl stops
        // reading and the server stays blocked behind full socket buffers.
        #expect(server.streamedPartsSent < partCount * 3 / 4)
        while let chunk = try await iterator.next() { received += chunk }
        #expect(received.count == partSize * partCount)
        let inOrder = (0..<partCount).allSatisfy { i in
            received[i * partSize] == UInt8(i & 0xff) && received[i * partSize + partSize - 1] == UInt8(i & 0xff)
        }
        #expect(inOrder)
    }

    @Test func sseEventsStreamThrough() async throws {
        server.handler = { _ in .sse(json: [["id": "1"], ["id": "2"]], delayMs: 20) }
        let response = try await transport.stream(UpstreamRequest(url: server.url("/v1/chat/completions"), body: [1]))
        #expect(response.head.header("content-type") == "text/event-stream")
        let collected = await collect(response.body)
        #expect(collected.error == nil)
        #expect(String(decoding: collected.bytes, as: UTF8.self) == "data: {\"id\":\"1\"}\n\ndata: {\"id\":\"2\"}\n\ndata: [DONE]\n\n")
    }

    @Test func closeDelimitedBodyEndsNormallyAtClose() async throws {
        server.handler = { _ in .streamed(parts: [FakeUpstreamPart("ab"), FakeUpstreamPart(delayMs: 50, "cd")], framing: .closeDelimited) }
        let response = try await transport.send(UpstreamRequest(method: "GET", url: server.url("/raw")))
        #expect(String(decoding: response.body, as: UTF8.self) == "abcd")
    }

    // MARK: connections

    @Test func sequentialRequestsReuseOneConnection() async throws {
        for i in 0..<20 {
            let response = try await transport.send(UpstreamRequest(url: server.url("/n/\(i)"), body: Array("\(i)".utf8)))
            #expect(response.head.status == 200)
        }
        #expect(server.requests.count == 20)
        #expect(server.connectionCount == 1)
    }

    /// Sequential requests reuse one libcurl handle, which skips its reset between plain POSTs:
    /// nothing of one request (timeouts, method, headers, body) may show in the next.
    @Test func aReusedHandleCarriesNothingOver() async throws {
        server.handler = { request in
            if request.path == "/slow" { return .delayed(ms: 700, .text("slow ok")) }
            return .text("\(request.method) \(request.bodyString)")
        }
        func send(_ method: String, _ path: String, _ body: String = "", headers: [HTTPHeaderField] = [],
                  total: Double = 0) async throws -> String {
            let response = try await transport.send(UpstreamRequest(
                method: method, url: server.url(path), headers: headers, body: Array(body.utf8),
                timeouts: UpstreamTimeouts(total: total)))
            return String(decoding: response.body, as: UTF8.self)
        }
        #expect(try await send("POST", "/a", "one", headers: [HTTPHeaderField("X-Only-Once", "1")], total: 0.3) == "POST one")
        #expect(server.lastRequest?.header("x-only-once") == "1")
        // The 0.3 s limit of the request before must not apply to this one.
        #expect(try await send("POST", "/slow", "two") == "slow ok")
        #expect(server.lastRequest?.header("x-only-once") == nil)
        _ = try await send("HEAD", "/h")
        #expect(server.lastRequest?.method == "HEAD")
        #expect(try await send("POST", "/b", "three") == "POST three")
        #expect(try await send("DELETE", "/c", "four") == "DELETE four")
        #expect(try await send("POST", "/d", "five") == "POST five")
        #expect(try await send("GET", "/e") == "GET ")
        #expect(server.lastRequest?.body.isEmpty == true)
        #expect(try await send("POST", "/f", "six") == "POST six")
        #expect(server.connectionCount == 1)
    }

    /// Every answer waits until all fifty requests have reached the server (a barrier in its
    /// per-connection threads): the test passes only if the transfers run side by side.
    @Test func fiftyConcurrentRequestsRunSideBySide() async throws {
        let barrier = ThreadBarrier(count: 50)
        server.handler = { request in
            barrier.arriveAndWait()
            return .text(request.path)
        }
        let paths = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for i in 0..<50 {
                group.addTask {
                    let response = try await transport.send(UpstreamRequest(method: "GET", url: server.url("/c/\(i)")))
                    return ("/c/\(i)", String(decoding: response.body, as: UTF8.self))
                }
            }
            var results: [(String, String)] = []
            for try await result in group { results.append(result) }
            return results
        }
        #expect(paths.count == 50)
        #expect(paths.allSatisfy { $0.0 == $0.1 })
        #expect(!barrier.timedOut)
        #expect(server.connectionCount <= 50)
    }

    @Test func connectionsPerHostAreCapped() async throws {
        let capped = try CurlTransport(options: .init(maxConnectionsPerHost: 4))
        server.handler = { _ in .delayed(ms: 100, .text("ok")) }
        let start = DispatchTime.now()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<16 {
                group.addTask { try await capped.send(UpstreamRequest(method: "GET", url: server.url("/\(i)"))).head.status }
            }
            for try await status in group { #expect(status == 200) }
        }
        #expect(server.connectionCount == 4)
        // Four rounds of four: the requests queued for a free connection instead of opening more.
        #expect(seconds(since: start) >= 0.39)
    }

    // MARK: timeouts

    /// The answer would come after 30 s: a first-byte timeout, sooner than that, is the only way the
    /// call can end in time (the bound is the answer's delay, not a guess at this machine's speed).
    @Test func slowFirstByteTimesOut() async throws {
        server.handler = { _ in .delayed(ms: 30_000, .text("late")) }
        let start = DispatchTime.now()
        await #expect(throws: UpstreamError.timeout(.firstByte)) {
            _ = try await transport.send(UpstreamRequest(url: server.url("/slow"), body: [1],
                                                         timeouts: UpstreamTimeouts(firstByte: 0.3)))
        }
        #expect(seconds(since: start) >= 0.3 && seconds(since: start) < 30)
        #expect(await server.waitUntil(timeout: 1) { $0.abortedResponseCount == 1 })
    }

    @Test func silenceMidStreamTimesOutAsIdle() async throws {
        server.handler = { _ in .streamed(parts: [FakeUpstreamPart("one"), FakeUpstreamPart(delayMs: 30_000, "two")]) }
        let timeouts = UpstreamTimeouts(firstByte: 5, idle: 0.3)
        let start = DispatchTime.now()
        let response = try await transport.stream(UpstreamRequest(url: server.url("/idle"), body: [1], timeouts: timeouts))
        let collected = await collect(response.body)
        #expect(String(decoding: collected.bytes, as: UTF8.self) == "one")
        #expect(collected.error as? UpstreamError == .timeout(.idle))
        #expect(seconds(since: start) >= 0.3 && seconds(since: start) < 30)

        await #expect(throws: UpstreamError.timeout(.idle)) {
            _ = try await transport.send(UpstreamRequest(url: server.url("/idle"), body: [1], timeouts: timeouts))
        }
    }

    @Test func steadyChunksKeepALongStreamAliveUnderShortIdleAndFirstByteLimits() async throws {
        server.handler = { _ in .streamed(parts: (0..<10).map { _ in FakeUpstreamPart(delayMs: 100, "x") }) }
        let response = try await transport.stream(UpstreamRequest(
            url: server.url("/steady"), body: [1], timeouts: UpstreamTimeouts(firstByte: 0.3, idle: 0.3, total: 5)))
        let collected = await collect(response.body)
        #expect(collected.error == nil)
        #expect(collected.bytes == Array(repeating: UInt8(ascii: "x"), count: 10))
    }

    @Test func streamReturnsErrorStatusesWithTheirBody() async throws {
        server.handler = { _ in .json(status: 500, ["error": ["message": "boom"]]) }
        let response = try await transport.stream(UpstreamRequest(url: server.url("/fail"), body: [1]))
        #expect(response.head.status == 500)
        let collected = await collect(response.body)
        #expect(collected.error == nil)
        #expect(try JSONParser.parse(collected.bytes)["error"]?["message"] == "boom")
    }

    @Test func totalTimeLimitIsEnforced() async throws {
        // 40 parts 500 ms apart (20 s in all), each well inside the idle limit.
        server.handler = { _ in .streamed(parts: (0..<40).map { _ in FakeUpstreamPart(delayMs: 500, "x") }) }
        let start = DispatchTime.now()
        await #expect(throws: UpstreamError.timeout(.total)) {
            _ = try await transport.send(UpstreamRequest(url: server.url("/long"), body: [1],
                                                         timeouts: UpstreamTimeouts(idle: 5, total: 1.5)))
        }
        let elapsed = seconds(since: start)
        #expect(elapsed >= 1.45 && elapsed < 20)
    }

    // MARK: failures

    @Test func refusedConnectionIsAConnectError() async throws {
        let refusing = RefusingPort()
        let error = await #expect(throws: UpstreamError.self) {
            _ = try await transport.send(UpstreamRequest(
                url: "http://127.0.0.1:\(refusing.port)/v1", headers: [HTTPHeaderField("Authorization", "Bearer sk-very-secret")]))
        }
        guard case .connect(let message)? = error else {
            Issue.record("expected .connect, got \(String(describing: error))")
            return
        }
        #expect(error?.isRetryable == true)
        #expect(!message.contains("sk-very-secret"))
    }

    @Test(arguments: [FakeUpstreamResponse.reset, .close])
    func connectionLostBeforeTheResponseIsAConnectError(behaviour: FakeUpstreamResponse) async throws {
        server.handler = { _ in behaviour }
        let error = await #expect(throws: UpstreamError.self) {
            _ = try await transport.send(UpstreamRequest(url: server.url("/x"), body: [1]))
        }
        guard case .connect? = error else {
            Issue.record("expected .connect, got \(String(describing: error))")
            return
        }
    }

    @Test(arguments: [FakeUpstreamResponse.Ending.reset, .close])
    func connectionLostMidStreamIsBroken(ending: FakeUpstreamResponse.Ending) async throws {
        server.handler = { _ in .streamed(parts: [FakeUpstreamPart("partial"), FakeUpstreamPart(delayMs: 50, "more")], ending: ending) }
        let response = try await transport.stream(UpstreamRequest(url: server.url("/x"), body: [1]))
        let collected = await collect(response.body)
        #expect(String(decoding: collected.bytes, as: UTF8.self) == "partialmore")
        guard case .broken? = collected.error as? UpstreamError else {
            Issue.record("expected .broken, got \(String(describing: collected.error))")
            return
        }
        let error = await #expect(throws: UpstreamError.self) {
            _ = try await transport.send(UpstreamRequest(url: server.url("/x"), body: [1]))
        }
        guard case .broken? = error else {
            Issue.record("expected .broken from send, got \(String(describing: error))")
            return
        }
    }

    @Test func bodyShorterThanItsContentLengthIsBroken() async throws {
        server.handler = { _ in .streamed(parts: [FakeUpstreamPart("12345")], framing: .contentLength(10), ending: .close) }
        let error = await #expect(throws: UpstreamError.self) {
            _ = try await transport.send(UpstreamRequest(method: "GET", url: server.url("/short")))
        }
        guard case .broken? = error else {
            Issue.record("expected .broken, got \(String(describing: error))")
            return
        }
    }

    @Test func headerValuesWithLineBreaksAreRefusedWithoutEchoingThem() async throws {
        let error = await #expect(throws: UpstreamError.self) {
            _ = try await transport.send(UpstreamRequest(
                url: server.url("/x"), headers: [HTTPHeaderField("Authorization", "Bearer sk-abc\r\nX-Injected: 1")]))
        }
        guard case .transport(let message)? = error else {
            Issue.record("expected .transport, got \(String(describing: error))")
            return
        }
        #expect(message.contains("Authorization"))
        #expect(!message.contains("sk-abc"))
        #expect(server.requests.isEmpty)
    }

    // MARK: cancellation

    @Test func cancelledCallerThrowsCancelledWithoutSending() async throws {
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await transport.send(UpstreamRequest(url: server.url("/never"), body: [1]))
        }
        await #expect(throws: UpstreamError.cancelled) { _ = try await task.value }
        let streamTask = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await transport.stream(UpstreamRequest(url: server.url("/never"), body: [1]))
        }
        await #expect(throws: UpstreamError.cancelled) { _ = try await streamTask.value }
        try await Task.sleep(nanoseconds: 100_000_000)
        #expect(server.requests.isEmpty)
    }

    @Test func cancellingAWaitingSendClosesTheConnection() async throws {
        server.handler = { _ in .hang }
        let task = Task { try await transport.send(UpstreamRequest(url: server.url("/hang"), body: [1])) }
        #expect(await server.waitUntil { $0.requests.count == 1 })
        task.cancel()
        await #expect(throws: UpstreamError.cancelled) { _ = try await task.value }
        #expect(await server.waitUntil(timeout: 1) { $0.abortedResponseCount == 1 && $0.openConnectionCount == 0 })
    }

    @Test func cancellingTheConsumingTaskAbortsTheStream() async throws {
        server.handler = { _ in .streamed(parts: (0..<100).map { _ in FakeUpstreamPart(delayMs: 50, "tick") }) }
        let task = Task { () -> Int in
            let response = try await transport.stream(UpstreamRequest(url: server.url("/ticks"), body: [1]))
            var chunks = 0
            for try await _ in response.body { chunks += 1 }
            return chunks
        }
        #expect(await server.waitUntil { $0.streamedPartsSent >= 2 })
        task.cancel()
        _ = try? await task.value
        #expect(await server.waitUntil(timeout: 1) { $0.abortedResponseCount == 1 })
        #expect(server.streamedPartsSent < 60)
    }

    @Test func endingTheIterationEarlyAbortsTheStream() async throws {
        server.handler = { _ in .streamed(parts: (0..<100).map { _ in FakeUpstreamPart(delayMs: 50, "tick") }) }
        do {
            let response = try await transport.stream(UpstreamRequest(url: server.url("/ticks"), body: [1]))
            for try await chunk in response.body {
                #expect(String(decoding: chunk, as: UTF8.self) == "tick")
                break
            }
        }
        #expect(await server.waitUntil(timeout: 1) { $0.abortedResponseCount == 1 })
        // The transport stays usable on a fresh connection.
        server.handler = { _ in .text("after") }
        let after = try await transport.send(UpstreamRequest(method: "GET", url: server.url("/after")))
        #expect(String(decoding: after.body, as: UTF8.self) == "after")
    }

    @Test func cancellingBeforeTheHeadOfAStreamThrowsCancelled() async throws {
        server.handler = { _ in .delayed(ms: 5000, .text("late")) }
        let task = Task { try await transport.stream(UpstreamRequest(url: server.url("/slow"), body: [1])) }
        #expect(await server.waitUntil { $0.requests.count == 1 })
        task.cancel()
        await #expect(throws: UpstreamError.cancelled) { _ = try await task.value }
        #expect(await server.waitUntil(timeout: 1) { $0.abortedResponseCount == 1 })
    }

    @Test func shutdownEndsRunningTransfersAndRefusesNewOnes() async throws {
        server.handler = { _ in .hang }
        let local = try CurlTransport()
        let task = Task { try await local.send(UpstreamRequest(url: server.url("/hang"), body: [1])) }
        #expect(await server.waitUntil { $0.requests.count == 1 })
        local.shutdown()
        await #expect(throws: UpstreamError.cancelled) { _ = try await task.value }
        #expect(await server.waitUntil(timeout: 1) { $0.abortedResponseCount == 1 })
        await #expect(throws: UpstreamError.cancelled) {
            _ = try await local.send(UpstreamRequest(url: server.url("/after"), body: [1]))
        }
    }
}

@Suite struct CurlResponseHeadBuilderTests {
    private func feed(_ lines: [String]) -> (CurlResponseHeadBuilder, [CurlResponseHeadBuilder.Event]) {
        var builder = CurlResponseHeadBuilder()
        var events: [CurlResponseHeadBuilder.Event] = []
        for line in lines {
            var bytes = Array(line.utf8)
            events.append(bytes.withUnsafeMutableBytes { builder.consume(UnsafeRawBufferPointer($0)) })
        }
        return (builder, events)
    }

    @Test func parsesHTTP11Head() {
        let (builder, events) = feed(["HTTP/1.1 429 Too Many Requests\r\n", "Retry-After:  12 \r\n",
                                      "content-type: application/json\r\n", "\r\n"])
        #expect(events == [.started, .none, .none, .complete])
        #expect(builder.status == 429)
        #expect(builder.head.header("retry-after") == "12")
        #expect(builder.head.header("Content-Type") == "application/json")
    }

    @Test func parsesHTTP2StatusLineWithoutReason() {
        let (builder, events) = feed(["HTTP/2 200 \r\n", "x-request-id: abc\r\n", "\r\n"])
        #expect(events == [.started, .none, .complete])
        #expect(builder.status == 200)
        #expect(builder.head.headers == [HTTPHeaderField("x-request-id", "abc")])
    }

    @Test func skipsInterimHeadsAndIgnoresTrailers() {
        let (builder, events) = feed(["HTTP/1.1 100 Continue\r\n", "\r\n", "HTTP/1.1 103 Early Hints\r\n", "Link: </a>\r\n", "\r\n",
                                      "HTTP/1.1 200 OK\r\n", "A: 1\r\n", "\r\n", "Trailer-Field: x\r\n", "\r\n"])
        #expect(events == [.started, .none, .none, .none, .none, .none, .none, .complete, .none, .none])
        #expect(builder.status == 200)
        #expect(builder.head.headers == [HTTPHeaderField("A", "1")])
    }

    @Test func foldsContinuationLines() {
        let (builder, _) = feed(["HTTP/1.1 200 OK\r\n", "X-Long: a\r\n", "\t b\r\n", "\r\n"])
        #expect(builder.head.header("x-long") == "a b")
    }
}

@Suite struct CurlErrorMappingTests {
    let timeouts = UpstreamTimeouts(connect: 2, firstByte: 10, idle: 10, total: 30)

    @Test func failuresBeforeTheHeadAreConnectErrors() {
        for code in [CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_SSL_CONNECT_ERROR] {
            guard case .connect = CurlErrorMapping.error(code: code, detail: "", headStarted: false, elapsed: 0.1, timeouts: timeouts) else {
                Issue.record("code \(code.rawValue) should map to .connect")
                continue
            }
        }
    }

    @Test func failuresAfterTheHeadAreBroken() {
        for code in [CURLE_RECV_ERROR, CURLE_PARTIAL_FILE, CURLE_HTTP2_STREAM] {
            guard case .broken = CurlErrorMapping.error(code: code, detail: "x", headStarted: true, elapsed: 1, timeouts: timeouts) else {
                Issue.record("code \(code.rawValue) should map to .broken")
                continue
            }
        }
    }

    @Test func timeoutsTellConnectFromTotal() {
        #expect(CurlErrorMapping.error(code: CURLE_OPERATION_TIMEDOUT, detail: "", headStarted: false, elapsed: 2.0, timeouts: timeouts) == .timeout(.connect))
        #expect(CurlErrorMapping.error(code: CURLE_OPERATION_TIMEDOUT, detail: "", headStarted: false, elapsed: 30.0, timeouts: timeouts) == .timeout(.total))
        #expect(CurlErrorMapping.error(code: CURLE_OPERATION_TIMEDOUT, detail: "", headStarted: true, elapsed: 5, timeouts: timeouts) == .timeout(.total))
    }

    @Test func messagesCombineSummaryAndDetail() {
        let message = CurlErrorMapping.describe(code: CURLE_COULDNT_CONNECT, detail: "Failed to connect to 127.0.0.1 port 1")
        #expect(message == "Couldn't connect to server: Failed to connect to 127.0.0.1 port 1")
        #expect(CurlErrorMapping.error(code: CURLE_URL_MALFORMAT, detail: "", headStarted: false, elapsed: 0, timeouts: timeouts)
                == .transport("URL using bad/illegal format or missing URL"))
    }

    @Test func certificatesThatFailVerificationAreTLSErrorsNeverRetried() throws {
        let untrusted = CurlErrorMapping.error(code: CURLE_PEER_FAILED_VERIFICATION,
                                               detail: "SSL certificate problem: unable to get local issuer certificate",
                                               headStarted: false, elapsed: 0.01, timeouts: timeouts)
        #expect(untrusted == .tls("the upstream's certificate could not be verified (SSL certificate problem: unable to get local issuer certificate)"))
        #expect(!untrusted.isRetryable)
        for code in [CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS] {
            let error = CurlErrorMapping.error(code: code, detail: "", headStarted: false, elapsed: 0.01, timeouts: timeouts)
            guard case .tls(let message) = error else {
                Issue.record("code \(code.rawValue) should map to .tls, not \(error)")
                continue
            }
            #expect(message.hasPrefix("the upstream's certificate could not be verified ("))
        }
        // A CA file that cannot be loaded: the local path in libcurl's detail stays out of the message.
        let badFile = CurlErrorMapping.error(code: CURLE_SSL_CACERT_BADFILE, detail: "error setting certificate file: /etc/secret/ca.pem",
                                             headStarted: false, elapsed: 0.01, timeouts: timeouts)
        guard case .tls(let message) = badFile else { Issue.record("got \(badFile)"); return }
        #expect(message.hasPrefix("the trusted CA bundle could not be loaded") && !message.contains("/etc/secret"))

        let gatewayError = ProviderError(kind: .transport(untrusted), provider: "p", message: untrusted.description).gatewayError
        #expect(gatewayError.status == 502)
        #expect(gatewayError.code == "upstream_tls_error")
        #expect(gatewayError.message == "p: TLS error: the upstream's certificate could not be verified (SSL certificate problem: unable to get local issuer certificate)")
        #expect(Gateway.errorKind(ProviderError(kind: .transport(untrusted), provider: "p", message: "")) == "tls")
    }
}
