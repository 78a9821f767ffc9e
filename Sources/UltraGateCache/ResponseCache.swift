import UltraGateJSON
import UltraGateSupport
import Foundation

public struct ResponseCacheConfig: Sendable {
    public var directory: String
    /// The LMDB map size: the cache never grows past it (oldest entries are evicted first).
    public var maxBytes: Int
    /// Seconds an entry lives; 0 = never expires.
    public var defaultTTL: Double
    /// Seconds between background `mdb_env_sync` calls: what an OS crash can lose at most.
    public var syncInterval: Double
    /// The largest entry stored (its encoded size); larger answers are skipped and counted in
    /// `CacheStats.tooLarge`. Entries over a quarter of the map are never stored either.
    public var maxEntryBytes: Int

    public static let defaultMaxEntryBytes = 8 << 20

    public init(directory: String, maxBytes: Int = 1 << 30, defaultTTL: Double = 7 * 86400, syncInterval: Double = 1,
                maxEntryBytes: Int = ResponseCacheConfig.defaultMaxEntryBytes) {
        self.directory = directory
        self.maxBytes = maxBytes
        self.defaultTTL = defaultTTL
        self.syncInterval = syncInterval
        self.maxEntryBytes = maxEntryBytes
    }
}

public struct CacheStats: Sendable, Equatable {
    public var entries: Int
    /// Embedding items in the per-item embeddings cache (`EmbeddingItemCache`).
    public var embeddingItems: Int = 0
    /// Bytes of the pages the cache's databases occupy (answers and embedding items together).
    public var usedBytes: Int
    public var mapSize: Int
    /// Counters of this instance since it opened.
    public var evictions: Int
    public var expiredRemoved: Int
    /// Entries that could not be stored (a full disk, a value too large for the map, …).
    public var writeErrors: Int
    /// Why the last of them failed.
    public var lastWriteError: String?
    /// Values too large to ever fit (also counted in `writeErrors`).
    public var oversizedSkipped: Int
    /// Answers larger than `ResponseCacheConfig.maxEntryBytes`: served, not stored (not a write error).
    public var tooLarge: Int
    /// Write transactions committed for `store` (each may hold many entries).
    public var commits: Int
    /// Of `commits`, those done on the storing caller's thread (one entry each, at low load).
    public var inlineCommits: Int
}

/// The on-disk response cache: LMDB, read inline on the caller's thread, written inline at low load
/// and by one group-commit thread under load. Several instances and processes may share a directory.
public final class ResponseCache: @unchecked Sendable {
    public let config: ResponseCacheConfig
    package let environment: CacheEnvironment
    private let writer: CacheWriter
    /// Counts what was stored, evicted and lost; entries that cannot be stored are also reported
    /// on standard error (at most one line a minute).
    private let counters = CacheCounters()
    private let closeLock = NSLock()
    private var closed = false
    /// Embedding vectors item by item, in the same environment and under the same bounds.
    public let embeddingItems: EmbeddingItemCache

    public init(_ config: ResponseCacheConfig) throws {
        self.config = config
        environment = try CacheEnvironment.acquire(directory: config.directory, mapSize: config.maxBytes)
        writer = CacheWriter(env: environment, counters: counters, syncInterval: config.syncInterval)
        embeddingItems = EmbeddingItemCache(environment: environment, writer: writer, counters: counters,
                                            maxEntryBytes: config.maxEntryBytes)
    }

    deinit { close() }

    /// When an entry created at `createdAt` expires under the default TTL.
    public func expiry(createdAt: Double) -> Double {
        config.defaultTTL > 0 ? createdAt + config.defaultTTL : CachedResponse.neverExpires
    }

    /// The stored response for `key`, unless missing, expired at `now`, older than `maxAge` seconds
    /// or unreadable. Synchronous and cheap: call it from any thread, including an event loop.
    public func lookup(_ key: CacheKey, now: Double, maxAge: Double? = nil) -> CachedResponse? {
        let env = environment
        return env.lmdb.withReadTransaction { txn in
            guard let raw = try? txn.get(env.responses, key.bytes), let times = CachedResponse.peekTimes(raw) else { return nil }
            if CachedResponse.isExpired(expiresAt: times.expiresAt, now: now) { return nil }
            if let maxAge, now - times.createdAt > maxAge { return nil }
            return CachedResponse(decoding: raw)
        }
    }

