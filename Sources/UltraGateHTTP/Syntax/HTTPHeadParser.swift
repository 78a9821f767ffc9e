import UltraGateSupport
/// Turns the bytes of a complete head (already scanned: no bare CR, no controls but HTAB, within
/// the size limits) into an `HTTPRequestHead`, applying the request-line, field and framing rules
/// of RFC 9112 §3, §5 and §6.
package enum HeadParser {
    /// `p` holds the whole head including the final empty line; `requestLineEnd` is where the
    /// request line's content ends (before its CR LF).
    package static func parse(_ p: UnsafeBufferPointer<UInt8>, requestLineEnd: Int,
                      limits: HTTPParserLimits) -> Result<HTTPRequestHead, HTTPParseError> {
        var line = RequestLine()
        if let error = parseRequestLine(p, requestLineEnd, into: &line) { return .failure(error) }

        var fields: [HTTPHeaderField] = []
        fields.reserveCapacity(12)
        var framing = Framing()
        var credentials = HTTPRequestHead.CredentialFields()
        var lineStart = requestLineEnd
        while p[lineStart] != HTTPSyntax.lf { lineStart += 1 }
        lineStart += 1
        while true {
            var lf = lineStart
            while p[lf] != HTTPSyntax.lf { lf += 1 }
            let end = lf > lineStart && p[lf - 1] == HTTPSyntax.cr ? lf - 1 : lf
            if end == lineStart { break }  // the empty line ending the head
            if HTTPSyntax.isOWS(p[lineStart]) {
                return .failure(.badRequest("Obsolete line folding in header field"))  // §5.2
            }
            guard let field = HTTPSyntax.parseFieldLine(p, lineStart, end) else {
                return .failure(.badRequest("Invalid header field"))
            }
            if let error = framing.note(p, nameStart: lineStart, nameEnd: field.nameEnd,
                                        valueStart: field.valueStart, valueEnd: field.valueEnd) {
                return .failure(error)
            }
            switch field.nameEnd - lineStart {
            case 13 where HTTPSyntax.equalsLowercase(p, lineStart, field.nameEnd, "authorization"):
                if credentials.authorization != nil { credentials.repeated = true } else { credentials.authorization = fields.count }
            case 9 where HTTPSyntax.equalsLowercase(p, lineStart, field.nameEnd, "x-api-key"):
                if credentials.apiKey != nil { credentials.repeated = true } else { credentials.apiKey = fields.count }
            default: break
            }
            fields.append(HTTPHeaderField(string(p, lineStart, field.nameEnd),
                                          string(p, field.valueStart, field.valueEnd)))
            lineStart = lf + 1
        }

        if var error = framing.validate(versionMinor: line.versionMinor, limits: limits) {
            error.path = line.path
            return .failure(error)
        }
        let keepAlive = line.versionMinor == 1
            ? !framing.connectionClose : framing.connectionKeepAlive && !framing.connectionClose
        return .success(HTTPRequestHead(
            method: line.method, target: line.target, path: line.path, query: line.query,
            versionMinor: line.versionMinor, headers: HTTPHeaders(fields), keepAlive: keepAlive,
            expectsContinue: framing.expect100 && line.versionMinor == 1,
            contentLength: framing.contentLength, isChunked: framing.transferEncoding, credentialFields: credentials))
    }

    @inline(__always)
    package static func string(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: p[start..<end]), as: UTF8.self)
    }

    // MARK: Request line (RFC 9112 §3)

    package struct RequestLine {
        package var method = ""
        package var target = ""
        package var path = ""
        package var query: String?
        package var versionMinor = 1
    }

    /// `method SP request-target SP HTTP-version`, single spaces.
    package static func parseRequestLine(_ p: UnsafeBufferPointer<UInt8>, _ end: Int,
                                 into line: inout RequestLine) -> HTTPParseError? {
        var i = 0
        while i < end && HTTPSyntax.isTokenChar(p[i]) { i += 1 }
        guard i > 0, i < end, p[i] == HTTPSyntax.sp else { return .badRequest("Invalid request method") }
        let methodEnd = i
        let targetStart = i + 1
        i = targetStart
        while i < end && p[i] &- 0x21 < 0x5E && p[i] != 0x23 { i += 1 }  // VCHAR except '#'
        guard i > targetStart, i < end, p[i] == HTTPSyntax.sp else { return .badRequest("Invalid request target") }
        let targetEnd = i
        let versionStart = i + 1

        // HTTP-version = "HTTP" "/" DIGIT "." DIGIT (§2.3)
        guard end - versionStart == 8,
              p[versionStart] == 0x48, p[versionStart + 1] == 0x54, p[versionStart + 2] == 0x54,
              p[versionStart + 3] == 0x50, p[versionStart + 4] == 0x2F,
              HTTPSyntax.isDigit(p[versionStart + 5]), p[versionStart + 6] == 0x2E,
              HTTPSyntax.isDigit(p[versionStart + 7])
        else { return .badRequest("Invalid HTTP version") }
        let major = p[versionStart + 5] - 0x30
        let minor = p[versionStart + 7] - 0x30
        guard major == 1, minor <= 1 else {
            return HTTPParseError(status: 505, message: "HTTP version \(major).\(minor) is not supported")
        }
        line.versionMinor = Int(minor)
        line.method = string(p, 0, methodEnd)
        line.target = string(p, targetStart, targetEnd)
        return parseTarget(p, targetStart, targetEnd, methodEnd: methodEnd, into: &line)
    }

    /// Derives path and query from the four forms of request-target (§3.2).
    package static func parseTarget(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, methodEnd: Int,
                            into line: inout RequestLine) -> HTTPParseError? {
        let isConnect = HTTPSyntax.equalsExact(p, 0, methodEnd, "CONNECT")
        if isConnect {
            // authority-form = uri-host ":" port (§3.2.3), only for CONNECT.
            var colon = end - 1
            while colon > start && p[colon] != HTTPSyntax.colon { colon -= 1 }
            guard colon > start, colon + 1 < end else { return .badRequest("CONNECT needs an authority-form target") }
            for j in start..<colon where p[j] == 0x2F || p[j] == 0x3F || p[j] == 0x40 {
                return .badRequest("CONNECT needs an authority-form target")
            }
            for j in (colon + 1)..<end where !HTTPSyntax.isDigit(p[j]) {
                return .badRequest("CONNECT needs an authority-form target")
            }
            line.path = line.target
            return nil
        }
        if p[start] == 0x2F {  // origin-form (§3.2.1)
            splitPathQuery(p, start, end, wholeTarget: true, into: &line)
            return nil
        }
        if end - start == 1 && p[start] == 0x2A {  // asterisk-form (§3.2.4), only for OPTIONS
            guard HTTPSyntax.equalsExact(p, 0, methodEnd, "OPTIONS") else {
                return .badRequest("Asterisk-form target is only allowed with OPTIONS")
            }
            line.path = "*"
            return nil
        }
        // absolute-form (§3.2.2): take the path after the authority.
        let authorityStart: Int
        if HTTPSyntax.equalsLowercase(p, start, min(end, start + 7), "http://") {
            authorityStart = start + 7
        } else if HTTPSyntax.equalsLowercase(p, start, min(end, start + 8), "https://") {
            authorityStart = start + 8
        } else {
            return .badRequest("Invalid request target")
        }
        var i = authorityStart
        while i < end && p[i] != 0x2F && p[i] != 0x3F { i += 1 }
        guard i > authorityStart else { return .badRequest("Absolute-form target without authority") }
        if i == end || p[i] == 0x3F {
            line.path = "/"
            line.query = i == end ? nil : string(p, i + 1, end)
        } else {
            splitPathQuery(p, i, end, wholeTarget: false, into: &line)
        }
        return nil
    }

    /// `wholeTarget`: the range is the whole target, so a path without query reuses its string.
    package static func splitPathQuery(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, wholeTarget: Bool,
                               into line: inout RequestLine) {
        var q = start
        while q < end && p[q] != 0x3F { q += 1 }
        if q == end && wholeTarget {
            line.path = line.target
        } else {
            line.path = string(p, start, q)
        }
        line.query = q < end ? string(p, q + 1, end) : nil
    }

    // MARK: Fields that decide framing and connection handling

    /// What the fields say about Host, body framing (RFC 9112 §6), Connection and Expect.
    package struct Framing {
        package var hostCount = 0
        package var contentLength: Int?
        package var transferEncoding = false
        package var codings = 0
        package var chunkedCount = 0
        package var lastCodingIsChunked = false
        package var unknownCodings = 0
        package var connectionClose = false
        package var connectionKeepAlive = false
        package var expect100 = false
        package var unknownExpectation = false

        package mutating func note(_ p: UnsafeBufferPointer<UInt8>, nameStart: Int, nameEnd: Int,
                           valueStart: Int, valueEnd: Int) -> HTTPParseError? {
            switch nameEnd - nameStart {
            case 4 where HTTPSyntax.equalsLowercase(p, nameStart, nameEnd, "host"):
                hostCount += 1
                // RFC 9112 §3.2: a Host with an invalid field value is a 400.
                if !HostSyntax.isValid(p, valueStart, valueEnd) { return .badRequest("Invalid Host header") }
            case 14 where HTTPSyntax.equalsLowercase(p, nameStart, nameEnd, "content-length"):
                return noteContentLength(p, valueStart, valueEnd)
            case 17 where HTTPSyntax.equalsLowercase(p, nameStart, nameEnd, "transfer-encoding"):
                return noteTransferEncoding(p, valueStart, valueEnd)
            case 10 where HTTPSyntax.equalsLowercase(p, nameStart, nameEnd, "connection"):
                HTTPSyntax.forEachListElement(p, valueStart, valueEnd) { s, e in
                    if HTTPSyntax.equalsLowercase(p, s, e, "close") { connectionClose = true }
                    if HTTPSyntax.equalsLowercase(p, s, e, "keep-alive") { connectionKeepAlive = true }
                    return true
                }
            case 6 where HTTPSyntax.equalsLowercase(p, nameStart, nameEnd, "expect"):
                HTTPSyntax.forEachListElement(p, valueStart, valueEnd) { s, e in
                    if HTTPSyntax.equalsLowercase(p, s, e, "100-continue") { expect100 = true } else { unknownExpectation = true }
                    return true
                }
            default:
                break
            }
            return nil
        }

        /// Content-Length = 1*DIGIT; a list or repeated fields must all carry the same value
        /// (RFC 9110 §8.6, RFC 9112 §6.3 item 5).
        package mutating func noteContentLength(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> HTTPParseError? {
            var i = start
            while i <= end {
                var e = i
                while e < end && p[e] != HTTPSyntax.comma { e += 1 }
                let (s, t) = HTTPSyntax.trimOWS(p, i, e)
                guard s < t else { return .badRequest("Invalid Content-Length") }
                var value = 0
                for j in s..<t {
                    let b = p[j]
                    guard HTTPSyntax.isDigit(b) else { return .badRequest("Invalid Content-Length") }
                    let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times10.addingReportingOverflow(Int(b &- 0x30))
                    if o1 || o2 { return .badRequest("Content-Length overflows") }
                    value = sum
                }
                if let existing = contentLength, existing != value {
                    return .badRequest("Conflicting Content-Length values")
                }
                contentLength = value
                i = e + 1
            }
            return nil
        }

        /// Collects transfer codings across all Transfer-Encoding fields (RFC 9112 §6.1).
        package mutating func noteTransferEncoding(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> HTTPParseError? {
            transferEncoding = true
            var error: HTTPParseError?
            HTTPSyntax.forEachListElement(p, start, end) { s, e in
                var nameEnd = s
                while nameEnd < e && HTTPSyntax.isTokenChar(p[nameEnd]) { nameEnd += 1 }
                let rest = HTTPSyntax.trimOWS(p, nameEnd, e)
                guard nameEnd > s, rest.0 == rest.1 || p[rest.0] == HTTPSyntax.semicolon else {
                    error = .badRequest("Invalid Transfer-Encoding")
                    return false
                }
                codings += 1
                let isChunked = rest.0 == rest.1 && HTTPSyntax.equalsLowercase(p, s, nameEnd, "chunked")
                if HTTPSyntax.equalsLowercase(p, s, nameEnd, "chunked") && !isChunked {
                    error = .badRequest("The chunked coding takes no parameters")
                    return false
                }
                if isChunked { chunkedCount += 1 } else { unknownCodings += 1 }
                lastCodingIsChunked = isChunked
                return true
            }
            return error
        }

        package func validate(versionMinor: Int, limits: HTTPParserLimits) -> HTTPParseError? {
            // RFC 9112 §3.2: exactly one Host in HTTP/1.1, never more than one.
            if hostCount > 1 { return .badRequest("More than one Host header") }
            if versionMinor == 1 && hostCount == 0 { return .badRequest("Missing Host header") }
            if transferEncoding {
                // §6.1: TE in HTTP/1.0 means faulty framing; TE with CL is a smuggling vector (§6.3).
                if versionMinor == 0 { return .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
                if contentLength != nil { return .badRequest("Both Transfer-Encoding and Content-Length") }
                if codings == 0 || !lastCodingIsChunked { return .badRequest("Chunked is not the final transfer coding") }
                if chunkedCount > 1 { return .badRequest("Chunked applied more than once") }
                if unknownCodings > 0 { return HTTPParseError(status: 501, message: "Unsupported transfer coding") }
            }
            if let length = contentLength, length > limits.maxBodyBytes {
                return HTTPParseError(status: 413, message: "Request body exceeds \(limits.maxBodyBytes) bytes")
            }
            if unknownExpectation { return HTTPParseError(status: 417, message: "Unsupported expectation") }
            return nil
        }
    }
}
