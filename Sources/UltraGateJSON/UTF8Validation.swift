import UltraGateSupport
/// Well-formed UTF-8 per RFC 3629 / Unicode Table 3-7: no overlong forms, no surrogates
/// (U+D800–U+DFFF), nothing above U+10FFFF, no truncated sequences. Hand-written because
/// `String(validating:as:)` resolves generic metadata on every call on this toolchain (~5k
/// instructions for a short string), while this loop skips ASCII eight bytes at a time.
package enum UTF8Validation {
    package static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        while i < n {
            if i &+ 8 <= n, !ByteLanes.hasHighByte(ByteLanes.load(base, i)) {
                i &+= 8
                continue
            }
            let c = base[i]
            if c < 0x80 { i &+= 1; continue }
            if c < 0xC2 { return false }  // a continuation byte, or an overlong two-byte lead
            if c < 0xE0 {
                guard i &+ 1 < n, isContinuation(base[i &+ 1]) else { return false }
                i &+= 2
                continue
            }
            if c < 0xF0 {
                guard i &+ 2 < n, isContinuation(base[i &+ 2]) else { return false }
                let c1 = base[i &+ 1]
                switch c {
                case 0xE0: guard c1 >= 0xA0 && c1 <= 0xBF else { return false }  // overlong
                case 0xED: guard c1 >= 0x80 && c1 <= 0x9F else { return false }  // surrogates
                default: guard isContinuation(c1) else { return false }
                }
                i &+= 3
                continue
            }
            if c < 0xF5 {
                guard i &+ 3 < n, isContinuation(base[i &+ 2]), isContinuation(base[i &+ 3]) else { return false }
                let c1 = base[i &+ 1]
                switch c {
                case 0xF0: guard c1 >= 0x90 && c1 <= 0xBF else { return false }  // overlong
                case 0xF4: guard c1 >= 0x80 && c1 <= 0x8F else { return false }  // above U+10FFFF
                default: guard isContinuation(c1) else { return false }
                }
                i &+= 4
                continue
            }
            return false
        }
        return true
    }

    @inline(__always)
    private static func isContinuation(_ b: UInt8) -> Bool { b & 0xC0 == 0x80 }
}
