import UltraGateJSON
import UltraGateSupport
import CLMDB
import Foundation

/// Owns one `MDB_env*` (one per directory per process: LMDB forbids opening an environment twice in
/// a process, because POSIX record locks are per process; `CacheEnvironment` shares it).
///
/// Thread rules: read transactions may run on any thread (the env is opened with `MDB_NOTLS`, so a
/// pooled, reset read transaction can be renewed by another thread); a write transaction begins
/// and commits on one thread. Every transaction runs under `mapLock` held shared, because adopting a
/// map size grown by another process (`MDB_MAP_RESIZED`) remaps the file and must exclude them all.
public final class LMDBEnvironment: @unchecked Sendable {
    public struct Options: Sendable {
        public var mapSize: Int
        public var maxReaders: UInt32 = 1024
        /// Named databases one environment may hold: the response cache, its age index and the
        /// embeddings cache take three; stores of other features (keys, stored responses) open
        /// theirs in the same environment. Generous, as LMDB sizes only a small table by it.
        public var maxDatabases: UInt32 = 64
        public var flags: UInt32 = UInt32(MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS)
        /// Of the files LMDB creates (`data.mdb`, `lock.mdb`): owner only, as cached answers may
        /// hold anything a prompt did. The umask can only narrow it; existing files keep theirs.
        public var mode: mdb_mode_t = 0o600
        public init(mapSize: Int) { self.mapSize = mapSize }
    }

    package let handle: OpaquePointer
    public let path: String
    private let mapLock: UnsafeMutablePointer<pthread_rwlock_t>
    /// Reset read transactions ready for `mdb_txn_renew`: each keeps its reader slot, so a lookup
    /// costs no slot search and no allocation.
    private var idleReaders: [OpaquePointer] = []
    private let idleLock = NSLock()
    private let maxIdleReaders = 32
    /// Set under the exclusive map lock; checked under the shared one.
    private var closed = false

    public init(path: String, options: Options) throws(LMDBError) {
        var env: OpaquePointer?
        try LMDBError.check(mdb_env_create(&env), "mdb_env_create")
        guard let env else { throw LMDBError(ENOMEM, "mdb_env_create") }
        do throws(LMDBError) {
            try LMDBError.check(mdb_env_set_mapsize(env, options.mapSize), "mdb_env_set_mapsize")
            try LMDBError.check(mdb_env_set_maxreaders(env, options.maxReaders), "mdb_env_set_maxreaders")
            try LMDBError.check(mdb_env_set_maxdbs(env, options.maxDatabases), "mdb_env_set_maxdbs")
            try LMDBError.check(mdb_env_open(env, path, options.flags, options.mode), "mdb_env_open \(path)")
        } catch {
            mdb_env_close(env)
            throw error
        }
        handle = env
        self.path = path
        mapLock = .allocate(capacity: 1)
        pthread_rwlock_init(mapLock, nil)
        var dead: Int32 = 0
        mdb_reader_check(env, &dead)  // free slots of crashed processes
    }

    deinit {
        close()
        pthread_rwlock_destroy(mapLock)
        mapLock.deallocate()
    }

    /// Aborts pooled readers and closes the environment. Callers must have stopped using it.
    public func close() {
        pthread_rwlock_wrlock(mapLock)
        defer { pthread_rwlock_unlock(mapLock) }
        guard !closed else { return }
        closed = true
        idleLock.lock()
        let readers = idleReaders
        idleReaders = []
        idleLock.unlock()
        for txn in readers { mdb_txn_abort(txn) }
        mdb_env_close(handle)
    }

    /// Opens (creating if needed) a named database in its own write transaction.
    public func openDatabase(_ name: String) throws(LMDBError) -> LMDBDatabase {
        try withWriteTransaction { txn throws(LMDBError) in
            var dbi: MDB_dbi = 0
            try LMDBError.check(mdb_dbi_open(txn.handle, name, UInt32(MDB_CREATE), &dbi), "mdb_dbi_open \(name)")
            return LMDBDatabase(dbi: dbi)
        }
    }

