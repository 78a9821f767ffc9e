import Foundation
#if canImport(Glibc)
import Glibc
#endif
import UltraGateSupport
import UltraGateJSON
import UltraGateHTTP
import UltraGate

/// Linux socket constants that glibc declares in enums. Spelled out because Swift loses sight of
/// them (`cannot find 'SOCK_STREAM' in scope`) depending on which C module — libcurl's or our
/// shims', both including <sys/socket.h> — the compiler happened to load first.
package enum LinuxSocket {
    package static let stream: Int32 = 1            // SOCK_STREAM
    package static let closeOnExec: Int32 = 0x80000 // SOCK_CLOEXEC
    package static let peek: Int32 = 0x2            // MSG_PEEK
    package static let dontWait: Int32 = 0x40       // MSG_DONTWAIT
    package static let noSignal: Int32 = 0x4000     // MSG_NOSIGNAL
    package static let shutReadWrite: Int32 = 2     // SHUT_RDWR
}

/// One HTTP/1.1 request as the fake upstream received it.
package struct FakeUpstreamRequest: Sendable {
    package var method: String
    /// The request target as sent (`/v1/chat?x=1`).
    package var target: String
    package var path: String
    /// The raw query string without `?`, if any.
    package var query: String?
    package var headers: [HTTPHeaderField]
    package var body: [UInt8]
    /// 1-based number of the connection it arrived on (several when keep-alive is not reused).
    package var connectionID: Int

    /// First value of a header, matched case-insensitively.
    package func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of a header (repeated fields), matched case-insensitively.
    package func headerValues(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    package var bodyString: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as JSON, nil when it is not JSON.
    package var json: JSON? { try? JSONParser.parse(body) }

    /// Query parameters, percent-decoded (`+` is left alone).
    package var queryItems: [String: String] {
        guard let query else { return [:] }
        var items: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            items[key] = value
        }
        return items
    }
}

/// A piece of a streamed response, sent after waiting `delayMs`.
package struct FakeUpstreamPart: Sendable {
    package var delayMs: Int
    package var bytes: [UInt8]
    package init(delayMs: Int = 0, _ bytes: [UInt8]) {
        self.delayMs = delayMs
        self.bytes = bytes
    }
    package init(delayMs: Int = 0, _ text: String) {
        self.init(delayMs: delayMs, Array(text.utf8))
    }
}

/// What the fake upstream does with a request.
package indirect enum FakeUpstreamResponse: Sendable {
    /// How a streamed body is framed on the wire.
    package enum Framing: Sendable, Equatable {
        /// `Transfer-Encoding: chunked`, one chunk per part.
        case chunked
        /// No length at all; the body ends when the connection closes (`Connection: close`).
        case closeDelimited
        /// A declared `Content-Length` (which the parts may fall short of, to test truncation).
        case contentLength(Int)
    }

    /// How a streamed response ends.
    package enum Ending: Sendable, Equatable {
        /// Properly (final chunk; close for close-delimited bodies).
        case finish
        /// Close the connection without ending the body.
        case close
        /// Reset the connection (RST, via `SO_LINGER` 0).
        case reset
    }

    /// A complete response. `Content-Length` is added unless present.
    case full(status: Int, headers: [HTTPHeaderField] = [], body: [UInt8] = [])
    /// The head at once, then each part after its delay.
    case streamed(status: Int = 200, headers: [HTTPHeaderField] = [], parts: [FakeUpstreamPart],
                  framing: Framing = .chunked, ending: Ending = .finish)
    /// Waits, then answers (a slow first byte).
    case delayed(ms: Int, FakeUpstreamResponse)
    /// Never answers; the connection stays open until the client leaves or the server stops.
    case hang
    /// Resets the connection without answering.
    case reset
    /// Closes the connection without answering.
    case close

    package static func json(status: Int = 200, _ value: JSON, headers: [HTTPHeaderField] = []) -> FakeUpstreamResponse {
        .full(status: status, headers: [HTTPHeaderField("Content-Type", "application/json")] + headers,
              body: JSONWriter.serialize(value))
    }

    package static func text(status: Int = 200, _ text: String, contentType: String = "text/plain; charset=utf-8",
                     headers: [HTTPHeaderField] = []) -> FakeUpstreamResponse {
        .full(status: status, headers: [HTTPHeaderField("Content-Type", contentType)] + headers, body: Array(text.utf8))
    }

    /// A `text/event-stream` body, one part per event, each sent `delayMs` after the previous.
    /// An event that does not start with an SSE field (`data:`, `event:`, `id:`, `retry:`, `:`) is
    /// sent as `data: <event>`; multi-line events such as `"event: ping\ndata: {}"` pass as they are.
    package static func sse(events: [String], delayMs: Int = 0, status: Int = 200, headers: [HTTPHeaderField] = [],
                    ending: Ending = .finish) -> FakeUpstreamResponse {
        let parts = events.map { event -> FakeUpstreamPart in
            let isFramed = ["data:", "event:", "id:", "retry:", ":"].contains { event.hasPrefix($0) }
            return FakeUpstreamPart(delayMs: delayMs, (isFramed ? event : "data: \(event)") + "\n\n")
        }
        let head = [HTTPHeaderField("Content-Type", "text/event-stream"), HTTPHeaderField("Cache-Control", "no-cache")]
        return .streamed(status: status, headers: head + headers, parts: parts, ending: ending)
    }

    /// `.sse` with JSON payloads, optionally followed by OpenAI's `data: [DONE]`.
    package static func sse(json events: [JSON], done: Bool = true, delayMs: Int = 0) -> FakeUpstreamResponse {
        .sse(events: events.map { "data: " + $0.serializedString } + (done ? ["data: [DONE]"] : []), delayMs: delayMs)
    }
}

