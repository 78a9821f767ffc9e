import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP

/// Feeds `input` in one append and collects events until `.needMoreData` or an error.
func httpEvents(_ input: [UInt8], limits: HTTPParserLimits = .init()) -> [HTTPParserEvent] {
    var parser = HTTPRequestParser(limits: limits)
    parser.append(input)
    return drainHTTPEvents(&parser)
}

func httpEvents(_ input: String, limits: HTTPParserLimits = .init()) -> [HTTPParserEvent] {
    httpEvents(Array(input.utf8), limits: limits)
}

/// Feeds `input` one byte per append, stopping at the first error (the server would close).
func httpEventsByteByByte(_ input: [UInt8], limits: HTTPParserLimits = .init()) -> [HTTPParserEvent] {
    var parser = HTTPRequestParser(limits: limits)
    var events: [HTTPParserEvent] = []
    for byte in input {
        parser.append([byte])
        events += drainHTTPEvents(&parser)
        if case .error = events.last { break }
    }
    return events
}

func drainHTTPEvents(_ parser: inout HTTPRequestParser) -> [HTTPParserEvent] {
    var events: [HTTPParserEvent] = []
    while true {
        let event = parser.next()
        if case .needMoreData = event { return events }
        events.append(event)
        if case .error = event { return events }
    }
}

/// The single request parsed from `input`, or nil (recording why).
func parseRequest(_ input: String, limits: HTTPParserLimits = .init(),
                  sourceLocation: SourceLocation = #_sourceLocation) -> HTTPRequest? {
    let events = httpEvents(input, limits: limits)
    guard events.count == 1, case .request(let request) = events[0] else {
        Issue.record("expected one request, got \(events)", sourceLocation: sourceLocation)
        return nil
    }
    return request
}

/// The error status the parser answers `input` with, or nil when there is no error.
func parseErrorStatus(_ input: String, limits: HTTPParserLimits = .init()) -> Int? {
    for event in httpEvents(input, limits: limits) {
        if case .error(let error) = event { return error.status }
    }
    return nil
}

struct RejectCase: Sendable, CustomTestStringConvertible {
    var input: String
    var status: Int
    var why: String
    init(_ why: String, _ status: Int, _ input: String) {
        self.why = why
        self.status = status
        self.input = input
    }
    var testDescription: String { "\(why) → \(status)" }
}

@Suite struct HTTPRequestParserTests {
    // MARK: Accepted requests

    @Test func parsesSimpleGet() throws {
        let request = try #require(parseRequest("GET /v1/models?limit=5&x=y HTTP/1.1\r\nHost: localhost:8080\r\nAccept: */*\r\n\r\n"))
        #expect(request.head.method == "GET")
        #expect(request.head.target == "/v1/models?limit=5&x=y")
        #expect(request.head.path == "/v1/models")
        #expect(request.head.query == "limit=5&x=y")
        #expect(request.head.versionMinor == 1)
        #expect(request.head.headers["host"] == "localhost:8080")
        #expect(request.head.headers.fields == [HTTPHeaderField("Host", "localhost:8080"), HTTPHeaderField("Accept", "*/*")])
        #expect(request.head.keepAlive)
        #expect(!request.head.expectsContinue)
        #expect(request.body.isEmpty)
    }

    @Test func emptyQueryAndNoQuery() throws {
        let withMark = try #require(parseRequest("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(withMark.head.path == "/a")
        #expect(withMark.head.query == "")
        let without = try #require(parseRequest("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(without.head.path == "/a")
        #expect(without.head.query == nil)
    }

    @Test func ignoresEmptyLinesBeforeRequestLine() throws {
        let request = try #require(parseRequest("\r\n\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(request.head.path == "/")
    }

    @Test func acceptsLoneLFLineEndings() throws {
        let request = try #require(parseRequest("POST /x HTTP/1.1\nHost: h\nContent-Length: 2\n\nhi"))
        #expect(request.head.headers["Content-Length"] == "2")
        #expect(request.body == Array("hi".utf8))
    }

