import UltraGateSupport
/// Byte classes and small scanners from RFC 9110 §5.6 shared by the request parser, the header
/// lookups and the chunked decoder. Everything works on raw bytes: no allocation, no Foundation.
package enum HTTPSyntax {
    package static let cr: UInt8 = 0x0D
    package static let lf: UInt8 = 0x0A
    package static let sp: UInt8 = 0x20
    package static let htab: UInt8 = 0x09
    package static let colon: UInt8 = 0x3A
    package static let comma: UInt8 = 0x2C
    package static let semicolon: UInt8 = 0x3B

    // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
    //       / DIGIT / ALPHA   (RFC 9110 §5.6.2), as two 64-bit masks over the ASCII range.
    private static let tcharLow: UInt64 = 0x03FF_6CFA_0000_0000
    private static let tcharHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    @inline(__always)
    package static func isTokenChar(_ b: UInt8) -> Bool { isInASCIISet(b, low: tcharLow, high: tcharHigh) }

    /// Whether `b` is in a set of ASCII bytes given as two 64-bit masks: bit n of `low` for byte n,
    /// bit n of `high` for byte 64 + n. Bytes above 0x7F are in no such set.
    @inline(__always)
    package static func isInASCIISet(_ b: UInt8, low: UInt64, high: UInt64) -> Bool {
        if b < 64 { return (low >> UInt64(b)) & 1 != 0 }
        if b < 128 { return (high >> UInt64(b &- 64)) & 1 != 0 }
        return false
    }

    @inline(__always)
    package static func isOWS(_ b: UInt8) -> Bool { b == sp || b == htab }

    @inline(__always)
    package static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    /// The value of a hex digit, or nil.
    @inline(__always)
    package static func hexValue(_ b: UInt8) -> Int? {
        if b &- 0x30 < 10 { return Int(b &- 0x30) }
        let lower = b | 0x20
        if lower &- 0x61 < 6 { return Int(lower &- 0x61 &+ 10) }
        return nil
    }

    /// A byte allowed in a field value (RFC 9110 §5.5): SP, HTAB, VCHAR, obs-text.
    @inline(__always)
    package static func isFieldValueByte(_ b: UInt8) -> Bool { b == htab || (b >= 0x20 && b != 0x7F) }

    /// ASCII case-insensitive equality of `bytes` with `lowercase`, which must hold only
    /// lowercase letters, digits and punctuation from 0x20–0x3F: `| 0x20` then folds the
    /// letters, and only control bytes (never accepted where this is used) could alias the rest.
    @inline(__always)
    package static func equalsLowercase(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                                _ lowercase: StaticString) -> Bool {
        equals(bytes, start, end, lowercase, fold: 0x20)
    }

    /// Exact (case-sensitive) equality of `bytes[start..<end]` with `literal`, e.g. method names.
    @inline(__always)
    package static func equalsExact(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                            _ literal: StaticString) -> Bool {
        equals(bytes, start, end, literal, fold: 0)
    }

    @inline(__always)
    private static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                               _ literal: StaticString, fold: UInt8) -> Bool {
        guard end - start == literal.utf8CodeUnitCount else { return false }
        let l = literal.utf8Start
        var i = 0
        while i < end - start {
            if bytes[start + i] | fold != l[i] { return false }
            i += 1
        }
        return true
    }

    /// Whether the field name `name` is `lowercaseName` (given in lower case) in any ASCII case.
    /// Not generic, so a caller in another module gets this loop and not an unspecialized generic
    /// one (the access gate runs it over every field of every request).
    package static func isFieldName(_ name: String, _ lowercaseName: StaticString) -> Bool {
        let n = lowercaseName.utf8CodeUnitCount
        guard name.utf8.count == n else { return false }
        let l = lowercaseName.utf8Start
        return name.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            var i = 0
            while i < n {
                if lowercased(bytes[i]) != l[i] { return false }
                i += 1
            }
            return true
        } ?? equalsCaseInsensitive(name.utf8, UnsafeBufferPointer(start: l, count: n))
    }

    /// ASCII case-insensitive equality of two UTF-8 sequences.
    package static func equalsCaseInsensitive<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        var ia = a.startIndex
        var ib = b.startIndex
        while ia != a.endIndex {
            if lowercased(a[ia]) != lowercased(b[ib]) { return false }
            a.formIndex(after: &ia)
            b.formIndex(after: &ib)
        }
        return true
    }

    @inline(__always)
    package static func lowercased(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b | 0x20 : b }

    /// Calls `body` with each element of a comma-separated list (RFC 9110 §5.6.1), OWS trimmed,
    /// empty elements skipped. `body` returns false to stop early.
    package static func forEachListElement(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                                   _ body: (_ start: Int, _ end: Int) -> Bool) {
        var i = start
        while i < end {
            var elementEnd = i
            while elementEnd < end && p[elementEnd] != comma { elementEnd += 1 }
            let (s, e) = trimOWS(p, i, elementEnd)
            if s < e && !body(s, e) { return }
            i = elementEnd + 1
        }
    }

    @inline(__always)
    package static func trimOWS(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int) {
        var s = start
        var e = end
        while s < e && isOWS(p[s]) { s += 1 }
        while e > s && isOWS(p[e - 1]) { e -= 1 }
        return (s, e)
    }

    /// Checks a field line `name ":" OWS value OWS` (RFC 9112 §5) and returns where the name
    /// ends and the trimmed value lies. A line starting with whitespace (obs-fold, §5.2), a
    /// non-token name, whitespace before the colon (§5.1) or a control in the value is an error.
    package static func parseFieldLine(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int)
        -> (nameEnd: Int, valueStart: Int, valueEnd: Int)?
    {
        var i = start
        while i < end && isTokenChar(p[i]) { i += 1 }
        guard i > start, i < end, p[i] == colon else { return nil }
        let nameEnd = i
        let (vs, ve) = trimOWS(p, i + 1, end)
        var j = vs
        while j < ve {
            if !isFieldValueByte(p[j]) { return nil }
            j += 1
        }
        return (nameEnd, vs, ve)
    }
}
