import Foundation
@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench

#if canImport(Glibc)
import Glibc
#endif

/// A small threaded OpenAI-compatible server with known behaviour, for measuring the bench
/// client against: fixed latency, every `failEvery`-th request answered 503, an X-Cache header
/// that says HIT for a body seen before, and SSE streams with known timing. Text in the request
/// body steers single requests: `[[fake:hang]]` never answers, `[[fake:truncate]]` closes the
/// connection halfway through the body.
package final class FakeOpenAIServer: @unchecked Sendable {
    package struct Behaviour: Sendable {
        package var latencyMs = 0.0
        package var failEvery = 0
        package var ttftMs = 0.0
        package var chunkGapMs = 0.0
        package var chunks = 5
        package var completionTokens = 7
    }

    package let behaviour: Behaviour
    package let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var seen: Set<[UInt8]> = []
    private var counter = 0
    private var stopped = false

    package init(_ behaviour: Behaviour = Behaviour()) throws {
        self.behaviour = behaviour
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 256) == 0 else { close(listener); throw TestClientError.connect(errno) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) }
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread { self.acceptLoop() }.start()
    }

    package var url: String { "http://127.0.0.1:\(port)/v1" }

    package var requestsServed: Int { lock.withLock { counter } }

    /// Idempotent: `stop()` and then deinit must not close the listener twice (the second close
    /// could hit a descriptor number another test has been given since).
    package func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 { return }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            Thread { self.serve(fd) }.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var buffer: [UInt8] = []
        while !lock.withLock({ stopped }) {
            guard let (body, rest) = Self.readRequest(fd, buffer) else { return }
            buffer = rest
            let (n, hit) = lock.withLock { () -> (Int, Bool) in
                counter += 1
                return (counter, !seen.insert(body).inserted)
            }
            let text = String(decoding: body, as: UTF8.self)
            if text.contains("[[fake:hang]]") {
                // Hold the connection open, answer nothing, until the client gives up.
                var b = [UInt8](repeating: 0, count: 64)
                _ = recv(fd, &b, 64, 0)
                return
            }
            if behaviour.latencyMs > 0 { usleep(useconds_t(behaviour.latencyMs * 1000)) }
            if behaviour.failEvery > 0 && n % behaviour.failEvery == 0 {
                let err = #"{"error":{"message":"overloaded","type":"server_error"}}"#
                write(fd, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(err.utf8.count)\r\n\r\n\(err)")
                continue
            }
            let cache = "X-Cache: \(hit ? "HIT" : "MISS")\r\n"
            if text.contains(#""stream":true"#) {
                write(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\(cache)Transfer-Encoding: chunked\r\n\r\n")
                writeChunk(fd, #"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"# + "\n\n")
                if behaviour.ttftMs > 0 { usleep(useconds_t(behaviour.ttftMs * 1000)) }
                for i in 0..<behaviour.chunks {
                    if i > 0 && behaviour.chunkGapMs > 0 { usleep(useconds_t(behaviour.chunkGapMs * 1000)) }
                    writeChunk(fd, #"data: {"choices":[{"index":0,"delta":{"content":"tok\#(i) "}}]}"# + "\n\n")
                }
                // Split an event across two chunks, as real servers may.
                writeChunk(fd, #"data: {"choices":[],"usage":{"prompt_tokens":3,"#)
                writeChunk(fd, #""completion_tokens":\#(behaviour.completionTokens),"total_tokens":\#(behaviour.completionTokens + 3)}}"# + "\n\ndata: [DONE]\n\n")
                write(fd, "0\r\n\r\n")
                continue
            }
            let json = #"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":\#(behaviour.completionTokens),"total_tokens":\#(behaviour.completionTokens + 3)}}"#
            if text.contains("[[fake:truncate]]") {
                write(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json.prefix(20))")
                return
            }
            write(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\(cache)Content-Length: \(json.utf8.count)\r\n\r\n\(json)")
        }
    }

    private func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    private func writeChunk(_ fd: Int32, _ text: String) {
        write(fd, String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n")
    }

    /// Reads one request; returns its body and the bytes after it, or nil at end of input.
    private static func readRequest(_ fd: Int32, _ start: [UInt8]) -> ([UInt8], [UInt8])? {
        var buf = start
        var chunk = [UInt8](repeating: 0, count: 16384)
        func fill() -> Bool {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return false }
            buf.append(contentsOf: chunk[0..<n])
            return true
        }
        var headEnd: Int?
        while headEnd == nil {
            if buf.count >= 4 {
                for i in 0...(buf.count - 4) where buf[i] == 13 && buf[i + 1] == 10 && buf[i + 2] == 13 && buf[i + 3] == 10 {
                    headEnd = i
                    break
                }
            }
            if headEnd == nil && !fill() { return nil }
        }
        let head = String(decoding: buf[..<headEnd!], as: UTF8.self).lowercased()
        var length = 0
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
            length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        let bodyStart = headEnd! + 4
        while buf.count < bodyStart + length { if !fill() { return nil } }
        return (Array(buf[bodyStart..<(bodyStart + length)]), Array(buf[(bodyStart + length)...]))
    }
}