    @Test func loneLFLeniencyStopsAtTheHead() throws {
        // §2.2 allows a lone LF in the head only: the chunked framing after it still needs CRLF.
        let head = "POST /x HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n"
        let request = try #require(parseRequest(head + "2\r\nhi\r\n0\r\nT: v\r\n\r\n"))
        #expect(request.body == Array("hi".utf8))
        #expect(parseErrorStatus(head + "2\nhi\r\n0\r\n\r\n") == 400)
    }

    @Test func trimsOWSAndKeepsObsText() throws {
        let request = try #require(parseRequest("GET / HTTP/1.1\r\nHost: h\r\nX-A: \t value with  inner space \t\r\nX-Empty:\r\nX-Latin: caf\u{E9}\r\n\r\n"))
        #expect(request.head.headers["x-a"] == "value with  inner space")
        #expect(request.head.headers["X-EMPTY"] == "")
        #expect(request.head.headers["x-latin"] == "caf\u{E9}")
    }

    @Test func headerLookups() throws {
        let request = try #require(parseRequest("GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, Upgrade\r\nX-Multi: a\r\nx-multi: b\r\n\r\n"))
        let headers = request.head.headers
        #expect(headers.values("X-MULTI") == ["a", "b"])
        #expect(headers["x-multi"] == "a")
        #expect(headers.contains("CONNECTION"))
        #expect(!headers.contains("Connectio"))
        #expect(headers.containsToken("connection", "upgrade"))
        #expect(headers.containsToken("connection", "keep-alive"))
        #expect(!headers.containsToken("connection", "close"))
        #expect(!headers.containsToken("connection", "keep"))
    }

    @Test func headersValueType() {
        var headers = HTTPHeaders()
        headers.append("Content-Type", "application/json")
        headers.append("Connection", " , Upgrade ,\tHTTP2-Settings ,")
        headers.append("X-\u{C4}", "umlaut")
        #expect(headers["content-type"] == "application/json")
        #expect(headers["content-typ"] == nil)
        #expect(headers["content-typf"] == nil)
        #expect(headers["x-\u{C4}"] == "umlaut")
        #expect(headers["x-\u{E4}"] == nil)  // only ASCII folds
        #expect(headers.values("missing").isEmpty)
        #expect(headers.containsToken("Connection", "http2-settings"))
        #expect(headers.containsToken("CONNECTION", "UPGRADE"))
        #expect(!headers.containsToken("Connection", ""))
        #expect(!headers.containsToken("Content-Type", "json"))
    }

    @Test func tokensOtherThan() {
        let headers = HTTPHeaders([HTTPHeaderField("Content-Encoding", " Identity ,, identity"),
                                   HTTPHeaderField("X-Coded", "identity"), HTTPHeaderField("x-coded", "gzip, IDENTITY"),
                                   HTTPHeaderField("X-Empty", "")])
        #expect(!headers.containsToken("content-encoding", otherThan: "identity"))
        #expect(headers.containsToken("X-CODED", otherThan: "identity"))
        #expect(!headers.containsToken("x-empty", otherThan: "identity"))
        #expect(!headers.containsToken("missing", otherThan: "identity"))
        #expect(headers.containsToken("content-encoding", otherThan: "identit"))
    }

    @Test func absoluteFormDerivesPath() throws {
        let request = try #require(parseRequest("GET http://example.com:80/v1/chat?stream=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        #expect(request.head.target == "http://example.com:80/v1/chat?stream=1")
        #expect(request.head.path == "/v1/chat")
        #expect(request.head.query == "stream=1")
        let bare = try #require(parseRequest("GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        #expect(bare.head.path == "/")
        #expect(bare.head.query == nil)
        let queryOnly = try #require(parseRequest("GET http://example.com?q HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        #expect(queryOnly.head.path == "/")
        #expect(queryOnly.head.query == "q")
    }

