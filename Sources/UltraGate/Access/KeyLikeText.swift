/// Finds what looks like a virtual key's secret in text a client chose (a model name, a path, a
/// field value), so that errors, logs and metrics never repeat a key pasted in the wrong place:
/// `ug-` (any case) followed by 16 or more base64url characters, or a bare run of exactly 43 of
/// them (a secret without its prefix). One pass over the bytes; text without either is returned
/// as it is.
package enum KeyLikeText {
    package static let replacement = "ug-…(looks like a key; not repeated)"

    /// Whether `text` holds something that looks like a key.
    package static func contains(_ text: String) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { firstRange(in: $0, from: 0) != nil }
            ?? Array(text.utf8).withUnsafeBufferPointer { firstRange(in: $0, from: 0) != nil }
    }

    /// `text` with every key-like run replaced.
    package static func redacted(_ text: String) -> String {
        guard contains(text) else { return text }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { redacting($0) }
    }

    private static func redacting(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard var found = firstRange(in: bytes, from: 0) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var copied = 0
        while true {
            out.append(contentsOf: bytes[copied..<found.lowerBound])
            out.append(contentsOf: replacement.utf8)
            copied = found.upperBound
            guard let next = firstRange(in: bytes, from: copied) else { break }
            found = next
        }
        out.append(contentsOf: bytes[copied...])
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) private static func isKeyByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
    }

    /// The first key-like run at or after `start`: each maximal run of key bytes is looked at once.
    private static func firstRange(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Range<Int>? {
        var i = start
        while i < bytes.count {
            guard isKeyByte(bytes[i]) else { i += 1; continue }
            var end = i
            while end < bytes.count, isKeyByte(bytes[end]) { end += 1 }
            // Inside the run: `ug-` and at least 16 key bytes after it.
            var j = i
            while j + 3 <= end {
                if bytes[j] | 0x20 == 0x75, bytes[j + 1] | 0x20 == 0x67, bytes[j + 2] == 0x2D, end - (j + 3) >= 16 {
                    return j..<end
                }
                j += 1
            }
            if end - i == 43 { return i..<end }
            i = end
        }
        return nil
    }
}
