import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP

@Suite struct HTTPResponseHeadTests {
    private func head(status: Int, headers: [HTTPHeaderField] = [], contentLength: Int? = nil,
                      chunked: Bool = false, keepAlive: Bool = true) -> String {
        var out: [UInt8] = []
        HTTPResponseHead.serialize(status: status, headers: headers, contentLength: contentLength, chunked: chunked,
                                   keepAlive: keepAlive, date: "Sun, 06 Nov 1994 08:49:37 GMT", into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func contentLengthResponse() {
        let text = head(status: 200, headers: [HTTPHeaderField("Content-Type", "application/json")], contentLength: 1234)
        #expect(text == "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: application/json\r\n"
            + "Content-Length: 1234\r\n\r\n")
    }

    @Test func chunkedResponseWithClose() {
        let text = head(status: 201, chunked: true, keepAlive: false)
        #expect(text == "HTTP/1.1 201 Created\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    }

    @Test func contentLengthWinsOverChunkedAndZeroIsWritten() {
        #expect(head(status: 404, contentLength: 0, chunked: true)
            == "HTTP/1.1 404 Not Found\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func noFramingFor1xxAnd204() {
        #expect(head(status: 204, contentLength: 5) == "HTTP/1.1 204 No Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n")
        #expect(head(status: 101, chunked: true) == "HTTP/1.1 101 Switching Protocols\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n")
        #expect(head(status: 304, contentLength: 7).contains("Content-Length: 7\r\n"))
        #expect(!head(status: 304, chunked: true).contains("Transfer-Encoding"))
    }

    @Test func callerFramingHeadersAreSkippedAndValuesSanitized() {
        let text = head(status: 200, headers: [
            HTTPHeaderField("content-length", "99"), HTTPHeaderField("Transfer-Encoding", "gzip"),
            HTTPHeaderField("CONNECTION", "upgrade"), HTTPHeaderField("date", "yesterday"),
            HTTPHeaderField("X-Evil", "a\r\nSet-Cookie: x"), HTTPHeaderField("X-Id", "7"),
        ], contentLength: 3)
        #expect(text == "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nX-Evil: a  Set-Cookie: x\r\n"
            + "X-Id: 7\r\nContent-Length: 3\r\n\r\n")
    }

    @Test(arguments: [
        (100, "Continue"), (200, "OK"), (202, "Accepted"), (206, "Partial Content"), (301, "Moved Permanently"),
        (304, "Not Modified"), (308, "Permanent Redirect"), (400, "Bad Request"), (401, "Unauthorized"),
        (403, "Forbidden"), (404, "Not Found"), (405, "Method Not Allowed"), (408, "Request Timeout"),
        (413, "Content Too Large"), (414, "URI Too Long"), (415, "Unsupported Media Type"),
        (417, "Expectation Failed"), (422, "Unprocessable Content"), (429, "Too Many Requests"),
        (431, "Request Header Fields Too Large"), (500, "Internal Server Error"), (501, "Not Implemented"),
        (502, "Bad Gateway"), (503, "Service Unavailable"), (504, "Gateway Timeout"),
        (505, "HTTP Version Not Supported"),
    ])
    func reasonPhrases(status: Int, reason: String) {
        #expect(head(status: status).hasPrefix("HTTP/1.1 \(status) \(reason)\r\n"))
    }

    @Test func unknownAndInvalidStatuses() {
        #expect(head(status: 599).hasPrefix("HTTP/1.1 599 \r\n"))  // empty reason, SP kept (RFC 9112 §4)
        #expect(head(status: 42).hasPrefix("HTTP/1.1 500 Internal Server Error\r\n"))
    }

    @Test func serializedHeadAppendsToExistingBytes() {
        var out: [UInt8] = Array("prefix".utf8)
        HTTPResponseHead.serialize(status: 200, headers: [], contentLength: 2, chunked: false, keepAlive: true,
                                   date: "d", into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "prefixHTTP/1.1 200 OK\r\nDate: d\r\nContent-Length: 2\r\n\r\n")
    }

    // MARK: Date (RFC 9110 §5.6.7)

    @Test(arguments: [
        (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),  // the RFC's own example
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 GMT"),
    ])
    func imfFixdate(seconds: Int, expected: String) {
        #expect(HTTPDate.format(epochSeconds: seconds) == expected)
    }

    @Test func dateCacheReformatsOnlyOnNewSecond() {
        var cache = HTTPDate.Cache()
        #expect(cache.string(epochSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(cache.string(epochSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(cache.string(epochSeconds: 784_111_778) == "Sun, 06 Nov 1994 08:49:38 GMT")
        let now = cache.string()
        #expect(now.utf8.count == 29)
        #expect(now.hasSuffix(" GMT"))
    }

    // MARK: Chunked writer (RFC 9112 §7.1)

    @Test func chunkFraming() {
        var out: [UInt8] = []
        ChunkedEncoding.appendChunk(Array("abcdefghijklmnopqrstuvwxyz".utf8), to: &out)
        ChunkedEncoding.appendChunk([], to: &out)
        ChunkedEncoding.appendChunk([0x21], to: &out)
        ChunkedEncoding.appendTerminator(to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n1\r\n!\r\n0\r\n\r\n")
        #expect(ChunkedEncoding.terminator == Array("0\r\n\r\n".utf8))
    }

    @Test func chunkSizesInHex() {
        for (size, hex) in [(15, "f"), (16, "10"), (255, "ff"), (4096, "1000"), (65_537, "10001")] {
            var out: [UInt8] = []
            ChunkedEncoding.appendChunk([UInt8](repeating: 0, count: size), to: &out)
            #expect(Array(out.prefix(hex.utf8.count + 2)) == Array((hex + "\r\n").utf8))
            #expect(out.count == hex.utf8.count + 4 + size)
        }
    }

    @Test func lastChunkCarriesTheTrailerSection() {
        var out: [UInt8] = []
        ChunkedEncoding.appendChunk([0x21], to: &out)
        ChunkedEncoding.appendLastChunk(trailers: [HTTPHeaderField("Server-Timing", "upstream;dur=85.3, total;dur=85.9")], to: &out)
        #expect(String(decoding: out, as: UTF8.self)
            == "1\r\n!\r\n0\r\nServer-Timing: upstream;dur=85.3, total;dur=85.9\r\n\r\n")
        // No trailers: the plain last chunk.
        var plain: [UInt8] = []
        ChunkedEncoding.appendLastChunk(trailers: [], to: &plain)
        #expect(plain == ChunkedEncoding.terminator)
        // Framing fields are not allowed in a trailer; line breaks cannot start a new field.
        var odd: [UInt8] = []
        ChunkedEncoding.appendLastChunk(trailers: [
            HTTPHeaderField("Content-Length", "5"), HTTPHeaderField("Trailer", "X"),
            HTTPHeaderField("Transfer-Encoding", "gzip"), HTTPHeaderField("X-A", "1\r\nInjected: yes"),
        ], to: &odd)
        #expect(String(decoding: odd, as: UTF8.self) == "0\r\nX-A: 1  Injected: yes\r\n\r\n")
    }

    @Test func trailerFieldIsAnnouncedOnlyOnChunkedBodies() {
        let announce = [HTTPHeaderField("Trailer", "Server-Timing")]
        #expect(head(status: 200, headers: announce, chunked: true).contains("\r\nTrailer: Server-Timing\r\n"))
        // Not chunked (an HTTP/1.0 stream, a Content-Length body, bodiless statuses): no trailer can follow.
        #expect(!head(status: 200, headers: announce, chunked: false).contains("Trailer"))
        #expect(!head(status: 200, headers: announce, contentLength: 3, chunked: true).contains("Trailer"))
        #expect(!head(status: 204, headers: announce, chunked: true).contains("Trailer"))
        #expect(!head(status: 304, headers: announce, chunked: true).contains("Trailer"))
    }

    @Test func writtenChunksWithTrailersParseBack() {
        var wire = Array("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        ChunkedEncoding.appendChunk(Array("hello".utf8), to: &wire)
        ChunkedEncoding.appendLastChunk(trailers: [HTTPHeaderField("Server-Timing", "total;dur=1")], to: &wire)
        wire += Array("GET /next HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        let events = httpEvents(wire)
        guard events.count == 2, case .request(let request) = events[0], case .request(let next) = events[1] else {
            Issue.record("got \(events)")
            return
        }
        #expect(request.body == Array("hello".utf8))
        #expect(next.head.path == "/next")
    }

    @Test func writtenChunksParseBack() {
        var wire = Array("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        var expected: [UInt8] = []
        for size in [1, 10, 300, 5000] {
            let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            expected += data
            ChunkedEncoding.appendChunk(data, to: &wire)
        }
        wire += ChunkedEncoding.terminator
        let events = httpEvents(wire)
        guard events.count == 1, case .request(let request) = events[0] else { Issue.record("got \(events)"); return }
        #expect(request.body == expected)
    }
}