    @Test func asteriskAndAuthorityForms() throws {
        let options = try #require(parseRequest("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(options.head.path == "*")
        let connect = try #require(parseRequest("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"))
        #expect(connect.head.path == "example.com:443")
        #expect(connect.head.method == "CONNECT")
    }

    @Test func methodsAreNotJudged() throws {
        let request = try #require(parseRequest("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(request.head.method == "BREW")
    }

    @Test func http10WithoutHost() throws {
        let request = try #require(parseRequest("GET / HTTP/1.0\r\n\r\n"))
        #expect(request.head.versionMinor == 0)
        #expect(!request.head.keepAlive)
    }

    @Test func contentLengthBody() throws {
        let request = try #require(parseRequest("POST /v1/chat HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"))
        #expect(request.body == Array("hello world".utf8))
        #expect(request.head.contentLength == 11)
    }

    @Test func identicalContentLengthsAreAccepted() throws {
        let list = try #require(parseRequest("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3 , 3\r\n\r\nabc"))
        #expect(list.body == Array("abc".utf8))
        let repeated = try #require(parseRequest("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc"))
        #expect(repeated.body == Array("abc".utf8))
    }

    @Test func chunkedWithExtensionsAndTrailers() throws {
        let input = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n"
            + "1 ; a ; b = \"q\\\"uoted; x\"\r\n \r\n"
            + "6\r\nworld!\r\n"
            + "A\r\n0123456789\r\n"
            + "0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
        let request = try #require(parseRequest(input))
        #expect(request.body == Array("hello world!0123456789".utf8))
        #expect(request.head.isChunked)
        #expect(request.head.headers["x-checksum"] == nil)  // trailers are discarded
    }

    @Test func chunkedCodingIsCaseInsensitiveAndMayBeListed() throws {
        let request = try #require(parseRequest("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,CHUNKED\r\n\r\n2\r\nok\r\n0\r\n\r\n"))
        #expect(request.body == Array("ok".utf8))
    }

    @Test func requestFollowedByNothingHasNoBody() throws {
        let request = try #require(parseRequest("DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(request.body.isEmpty)
        #expect(request.head.contentLength == nil)
    }

