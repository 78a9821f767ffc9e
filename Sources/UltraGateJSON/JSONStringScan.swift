import UltraGateSupport
/// Finds the bytes that end a run of plain JSON string content — `"`, `\` and the control bytes
/// below 0x20 — eight bytes at a time (SWAR: one 64-bit load and a few arithmetic operations per
/// eight bytes instead of three comparisons per byte). The writer must escape exactly these
/// bytes and the parser stops at them, so both share this scan.
package enum JSONStringScan {
    /// The index of the first special byte at or after `start`, or `buffer.count` if none.
    @inline(__always)
    package static func firstSpecial(in buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var sawHighByte = false
        return firstSpecial(in: buffer, from: start, sawHighByte: &sawHighByte)
    }

    /// Also tells whether a byte of 0x80 or more lies before the index found: only then does a
    /// run need UTF-8 validation.
    @inline(__always)
    package static func firstSpecial(in buffer: UnsafeBufferPointer<UInt8>, from start: Int, sawHighByte: inout Bool) -> Int {
        let count = buffer.count
        guard let base = buffer.baseAddress, start < count else { return count }
        var i = start
        var high: UInt64 = 0
        while i &+ 8 <= count {
            let word = ByteLanes.load(base, i)
            let mask = specialMask(word)
            if mask != 0 {
                let lane = ByteLanes.firstLane(mask)
                // Only the lanes before the special byte count.
                if lane > 0 { high |= word & (UInt64.max >> (64 &- 8 &* UInt64(lane))) }
                if ByteLanes.hasHighByte(high) { sawHighByte = true }
                return i &+ lane
            }
            high |= word
            i &+= 8
        }
        if ByteLanes.hasHighByte(high) { sawHighByte = true }
        while i < count {
            let b = base[i]
            if isSpecial(b) { return i }
            if b >= 0x80 { sawHighByte = true }
            i &+= 1
        }
        return count
    }

    @inline(__always)
    package static func isSpecial(_ b: UInt8) -> Bool { b < 0x20 || b == 0x22 || b == 0x5C }

    /// The lanes holding a control byte, `"` or `\`.
    @inline(__always)
    package static func specialMask(_ word: UInt64) -> UInt64 {
        ByteLanes.below(word, 0x20) | ByteLanes.equal(word, 0x22) | ByteLanes.equal(word, 0x5C)
    }
}
