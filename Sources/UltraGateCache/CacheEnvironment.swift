import UltraGateJSON
import UltraGateSupport
import CLMDB
import Foundation

/// The LMDB environment of one cache directory and its databases, shared by every
/// `ResponseCache` of this process that opens the same directory. LMDB must not be opened twice in
/// one process (its first-opener detection uses per-process POSIX locks), so instances share this
/// one, reference-counted; other processes open their own, which is LMDB's normal multi-process mode.
package final class CacheEnvironment: @unchecked Sendable {
    package let lmdb: LMDBEnvironment
    /// CacheKey bytes → `CachedResponse` encoding.
    package let responses: LMDBDatabase
    /// Big-endian creation time in microseconds + CacheKey bytes → empty: oldest entries first, of
    /// every store (one eviction order for all of them, bounded together by the map size).
    package let ageIndex: LMDBDatabase
    /// Embedding item key bytes → `CachedEmbedding` encoding (the per-item embeddings cache).
    package let embeddings: LMDBDatabase
    package let directory: String
    /// Guarded by `registryLock`.
    private var references = 0

    private nonisolated(unsafe) static var registry: [String: CacheEnvironment] = [:]
    private static let registryLock = NSLock()

    private init(directory: String, mapSize: Int) throws(LMDBError) {
        var options = LMDBEnvironment.Options(mapSize: mapSize)
        // Room for the databases other stores keep beside the cache's two (stored responses, keys …).
        options.maxDatabases = max(options.maxDatabases, 32)
        lmdb = try LMDBEnvironment(path: directory, options: options)
        do throws(LMDBError) {
            responses = try lmdb.openDatabase("responses")
            ageIndex = try lmdb.openDatabase("age")
            embeddings = try lmdb.openDatabase("embeddings")
        } catch {
            lmdb.close()
            throw error
        }
        self.directory = directory
    }

    /// The shared environment of `directory` (created on first use, with `mapSize`; later openers in
    /// this process share that map size).
    package static func acquire(directory: String, mapSize: Int) throws -> CacheEnvironment {
        try makeDirectory(directory)
        let canonical = URL(fileURLWithPath: directory).resolvingSymlinksInPath().standardizedFileURL.path
        registryLock.lock()
        defer { registryLock.unlock() }
        if let existing = registry[canonical] {
            existing.references += 1
            return existing
        }
        let env = try CacheEnvironment(directory: canonical, mapSize: mapSize)
        env.references = 1
        registry[canonical] = env
        return env
    }

    /// Creates the cache directory unless it exists: missing parents with the usual modes, the
    /// directory itself 0700 (owner only), whatever the umask. An existing directory keeps its mode:
    /// whoever made it wider (say, to share the cache with a group) meant it. The files LMDB makes in
    /// it are 0600 (`LMDBEnvironment.Options.mode`).
    package static func makeDirectory(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return }
            throw LMDBError(ENOTDIR, "mkdir")
        }
        let parent = parentDirectory(of: directory)
        if !parent.isEmpty { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        if mkdir(directory, 0o700) == 0 {
            chmod(directory, 0o700)  // a umask that takes the owner's bits would have left it unusable
        } else if errno != EEXIST {  // EEXIST: another process made it just now
            throw LMDBError(errno, "mkdir")
        }
    }

    /// The directory holding `path`, "" when it has none to create (a relative name of one
    /// component, or a child of `/`). Written out rather than with `NSString`'s
    /// `deletingLastPathComponent`, which traps on a one-character relative path (`--cache-dir c`)
    /// in swift-corelibs-foundation.
    package static func parentDirectory(of path: String) -> String {
        var bytes = Array(path.utf8)
        while bytes.count > 1, bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        var end = slash
        while end > 0, bytes[end - 1] == UInt8(ascii: "/") { end -= 1 }
        return end == 0 ? "" : String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// Drops one reference; the last one syncs and closes the environment.
    package func release() {
        Self.registryLock.lock()
        references -= 1
        let last = references == 0
        if last { Self.registry[directory] = nil }
        Self.registryLock.unlock()
        if last {
            lmdb.sync(force: true)
            lmdb.close()
        }
    }

    package static func ageKey(createdAt: Double, key: UnsafeRawBufferPointer) -> [UInt8] {
        let micros = createdAt.isFinite && createdAt > 0 ? UInt64(min(createdAt * 1_000_000, 1.8e19)) : 0
        var out = [UInt8]()
        out.reserveCapacity(8 + key.count)
        withUnsafeBytes(of: micros.bigEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: key)
        return out
    }

    package static func ageKey(createdAt: Double, key: [UInt8]) -> [UInt8] {
        key.withUnsafeBytes { ageKey(createdAt: createdAt, key: $0) }
    }

    /// The database holding `store`'s entries.
    package func database(_ store: CacheStore) -> LMDBDatabase {
        switch store {
        case .responses: return responses
        case .embeddings: return embeddings
        }
    }

    /// Every database of the cache: what its usage counts and `clear` empties.
    package var databases: [LMDBDatabase] { [responses, ageIndex, embeddings] }

    /// Pages held by the given databases, and the pages the map can hold.
    package static func usage(_ txn: LMDBTransaction, _ dbs: [LMDBDatabase]) throws(LMDBError) -> (used: Int, total: Int, pageSize: Int) {
        var used = 0
        var pageSize = 4096
        for db in dbs {
            let s = try txn.stat(db)
            used += Int(s.ms_branch_pages + s.ms_leaf_pages + s.ms_overflow_pages)
            pageSize = Int(s.ms_psize)
        }
        var info = MDB_envinfo()
        mdb_env_info(mdb_txn_env(txn.handle), &info)
        return (used, info.me_mapsize / max(pageSize, 1), pageSize)
    }
}
