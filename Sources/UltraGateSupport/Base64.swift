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

    /// Appends the encoding of `bytes` to `out`.
    public static func encode(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let n = bytes.count
        guard n > 0 else { return }
        let start = out.count
        let total = encodedCount(n)
        out.append(contentsOf: repeatElement(0, count: total))
        alphabet.withUnsafeBufferPointer { a in
            out.withUnsafeMutableBufferPointer { o in
                var i = 0, j = start
                while i + 3 <= n {
                    let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                    o[j] = a[Int(v >> 18)]
                    o[j + 1] = a[Int(v >> 12 & 63)]
                    o[j + 2] = a[Int(v >> 6 & 63)]
                    o[j + 3] = a[Int(v & 63)]
                    i += 3
                    j += 4
                }
                if i < n {
                    let second = i + 1 < n ? UInt32(bytes[i + 1]) : 0
                    let v = UInt32(bytes[i]) << 16 | second << 8
                    o[j] = a[Int(v >> 18)]
                    o[j + 1] = a[Int(v >> 12 & 63)]
                    o[j + 2] = i + 1 < n ? a[Int(v >> 6 & 63)] : UInt8(ascii: "=")
                    o[j + 3] = UInt8(ascii: "=")
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
        var input = Array(text)
        if input.count % 4 == 2 { input += [UInt8(ascii: "="), UInt8(ascii: "=")] }
        if input.count % 4 == 3 { input.append(UInt8(ascii: "=")) }
        guard input.count % 4 == 0 else { return nil }
        var padding = 0
        if input.last == UInt8(ascii: "=") { padding += 1 }
        if input.count >= 2, input[input.count - 2] == UInt8(ascii: "=") { padding += 1 }
        var out = [UInt8]()
        out.reserveCapacity(input.count / 4 * 3)
        let ok = values.withUnsafeBufferPointer { table -> Bool in
            var i = 0
            while i < input.count {
                let last = i + 4 == input.count
                var v: UInt32 = 0
                for k in 0..<4 {
                    let c = input[i + k]
                    let d: UInt8
                    if c == UInt8(ascii: "="), last, k >= 4 - padding {
                        d = 0
                    } else {
                        d = table[Int(c)]
                        if d == 0xFF { return false }
                    }
                    v = v << 6 | UInt32(d)
                }
                out.append(UInt8(v >> 16))
                if !(last && padding == 2) { out.append(UInt8(v >> 8 & 0xFF)) }
                if !(last && padding >= 1) { out.append(UInt8(v & 0xFF)) }
                i += 4
            }
            return true
        }
        return ok ? out : nil
    }
}