/// A scriptable HTTP/1.1 server on 127.0.0.1 for tests that need a real socket peer: it records
/// every request and answers through `handler`, including slow, streamed, hung and broken replies.
/// Blocking sockets, one thread per connection; `stop()` (or deinit) wakes and joins them all.
///
///     let server = try FakeUpstreamServer { request in
///         request.path == "/v1/chat/completions" && request.json?["stream"]?.boolValue == true
///             ? .sse(json: [["choices": [["delta": ["content": "Hi"]]]]], delayMs: 10)
///             : .json(["id": "chatcmpl-1"])
///     }
///     server.handler = { _ in .delayed(ms: 500, .json(status: 429, ["error": ["message": "slow down"]])) }
///     server.respond(inOrder: [.reset, .json(["ok": true])])   // fail once, then succeed
///     … server.requests.last?.header("authorization"), server.connectionCount,
///       await server.waitUntil { $0.abortedResponseCount == 1 }
package final class FakeUpstreamServer: Sendable {
    package typealias Handler = @Sendable (FakeUpstreamRequest) -> FakeUpstreamResponse

    package let port: UInt16
    private let core: Core

    package init(handler: @escaping Handler = { _ in .json(["ok": true]) }) throws {
        core = try Core(handler: handler)
        port = core.port
        core.start()
    }

    deinit { core.stop() }

    package var baseURL: String { "http://127.0.0.1:\(port)" }
    package func url(_ pathAndQuery: String) -> String { baseURL + pathAndQuery }

    package var handler: Handler {
        get { core.locked { $0.handler } }
        set { core.locked { $0.handler = newValue } }
    }

    /// Answers with these responses in turn, repeating the last one when they run out.
    package func respond(inOrder responses: [FakeUpstreamResponse]) {
        precondition(!responses.isEmpty)
        let queue = Queue(responses)
        handler = { _ in queue.next() }
    }

    package var requests: [FakeUpstreamRequest] { core.locked { $0.requests } }
    package var lastRequest: FakeUpstreamRequest? { core.locked { $0.requests.last } }
    /// Connections accepted so far.
    package var connectionCount: Int { core.locked { $0.connectionCount } }
    /// Connections currently open.
    package var openConnectionCount: Int { core.locked { $0.openFDs.count } }
    /// Responses the client walked away from (closed or reset) before they were complete.
    package var abortedResponseCount: Int { core.locked { $0.abortedResponses } }
    /// Parts of streamed responses written (or being written) so far, over all connections.
    package var streamedPartsSent: Int { core.locked { $0.partsSent } }

    package func stop() { core.stop() }

    /// Polls `condition` every 5 ms until it holds or `timeout` seconds pass.
    package func waitUntil(timeout: Double = 2, _ condition: @Sendable (FakeUpstreamServer) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(self) { return true }
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        return condition(self)
    }

    private final class Queue: @unchecked Sendable {
        private let lock = NSLock()
        private var responses: [FakeUpstreamResponse]
        init(_ responses: [FakeUpstreamResponse]) { self.responses = responses }
        func next() -> FakeUpstreamResponse {
            lock.lock(); defer { lock.unlock() }
            return responses.count > 1 ? responses.removeFirst() : responses[0]
        }
    }
}

