import UltraGateJSON
import UltraGateSupport
import Foundation

/// Remembers, for request bodies seen before byte for byte, the cache key they resolved to, so a
/// repeated request is answered after hashing its raw bytes (about 1 µs for 2 KB) instead of
/// parsing, validating and canonicalizing it again. Routes do not change while the process runs,
/// so the same bytes always resolve to the same key. The digest is SHA-256, so crafted bodies
/// cannot collide with another request's entry. Sharded, each shard bounded and emptied when full.
package final class RequestKeyMemo: @unchecked Sendable {
    package struct Entry: Sendable {
        package let key: CacheKey
        package let model: String
        package let stream: Bool
        package let includeUsage: Bool

        package init(key: CacheKey, model: String, stream: Bool, includeUsage: Bool) {
            self.key = key
            self.model = model
            self.stream = stream
            self.includeUsage = includeUsage
        }
    }

    /// A SHA-256 digest as four words: hashing and comparing it allocates nothing.
    package struct Digest: Hashable, Sendable {
        package let a, b, c, d: UInt64

        /// `dialect`: the API the body came in on, nil for chat completions. Bodies of two APIs
        /// never share a digest: another dialect's input starts with 0xFF, a byte that no UTF-8
        /// namespace (the start of a chat digest's input) can begin with.
        package init(namespace: String, body: [UInt8], dialect: UInt8? = nil) {
            var hasher = SHA256()
            if let dialect { hasher.update([0xFF, dialect]) }
            hasher.update(namespace)
            withUnsafeBytes(of: UInt8(0)) { hasher.update($0) }
            hasher.update(body)
            let bytes = hasher.finalize()
            func word(_ i: Int) -> UInt64 {
                var w: UInt64 = 0
                for j in 0..<8 { w = w << 8 | UInt64(bytes[i * 8 + j]) }
                return w
            }
            a = word(0)
            b = word(1)
            c = word(2)
            d = word(3)
        }
    }

    private final class Shard: @unchecked Sendable {
        let lock = NSLock()
        var entries: [Digest: Entry] = [:]
    }

    private let shards: [Shard]
    private let perShardLimit: Int

    package init(capacity: Int = 65_536, shardCount: Int = 16) {
        shards = (0..<shardCount).map { _ in Shard() }
        perShardLimit = max(16, capacity / shardCount)
    }

    private func shard(_ digest: Digest) -> Shard { shards[Int(digest.a % UInt64(shards.count))] }

    package func entry(for digest: Digest) -> Entry? {
        let s = shard(digest)
        s.lock.lock()
        defer { s.lock.unlock() }
        return s.entries[digest]
    }

    package func remember(_ entry: Entry, for digest: Digest) {
        let s = shard(digest)
        s.lock.lock()
        if s.entries.count >= perShardLimit { s.entries.removeAll(keepingCapacity: true) }
        s.entries[digest] = entry
        s.lock.unlock()
    }
}
