import UltraGateSupport
/// The chunked transfer coding (RFC 9112 §7.1): writing chunks for streamed responses, and the
/// chunk-size line check used by the request parser.
public enum ChunkedEncoding {
    /// The last chunk with an empty trailer section: `0\r\n\r\n`.
    public static let terminator: [UInt8] = [0x30, 0x0D, 0x0A, 0x0D, 0x0A]

    /// Appends `hex-size CRLF data CRLF`; empty data writes nothing (a zero-size chunk would end
    /// the body).
    public static func appendChunk(_ data: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        guard !data.isEmpty else { return }
        appendHex(data.count, to: &out)
        out.append(0x0D)
        out.append(0x0A)
        out.append(contentsOf: data)
        out.append(0x0D)
        out.append(0x0A)
    }

    public static func appendChunk(_ data: [UInt8], to out: inout [UInt8]) {
        data.withUnsafeBytes { appendChunk($0, to: &out) }
    }

    public static func appendTerminator(to out: inout [UInt8]) {
        out.append(contentsOf: terminator)
    }

    /// The last chunk and a trailer section (§7.1.2): `0\r\n`, each field as `name: value\r\n`,
    /// then `\r\n`. Fields that frame or route the message (Content-Length, Transfer-Encoding,
    /// Connection, Date, Trailer) are not allowed there and are skipped; CR, LF and NUL in names
    /// and values become spaces, as in the head.
    public static func appendLastChunk(trailers: [HTTPHeaderField], to out: inout [UInt8]) {
        guard !trailers.isEmpty else { return out.append(contentsOf: terminator) }
        out.append(0x30)
        out.append(0x0D)
        out.append(0x0A)
        for field in trailers where !HTTPResponseHead.isReserved(field.name) && !HTTPResponseHead.isTrailer(field.name) {
            HTTPResponseHead.appendField(field, to: &out)
        }
        out.append(0x0D)
        out.append(0x0A)
    }

    package static func appendHex(_ value: Int, to out: inout [UInt8]) {
        var shift = (Int.bitWidth - value.leadingZeroBitCount + 3) / 4 * 4 - 4
        if shift < 0 { shift = 0 }
        while shift >= 0 {
            let digit = UInt8((value >> shift) & 0xF)
            out.append(digit < 10 ? 0x30 + digit : 0x57 + digit)
            shift -= 4
        }
    }

    /// Parses `chunk-size [ chunk-ext ]` in `p[start..<end]` (the line without its terminator),
    /// with chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) (§7.1.1).
    package static func parseSizeLine(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Result<Int, HTTPParseError> {
        var i = start
        var size = 0
        while i < end, let digit = HTTPSyntax.hexValue(p[i]) {
            if size > (Int.max - digit) >> 4 { return .failure(.badRequest("Chunk size overflows")) }
            size = size << 4 | digit
            i += 1
        }
        if i == start { return .failure(.badRequest("Invalid chunk size")) }
        let invalid = Result<Int, HTTPParseError>.failure(.badRequest("Invalid chunk extension"))
        while i < end {
            i = skipOWS(p, i, end)
            guard i < end, p[i] == HTTPSyntax.semicolon else { return invalid }
            i = skipOWS(p, i + 1, end)
            let nameStart = i
            i = skipToken(p, i, end)
            if i == nameStart { return invalid }
            let afterName = skipOWS(p, i, end)
            guard afterName < end, p[afterName] == 0x3D else { continue }  // "="
            i = skipOWS(p, afterName + 1, end)
            guard i < end else { return invalid }
            if p[i] == 0x22 {
                guard let after = skipQuotedString(p, i, end) else { return invalid }
                i = after
            } else {
                let valueStart = i
                i = skipToken(p, i, end)
                if i == valueStart { return invalid }
            }
        }
        return .success(size)
    }

    private static func skipOWS(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        var i = start
        while i < end && HTTPSyntax.isOWS(p[i]) { i += 1 }
        return i
    }

    private static func skipToken(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        var i = start
        while i < end && HTTPSyntax.isTokenChar(p[i]) { i += 1 }
        return i
    }

    /// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4); returns the
    /// index after the closing quote.
    private static func skipQuotedString(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        var i = start + 1
        while i < end {
            let b = p[i]
            if b == 0x22 { return i + 1 }
            if b == 0x5C {  // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                guard i + 1 < end, HTTPSyntax.isFieldValueByte(p[i + 1]) else { return nil }
                i += 2
                continue
            }
            guard HTTPSyntax.isFieldValueByte(b) else { return nil }
            i += 1
        }
        return nil
    }
}
