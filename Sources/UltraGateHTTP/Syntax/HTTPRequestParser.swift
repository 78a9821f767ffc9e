import UltraGateSupport
/// What the parser has for the server after `next()`.
public enum HTTPParserEvent: Sendable, Equatable {
    /// Nothing complete yet: append more bytes.
    case needMoreData
    /// The head asks for `100 Continue` and its body has not fully arrived: write
    /// `HTTP/1.1 100 Continue\r\n\r\n`, then keep calling `next()`. Returned at most once per request.
    case continueExpected(HTTPRequestHead)
    case request(HTTPRequest)
    /// The stream is broken: answer with `status` and close. The parser stays in this state.
    case error(HTTPParseError)
}

/// An incremental HTTP/1.1 request parser (RFC 9112), a pure state machine over appended bytes.
///
/// Every decision is taken at a fixed byte position of the stream, so the events do not depend on
/// how the bytes were split across `append` calls (except whether `.continueExpected` appears,
/// which by design depends on whether the body had already arrived). Work is O(n) overall: a
/// read index moves over a single buffer that is compacted only once the consumed prefix is at
/// least as large as what remains, and the scan for the end of the head resumes where it stopped.
public struct HTTPRequestParser: Sendable {
    public let limits: HTTPParserLimits

    private enum Phase: Sendable {
        case head, fixedBody, chunkSizeLine, chunkData, chunkDataEnd, trailers, failed
    }

    /// Where the incremental scan of a head stands; offsets are relative to `readIndex`.
    private struct HeadScan: Sendable {
        var offset = 0
        var lineStart = 0
        var requestLineEnd = -1  // content end (before CR LF) once the first line is complete
        var fieldLines = 0
    }

    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var phase: Phase = .head
    private var scan = HeadScan()
    /// Line scans in the chunked phases resume here (relative to `readIndex`).
    private var lineScanOffset = 0
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// Body bytes still expected: the Content-Length, or the rest of the current chunk.
    private var remaining = 0
    private var trailerBytes = 0
    private var continuePending = false
    private var failure: HTTPParseError?

    public init(limits: HTTPParserLimits = .init()) {
        self.limits = limits
    }

