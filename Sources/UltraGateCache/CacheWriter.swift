import UltraGateJSON
import UltraGateSupport
import CLMDB
import Foundation

/// Counters shared by the writer thread and `ResponseCache.stats()`.
package final class CacheCounters: @unchecked Sendable {
    private let lock = NSLock()
    private var values = Values()
    /// Where write failures are reported (standard error unless a test captures them), at most
    /// once per `failureReportInterval` seconds: a full disk fails every commit.
    private let report: @Sendable (String) -> Void
    private let failureReportInterval: Double
    /// Guarded by `lock`.
    private var lastFailureReport: Double = -.infinity
    private var failuresSinceReport = 0

    package init(failureReportInterval: Double = 60,
         report: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.failureReportInterval = failureReportInterval
        self.report = report
    }

    package struct Values {
        package var evictions = 0
        package var expiredRemoved = 0
        package var writeErrors = 0
        /// The last write failure, as LMDB or the writer described it.
        package var lastWriteError: String?
        package var oversizedSkipped = 0
        /// Entries over `ResponseCacheConfig.maxEntryBytes`, skipped before they reach the writer.
        package var tooLarge = 0
        package var commits = 0
        package var stored = 0
        /// Commits done on the caller's thread by `CacheWriter.commitInline` (also in `commits`).
        package var inlineCommits = 0
    }

    /// Counts a failed write (the answer was served, just not stored) and reports it: the first
    /// one at once, later ones folded into one line per interval.
    package func writeFailed(_ what: String, count: Int = 1) {
        let now = Double(Clock.nanos()) / 1e9
        lock.lock()
        values.writeErrors += count
        values.lastWriteError = what
        failuresSinceReport += count
        let due = now - lastFailureReport >= failureReportInterval
        let failures = failuresSinceReport
        if due {
            lastFailureReport = now
            failuresSinceReport = 0
        }
        lock.unlock()
        guard due else { return }
        let times = failures == 1 ? "" : " (\(failures) failures since the last report)"
        report("ultragate: cache write failed\(times): \(what); answers are still served, not cached")
    }

    package func update(_ change: (inout Values) -> Void) {
        lock.lock()
        change(&values)
        lock.unlock()
    }

    package var snapshot: Values {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}

/// The thread that writes the cache under load. LMDB's write lock belongs to an OS thread, so a
/// write transaction begins and commits on one thread, never across an `await`. `store` callers
/// enqueue and suspend; the thread takes everything queued and commits it in one transaction
/// (group commit), then resumes them all. Between batches it syncs (`MDB_NOSYNC` leaves that to
/// us), sweeps expired entries and keeps usage under the map size by evicting the oldest entries.
///
/// At low load a hop to this thread and back (two thread wake-ups) costs more than the commit
/// itself, so `commitInline` lets a caller commit one entry on its own thread when nothing is
/// queued, nothing else is writing and the map is comfortably below the eviction mark. Eviction,
/// sweeps and syncs stay here.
///
/// State below `condition` is touched only on the writer thread, except the members marked
/// "guarded by `condition`".
package final class CacheWriter: @unchecked Sendable {
    package struct Job {
        package let key: [UInt8]
        package let value: [UInt8]
        package let createdAt: Double
        /// Runs on the writer thread once the entry is committed (or could not be).
        package let done: @Sendable () -> Void
        /// Nobody waits for it (the request was answered already): it may wait a moment for
        /// company in a larger group commit.
        package var deferrable = false
        /// Which database it goes to.
        package var store: CacheStore = .responses
    }

    /// Evict when the databases hold more than this share of the map's pages…
    package static let highWater = 0.85
    /// …down to this share.
    package static let lowWater = 0.70
    /// Inline commits only while usage plus the new entry stays under this share, so they never
    /// need the eviction that only the writer thread runs.
    package static let inlineHighWater = 0.80
    /// Larger values go through the writer: copying them would hold a cooperative thread too long.
    package static let inlineMaxBytes = 256 << 10
    /// After a group commit, stores keep going to the writer for this long: stores that overlapped
    /// once will likely overlap again, and one batch is much cheaper than many inline commits that
    /// also stall the writer on LMDB's write lock. Measured: without it, 64 storing tasks fell to
    /// 3-5 entries per commit and lost more than half their throughput.
    package static let batchingWindowNanos: UInt64 = 1_000_000
    /// How long deferrable entries wait for company, and how many make a batch worth committing
    /// at once.
    package static let groupCommitDelay: TimeInterval = 0.0005
    package static let groupCommitBatch = 32

    private let env: CacheEnvironment
    private let counters: CacheCounters
    private let syncInterval: Double
    package let sweepInterval: Double
    package let sweepBatch: Int

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var queue: [Job] = []
    /// Guarded by `condition`.
    private var stopping = false
    /// The writer thread is running a write transaction or about to (guarded by `condition`).
    private var writerBusy = false
    /// A caller is inside `commitInline` (guarded by `condition`): one at a time, so two
    /// cooperative threads never block each other on LMDB's write lock.
    private var inlineActive = false
    /// An inline commit happened since the writer last looked (guarded by `condition`).
    private var inlineDirty = false
    /// Pages the databases held after the last commit or eviction seen by this process, and the
    /// pages the map holds (guarded by `condition`). A cheap pre-check only: the inline commit
    /// re-reads the exact figures inside its transaction (another process may have written).
    private var usedPagesEstimate = 0
    private var totalPagesEstimate = 0
    /// When the writer thread last finished a group commit, in `DispatchTime` nanoseconds (guarded
    /// by `condition`).
    private var lastBatchEnd: UInt64 = 0
    /// Sweeps asked for with an explicit clock (tests, admin), done on the writer thread.
    private var sweepRequests: [(now: Double, done: CheckedContinuation<Void, Never>)] = []
    private let finished = DispatchSemaphore(value: 0)

    private var dirty = false
    private var lastSync = Date()
    private var lastSweep = Date()
    /// Per store, where the next sweep resumes.
    private var sweepResumeKeys: [CacheStore: [UInt8]] = [:]

    package init(env: CacheEnvironment, counters: CacheCounters, syncInterval: Double, sweepInterval: Double = 60, sweepBatch: Int = 2000) {
        self.env = env
        self.counters = counters
        self.syncInterval = syncInterval > 0 ? syncInterval : 1
        self.sweepInterval = sweepInterval
        self.sweepBatch = sweepBatch
        if let usage = env.lmdb.withReadTransaction({ txn in try? CacheEnvironment.usage(txn, env.databases) }) {
            usedPagesEstimate = usage.used
            totalPagesEstimate = usage.total
        }
        let thread = Thread { [self] in run() }
        thread.name = "ultragate-cache-writer"
        thread.start()
    }

    /// Queues a job; false (and the job is not taken) once the writer is stopping.
    package func enqueue(_ job: Job) -> Bool {
        enqueue([job])
    }

    /// Queues jobs together: the writer takes all of them into the same group commit, and runs
    /// their `done`s in order once it is in. False (and none is taken) once the writer is stopping.
    package func enqueue(_ jobs: [Job]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        let before = queue.count
        queue.append(contentsOf: jobs)
        // Deferrable jobs join the batch being gathered; the writer is woken for the first job,
        // a full batch, or one somebody waits for.
        if jobs.contains(where: { !$0.deferrable }) || before == 0 || queue.count >= Self.groupCommitBatch {
            condition.signal()
        }
        return true
    }

    /// Runs an expired-entry sweep on the writer thread as of `now`; returns when it is done.
    package func sweep(now: Double) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            condition.lock()
            defer { condition.unlock() }
            guard !stopping else { done.resume(); return }
            sweepRequests.append((now, done))
            condition.signal()
        }
    }

    /// Commits what is queued, syncs, and ends the thread; returns when it has.
    package func stop() {
        condition.lock()
        let first = !stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if first { finished.wait() }
    }

    // MARK: Inline commits

    /// Commits one entry in a write transaction on the calling thread, when that is safe and cheap:
    /// nothing queued (so it cannot overtake a queued store of the same key), the writer thread
    /// and other callers not writing, the value small and the map comfortably below the eviction
    /// mark. Returns false, having changed nothing, when the caller should enqueue instead
    /// (including on any LMDB error such as `MDB_MAP_FULL`, which the writer then handles).
    /// Must not be called across an `await`: it begins and commits on this thread.
    package func commitInline(key: [UInt8], value: [UInt8], createdAt: Double, store: CacheStore = .responses) -> Bool {
        var job = Job(key: key, value: value, createdAt: createdAt, done: {})
        job.store = store
        return commitInline([job])
    }

    /// Commits `jobs` in one write transaction on the calling thread under the same conditions,
    /// their values together no larger than `inlineMaxBytes`; all or none. Their `done`s are not run.
    package func commitInline(_ jobs: [Job]) -> Bool {
        let bytes = jobs.reduce(0) { $0 + $1.value.count }
        guard !jobs.isEmpty, bytes <= Self.inlineMaxBytes else { return false }
        let pageSize = env.lmdb.pageSize
        let incomingPages = jobs.reduce(0) { $0 + Self.pagesNeeded($1.value.count + $1.key.count, pageSize: pageSize) }
        condition.lock()
        let now = DispatchTime.now().uptimeNanoseconds
        guard queue.isEmpty, !writerBusy, !inlineActive, !stopping, totalPagesEstimate > 0,
            now &- lastBatchEnd >= Self.batchingWindowNanos,
            usedPagesEstimate + incomingPages <= Int(Double(totalPagesEstimate) * Self.inlineHighWater)
        else {
            condition.unlock()
            return false
        }
        inlineActive = true
        condition.unlock()

        var after: (used: Int, total: Int, pageSize: Int)?
        do {
            after = try env.lmdb.withWriteTransaction { txn throws(LMDBError) -> (used: Int, total: Int, pageSize: Int)? in
                // The exact figures: another process may have filled the map since the estimate.
                let before = try CacheEnvironment.usage(txn, env.databases)
                guard before.used + incomingPages <= Int(Double(before.total) * Self.inlineHighWater) else { return nil }
                for job in jobs { try put(job, txn) }
                return try CacheEnvironment.usage(txn, env.databases)
            }
        } catch {
            after = nil
        }

        condition.lock()
        inlineActive = false
        if let after {
            inlineDirty = true
            usedPagesEstimate = after.used
            totalPagesEstimate = after.total
        }
        // The writer waits for an inline commit to end only when it stops. Signalling it after every
        // commit would wake that thread once per cache miss; it notices `inlineDirty` at its next
        // periodic sync instead.
        if stopping { condition.signal() }
        condition.unlock()
        guard after != nil else { return false }
        counters.update { $0.commits += 1; $0.stored += jobs.count; $0.inlineCommits += 1 }
        return true
    }

    /// Records the usage seen inside a write transaction of the writer thread.
    private func publishUsage(_ txn: LMDBTransaction) throws(LMDBError) {
        let usage = try CacheEnvironment.usage(txn, env.databases)
        condition.lock()
        usedPagesEstimate = usage.used
        totalPagesEstimate = usage.total
        condition.unlock()
    }

    // MARK: The writer thread

    private func run() {
        while true {
            condition.lock()
            // Stopping waits for an inline commit in progress, so the final sync covers it.
            while queue.isEmpty && !(stopping && !inlineActive) && sweepRequests.isEmpty {
                let next = min(lastSync.addingTimeInterval(syncInterval), lastSweep.addingTimeInterval(sweepInterval))
                if !condition.wait(until: next) { break }
            }
            // Only deferrable jobs so far: gather more for one commit, briefly. Measured at 64
            // connections without this: ~1.8 entries per commit, the writer waking for nearly each.
            if !queue.isEmpty, queue.count < Self.groupCommitBatch, !stopping, !queue.contains(where: { !$0.deferrable }) {
                _ = condition.wait(until: Date(timeIntervalSinceNow: Self.groupCommitDelay))
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            let stop = stopping && !inlineActive
            let sweeps = sweepRequests
            sweepRequests.removeAll()
            if inlineDirty {
                dirty = true
                inlineDirty = false
            }
            let now = Date()
            let periodicSweep = now.timeIntervalSince(lastSweep) >= sweepInterval
            let busy = !batch.isEmpty || !sweeps.isEmpty || periodicSweep
            writerBusy = busy
            condition.unlock()

            if !batch.isEmpty {
                commit(batch)
                for job in batch { job.done() }
            }
            for request in sweeps {
                sweepExpired(now: request.now)
                request.done.resume()
            }
            if periodicSweep {
                sweepExpired(now: now.timeIntervalSince1970)
                lastSweep = now
            }
            if busy {
                condition.lock()
                writerBusy = false
                if !batch.isEmpty { lastBatchEnd = DispatchTime.now().uptimeNanoseconds }
                condition.unlock()
            }
            if stop || now.timeIntervalSince(lastSync) >= syncInterval {
                if dirty { env.lmdb.sync(force: true) }
                dirty = false
                lastSync = now
                env.lmdb.checkReaders()
            }
            if stop {
                condition.lock()
                let drained = queue.isEmpty && sweepRequests.isEmpty
                condition.unlock()
                if drained { break }
            }
        }
        finished.signal()
    }

    // MARK: Writing

    private func commit(_ batch: [Job]) {
        let pageSize = env.lmdb.pageSize
        let mapBytes = env.lmdb.info.me_mapsize
        var accepted: [Job] = []
        accepted.reserveCapacity(batch.count)
        for job in batch {
            // A value that needs more than a quarter of the map could only be stored by emptying
            // most of the cache, and might never fit: skip it.
            if job.value.count + job.key.count > mapBytes / 4 {
                counters.update { $0.oversizedSkipped += 1 }
                counters.writeFailed("an entry of \(job.value.count) bytes is larger than a quarter of the cache (cache.max_bytes \(mapBytes))")
            } else {
                accepted.append(job)
            }
        }
        guard !accepted.isEmpty else { return }
        let incomingPages = accepted.reduce(0) { $0 + Self.pagesNeeded($1.value.count, pageSize: pageSize) }
        makeRoom(incomingPages: incomingPages)
        if write(accepted, incomingPages: incomingPages) == nil { return }
        // The batch as a whole would not go in: try each job alone so one bad entry costs only itself.
        for job in accepted {
            if let error = write([job], incomingPages: Self.pagesNeeded(job.value.count, pageSize: pageSize)) {
                counters.writeFailed(error)
            }
        }
    }

    /// Puts the jobs in one transaction; on `MDB_MAP_FULL` evicts more and retries a few times.
    /// Returns why it failed, or nil once they are in.
    private func write(_ jobs: [Job], incomingPages: Int) -> String? {
        var failure = "the cache stayed full after evicting"
        for attempt in 0..<4 {
            do {
                try env.lmdb.withWriteTransaction { txn throws(LMDBError) in
                    for job in jobs { try put(job, txn) }
                    try publishUsage(txn)
                }
                dirty = true
                counters.update { $0.commits += 1; $0.stored += jobs.count }
                return nil
            } catch where error.isMapFull {
                // Free more than the pre-check did, growing each time: old snapshots and freelist
                // fragmentation can keep freed pages from being reusable right away.
                failure = "\(error)"
                makeRoom(incomingPages: incomingPages * (attempt + 2), force: true, extraShare: 0.1 * Double(attempt + 1))
            } catch {
                return "\(error)"
            }
        }
        return failure
    }

    /// Puts one entry and its age-index entry, replacing the age entry of the value it overwrites.
    private func put(_ job: Job, _ txn: LMDBTransaction) throws(LMDBError) {
        let db = env.database(job.store)
        if let old = try txn.get(db, job.key), let times = job.store.peekTimes(old) {
            try txn.delete(env.ageIndex, CacheEnvironment.ageKey(createdAt: times.createdAt, key: job.key))
        }
        try txn.put(db, job.key, job.value)
        try txn.put(env.ageIndex, CacheEnvironment.ageKey(createdAt: job.createdAt, key: job.key), [])
    }

    /// Deletes the entry of `key` from the store that holds it: keys of different stores never
    /// collide (each hashes its own version tag). (A loop over the stores inside the eviction's
    /// typed-throws closure crashed the release compiler, 6.3.1.)
    private func deleteEntry(_ key: [UInt8], _ txn: LMDBTransaction) throws(LMDBError) {
        if try txn.delete(env.responses, key) { return }
        try txn.delete(env.embeddings, key)
    }

    package static func pagesNeeded(_ bytes: Int, pageSize: Int) -> Int { (bytes + 64) / max(pageSize, 1) + 1 }

    // MARK: Eviction

    /// Deletes oldest entries (in their own transaction, so the freed pages are reusable by the next
    /// one) when usage plus `incomingPages` would pass the high-water mark, down to the low-water mark.
    private func makeRoom(incomingPages: Int, force: Bool = false, extraShare: Double = 0) {
        var limit = Int.max
        for _ in 0..<3 {
            do {
                try env.lmdb.withWriteTransaction { txn throws(LMDBError) in
                    var usage = try CacheEnvironment.usage(txn, env.databases)
                    let high = Int(Double(usage.total) * Self.highWater)
                    guard force || usage.used + incomingPages > high else { return }
                    let target = Int(Double(usage.total) * max(Self.lowWater - extraShare, 0)) - incomingPages
                    let cursor = try txn.openCursor(env.ageIndex)
                    var removed = 0
                    var entry = try cursor.move(MDB_FIRST)
                    while let e = entry, usage.used > target || (force && removed == 0), removed < limit {
                        let key = [UInt8](UnsafeRawBufferPointer(rebasing: e.key[8...]))
                        try cursor.deleteCurrent()
                        if key.count == SHA256.digestSize { try deleteEntry(key, txn) }
                        removed += 1
                        usage = try CacheEnvironment.usage(txn, env.databases)
                        entry = try cursor.move(MDB_NEXT)
                    }
                    counters.update { $0.evictions += removed }
                    try publishUsage(txn)
                }
                dirty = true
                return
            } catch where error.isMapFull {
                // Deleting copies pages too; at the very limit, free a little at a time.
                limit = limit == Int.max ? 16 : max(limit / 4, 1)
            } catch {
                counters.writeFailed("evicting: \(error)")
                return
            }
        }
    }

    // MARK: Expiry

    /// Removes expired (and unreadable) entries of every store, at most `sweepBatch` visited per
    /// store and call, resuming where the previous call stopped so a large cache is swept in short
    /// transactions.
    private func sweepExpired(now: Double) {
        for store in CacheStore.allCases { sweepExpired(store, now: now) }
    }

    private func sweepExpired(_ store: CacheStore, now: Double) {
        let db = env.database(store)
        do {
            try env.lmdb.withWriteTransaction { txn throws(LMDBError) in
                let cursor = try txn.openCursor(db)
                var entry: (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)?
                if let resume = sweepResumeKeys[store] {
                    entry = try cursor.move(MDB_SET_RANGE, seek: resume)
                } else {
                    entry = try cursor.move(MDB_FIRST)
                }
                var visited = 0
                var removed = 0
                while let e = entry, visited < sweepBatch {
                    visited += 1
                    let times = store.peekTimes(e.value)
                    if times == nil || CachedResponse.isExpired(expiresAt: times!.expiresAt, now: now) {
                        let key = [UInt8](e.key)
                        try cursor.deleteCurrent()
                        if let times { try txn.delete(env.ageIndex, CacheEnvironment.ageKey(createdAt: times.createdAt, key: key)) }
                        removed += 1
                    }
                    entry = try cursor.move(MDB_NEXT)
                }
                sweepResumeKeys[store] = entry.map { [UInt8]($0.key) }
                counters.update { $0.expiredRemoved += removed }
                try publishUsage(txn)
            }
            dirty = true
        } catch {
            counters.writeFailed("removing expired entries: \(error)")
        }
    }
}
