import UltraGateSupport
/// Writes HTTP/1.1 response heads (RFC 9112 §4, §6) straight into a byte buffer.
public enum HTTPResponseHead {
    /// Appends `HTTP/1.1 <status> <reason>\r\n`, `Date`, `headers`, then the framing header
    /// (`Content-Length` if given, else `Transfer-Encoding: chunked` if `chunked`), then
    /// `Connection: close` when `!keepAlive`, and the empty line.
    ///
    /// Framing and connection are the server's to decide, so caller headers named Content-Length,
    /// Transfer-Encoding, Connection or Date are skipped, and CR, LF and NUL in caller header
    /// names and values become spaces (no response splitting). No framing header is written for
    /// 1xx and 204 (RFC 9110 §8.6, RFC 9112 §6.1); 304 keeps a given Content-Length. A `Trailer`
    /// field is written only on a chunked body, the only one that can carry trailers (§7.1.2).
    /// A status outside 100...999 is written as 500.
    public static func serialize(status: Int, headers: [HTTPHeaderField], contentLength: Int?, chunked: Bool,
                                 keepAlive: Bool, date: String, into out: inout [UInt8]) {
        let status = (100...999).contains(status) ? status : 500
        out.reserveCapacity(out.count + 128 + headers.count * 48)
        append("HTTP/1.1 ", to: &out)
        out.append(UInt8(0x30 + status / 100))
        out.append(UInt8(0x30 + status / 10 % 10))
        out.append(UInt8(0x30 + status % 10))
        out.append(0x20)
        append(reasonPhrase(status), to: &out)
        append("\r\nDate: ", to: &out)
        out.append(contentsOf: date.utf8)
        append("\r\n", to: &out)
        let bodyless = status < 200 || status == 204
        let chunkedBody = !bodyless && contentLength == nil && chunked && status != 304
        for field in headers where !isReserved(field.name) && (chunkedBody || !isTrailer(field.name)) {
            appendField(field, to: &out)
        }
        if !bodyless {
            if let contentLength {
                append("Content-Length: ", to: &out)
                appendDecimal(max(0, contentLength), to: &out)
                append("\r\n", to: &out)
            } else if chunked && status != 304 {
                append("Transfer-Encoding: chunked\r\n", to: &out)
            }
        }
        if !keepAlive { append("Connection: close\r\n", to: &out) }
        append("\r\n", to: &out)
    }

    /// The reason phrase of RFC 9110 §15 (plus 428, 429, 431 from RFC 6585 and 451 from RFC
    /// 7725); empty for unknown codes, which RFC 9112 §4 allows.
    public static func reasonPhrase(_ status: Int) -> StaticString {
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 203: return "Non-Authoritative Information"
        case 204: return "No Content"
        case 205: return "Reset Content"
        case 206: return "Partial Content"
        case 300: return "Multiple Choices"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 303: return "See Other"
        case 304: return "Not Modified"
        case 305: return "Use Proxy"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 402: return "Payment Required"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 406: return "Not Acceptable"
        case 407: return "Proxy Authentication Required"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 412: return "Precondition Failed"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 416: return "Range Not Satisfiable"
        case 417: return "Expectation Failed"
        case 421: return "Misdirected Request"
        case 422: return "Unprocessable Content"
        case 426: return "Upgrade Required"
        case 428: return "Precondition Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 451: return "Unavailable For Legal Reasons"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return ""
        }
    }

    @inline(__always)
    private static func append(_ literal: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    private static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for Int.max's 19 digits
        withUnsafeMutableBytes(of: &digits) { d in
            var v = value
            var n = 0
            repeat {
                d[23 - n] = UInt8(0x30 + v % 10)
                v /= 10
                n += 1
            } while v > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[(24 - n)...]))
        }
    }

    /// `name: value\r\n`, CR, LF and NUL replaced by spaces.
    package static func appendField(_ field: HTTPHeaderField, to out: inout [UInt8]) {
        appendSanitized(field.name, to: &out)
        out.append(0x3A)
        out.append(0x20)
        appendSanitized(field.value, to: &out)
        append("\r\n", to: &out)
    }

    package static func isTrailer(_ name: String) -> Bool {
        name.utf8.count == 7 && HTTPSyntax.equalsCaseInsensitive(name.utf8, "trailer".utf8)
    }

    package static func isReserved(_ name: String) -> Bool {
        switch name.utf8.count {
        case 4: return HTTPSyntax.equalsCaseInsensitive(name.utf8, "date".utf8)
        case 10: return HTTPSyntax.equalsCaseInsensitive(name.utf8, "connection".utf8)
        case 14: return HTTPSyntax.equalsCaseInsensitive(name.utf8, "content-length".utf8)
        case 17: return HTTPSyntax.equalsCaseInsensitive(name.utf8, "transfer-encoding".utf8)
        default: return false
        }
    }

    private static func appendSanitized(_ text: String, to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: text.utf8)
        var i = start
        while i < out.count {
            let b = out[i]
            if b == 0x0D || b == 0x0A || b == 0 { out[i] = 0x20 }
            i += 1
        }
    }
}
