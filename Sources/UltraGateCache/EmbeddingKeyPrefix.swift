import UltraGateJSON
import UltraGateSupport

/// Makes the cache keys of embedding input items: SHA-256 over a version tag, the tenant's
/// namespace, the route, the upstream model, the requested dimensions, the request's other
/// options that reach the provider, then the item in a canonical form tagged with its kind, so a
/// string and a token array never share a key, nor do two items that differ by a byte or a token.
///
/// Everything but the item is the same for all items of a request: it is hashed once into the
/// prefix, whose SHA-256 state each item's key continues from a copy, so keying n items costs
/// their bytes and n finalizations, not n times the prefix.
public struct EmbeddingKeyPrefix: Sendable {
    /// Bump when the hash input layout or an item's canonical form changes: old entries then miss.
    package static let versionTag = "ultragate.embedding-item.v1"

    private let state: SHA256

    /// `options`: the canonical JSON of the other request fields that reach the provider (empty
    /// when there are none).
    public init(namespace: String, route: String, upstreamModel: String, dimensions: Int?, options: String) {
        var hasher = SHA256()
        for field in [Self.versionTag, namespace, route, upstreamModel, options] { Self.appendField(field, to: &hasher) }
        Self.appendInt(Int64(dimensions ?? -1), to: &hasher)
        state = hasher
    }

    /// The key of a text item: its exact UTF-8 bytes.
    public func key(text: String) -> CacheKey {
        var hasher = state
        hasher.update([UInt8(ascii: "s")])
        Self.appendField(text, to: &hasher)
        return CacheKey(bytes: hasher.finalize())
    }

    /// The key of a token-id item: its count, then each id as a 64-bit integer.
    public func key(tokens: [Int]) -> CacheKey {
        var hasher = state
        hasher.update([UInt8(ascii: "t")])
        Self.appendInt(Int64(tokens.count), to: &hasher)
        var words = [UInt8]()
        words.reserveCapacity(8 * tokens.count)
        for token in tokens { withUnsafeBytes(of: Int64(token).littleEndian) { words.append(contentsOf: $0) } }
        hasher.update(words)
        return CacheKey(bytes: hasher.finalize())
    }

    /// A 64-bit little-endian length, then the UTF-8 bytes: no two field lists share an encoding.
    private static func appendField(_ text: String, to hasher: inout SHA256) {
        appendInt(Int64(text.utf8.count), to: &hasher)
        hasher.update(text)
    }

    private static func appendInt(_ value: Int64, to hasher: inout SHA256) {
        withUnsafeBytes(of: value.littleEndian) { hasher.update($0) }
    }
}