    /// Stores `value` under `key`, returning once the transaction holding it has committed. Failures
    /// (full map, oversized value, closed cache) are counted in `stats()`, never thrown.
    ///
    /// At low load the commit runs right here (no thread hop: ~2 wake-ups saved); otherwise, or if
    /// that fails, the entry goes to the writer thread's next group commit.
    public func store(_ key: CacheKey, _ value: CachedResponse) async {
        guard admits(value) else { return }
        let encoded = value.encoded()
        if writer.commitInline(key: key.bytes, value: encoded, createdAt: value.createdAt) { return }
        await storeQueued(key, encoded: encoded, createdAt: value.createdAt)
    }

    /// The writer-thread path of `store`, on its own so tests can mix it with inline commits.
    package func storeQueued(_ key: CacheKey, encoded: [UInt8], createdAt: Double) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            enqueue(key, encoded: encoded, createdAt: createdAt) { done.resume() }
        }
    }

    /// Hands the entry to the writer thread's next group commit without waiting for it (for a
    /// caller that has already answered). `committed` runs once the entry is in, or could not be
    /// stored, on the writer thread (or here, when the cache is closing or the entry too large).
    public func storeLater(_ key: CacheKey, _ value: CachedResponse, committed: @escaping @Sendable () -> Void) {
        guard admits(value) else { return committed() }
        enqueue(key, encoded: value.encoded(), createdAt: value.createdAt, deferrable: true, committed)
    }

    /// Whether `value` is small enough to be stored (nothing counted).
    package func fits(_ value: CachedResponse) -> Bool { value.encodedSize <= config.maxEntryBytes }

    /// Whether `value` is small enough to store; a larger one is counted, and neither copied nor kept.
    private func admits(_ value: CachedResponse) -> Bool {
        guard value.encodedSize > config.maxEntryBytes else { return true }
        counters.update { $0.tooLarge += 1 }
        return false
    }

    private func enqueue(_ key: CacheKey, encoded: [UInt8], createdAt: Double, deferrable: Bool = false,
                         _ done: @escaping @Sendable () -> Void) {
        var job = CacheWriter.Job(key: key.bytes, value: encoded, createdAt: createdAt, done: done)
        job.deferrable = deferrable
        if !writer.enqueue(job) {
            counters.writeFailed("the cache is closing")
            done()
        }
    }

    public func stats() -> CacheStats {
        let env = environment
        let pages = env.lmdb.withReadTransaction { txn -> (entries: Int, items: Int, used: Int, pageSize: Int)? in
            guard let usage = try? CacheEnvironment.usage(txn, env.databases),
                let s = try? txn.stat(env.responses), let e = try? txn.stat(env.embeddings)
            else { return nil }
            return (Int(s.ms_entries), Int(e.ms_entries), usage.used, usage.pageSize)
        }
        let c = counters.snapshot
        return CacheStats(
            entries: pages?.entries ?? 0, embeddingItems: pages?.items ?? 0,
            usedBytes: (pages?.used ?? 0) * (pages?.pageSize ?? 0),
            mapSize: env.lmdb.info.me_mapsize, evictions: c.evictions, expiredRemoved: c.expiredRemoved,
            writeErrors: c.writeErrors, lastWriteError: c.lastWriteError, oversizedSkipped: c.oversizedSkipped,
            tooLarge: c.tooLarge, commits: c.commits, inlineCommits: c.inlineCommits)
    }

    /// Empties the cache in one write transaction. Other instances and processes keep working: their
    /// database handles stay valid and they simply miss.
    public func clear() throws {
        let env = environment
        try env.lmdb.withWriteTransaction { txn throws(LMDBError) in
            for db in env.databases { try txn.empty(db) }
        }
    }

    /// Runs one expired-entry sweep as of `now` (the writer also sweeps every minute by itself).
    public func sweepExpired(now: Double) async {
        await writer.sweep(now: now)
    }

    /// Commits queued stores, syncs, stops the writer and releases the environment. Idempotent.
    public func close() {
        closeLock.lock()
        defer { closeLock.unlock() }
        guard !closed else { return }
        closed = true
        writer.stop()
        environment.release()
    }
}
