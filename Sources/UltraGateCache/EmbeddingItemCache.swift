import UltraGateJSON
import UltraGateSupport
import Foundation

/// The per-item embeddings cache: one entry per input item (`EmbeddingKeyPrefix`), in its own
/// database of the response cache's LMDB environment. It shares that cache's writer, so its
/// entries are committed, group-committed, swept when expired and evicted oldest first exactly as
/// answers are, all within `cache.max_bytes`; restarts keep them.
public final class EmbeddingItemCache: @unchecked Sendable {
    private let environment: CacheEnvironment
    private let writer: CacheWriter
    private let counters: CacheCounters
    private let maxEntryBytes: Int

    package init(environment: CacheEnvironment, writer: CacheWriter, counters: CacheCounters, maxEntryBytes: Int) {
        self.environment = environment
        self.writer = writer
        self.counters = counters
        self.maxEntryBytes = maxEntryBytes
    }

    /// The stored item for each key, in order: nil where missing, expired at `now`, older than
    /// `maxAge` seconds or unreadable. One read transaction for all of them; cheap enough for an
    /// event loop (a lookup is a B-tree descent and a copy of the vector).
    public func lookup(_ keys: [CacheKey], now: Double, maxAge: Double? = nil) -> [CachedEmbedding?] {
        guard !keys.isEmpty else { return [] }
        let env = environment
        let found = env.lmdb.withReadTransaction { txn -> [CachedEmbedding?] in
            keys.map { key in
                guard let raw = try? txn.get(env.embeddings, key.bytes), let times = CachedEmbedding.peekTimes(raw) else { return nil }
                if CachedResponse.isExpired(expiresAt: times.expiresAt, now: now) { return nil }
                if let maxAge, now - times.createdAt > maxAge { return nil }
                return CachedEmbedding(decoding: raw)
            }
        }
        return found ?? Array(repeating: nil, count: keys.count)
    }

    /// Stores the items without waiting for the commit: in one transaction on this thread when
    /// that is cheap (few small items, nothing else writing), else in the writer thread's next group
    /// commit, all together. `committed` runs once they are in or could not be stored (here or on
    /// the writer thread). Items larger than `cache.max_entry_bytes` are counted and skipped.
    public func storeLater(_ items: [(key: CacheKey, value: CachedEmbedding)], committed: @escaping @Sendable () -> Void) {
        var jobs: [CacheWriter.Job] = []
        jobs.reserveCapacity(items.count)
        var tooLarge = 0
        for item in items {
            guard item.value.encodedSize <= maxEntryBytes else {
                tooLarge += 1
                continue
            }
            var job = CacheWriter.Job(key: item.key.bytes, value: item.value.encoded(), createdAt: item.value.createdAt, done: {})
            job.store = .embeddings
            job.deferrable = true
            jobs.append(job)
        }
        if tooLarge > 0 { counters.update { $0.tooLarge += tooLarge } }
        guard !jobs.isEmpty else { return committed() }
        if writer.commitInline(jobs) { return committed() }
        let last = jobs.count - 1
        jobs[last] = CacheWriter.Job(key: jobs[last].key, value: jobs[last].value, createdAt: jobs[last].createdAt, done: committed,
                                     deferrable: true, store: .embeddings)
        if !writer.enqueue(jobs) {
            counters.writeFailed("the cache is closing", count: jobs.count)
            committed()
        }
    }

    /// Stores the items and returns once they are committed (or could not be).
    public func store(_ items: [(key: CacheKey, value: CachedEmbedding)]) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            storeLater(items) { done.resume() }
        }
    }

    /// Items stored.
    public var count: Int {
        let env = environment
        return env.lmdb.withReadTransaction { txn in (try? txn.stat(env.embeddings)).map { Int($0.ms_entries) } } ?? 0
    }
}