    /// Bytes received but not yet consumed by a returned event.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Whether some bytes of a request that is not complete yet have been received.
    public var hasPartialRequest: Bool {
        switch phase {
        case .failed: return false
        case .head: return readIndex < buffer.count
        default: return true
        }
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard phase != .failed, !bytes.isEmpty else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Drops the consumed prefix when that costs no more than what was consumed since the last
    /// compaction (amortized O(1) per byte).
    private mutating func compact() {
        if readIndex == buffer.count {
            if readIndex > 0 {
                buffer.removeAll(keepingCapacity: true)
                readIndex = 0
            }
        } else if readIndex >= 4096 && readIndex >= buffer.count - readIndex {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }

    /// The next event; call until `.needMoreData` (several pipelined requests may be buffered).
    public mutating func next() -> HTTPParserEvent {
        while true {
            switch phase {
            case .failed:
                return .error(failure!)
            case .head:
                if let event = stepHead() { return event }
            case .fixedBody:
                guard buffer.count - readIndex >= remaining else { return waitForBody() }
                body = Array(buffer[readIndex..<readIndex + remaining])
                readIndex += remaining
                return finishRequest()
            case .chunkSizeLine:
                if let event = stepChunkSizeLine() { return event }
            case .chunkData:
                let n = min(remaining, buffer.count - readIndex)
                if n == 0 { return waitForBody() }
                body.append(contentsOf: buffer[readIndex..<readIndex + n])
                readIndex += n
                remaining -= n
                if remaining == 0 { phase = .chunkDataEnd }
            case .chunkDataEnd:
                // RFC 9112 §7.1: chunk-data is followed by CRLF (strictly: no lone LF here).
                let available = buffer.count - readIndex
                if available == 0 { return waitForBody() }
                guard buffer[readIndex] == HTTPSyntax.cr else { return fail(.badRequest("Chunk data not followed by CRLF")) }
                if available == 1 { return waitForBody() }
                guard buffer[readIndex + 1] == HTTPSyntax.lf else { return fail(.badRequest("Chunk data not followed by CRLF")) }
                readIndex += 2
                phase = .chunkSizeLine
            case .trailers:
                if let event = stepTrailerLine() { return event }
            }
        }
    }

    // MARK: Head

    private mutating func stepHead() -> HTTPParserEvent? {
        if scan.offset == 0 {
            // RFC 9112 §2.2: ignore empty lines received before the request line.
            while readIndex < buffer.count {
                let b = buffer[readIndex]
                if b == HTTPSyntax.lf {
                    readIndex += 1
                } else if b == HTTPSyntax.cr {
                    guard readIndex + 1 < buffer.count else { return .needMoreData }
                    guard buffer[readIndex + 1] == HTTPSyntax.lf else { return fail(.badRequest("Bare CR in request head")) }
                    readIndex += 2
                } else {
                    break
                }
            }
        }
        let base = readIndex
        let limits = self.limits
        var scan = self.scan
        let scanned = buffer.withUnsafeBufferPointer { p in
            Self.scanHead(UnsafeBufferPointer(rebasing: p[base...]), &scan, limits)
        }
        self.scan = scan
        switch scanned {
        case .needMore:
            return .needMoreData
        case .failed(let error):
            return fail(error)
        case .complete(let headLength):
            let requestLineEnd = scan.requestLineEnd
            let parsed = buffer.withUnsafeBufferPointer { p in
                HeadParser.parse(UnsafeBufferPointer(rebasing: p[base..<base + headLength]),
                                 requestLineEnd: requestLineEnd, limits: limits)
            }
            readIndex += headLength
            self.scan = HeadScan()
            switch parsed {
            case .failure(let error):
                return fail(error)
            case .success(let head):
                return startBody(head)
            }
        }
    }

    private enum HeadScanResult {
        case needMore, complete(Int), failed(HTTPParseError)
    }

    /// Finds the end of the head, byte by byte from where the last call stopped, checking on the
    /// way what can be judged per byte: bare CR (§2.2), controls, the request-line length (414),
    /// the head size and the field count (431). `p` starts at the first byte of the request line.
    private static func scanHead(_ p: UnsafeBufferPointer<UInt8>, _ scan: inout HeadScan,
                                 _ limits: HTTPParserLimits) -> HeadScanResult {
        let available = p.count
        var i = scan.offset
        defer { scan.offset = i }
        while i < available {
            // Fast path: ordinary bytes inside a line, up to the next limit that needs a check.
            let limit = scan.requestLineEnd < 0
                ? min(limits.maxRequestLineBytes, limits.maxHeaderBytes) : limits.maxHeaderBytes
            let stop = min(available, limit)
            while i < stop {
                let b = p[i]
                if b >= HTTPSyntax.sp && b != 0x7F { i += 1 } else { break }
            }
            if i >= available { break }
            if i >= limits.maxHeaderBytes {
                return .failed(HTTPParseError(status: 431, message: "Request header section exceeds \(limits.maxHeaderBytes) bytes"))
            }
            let b = p[i]
            if scan.requestLineEnd < 0 && i >= limits.maxRequestLineBytes && b != HTTPSyntax.cr && b != HTTPSyntax.lf {
                return .failed(HTTPParseError(status: 414, message: "Request line exceeds \(limits.maxRequestLineBytes) bytes"))
            }
            switch b {
            case HTTPSyntax.lf:
                let contentEnd = i > scan.lineStart && p[i - 1] == HTTPSyntax.cr ? i - 1 : i
                if scan.requestLineEnd < 0 {
                    scan.requestLineEnd = contentEnd
                } else if contentEnd == scan.lineStart {
                    i += 1
                    return .complete(i)
                } else {
                    scan.fieldLines += 1
                    if scan.fieldLines > limits.maxHeaderCount {
                        return .failed(HTTPParseError(status: 431, message: "More than \(limits.maxHeaderCount) header fields"))
                    }
                }
                i += 1
                scan.lineStart = i
            case HTTPSyntax.cr:
                if i + 1 >= available { return .needMore }
                if p[i + 1] != HTTPSyntax.lf { return .failed(.badRequest("Bare CR in request head")) }
                i += 1
            case HTTPSyntax.htab, 0x20...0x7E, 0x80...0xFF:
                i += 1
            default:
                return .failed(.badRequest("Control character in request head"))
            }
        }
        return .needMore
    }

    private mutating func startBody(_ head: HTTPRequestHead) -> HTTPParserEvent? {
        self.head = head
        body = []
        if head.isChunked {
            phase = .chunkSizeLine
            lineScanOffset = 0
            continuePending = head.expectsContinue
        } else if let length = head.contentLength, length > 0 {
            phase = .fixedBody
            remaining = length
            continuePending = head.expectsContinue
        } else {
            return finishRequest()
        }
        return nil
    }

    private mutating func waitForBody() -> HTTPParserEvent {
        if continuePending, let head {
            continuePending = false
            return .continueExpected(head)
        }
        return .needMoreData
    }

    private mutating func finishRequest() -> HTTPParserEvent {
        let request = HTTPRequest(head: head!, body: body)
        head = nil
        body = []
        continuePending = false
        phase = .head
        return .request(request)
    }

    /// The path of the request being read (its head parsed, its body not yet complete), if any.
    package var pendingPath: String? { head?.path }

    private mutating func fail(_ error: HTTPParseError) -> HTTPParserEvent {
        var error = error
        if error.path == nil { error.path = head?.path }
        failure = error
        phase = .failed
        head = nil
        body = []
        buffer = []
        readIndex = 0
        return .error(error)
    }

    // MARK: Chunked body (RFC 9112 §7.1)

    /// Finds the next LF at or after `lineScanOffset` within the first `window` bytes after
    /// `readIndex`; returns its offset, or nil after recording how far it looked.
    private mutating func findLineEnd(window: Int) -> Int? {
        let end = min(buffer.count - readIndex, window)
        var i = lineScanOffset
        while i < end {
            if buffer[readIndex + i] == HTTPSyntax.lf { return i }
            i += 1
        }
        lineScanOffset = i
        return nil
    }

    /// Where the content of the line whose LF is at offset `lf` ends, or nil when no CR precedes
    /// that LF. RFC 9112 §7.1 ends chunk-size lines, the last chunk and trailer lines with CRLF; the
    /// bare-LF leniency of §2.2 is for the head only, and a recipient that accepted a lone LF here
    /// would frame the body differently from a stricter intermediary (request smuggling).
    private func crlfLineContentEnd(lf: Int) -> Int? {
        guard lf > 0, buffer[readIndex + lf - 1] == HTTPSyntax.cr else { return nil }
        return readIndex + lf - 1
    }

    private mutating func stepChunkSizeLine() -> HTTPParserEvent? {
        let window = limits.maxChunkSizeLineBytes
        guard let lf = findLineEnd(window: window) else {
            if buffer.count - readIndex >= window { return fail(.badRequest("Chunk size line too long")) }
            return waitForBody()
        }
        guard let contentEnd = crlfLineContentEnd(lf: lf) else { return fail(.badRequest("Chunk size line not ended by CRLF")) }
        let start = readIndex
        let size = buffer.withUnsafeBufferPointer { p in ChunkedEncoding.parseSizeLine(p, start, contentEnd) }
        readIndex += lf + 1
        lineScanOffset = 0
        switch size {
        case .failure(let error):
            return fail(error)
        case .success(0):
            phase = .trailers
            trailerBytes = 0
        case .success(let size):
            if size > limits.maxBodyBytes - body.count {
                return fail(HTTPParseError(status: 413, message: "Request body exceeds \(limits.maxBodyBytes) bytes"))
            }
            remaining = size
            phase = .chunkData
        }
        return nil
    }

    /// Reads one trailer line; trailer fields are checked and discarded (RFC 9112 §7.1.2).
    private mutating func stepTrailerLine() -> HTTPParserEvent? {
        let window = limits.maxTrailerBytes - trailerBytes
        guard let lf = findLineEnd(window: window) else {
            if buffer.count - readIndex >= window {
                return fail(HTTPParseError(status: 431, message: "Trailer section exceeds \(limits.maxTrailerBytes) bytes"))
            }
            return waitForBody()
        }
        guard let contentEnd = crlfLineContentEnd(lf: lf) else { return fail(.badRequest("Trailer line not ended by CRLF")) }
        let start = readIndex
        readIndex += lf + 1
        lineScanOffset = 0
        trailerBytes += lf + 1
        if contentEnd == start { return finishRequest() }
        let valid = buffer.withUnsafeBufferPointer { p in HTTPSyntax.parseFieldLine(p, start, contentEnd) != nil }
        return valid ? nil : fail(.badRequest("Invalid trailer field"))
    }
}
