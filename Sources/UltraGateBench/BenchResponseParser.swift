import UltraGateJSON
import UltraGateSupport
/// A response the bench client could not make sense of.
package struct BenchProtocolError: Error, Equatable {
    package let reason: String
}

/// Incremental HTTP/1.1 response parser for the bench client (RFC 9112 §4–§7): status line,
/// the few headers the report needs, and a body framed by Content-Length, chunked coding or the
/// end of the connection. Body bytes go to a `BenchBodyScanner` as they arrive.
package struct BenchResponseParser {
    package enum CacheStatus: Equatable { case none, hit, miss, other }

    private enum State: Equatable {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailer
        case untilClose
        case done
    }

    private var state = State.head
    private var head: [UInt8] = []
    private var sizeLine: [UInt8] = []
    package private(set) var status = 0
    package private(set) var cache = CacheStatus.none
    package private(set) var keepAlive = true
    package private(set) var headAt: UInt64 = 0
    package private(set) var receivedAny = false
    package var scanner = BenchBodyScanner()

    package static let maxHead = 64 * 1024

    package init() { head.reserveCapacity(1024) }

    package mutating func reset() {
        state = .head
        head.removeAll(keepingCapacity: true)
        sizeLine.removeAll(keepingCapacity: true)
        status = 0
        cache = .none
        keepAlive = true
        headAt = 0
        receivedAny = false
    }

    package var isComplete: Bool { state == .done }
    /// True when only the end of the connection can end this body.
    package var readsUntilClose: Bool { state == .untilClose }

    /// Feeds received bytes; returns true once the response is complete.
    package mutating func feed(_ bytes: UnsafeRawBufferPointer, now: UInt64) throws(BenchProtocolError) -> Bool {
        if bytes.count > 0 { receivedAny = true }
        var i = 0
        while i < bytes.count {
            switch state {
            case .head:
                let scanFrom = max(0, head.count - 3)
                let take = min(bytes.count - i, Self.maxHead + 4 - head.count)
                head.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                guard let end = Self.headEnd(head, from: scanFrom) else {
                    if head.count >= Self.maxHead { throw BenchProtocolError(reason: "response head too large") }
                    i += take
                    continue
                }
                let used = end + 4 - (head.count - take)
                i += used
                headAt = now
                try parseHead(Array(head[..<end]))
            case .fixed(let remaining):
                let n = min(remaining, bytes.count - i)
                scanner.consume(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)]), now: now)
                i += n
                state = remaining - n == 0 ? .done : .fixed(remaining: remaining - n)
            case .chunkSize:
                let b = bytes[i]
                i += 1
                if b != 0x0A {
                    if sizeLine.count > 1024 { throw BenchProtocolError(reason: "chunk size line too long") }
                    sizeLine.append(b)
                    continue
                }
                var size = 0
                var digits = 0
                for c in sizeLine {
                    let v: Int
                    switch c {
                    case 0x30...0x39: v = Int(c - 0x30)
                    case 0x41...0x46: v = Int(c - 0x41 + 10)
                    case 0x61...0x66: v = Int(c - 0x61 + 10)
                    default: v = -1
                    }
                    if v < 0 { break }
                    size = size * 16 + v
                    digits += 1
                    if digits > 15 { throw BenchProtocolError(reason: "chunk size too large") }
                }
                if digits == 0 { throw BenchProtocolError(reason: "bad chunk size line") }
                sizeLine.removeAll(keepingCapacity: true)
                state = size == 0 ? .trailer : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let n = min(remaining, bytes.count - i)
                scanner.consume(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)]), now: now)
                i += n
                state = remaining - n == 0 ? .chunkDataEnd : .chunkData(remaining: remaining - n)
            case .chunkDataEnd:
                // CRLF after the chunk data: skip a CR, require the LF.
                let b = bytes[i]
                i += 1
                if b == 0x0D { continue }
                guard b == 0x0A else { throw BenchProtocolError(reason: "missing CRLF after chunk data") }
                state = .chunkSize
            case .trailer:
                let b = bytes[i]
                i += 1
                if b == 0x0A {
                    if sizeLine.isEmpty || sizeLine == [0x0D] { state = .done } else { sizeLine.removeAll(keepingCapacity: true) }
                } else {
                    sizeLine.append(b)
                }
            case .untilClose:
                scanner.consume(UnsafeRawBufferPointer(rebasing: bytes[i...]), now: now)
                i = bytes.count
            case .done:
                throw BenchProtocolError(reason: "bytes after the end of the response")
            }
        }
        if state == .done { scanner.finish(now: now) }
        return state == .done
    }

    /// The connection ended: completes a read-until-close body, anything else is cut short.
    package mutating func endOfInput(now: UInt64) throws(BenchProtocolError) -> Bool {
        switch state {
        case .untilClose:
            state = .done
            scanner.finish(now: now)
            return true
        case .done: return true
        case .head where !receivedAny: throw BenchProtocolError(reason: "connection closed before a response")
        default: throw BenchProtocolError(reason: "connection closed mid-response")
        }
    }

    private static func headEnd(_ b: [UInt8], from: Int) -> Int? {
        guard b.count >= 4 else { return nil }
        var i = from
        while i + 3 < b.count {
            if b[i] == 0x0D && b[i + 1] == 0x0A && b[i + 2] == 0x0D && b[i + 3] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    private mutating func parseHead(_ h: [UInt8]) throws(BenchProtocolError) {
        // "HTTP/1.x NNN ..."
        guard h.count >= 12, h.starts(with: Array("HTTP/1.".utf8)),
              (0x30...0x39).contains(h[9]), (0x30...0x39).contains(h[10]), (0x30...0x39).contains(h[11])
        else { throw BenchProtocolError(reason: "bad status line") }
        status = Int(h[9] - 0x30) * 100 + Int(h[10] - 0x30) * 10 + Int(h[11] - 0x30)
        keepAlive = h[7] == 0x31
        var contentLength: Int?
        var chunked = false
        var eventStream = false
        var lineStart = (Self.indexOfLF(h, from: 0) ?? h.count) + 1
        while lineStart < h.count {
            var lineEnd = Self.indexOfLF(h, from: lineStart) ?? h.count
            let next = lineEnd + 1
            if lineEnd > lineStart && h[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            if let colon = h[lineStart..<lineEnd].firstIndex(of: 0x3A) {
                var vs = colon + 1
                while vs < lineEnd && (h[vs] == 0x20 || h[vs] == 0x09) { vs += 1 }
                var ve = lineEnd
                while ve > vs && (h[ve - 1] == 0x20 || h[ve - 1] == 0x09) { ve -= 1 }
                let name = h[lineStart..<colon]
                let value = h[vs..<ve]
                if Self.equalsLower(name, "content-length") {
                    var n = 0
                    var digits = 0
                    for c in value {
                        guard (0x30...0x39).contains(c), digits < 15 else { throw BenchProtocolError(reason: "bad Content-Length") }
                        n = n * 10 + Int(c - 0x30)
                        digits += 1
                    }
                    if digits == 0 { throw BenchProtocolError(reason: "bad Content-Length") }
                    contentLength = n
                } else if Self.equalsLower(name, "transfer-encoding") {
                    chunked = Self.containsLower(value, "chunked")
                } else if Self.equalsLower(name, "connection") {
                    if Self.containsLower(value, "close") { keepAlive = false }
                    if Self.containsLower(value, "keep-alive") { keepAlive = true }
                } else if Self.equalsLower(name, "x-cache") {
                    if Self.containsLower(value, "hit") { cache = .hit }
                    else if Self.containsLower(value, "miss") { cache = .miss }
                    else { cache = .other }
                } else if Self.equalsLower(name, "content-type") {
                    eventStream = Self.containsLower(value, "text/event-stream")
                }
            }
            lineStart = next
        }
        scanner.reset(eventStream: eventStream)
        if status < 200 || status == 204 || status == 304 {
            state = .done
        } else if chunked {
            state = .chunkSize
        } else if let contentLength {
            state = contentLength == 0 ? .done : .fixed(remaining: contentLength)
        } else {
            state = .untilClose
            keepAlive = false
        }
    }

    private static func indexOfLF(_ h: [UInt8], from: Int) -> Int? {
        var i = from
        while i < h.count {
            if h[i] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    private static func lower(_ c: UInt8) -> UInt8 { (0x41...0x5A).contains(c) ? c | 0x20 : c }

    private static func equalsLower(_ s: ArraySlice<UInt8>, _ word: StaticString) -> Bool {
        guard s.count == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        var k = 0
        for c in s {
            if lower(c) != w[k] { return false }
            k += 1
        }
        return true
    }

    private static func containsLower(_ s: ArraySlice<UInt8>, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard s.count >= n else { return false }
        let w = word.utf8Start
        var i = s.startIndex
        while i + n <= s.endIndex {
            var k = 0
            while k < n && lower(s[i + k]) == w[k] { k += 1 }
            if k == n { return true }
            i += 1
        }
        return false
    }
}
