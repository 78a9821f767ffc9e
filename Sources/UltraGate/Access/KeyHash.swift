import UltraGateCache

/// A SHA-256 as four words (the digest's bytes in memory order): made without allocating, hashed
/// and compared faster than a byte array on the hot path.
package struct KeyHash: Hashable, Sendable {
    let a: UInt64, b: UInt64, c: UInt64, d: UInt64

    /// The SHA-256 of `bytes`.
    init(digestOf bytes: UnsafeRawBufferPointer) {
        var sha = SHA256()
        sha.update(bytes)
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { sha.finalize(into: $0) }
        (a, b, c, d) = words
    }

    /// The SHA-256 of `text`'s UTF-8.
    init(digestOf text: String) {
        var text = text
        self = text.withUTF8 { KeyHash(digestOf: UnsafeRawBufferPointer($0)) }
    }

    /// The digest is already uniformly distributed: one word of it is enough for a table.
    package func hash(into hasher: inout Hasher) { hasher.combine(a) }

    init?(_ bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        (a, b, c, d) = bytes.withUnsafeBytes { raw in
            (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
             raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }
    }

    var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in [a, b, c, d] { withUnsafeBytes(of: word) { out.append(contentsOf: $0) } }
        return out
    }
}
