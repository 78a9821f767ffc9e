/// Tests on the eight byte lanes of a 64-bit word at once (SWAR): a few integer operations per
/// eight bytes instead of comparisons per byte. A mask has the high bit of each lane set where
/// the test holds. The lowest flagged lane is always exact (a borrow only runs upwards, out of a
/// lane that was flagged already), so `firstLane` of a mask, or of a union of masks, is the first
/// matching byte; lanes above it may be flagged spuriously.
package enum ByteLanes {
    package static let ones: UInt64 = 0x0101_0101_0101_0101
    package static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// The eight bytes at `offset`, lane 0 being the first (on any byte order).
    @inline(__always)
    package static func load(_ base: UnsafePointer<UInt8>, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(base).loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Lanes equal to `byte`.
    @inline(__always)
    package static func equal(_ word: UInt64, _ byte: UInt8) -> UInt64 {
        let x = word ^ (UInt64(byte) &* ones)
        return (x &- ones) & ~x & highBits
    }

    /// Lanes below `bound` (at most 0x80).
    @inline(__always)
    package static func below(_ word: UInt64, _ bound: UInt8) -> UInt64 {
        (word &- UInt64(bound) &* ones) & ~word & highBits
    }

    /// Whether any lane is 0x80 or above (not ASCII).
    @inline(__always)
    package static func hasHighByte(_ word: UInt64) -> Bool { word & highBits != 0 }

    /// The index of the lowest flagged lane of a non-zero mask.
    @inline(__always)
    package static func firstLane(_ mask: UInt64) -> Int { mask.trailingZeroBitCount >> 3 }
}
