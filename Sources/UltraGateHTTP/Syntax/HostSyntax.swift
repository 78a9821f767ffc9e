import UltraGateSupport
/// The grammar of a Host field value (RFC 9110 §7.2, RFC 3986 §3.2.2 and §3.2.3), which RFC 9112
/// §3.2 makes a server check: an invalid value is answered 400. Works on raw bytes like `HTTPSyntax`.
package enum HostSyntax {
    /// `Host = uri-host [ ":" port ]` with `uri-host = IP-literal / IPv4address / reg-name` and
    /// `port = *DIGIT`; an empty value is valid. IPv4address needs no check of its own: every
    /// dotted quad is also a reg-name. A comma, though a sub-delim, is refused: a Host value that
    /// reads as a list is several Host values folded into one, and §3.2 allows only one.
    package static func isValid(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        if i < end && p[i] == 0x5B {  // "["
            var close = i + 1
            while close < end && p[close] != 0x5D { close += 1 }  // "]"
            guard close < end, isIPLiteralContent(p, i + 1, close) else { return false }
            i = close + 1
        } else {
            while i < end && p[i] != HTTPSyntax.colon {
                if p[i] == 0x25 {  // pct-encoded = "%" HEXDIG HEXDIG
                    guard i + 2 < end, HTTPSyntax.hexValue(p[i + 1]) != nil, HTTPSyntax.hexValue(p[i + 2]) != nil else {
                        return false
                    }
                    i += 3
                    continue
                }
                guard isUnreservedOrSubDelim(p[i]), p[i] != HTTPSyntax.comma else { return false }
                i += 1
            }
        }
        if i == end { return true }
        guard p[i] == HTTPSyntax.colon else { return false }
        for j in (i + 1)..<end where !HTTPSyntax.isDigit(p[j]) { return false }
        return true
    }

    // unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
    // sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
    // as two 64-bit masks over the ASCII range, like `HTTPSyntax.isTokenChar`.
    private static let unreservedOrSubDelimLow: UInt64 = 0x2BFF_7FD2_0000_0000
    private static let unreservedOrSubDelimHigh: UInt64 = 0x47FF_FFFE_87FF_FFFE

    @inline(__always)
    package static func isUnreservedOrSubDelim(_ b: UInt8) -> Bool {
        HTTPSyntax.isInASCIISet(b, low: unreservedOrSubDelimLow, high: unreservedOrSubDelimHigh)
    }

    /// What lies between the brackets of `IP-literal = "[" ( IPv6address / IPvFuture ) "]"`.
    package static func isIPLiteralContent(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        guard start < end else { return false }
        return p[start] | 0x20 == 0x76 ? isIPvFuture(p, start, end) : isIPv6(p, start, end)  // "v" / "V"
    }

    /// `IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`.
    package static func isIPvFuture(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = start + 1
        while i < end && HTTPSyntax.hexValue(p[i]) != nil { i += 1 }
        guard i > start + 1, i < end, p[i] == 0x2E, i + 1 < end else { return false }  // "."
        for j in (i + 1)..<end where !isUnreservedOrSubDelim(p[j]) && p[j] != HTTPSyntax.colon { return false }
        return true
    }

    /// IPv6address (RFC 3986 §3.2.2): eight h16 pieces (1–4 hex digits) separated by ":", the
    /// last two possibly written as an IPv4address, with at most one "::" standing for one or more
    /// zero pieces.
    package static func isIPv6(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        var pieces = 0
        var elided = false
        if end - start >= 2 && p[i] == HTTPSyntax.colon && p[i + 1] == HTTPSyntax.colon {
            elided = true
            i += 2
        }
        while i < end {
            let pieceStart = i
            while i < end && HTTPSyntax.hexValue(p[i]) != nil { i += 1 }
            if i < end && p[i] == 0x2E {  // "." : the last piece is an IPv4address (ls32)
                guard isIPv4(p, pieceStart, end) else { return false }
                pieces += 2
                break
            }
            guard i > pieceStart, i - pieceStart <= 4 else { return false }
            pieces += 1
            if i == end { break }
            guard p[i] == HTTPSyntax.colon, i + 1 < end else { return false }  // no single trailing ":"
            i += 1
            if p[i] == HTTPSyntax.colon {
                guard !elided else { return false }
                elided = true
                i += 1
            }
        }
        return elided ? pieces <= 7 : pieces == 8
    }

    /// `IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet`, each 0–255 written
    /// without leading zeros.
    package static func isIPv4(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        for octet in 0..<4 {
            if octet > 0 {
                guard i < end, p[i] == 0x2E else { return false }
                i += 1
            }
            let digitsStart = i
            var value = 0
            while i < end && HTTPSyntax.isDigit(p[i]) && i - digitsStart < 3 {
                value = value * 10 + Int(p[i] &- 0x30)
                i += 1
            }
            let digits = i - digitsStart
            guard digits > 0, value <= 255, digits == 1 || p[digitsStart] != 0x30 else { return false }
        }
        return i == end
    }
}