    /// Runs `body` in a read transaction taken from the pool; nil if the environment is closed or a
    /// transaction cannot be had. `body` must copy whatever it keeps out of the map.
    public func withReadTransaction<R>(_ body: (LMDBTransaction) -> R?) -> R? {
        for attempt in 0..<2 {
            pthread_rwlock_rdlock(mapLock)
            if closed { pthread_rwlock_unlock(mapLock); return nil }
            let rc: Int32
            var txn: OpaquePointer?
            idleLock.lock()
            txn = idleReaders.popLast()
            idleLock.unlock()
            if let pooled = txn {
                rc = mdb_txn_renew(pooled)
                if rc != 0 { mdb_txn_abort(pooled); txn = nil }
            } else {
                rc = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
            }
            guard rc == 0, let txn else {
                pthread_rwlock_unlock(mapLock)
                if rc == MDB_MAP_RESIZED, attempt == 0, adoptGrownMapSize() { continue }
                return nil
            }
            let result = body(LMDBTransaction(handle: txn))
            mdb_txn_reset(txn)
            idleLock.lock()
            let keep = idleReaders.count < maxIdleReaders
            if keep { idleReaders.append(txn) }
            idleLock.unlock()
            if !keep { mdb_txn_abort(txn) }
            pthread_rwlock_unlock(mapLock)
            return result
        }
        return nil
    }

    /// Runs `body` in a write transaction on the calling thread and commits it; aborts if `body`
    /// throws. Blocks while another thread or process holds LMDB's write lock.
    public func withWriteTransaction<R>(_ body: (LMDBTransaction) throws(LMDBError) -> R) throws(LMDBError) -> R {
        for attempt in 0..<2 {
            pthread_rwlock_rdlock(mapLock)
            if closed {
                pthread_rwlock_unlock(mapLock)
                throw LMDBError(EINVAL, "environment closed")
            }
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(handle, nil, 0, &txn)
            guard rc == 0, let txn else {
                pthread_rwlock_unlock(mapLock)
                if rc == MDB_MAP_RESIZED, attempt == 0, adoptGrownMapSize() { continue }
                throw LMDBError(rc, "mdb_txn_begin")
            }
            defer { pthread_rwlock_unlock(mapLock) }
            let t = LMDBTransaction(handle: txn)
            let result: R
            do {
                result = try body(t)
            } catch {
                t.abort()
                throw error
            }
            try t.commit()
            return result
        }
        throw LMDBError(MDB_MAP_RESIZED, "mdb_txn_begin")
    }

    /// Another process grew the map past ours: remap at the size recorded in the file, with every
    /// transaction of this process excluded.
    private func adoptGrownMapSize() -> Bool {
        pthread_rwlock_wrlock(mapLock)
        defer { pthread_rwlock_unlock(mapLock) }
        return !closed && mdb_env_set_mapsize(handle, 0) == 0
    }

    public var info: MDB_envinfo {
        var i = MDB_envinfo()
        pthread_rwlock_rdlock(mapLock)
        if !closed { mdb_env_info(handle, &i) }
        pthread_rwlock_unlock(mapLock)
        return i
    }

    public var pageSize: Int {
        var s = MDB_stat()
        mdb_env_stat(handle, &s)
        return Int(s.ms_psize)
    }

    /// Flushes committed transactions to disk (the env runs with `MDB_NOSYNC`).
    public func sync(force: Bool = true) {
        pthread_rwlock_rdlock(mapLock)
        if !closed { mdb_env_sync(handle, force ? 1 : 0) }
        pthread_rwlock_unlock(mapLock)
    }

    /// Clears reader slots left by processes that died; returns how many.
    @discardableResult
    public func checkReaders() -> Int {
        var dead: Int32 = 0
        pthread_rwlock_rdlock(mapLock)
        if !closed { mdb_reader_check(handle, &dead) }
        pthread_rwlock_unlock(mapLock)
        return Int(dead)
    }
}
