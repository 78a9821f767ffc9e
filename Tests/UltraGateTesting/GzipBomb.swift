/// A gzip body that decodes to far more than it takes on the wire: `decodedBytes` zero bytes in
/// one fixed-Huffman deflate block of a literal 0 followed by "copy 258 bytes from distance 1"
/// codes (13 bits each), about 1/160 of the decoded size. Valid gzip (CRC-32 and size included),
/// so a decoder that is allowed to finish gets exactly those zeros.
package enum GzipBomb {
    package static func make(decodedBytes: Int) -> [UInt8] {
        precondition(decodedBytes >= 1)
        var bits = BitWriter()
        bits.write(1, count: 1)  // BFINAL
        bits.write(1, count: 2)  // BTYPE 01: fixed Huffman codes
        bits.writeCode(0x30, length: 8)  // literal 0
        var left = decodedBytes - 1
        while left >= 258 {
            bits.writeCode(0xC5, length: 8)  // length code 285: 258 bytes, no extra bits
            bits.writeCode(0, length: 5)  // distance code 0: distance 1
            left -= 258
        }
        for _ in 0..<left { bits.writeCode(0x30, length: 8) }
        bits.writeCode(0, length: 7)  // end of block (256)
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]
        out += bits.flushed
        out += littleEndian(crc32OfZeros(decodedBytes))
        out += littleEndian(UInt32(truncatingIfNeeded: decodedBytes))
        return out
    }

    private static func littleEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
    }

    private static func crc32OfZeros(_ count: Int) -> UInt32 {
        var table = [UInt32](repeating: 0, count: 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            table[i] = c
        }
        var crc: UInt32 = 0xFFFF_FFFF
        for _ in 0..<count { crc = table[Int(crc & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// Deflate's bit order: fields least significant bit first, Huffman codes most significant first.
    private struct BitWriter {
        var bytes: [UInt8] = []
        private var current: UInt8 = 0
        private var used = 0

        mutating func write(_ value: UInt32, count: Int) {
            for i in 0..<count { put(UInt8((value >> UInt32(i)) & 1)) }
        }

        mutating func writeCode(_ code: UInt32, length: Int) {
            for i in stride(from: length - 1, through: 0, by: -1) { put(UInt8((code >> UInt32(i)) & 1)) }
        }

        private mutating func put(_ bit: UInt8) {
            current |= bit << UInt8(used)
            used += 1
            if used == 8 {
                bytes.append(current)
                current = 0
                used = 0
            }
        }

        /// The bytes with the last partial byte flushed.
        var flushed: [UInt8] { used > 0 ? bytes + [current] : bytes }
    }
}
