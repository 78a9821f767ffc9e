import UltraGateJSON
import UltraGateSupport
/// The identity of a cached chat completion: SHA-256 over a version tag, the namespace, the resolved
/// route, an optional variant and the canonical JSON of the request minus the fields that do not
/// change the answer. Equal requests that differ only in key order, whitespace or number spelling
/// (`1` vs `1.0`) get the same key; anything that can change the output gets a different one.
public struct CacheKey: Hashable, Sendable, CustomStringConvertible {
    /// The 32 digest bytes; also the LMDB key.
    public let bytes: [UInt8]

    /// Bump when the hash input layout or canonical form changes: old entries then simply miss.
    package static let versionTag = "ultragate.cache-key.v1"

    public init(bytes: [UInt8]) {
        precondition(bytes.count == SHA256.digestSize, "a cache key is a 32-byte SHA-256 digest")
        self.bytes = bytes
    }

    public var hex: String { SHA256.hex(bytes) }
    public var description: String { hex }

    /// The digest is already uniformly distributed: its first eight bytes are hash enough, and
    /// hashing all 32 byte by byte cost more than the dictionary lookup it serves.
    public func hash(into hasher: inout Hasher) {
        var word: UInt64 = 0
        for i in 0..<8 { word = word << 8 | UInt64(bytes[i]) }
        hasher.combine(word)
    }

    /// Top-level request fields that only steer delivery, accounting or routing (`model` is replaced
    /// by the resolved route), so two requests differing only in them may share an answer.
    @inline(__always) package static func isIgnored(_ key: String) -> Bool {
        switch key {
        case "model", "stream", "stream_options", "user", "metadata", "store",
            "safety_identifier", "prompt_cache_key", "service_tier":
            return true
        default:
            return false
        }
    }

    /// `sizeHint`: about the canonical text's length (the request body's size does). Too small only
    /// costs a regrowth; a large default cost more, since a buffer of 1 KiB or more takes glibc's
    /// slow allocation path on every request.
    public static func make(namespace: String, route: String, request: JSONObject, variant: String? = nil,
                            sizeHint: Int = 512) -> CacheKey {
        var canonical = CanonicalJSONWriter(capacity: sizeHint + 64 + namespace.utf8.count + route.utf8.count)
        appendField(versionTag, to: &canonical.writer.bytes)
        appendField(namespace, to: &canonical.writer.bytes)
        appendField(route, to: &canonical.writer.bytes)
        if let variant {
            canonical.writer.bytes.append(1)
            appendField(variant, to: &canonical.writer.bytes)
        } else {
            canonical.writer.bytes.append(0)
        }
        canonical.writeObject(request, excluding: isIgnored)
        return CacheKey(bytes: canonical.writer.bytes.withUnsafeBytes { SHA256.hash($0) })
    }

    /// A 32-bit little-endian length then the UTF-8 bytes, so no two field lists share an encoding.
    private static func appendField(_ text: String, to out: inout [UInt8]) {
        let count = UInt32(truncatingIfNeeded: text.utf8.count)
        withUnsafeBytes(of: count.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: text.utf8)
    }
}