    // MARK: Connection handling

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", true),
        ("GET / HTTP/1.0\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        ("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false),
    ])
    func keepAliveSemantics(input: String, keepAlive: Bool) throws {
        let request = try #require(parseRequest(input))
        #expect(request.head.keepAlive == keepAlive)
    }

    @Test func pipelinedRequestsComeOutInOrder() {
        let input = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
            + "POST /three HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
        let events = httpEvents(input)
        #expect(events.count == 3)
        let paths = events.compactMap { event -> String? in
            if case .request(let request) = event { return request.head.path } else { return nil }
        }
        #expect(paths == ["/one", "/two", "/three"])
        if case .request(let last) = events.last { #expect(last.body == [0x7A]) }
    }

    @Test func byteByByteEqualsOneAppend() {
        let input = Array(("\r\nPOST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n4;e=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nT: v\r\n\r\n"
            + "GET /next HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok").utf8)
        let whole = httpEvents(input)
        var parser = HTTPRequestParser()
        var pieces: [HTTPParserEvent] = []
        for byte in input {
            parser.append([byte])
            pieces += drainHTTPEvents(&parser)
        }
        #expect(whole.count == 2)
        #expect(pieces == whole)
        #expect(parser.bufferedByteCount == 0)
        #expect(!parser.hasPartialRequest)
    }

    @Test func partialRequestTracking() {
        var parser = HTTPRequestParser()
        #expect(!parser.hasPartialRequest)
        parser.append(Array("GET / HT".utf8))
        #expect(parser.next() == .needMoreData)
        #expect(parser.hasPartialRequest)
        #expect(parser.bufferedByteCount == 8)
        parser.append(Array("TP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab".utf8))
        #expect(parser.next() == .needMoreData)
        #expect(parser.hasPartialRequest)
        parser.append(Array("cdGET".utf8))
        guard case .request(let request) = parser.next() else { Issue.record("expected a request"); return }
        #expect(request.body == Array("abcd".utf8))
        #expect(parser.next() == .needMoreData)
        #expect(parser.hasPartialRequest)
        #expect(parser.bufferedByteCount == 3)
    }

    // MARK: 100-continue

    @Test func continueExpectedOnceThenRequest() {
        var parser = HTTPRequestParser()
        parser.append(Array("POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n".utf8))
        guard case .continueExpected(let head) = parser.next() else { Issue.record("expected continueExpected"); return }
        #expect(head.expectsContinue)
        #expect(head.path == "/x")
        #expect(parser.next() == .needMoreData)
        parser.append(Array("he".utf8))
        #expect(parser.next() == .needMoreData)
        parser.append(Array("llo".utf8))
        guard case .request(let request) = parser.next() else { Issue.record("expected the request"); return }
        #expect(request.body == Array("hello".utf8))
        #expect(request.head.expectsContinue)
    }

    @Test func continueExpectedForChunkedBody() {
        var parser = HTTPRequestParser()
        parser.append(Array("POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab".utf8))
        guard case .continueExpected = parser.next() else { Issue.record("expected continueExpected"); return }
        #expect(parser.next() == .needMoreData)
        parser.append(Array("c\r\n0\r\n\r\n".utf8))
        guard case .request(let request) = parser.next() else { Issue.record("expected the request"); return }
        #expect(request.body == Array("abc".utf8))
    }

    @Test func noContinueWhenBodyArrivedOrEmptyOrHTTP10() {
        let arrived = httpEvents("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok")
        #expect(arrived.count == 1)
        if case .request = arrived.first {} else { Issue.record("expected request, got \(arrived)") }
        let empty = httpEvents("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n")
        if case .request(let request) = empty.first { #expect(request.body.isEmpty) } else { Issue.record("expected request") }
        let http10 = httpEvents("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        #expect(http10.isEmpty)  // no 100-continue for HTTP/1.0 (RFC 9110 §10.1.1): just waits
    }

    @Test func oversizedContentLengthFailsBeforeBody() {
        var parser = HTTPRequestParser(limits: HTTPParserLimits(maxBodyBytes: 100))
        parser.append(Array("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n".utf8))
        // The path goes with the error: the answer can take the shape of the API it was for.
        #expect(parser.next() == .error(HTTPParseError(status: 413, message: "Request body exceeds 100 bytes", path: "/")))
    }

    // MARK: Errors

    @Test func parserIsDeadAfterError() {
        var parser = HTTPRequestParser()
        parser.append(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        let first = parser.next()
        guard case .error(let error) = first else { Issue.record("expected error"); return }
        #expect(error.status == 400)
        parser.append(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        #expect(parser.next() == first)
        #expect(parser.next() == first)
        #expect(parser.bufferedByteCount == 0)
    }

    static let rejectCases: [RejectCase] = [
        // Request line (RFC 9112 §3)
        RejectCase("double space", 400, "GET  / HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("space before version twice", 400, "GET /  HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("trailing space", 400, "GET / HTTP/1.1 \r\nHost: h\r\n\r\n"),
        RejectCase("tab separator", 400, "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("missing version", 400, "GET /\r\nHost: h\r\n\r\n"),
        RejectCase("lowercase version", 400, "GET / http/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("two-digit minor", 400, "GET / HTTP/1.10\r\nHost: h\r\n\r\n"),
        RejectCase("HTTP/2.0", 505, "GET / HTTP/2.0\r\nHost: h\r\n\r\n"),
        RejectCase("HTTP/1.2", 505, "GET / HTTP/1.2\r\nHost: h\r\n\r\n"),
        RejectCase("HTTP/0.9", 505, "GET / HTTP/0.9\r\n\r\n"),
        RejectCase("method not a token", 400, "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("empty method", 400, " / HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("obs-text in target", 400, "GET /caf\u{E9} HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("fragment in target", 400, "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("asterisk without OPTIONS", 400, "GET * HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("authority-form without CONNECT", 400, "GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("CONNECT with origin-form", 400, "CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("CONNECT without port", 400, "CONNECT example.com HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("unknown scheme", 400, "GET ftp://x/y HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("absolute-form without authority", 400, "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n"),
        // Line endings and controls (§2.2)
        RejectCase("bare CR in request line", 400, "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("bare CR before request line", 400, "\r\rGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
        RejectCase("bare CR in value", 400, "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n"),
        RejectCase("bare CR ending the head", 400, "GET / HTTP/1.1\r\nHost: h\r\n\r\r\n"),
        RejectCase("NUL in value", 400, "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n"),
        RejectCase("DEL in value", 400, "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{7F}b\r\n\r\n"),
        RejectCase("control in target", 400, "GET /\u{1}a HTTP/1.1\r\nHost: h\r\n\r\n"),
        // Fields (§5)
        RejectCase("obs-fold", 400, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  continued\r\n\r\n"),
        RejectCase("tab fold", 400, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tcontinued\r\n\r\n"),
        RejectCase("space before colon", 400, "GET / HTTP/1.1\r\nHost : h\r\n\r\n"),
        RejectCase("empty field name", 400, "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n"),
        RejectCase("no colon", 400, "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"),
        RejectCase("name not a token", 400, "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n"),
        RejectCase("field starting with whitespace first", 400, "GET / HTTP/1.1\r\n Host: h\r\n\r\n"),
        // Host (§3.2)
        RejectCase("no Host in 1.1", 400, "GET / HTTP/1.1\r\nX: y\r\n\r\n"),
        RejectCase("two Hosts", 400, "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
        RejectCase("two Hosts in 1.0", 400, "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
        RejectCase("Host with space", 400, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
        RejectCase("Host list", 400, "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"),
        // Content-Length (RFC 9110 §8.6, RFC 9112 §6.3)
        RejectCase("CL not digits", 400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n"),
        RejectCase("CL negative", 400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"),
        RejectCase("CL plus sign", 400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n"),
        RejectCase("CL hex", 400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n"),
        RejectCase("CL inner space", 400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n"),
        RejectCase("CL empty", 400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n"),
        RejectCase("CL empty list element", 400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,\r\n\r\nx"),
        RejectCase("CL differing list", 400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\nxx"),
        RejectCase("CL differing fields", 400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx"),
        RejectCase("CL overflow", 400, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
        RejectCase("CL over limit", 413, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 8388609\r\n\r\n"),
        // Transfer-Encoding (§6.1)
        RejectCase("TE with CL", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
        RejectCase("TE in HTTP/1.0", 400, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        RejectCase("unknown coding before chunked", 501, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        RejectCase("unknown coding in a second field", 501, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
        RejectCase("chunked not final", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
        RejectCase("no chunked", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"),
        RejectCase("chunked twice", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
        RejectCase("empty TE", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n"),
        RejectCase("chunked with parameter", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;x=1\r\n\r\n"),
        RejectCase("coding not a token", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"),
        // Chunked body (§7.1)
        RejectCase("empty chunk size", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n;a\r\n"),
        RejectCase("non-hex chunk size", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        RejectCase("negative chunk size", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n"),
        RejectCase("chunk size overflow", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1FFFFFFFFFFFFFFFF\r\n"),
        RejectCase("space after chunk size", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"),
        RejectCase("empty extension", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n"),
        RejectCase("extension without name", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n"),
        RejectCase("extension without value", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n"),
        RejectCase("unterminated quoted extension", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x\r\nhello\r\n0\r\n\r\n"),
        RejectCase("bare CR in size line", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\r\nhello\r\n0\r\n\r\n"),
        RejectCase("no CRLF after data", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n"),
        RejectCase("lone LF after data", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n"),
        RejectCase("CR without LF after data", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n"),
        RejectCase("lone LF after chunk size", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"),
        RejectCase("lone LF after chunk extension", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\nhello\r\n0\r\n\r\n"),
        RejectCase("lone LF after last chunk", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\n\r\n"),
        RejectCase("lone LF ending trailers", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n"),
        RejectCase("lone LF after trailer field", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: v\n\r\n"),
        RejectCase("bad trailer", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: x\r\n\r\n"),
        RejectCase("control in trailer", 400, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\u{1}\r\n\r\n"),
        // Expect (RFC 9110 §10.1.1)
        RejectCase("unknown expectation", 417, "POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx"),
    ]

    @Test(arguments: rejectCases)
    func rejects(_ testCase: RejectCase) {
        #expect(parseErrorStatus(testCase.input) == testCase.status)
    }

    @Test(arguments: rejectCases)
    func rejectsTheSameWhenFedByteByByte(_ testCase: RejectCase) {
        let whole = httpEvents(testCase.input)
        #expect(httpEventsByteByByte(Array(testCase.input.utf8)) == whole)
    }

    // MARK: Limits

    @Test func requestLineLimit() {
        let limits = HTTPParserLimits(maxRequestLineBytes: 32)
        let exact = "GET /" + String(repeating: "a", count: 18) + " HTTP/1.1"  // 32 bytes
        #expect(exact.utf8.count == 32)
        #expect(parseErrorStatus(exact + "\r\nHost: h\r\n\r\n", limits: limits) == nil)
        #expect(parseErrorStatus(exact + "\nHost: h\r\n\r\n", limits: limits) == nil)
        let long = "GET /" + String(repeating: "a", count: 19) + " HTTP/1.1"
        #expect(parseErrorStatus(long + "\r\nHost: h\r\n\r\n", limits: limits) == 414)
        // Known to be too long before the line ends.
        #expect(parseErrorStatus("GET /" + String(repeating: "a", count: 40), limits: limits) == 414)
        #expect(parseErrorStatus("GET /" + String(repeating: "a", count: 8200)) == 414)
    }

    @Test func headerBytesLimit() {
        let head = "GET / HTTP/1.1\r\nHost: h\r\nX: abc\r\n\r\n"
        let size = head.utf8.count
        #expect(parseErrorStatus(head, limits: HTTPParserLimits(maxHeaderBytes: size)) == nil)
        #expect(parseErrorStatus(head, limits: HTTPParserLimits(maxHeaderBytes: size - 1)) == 431)
        // A head that never ends is cut off at the limit.
        let endless = "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 40_000)
        #expect(parseErrorStatus(endless) == 431)
    }

    @Test func headerCountLimit() {
        let fields = (0..<5).map { "X-\($0): v\r\n" }.joined()
        let limits = HTTPParserLimits(maxHeaderCount: 6)
        #expect(parseErrorStatus("GET / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n", limits: limits) == nil)
        #expect(parseErrorStatus("GET / HTTP/1.1\r\nHost: h\r\nY: 1\r\n" + fields + "\r\n", limits: limits) == 431)
        let many = (0..<101).map { "X-\($0): v\r\n" }.joined()
        #expect(parseErrorStatus("GET / HTTP/1.0\r\n" + many + "\r\n") == 431)
    }

    @Test func largeHeadFedByteByByte() throws {
        // A near-limit head arriving one byte at a time: resuming the scan keeps this linear.
        let fields = (0..<90).map { "X-Field-\($0): " + String(repeating: "v", count: 300) + "\r\n" }.joined()
        let input = Array(("GET / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n").utf8)
        #expect(input.count < 32768)
        let events = httpEventsByteByByte(input)
        guard events.count == 1, case .request(let request) = events[0] else { Issue.record("got \(events)"); return }
        #expect(request.head.headers.fields.count == 91)
        #expect(request.head.headers["x-field-89"]?.utf8.count == 300)
    }

    @Test func bodyLimits() {
        let limits = HTTPParserLimits(maxBodyBytes: 10)
        #expect(parseErrorStatus("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits) == nil)
        #expect(parseErrorStatus("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits: limits) == 413)
        let chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(parseErrorStatus(chunked + "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", limits: limits) == nil)
        // The chunk that would pass the limit is refused from its size line, before its data.
        #expect(parseErrorStatus(chunked + "5\r\n01234\r\n6\r\n", limits: limits) == 413)
        #expect(parseErrorStatus(chunked + "FFFFFFFF\r\n", limits: limits) == 413)
    }

    @Test func trailerAndChunkLineLimits() {
        let chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        let limits = HTTPParserLimits(maxTrailerBytes: 12, maxChunkSizeLineBytes: 16)
        #expect(parseErrorStatus(chunked + "T: 12345\r\n\r\n", limits: limits) == nil)  // 10 + 2 bytes
        #expect(parseErrorStatus(chunked + "T: 123456\r\n\r\n", limits: limits) == 431)
        #expect(parseErrorStatus(chunked + "T: " + String(repeating: "x", count: 100), limits: limits) == 431)
        let body = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(parseErrorStatus(body + "1;abcdefghijkl\r\nx\r\n0\r\n\r\n", limits: limits) == nil)  // 16 bytes
        #expect(parseErrorStatus(body + "1;abcdefghijklm\r\nx\r\n0\r\n\r\n", limits: limits) == 400)
        #expect(parseErrorStatus(body + "1;" + String(repeating: "e", count: 100), limits: limits) == 400)
    }

    @Test func largeBodyAcrossManyAppendsKeepsBufferSmall() {
        var parser = HTTPRequestParser()
        parser.append(Array("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        let chunk = [UInt8](repeating: 0x61, count: 1000)
        var wire: [UInt8] = []
        ChunkedEncoding.appendChunk(chunk, to: &wire)
        for _ in 0..<1000 {
            parser.append(wire)
            #expect(parser.next() == .needMoreData)
            #expect(parser.bufferedByteCount < 2 * wire.count)
        }
        parser.append(ChunkedEncoding.terminator)
        guard case .request(let request) = parser.next() else { Issue.record("expected the request"); return }
        #expect(request.body.count == 1_000_000)
    }

    /// Field names match in any ASCII case and nothing else: `^` and `~` differ by 0x20 too, and
    /// must not fold into each other as letters do.
    @Test func fieldNamesMatchInAnyCaseOnly() {
        #expect(HTTPSyntax.isFieldName("Authorization", "authorization"))
        #expect(HTTPSyntax.isFieldName("X-API-KEY", "x-api-key"))
        #expect(!HTTPSyntax.isFieldName("x-api-ke", "x-api-key"))
        #expect(!HTTPSyntax.isFieldName("x-api-keyy", "x-api-key"))
        #expect(!HTTPSyntax.isFieldName("a^b", "a~b"))
        #expect(!HTTPSyntax.isFieldName("x\u{0D}api-key", "x-api-key"))
        let bridged = String(decoding: Array("AUTHORIZATION".utf8), as: UTF8.self)
        #expect(HTTPSyntax.isFieldName(bridged, "authorization"))
    }

    /// The parser notes where the key-carrying fields are (the access gate reads them without a
    /// scan), in any case, and whether either name repeats.
    @Test func credentialFieldsAreNoted() throws {
        let one = try #require(parseRequest("GET / HTTP/1.1\r\nHost: x\r\nAUTHORIZATION: Bearer k\r\nX-Api-Key: j\r\n\r\n")).head
        #expect(one.credentialFields?.authorization == 1 && one.credentialFields?.apiKey == 2 && one.credentialFields?.repeated == false)
        #expect(one.headers.fields[1].value == "Bearer k")
        let twice = try #require(parseRequest("GET / HTTP/1.1\r\nHost: x\r\nx-api-key: a\r\nx-api-key: b\r\n\r\n")).head
        #expect(twice.credentialFields?.apiKey == 1 && twice.credentialFields?.repeated == true)
        let none = try #require(parseRequest("GET / HTTP/1.1\r\nHost: x\r\nx-api-keys: a\r\nauthorizatio: b\r\n\r\n")).head
        #expect(none.credentialFields == HTTPRequestHead.CredentialFields())
    }
}
