/// Standard base64 (RFC 4648 §4, with padding) on bytes, without Foundation's `Data` and
/// `String` round trips: embeddings travel as base64 of little-endian float32 (OpenAI's
/// `encoding_format: "base64"`), kilobytes per vector, on the hot path of cache hits.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 0...63 for alphabet bytes, 0xFF otherwise.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    /// The encoded length of `count` bytes.
    public static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Each 12-bit value's two characters, the first in the low byte: two characters per lookup.
    private static let pairs: [UInt16] = (0..<4096).map { UInt16(alphabet[$0 >> 6]) | UInt16(alphabet[$0 & 63]) << 8 }

    /// Appends the encoding of `bytes` to `out`: three bytes to four characters per step, two
    /// characters per table lookup, stored straight into the grown buffer (about 1 ns a byte).
    public static func encode(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let n = bytes.count
        guard n > 0, let src = bytes.baseAddress else { return }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: encodedCount(n)))
        pairs.withUnsafeBufferPointer { pair in
            out.withUnsafeMutableBytes { o in
                let dst = o.baseAddress! + start
                var i = 0, j = 0
                // Six bytes (four 12-bit groups) per step, read as one big-endian word.
                while i + 8 <= n {
                    let w = UInt64(bigEndian: src.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                    dst.storeBytes(of: pair[Int(truncatingIfNeeded: w >> 52)].littleEndian, toByteOffset: j, as: UInt16.self)
                    dst.storeBytes(of: pair[Int(truncatingIfNeeded: w >> 40) & 0xFFF].littleEndian, toByteOffset: j + 2, as: UInt16.self)
                    dst.storeBytes(of: pair[Int(truncatingIfNeeded: w >> 28) & 0xFFF].littleEndian, toByteOffset: j + 4, as: UInt16.self)
                    dst.storeBytes(of: pair[Int(truncatingIfNeeded: w >> 16) & 0xFFF].littleEndian, toByteOffset: j + 6, as: UInt16.self)
                    i += 6
                    j += 8
                }
                while i + 3 <= n {
                    let v = Int(src.load(fromByteOffset: i, as: UInt8.self)) << 16
                        | Int(src.load(fromByteOffset: i + 1, as: UInt8.self)) << 8
                        | Int(src.load(fromByteOffset: i + 2, as: UInt8.self))
                    dst.storeBytes(of: pair[v >> 12].littleEndian, toByteOffset: j, as: UInt16.self)
                    dst.storeBytes(of: pair[v & 0xFFF].littleEndian, toByteOffset: j + 2, as: UInt16.self)
                    i += 3
                    j += 4
                }
                if i < n {
                    let second = i + 1 < n ? Int(src.load(fromByteOffset: i + 1, as: UInt8.self)) : 0
                    let v = Int(src.load(fromByteOffset: i, as: UInt8.self)) << 16 | second << 8
                    dst.storeBytes(of: pair[v >> 12].littleEndian, toByteOffset: j, as: UInt16.self)
                    dst.storeBytes(of: i + 1 < n ? alphabet[v >> 6 & 63] : UInt8(ascii: "="), toByteOffset: j + 2, as: UInt8.self)
                    dst.storeBytes(of: UInt8(ascii: "="), toByteOffset: j + 3, as: UInt8.self)
                }
            }
        }
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        bytes.withUnsafeBytes { encode($0, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `text` encodes; nil unless it is canonical padded base64 (length a multiple of 4,
    /// alphabet characters only, `=` only as the last one or two). Unpadded text is accepted too.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        if let done = text.withContiguousStorageIfAvailable({ decode($0) }) { return done }
        return Array(text).withUnsafeBufferPointer { decode($0) }
    }

    public static func decode(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var count = input.count
        var padding = 0
        if count % 4 == 0 {
            if count > 0, input[count - 1] == UInt8(ascii: "=") { padding += 1 }
            if count > 1, input[count - 2] == UInt8(ascii: "=") { padding += 1 }
            count -= padding
        }
        // `count` significant characters: whole quads, then 2 or 3 (1 is never valid).
        let tail = count % 4
        guard tail != 1, padding == 0 || tail + padding == 4 else { return nil }
        let size = count / 4 * 3 + (tail == 0 ? 0 : tail - 1)
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: size) { out, initialized in
            values.withUnsafeBufferPointer { table in
                var i = 0, j = 0
                var bad: UInt8 = 0
                while i + 4 <= count {
                    let a = table[Int(input[i])], b = table[Int(input[i + 1])], c = table[Int(input[i + 2])], d = table[Int(input[i + 3])]
                    bad |= a | b | c | d
                    let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    out[j] = UInt8(truncatingIfNeeded: v >> 16)
                    out[j + 1] = UInt8(truncatingIfNeeded: v >> 8)
                    out[j + 2] = UInt8(truncatingIfNeeded: v)
                    i += 4
                    j += 3
                }
                if tail >= 2 {
                    let a = table[Int(input[i])], b = table[Int(input[i + 1])]
                    let c = tail == 3 ? table[Int(input[i + 2])] : 0
                    bad |= a | b | c
                    let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
                    out[j] = UInt8(truncatingIfNeeded: v >> 16)
                    if tail == 3 { out[j + 1] = UInt8(truncatingIfNeeded: v >> 8) }
                }
                valid = bad & 0x80 == 0  // invalid characters map to 0xFF
            }
            initialized = size
        }
        return valid ? out : nil
    }
}
