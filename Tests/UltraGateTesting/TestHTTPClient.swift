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

/// A blocking HTTP/1.1 client over a POSIX socket, for driving the real server in tests.
package final class TestHTTPClient: @unchecked Sendable {
    package struct Response {
        package var status: Int
        package var headers: [(String, String)]
        package var body: [UInt8]
        /// The trailer section's fields of a chunked body.
        package var trailers: [(String, String)] = []
        package func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        package func trailer(_ name: String) -> String? { trailers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        package var text: String { String(decoding: body, as: UTF8.self) }
        package var json: JSON? { try? JSONParser.parse(body) }
    }

    package let fd: Int32
    private var buffer: [UInt8] = []

    package init(port: Int, timeout: Double = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // No close here: a class whose stored properties are all set runs its deinit even when the
        // init throws, and that deinit closes `fd` (closing it twice could close another test's socket).
        guard rc == 0 else { throw TestClientError.connect(errno) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A client over a socket connected already (e.g. one end of a `socketpair`); it closes it.
    package init(connectedSocket: Int32, timeout: Double = 10) {
        fd = connectedSocket
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    package func closeNow() { shutdown(fd, Int32(SHUT_RDWR)) }

    package func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    package func send(_ text: String) { send(Array(text.utf8)) }

    package func post(_ path: String, json: String, headers: [String: String] = [:]) {
        var head = "POST \(path) HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        send(head + "\r\n" + json)
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { throw TestClientError.closed }
        buffer.append(contentsOf: chunk[0..<n])
    }

    package func readLine() throws -> String {
        while true {
            if let i = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<i])
                buffer.removeFirst(i + 1)
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            try fill()
        }
    }

    package func readExactly(_ n: Int) throws -> [UInt8] {
        while buffer.count < n { try fill() }
        let out = Array(buffer[..<n])
        buffer.removeFirst(n)
        return out
    }

    /// Reads one response; `onChunk` sees each chunk of a chunked body as it arrives.
    package func readResponse(onChunk: (([UInt8]) -> Void)? = nil) throws -> Response {
        let statusLine = try readLine()
        let status = Int(statusLine.split(separator: " ")[1]) ?? 0
        let headers = try readFields()
        var response = Response(status: status, headers: headers, body: [])
        if let length = response.header("content-length").flatMap(Int.init) {
            response.body = try readExactly(length)
        } else if response.header("transfer-encoding") == "chunked" {
            while true {
                let size = Int(try readLine().split(separator: ";")[0], radix: 16) ?? 0
                if size == 0 {
                    response.trailers = try readFields()
                    break
                }
                let data = try readExactly(size)
                _ = try readLine()
                onChunk?(data)
                response.body.append(contentsOf: data)
            }
        }
        return response
    }

    /// Field lines up to the empty line (a head's, or a trailer section's).
    private func readFields() throws -> [(String, String)] {
        var fields: [(String, String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { return fields }
            let parts = line.split(separator: ":", maxSplits: 1)
            fields.append((String(parts[0]), parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : ""))
        }
    }

    /// True when the server closed the connection (EOF or reset) within the receive timeout.
    package func isClosedByServer() -> Bool {
        do { try fill(); return false } catch { return true }
    }
}

package enum TestClientError: Error {
    case connect(Int32)
    case closed
}