extension FakeUpstreamServer {
    package struct State {
        package var handler: Handler
        package var requests: [FakeUpstreamRequest] = []
        package var connectionCount = 0
        package var openFDs: Set<Int32> = []
        package var abortedResponses = 0
        package var partsSent = 0
        package var stopped = false
    }

    /// What the threads share. Kept apart from `FakeUpstreamServer` so that running threads do not
    /// keep the server alive: its deinit can then stop them.
    package final class Core: @unchecked Sendable {
        package let port: UInt16
        private let listenFD: Int32
        /// Written once on stop and never drained, so every later `poll` on it wakes at once.
        private let stopPipe: (read: Int32, write: Int32)
        private let lock = NSLock()
        private var state: State
        private let threads = DispatchGroup()

        package init(handler: @escaping Handler) throws {
            state = State(handler: handler)
            let fd = socket(AF_INET, LinuxSocket.stream | LinuxSocket.closeOnExec, 0)
            guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &addr) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    bind(fd, sa, len) == 0 && listen(fd, 1024) == 0 && getsockname(fd, sa, &len) == 0
                }
            }
            guard ok else {
                let code = errno
                close(fd)
                throw POSIXError(.init(rawValue: code) ?? .EIO)
            }
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else {
                close(fd)
                throw POSIXError(.EMFILE)
            }
            listenFD = fd
            stopPipe = (fds[0], fds[1])
            port = UInt16(bigEndian: addr.sin_port)
        }

        package func locked<T>(_ body: (inout State) -> T) -> T {
            lock.lock(); defer { lock.unlock() }
            return body(&state)
        }

        package func start() {
            threads.enter()
            let thread = Thread { [self] in
                acceptLoop()
                threads.leave()
            }
            thread.name = "fake-upstream-accept"
            thread.start()
        }

        package func stop() {
            // Shutting down under the lock that also guards each close: a descriptor closed (and
            // its number reused by another test) in between must never be shut down.
            let first: Bool = locked { state in
                if state.stopped { return false }
                state.stopped = true
                for fd in state.openFDs { shutdown(fd, LinuxSocket.shutReadWrite) }
                return true
            }
            guard first else { return }
            var byte: UInt8 = 1
            _ = write(stopPipe.write, &byte, 1)
            // shutdown wakes threads blocked in accept/recv/send; the owners close their fds.
            shutdown(listenFD, LinuxSocket.shutReadWrite)
            _ = threads.wait(timeout: .now() + 5)
            close(listenFD)
            close(stopPipe.read)
            close(stopPipe.write)
        }

        private func acceptLoop() {
            while true {
                let fd = accept(listenFD, nil, nil)
                if fd < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    return
                }
                let id: Int? = locked { state in
                    if state.stopped { return nil }
                    state.connectionCount += 1
                    state.openFDs.insert(fd)
                    return state.connectionCount
                }
                guard let id else {
                    close(fd)
                    return
                }
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                threads.enter()
                let thread = Thread { [self] in
                    serve(fd, connectionID: id)
                    threads.leave()
                }
                thread.name = "fake-upstream-conn"
                thread.start()
            }
        }

        private enum Outcome { case keepAlive, close, reset }

        private func serve(_ fd: Int32, connectionID: Int) {
            let reader = SocketReader(fd: fd)
            var outcome = Outcome.close
            while let request = readRequest(reader, connectionID: connectionID) {
                let handler = locked { state in
                    state.requests.append(request)
                    return state.handler
                }
                outcome = respond(fd, with: handler(request), to: request)
                guard outcome == .keepAlive else { break }
            }
            if outcome == .reset {
                var lingerOff = linger(l_onoff: 1, l_linger: 0)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lingerOff, socklen_t(MemoryLayout<linger>.size))
            }
            locked { state in
                state.openFDs.remove(fd)
                close(fd)
            }
        }

        // MARK: requests

        private func readRequest(_ reader: SocketReader, connectionID: Int) -> FakeUpstreamRequest? {
            var requestLine = ""
            while requestLine.isEmpty {
                guard let line = reader.readLine() else { return nil }
                requestLine = String(decoding: line, as: UTF8.self)
            }
            let words = requestLine.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count == 3 else { return nil }
            var headers: [HTTPHeaderField] = []
            while true {
                guard let line = reader.readLine() else { return nil }
                if line.isEmpty { break }
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
                let name = String(decoding: line[..<colon], as: UTF8.self)
                let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                headers.append(HTTPHeaderField(name, value))
            }
            func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }
            if header("expect")?.lowercased() == "100-continue" {
                guard writeAll(fd: reader.fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return nil }
            }
            var body: [UInt8] = []
            if header("transfer-encoding")?.lowercased().contains("chunked") == true {
                while true {
                    guard let sizeLine = reader.readLine() else { return nil }
                    let hex = String(decoding: sizeLine, as: UTF8.self).split(separator: ";").first ?? ""
                    guard let size = Int(hex.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
                    if size == 0 {
                        while let trailer = reader.readLine(), !trailer.isEmpty {}
                        break
                    }
                    guard let chunk = reader.read(count: size), reader.readLine() != nil else { return nil }
                    body += chunk
                }
            } else if let length = header("content-length").flatMap({ Int($0) }), length > 0 {
                guard let bytes = reader.read(count: length) else { return nil }
                body = bytes
            }
            let target = String(words[1])
            let pieces = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            return FakeUpstreamRequest(method: String(words[0]), target: target, path: String(pieces[0]),
                                       query: pieces.count > 1 ? String(pieces[1]) : nil,
                                       headers: headers, body: body, connectionID: connectionID)
        }

        // MARK: responses

        private func respond(_ fd: Int32, with response: FakeUpstreamResponse, to request: FakeUpstreamRequest) -> Outcome {
            let clientWantsClose = request.header("connection")?.lowercased() == "close"
            switch response {
            case .full(let status, let headers, let body):
                var fields = headers
                let bodyless = status == 204 || status == 304 || (100..<200).contains(status) || request.method == "HEAD"
                if !bodyless, !fields.contains(where: { $0.name.lowercased() == "content-length" }) {
                    fields.append(HTTPHeaderField("Content-Length", String(body.count)))
                }
                if clientWantsClose { fields.append(HTTPHeaderField("Connection", "close")) }
                guard writeAll(fd: fd, Self.head(status: status, fields) + (request.method == "HEAD" ? [] : body)) else {
                    return aborted()
                }
                return clientWantsClose ? .close : .keepAlive

            case .streamed(let status, let headers, let parts, let framing, let ending):
                var fields = headers
                switch framing {
                case .chunked: fields.append(HTTPHeaderField("Transfer-Encoding", "chunked"))
                case .closeDelimited: fields.append(HTTPHeaderField("Connection", "close"))
                case .contentLength(let n): fields.append(HTTPHeaderField("Content-Length", String(n)))
                }
                guard writeAll(fd: fd, Self.head(status: status, fields)) else { return aborted() }
                for part in parts {
                    if part.delayMs > 0, !wait(ms: part.delayMs, fd: fd) { return aborted() }
                    var bytes = part.bytes
                    if framing == .chunked {
                        if bytes.isEmpty { continue }  // an empty chunk would end the body
                        bytes = Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + [13, 10]
                    }
                    // Counted before the write: the client may read the part before a count
                    // taken after the write returns shows it.
                    locked { $0.partsSent += 1 }
                    guard writeAll(fd: fd, bytes) else { return aborted() }
                }
                switch ending {
                case .finish:
                    if framing == .closeDelimited { return .close }
                    if framing == .chunked, !writeAll(fd: fd, Array("0\r\n\r\n".utf8)) { return aborted() }
                    return clientWantsClose ? .close : .keepAlive
                case .close: return .close
                case .reset: return .reset
                }

            case .delayed(let ms, let then):
                guard wait(ms: ms, fd: fd) else { return aborted() }
                return respond(fd, with: then, to: request)

            case .hang:
                _ = wait(ms: Int.max, fd: fd)
                return aborted()

            case .reset:
                return .reset

            case .close:
                return .close
            }
        }

        private func aborted() -> Outcome {
            locked { state in if !state.stopped { state.abortedResponses += 1 } }
            return .close
        }

        /// Sleeps `ms` milliseconds unless the peer leaves or the server stops (then false).
        private func wait(ms: Int, fd: Int32) -> Bool {
            let start = DispatchTime.now().uptimeNanoseconds
            var watchPeer = true
            while true {
                let elapsed = Int((DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
                if elapsed >= ms { return true }
                var fds = [pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
                let n = poll(&fds, watchPeer ? 2 : 1, Int32(min(ms - elapsed, 1000)))
                if n < 0 && errno != EINTR { return false }
                if fds[0].revents != 0 { return false }
                if watchPeer && fds[1].revents != 0 {
                    var byte: UInt8 = 0
                    let got = recv(fd, &byte, 1, LinuxSocket.peek | LinuxSocket.dontWait)
                    if got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR) { return false }
                    if got > 0 { watchPeer = false }  // pipelined bytes: cannot see a close behind them
                }
            }
        }

        private func writeAll(fd: Int32, _ bytes: [UInt8]) -> Bool {
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let n = send(fd, buffer.baseAddress! + offset, buffer.count - offset, LinuxSocket.noSignal)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    offset += n
                }
                return true
            }
        }

        private static func head(status: Int, _ fields: [HTTPHeaderField]) -> [UInt8] {
            var text = "HTTP/1.1 \(status) \(reason(status))\r\n"
            for field in fields { text += "\(field.name): \(field.value)\r\n" }
            text += "\r\n"
            return Array(text.utf8)
        }

        private static func reason(_ status: Int) -> String {
            switch status {
            case 200: return "OK"
            case 201: return "Created"
            case 204: return "No Content"
            case 400: return "Bad Request"
            case 401: return "Unauthorized"
            case 403: return "Forbidden"
            case 404: return "Not Found"
            case 408: return "Request Timeout"
            case 413: return "Payload Too Large"
            case 429: return "Too Many Requests"
            case 500: return "Internal Server Error"
            case 502: return "Bad Gateway"
            case 503: return "Service Unavailable"
            case 504: return "Gateway Timeout"
            case 529: return "Overloaded"
            default: return "Status"
            }
        }
    }

    /// Buffered reads from a blocking socket. Owned by one connection thread.
    package final class SocketReader {
        package let fd: Int32
        private var buffer: [UInt8] = []
        private var position = 0

        package init(fd: Int32) { self.fd = fd }

        /// One line without its CRLF (or bare LF); nil at end of stream or past 1 MB.
        package func readLine() -> [UInt8]? {
            var scanned = 0  // bytes after `position` known to hold no LF
            while true {
                if let lf = buffer[(position + scanned)...].firstIndex(of: 10) {
                    var end = lf
                    if end > position, buffer[end - 1] == 13 { end -= 1 }
                    let line = Array(buffer[position..<end])
                    position = lf + 1
                    return line
                }
                scanned = buffer.count - position
                if scanned > 1 << 20 { return nil }
                guard fill() else { return nil }
            }
        }

        package func read(count: Int) -> [UInt8]? {
            while buffer.count - position < count {
                guard fill() else { return nil }
            }
            let bytes = Array(buffer[position..<(position + count)])
            position += count
            return bytes
        }

        private func fill() -> Bool {
            if position > 0, position == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                position = 0
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                buffer.append(contentsOf: chunk[0..<n])
                return true
            }
        }
    }
}
