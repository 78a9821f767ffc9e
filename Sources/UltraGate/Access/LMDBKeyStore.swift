import Synchronization
import UltraGateCache
import UltraGateJSON
import UltraGateSupport
import Foundation

/// The virtual keys and their usage, in LMDB beside the response cache: four named databases of
/// the directory's environment (shared in-process with the cache through `CacheEnvironment`), so
/// every process that opens the directory sees the same keys and adds to the same spend.
///
/// | database | key → value |
/// | --- | --- |
/// | `keys` | name → the key's stored JSON (`VirtualKey.storedJSON`: SHA-256 of the secret, never the secret) |
/// | `key_hashes` | SHA-256 of the secret → name |
/// | `key_usage` | `KeyUsageRow` (name, window, model) → `KeyUsageCounters` (40 bytes) |
/// | `key_meta` | `keys` / `usage` → a generation (UInt64) bumped by every change to keys / usage |
///
/// **Hot path.** `key(hash:)` and `spend` answer from memory under one lock. A background thread
/// reads the two generations every `refreshInterval` (0.25 s) in one read transaction and reloads
/// the keys (or the spends of the current windows) only when one changed, so a key created,
/// changed or revoked by any process takes effect everywhere within about a quarter second.
///
/// **Spend.** `record` adds to the key's in-memory tally (`KeyTally`), which becomes per-row
/// deltas when written; the same thread writes them every
/// `flushInterval` (0.5 s) in one write transaction that reads, adds and writes each row, so
/// processes sharing the directory add up (LMDB serializes writers across processes). `spend` is
/// the stored total plus this process's deltas not yet written. `close()` writes what is left.
/// After `kill -9` the deltas not yet written are lost: at most the last `flushInterval` plus one
/// refresh tick of spend, under a second. Other processes see a process's spend once it is written
/// and their next refresh has read it: a budget shared by several processes can be overrun by
/// what they spend in about a second.
package final class LMDBKeyStore: KeyStore, @unchecked Sendable {
    package struct Options: Sendable {
        package var refreshInterval = 0.25
        package var flushInterval = 0.5
        /// Runs the refresh-and-flush thread; tests turn it off and call `refresh()` and `flush()`.
        package var background = true
        package var clock = AccessClock.system
        package init() {}
    }

    package let directory: String
    package let clock: AccessClock
    private let options: Options
    private let environment: CacheEnvironment
    private let keysDB: LMDBDatabase
    private let hashesDB: LMDBDatabase
    private let usageDB: LMDBDatabase
    private let metaDB: LMDBDatabase

    /// Guards everything below.
    private let lock = NSLock()
    private var snapshot = Snapshot()
    /// Bumped (under `lock`) whenever the snapshot's grants are replaced: `grantsVersion`.
    private let grantsReloads = Atomic<UInt64>(1)
    /// Stored total spend (model "") of the windows asked about, as of the last refresh or flush.
    private var storedSpend: [KeyUsageRow: Double] = [:]
    /// The usage generation `storedSpend` was read or written at.
    private var storedSpendGeneration: UInt64 = 0
    /// Usage recorded and not yet handed to a flush: in `tallies` (as recorded), then as rows.
    private var pending: [KeyUsageRow: KeyUsageCounters] = [:]
    /// The tallies holding usage not yet moved to `pending`.
    private var tallies: [KeyTally] = []
    /// Usage a flush is writing now: still counted by `spend` until its transaction commits.
    private var flushing: [KeyUsageRow: KeyUsageCounters] = [:]
    /// The secret hash of the key each name's pending usage belongs to: a delta of a key revoked
    /// (and maybe created again under its name) in the meantime is dropped, not booked on the new one.
    private var owners: [String: KeyHash] = [:]
    /// What this process booked per key and team since it started, by `name NUL team`.
    private var processTotals: [String: KeyProcessTotal] = [:]
    private var closed = false
    private var lastFailureReport = -Double.infinity

    /// Wakes the background thread early (to stop).
    private let wake = NSCondition()
    private var stopping = false
    private var worker: Thread?
    private let workerDone = DispatchSemaphore(value: 0)

    /// The keys as last read, by secret hash and by name, and the generations they were read at.
    private struct Snapshot {
        var byHash: [KeyHash: KeyGrant] = [:]
        var byName: [String: KeyGrant] = [:]
        var keysGeneration: UInt64?
        var usageGeneration: UInt64?
    }

    private static let keysGenerationKey = Array("keys".utf8)
    private static let usageGenerationKey = Array("usage".utf8)

    /// Opens (creating when missing) the key store in `directory`, sharing this process's
    /// environment of it; `mapSize` is used when this is the first opener in the process.
    package init(directory: String, mapSize: Int, options: Options = Options()) throws {
        self.directory = directory
        self.options = options
        clock = options.clock
        environment = try CacheEnvironment.acquire(directory: directory, mapSize: mapSize)
        do {
            keysDB = try environment.lmdb.openDatabase("keys")
            hashesDB = try environment.lmdb.openDatabase("key_hashes")
            usageDB = try environment.lmdb.openDatabase("key_usage")
            metaDB = try environment.lmdb.openDatabase("key_meta")
        } catch {
            environment.release()
            throw error
        }
        refresh()
        if options.background { startWorker() }
    }

    deinit { close() }

    // MARK: KeyStore (hot path)

    package func key(hash: [UInt8]) -> VirtualKey? { grant(hash: hash)?.key }

    package func grant(hash: KeyHash) -> KeyGrant? {
        lock.lock()
        defer { lock.unlock() }
        return snapshot.byHash[hash]
    }

    package var grantsVersion: UInt64? { grantsReloads.load(ordering: .acquiring) }

    /// The key named `name`, as of the last refresh.
    package func key(named name: String) -> VirtualKey? {
        lock.lock()
        defer { lock.unlock() }
        return snapshot.byName[name]?.key
    }

    package func spend(name: String, periodStart: Double) -> Double {
        let row = KeyUsageRow(name: name, windowStart: KeyUsageRow.windowStart(periodStart), model: "")
        lock.lock()
        if let stored = storedSpend[row] {
            defer { lock.unlock() }
            return stored + unwrittenSpend(row)
        }
        lock.unlock()
        // A window not read yet (the period just began, or the key is new): read it once. A flush
        // that committed meanwhile has set the newer total, which wins.
        let read = readCounters([row])[row]?.spendUSD ?? 0
        lock.lock()
        defer { lock.unlock() }
        let stored = storedSpend[row] ?? read
        storedSpend[row] = stored
        return stored + unwrittenSpend(row)
    }

    /// Spend recorded here and not yet committed. Called under `lock`.
    private func unwrittenSpend(_ row: KeyUsageRow) -> Double {
        // Both are empty between flushes (nearly always): no hashing then.
        var spend = (pending.isEmpty ? 0 : pending[row]?.spendUSD ?? 0) + (flushing.isEmpty ? 0 : flushing[row]?.spendUSD ?? 0)
        if let tally = snapshot.byName[row.name]?.tally, !tally.isEmpty, tally.windowStart == row.windowStart {
            spend += tally.total.spendUSD
        }
        return spend
    }

    package func record(_ usage: KeyUsageEvent) {
        lock.lock()
        let grant = snapshot.byName[usage.name]
        lock.unlock()
        if let grant { record(usage, grant: grant) }
    }

    /// Adds the usage to the grant's tally: on every keyed request, so one dictionary update (by
    /// model) under the lock. The tally becomes rows of this window, this model and all models
    /// (the one budgets read) when moved; the all-time rows are added when written.
    package func record(_ delta: KeyUsageCounters, model: String, at now: Double, grant: KeyGrant) {
        guard let tally = grant.tally else { return }
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        // "" is the all-models row: a request that never named a model is filed as `unknown`.
        if !tally.add(delta, model: model.isEmpty ? "unknown" : model, now: now, of: grant) {
            // A new window began: the old one's counts become rows first.
            moveToPending(tally)
            _ = tally.add(delta, model: model.isEmpty ? "unknown" : model, now: now, of: grant)
        }
        if !tally.queued {
            tally.queued = true
            tallies.append(tally)
        }
    }

    /// Turns a tally's counts into pending rows and empties it. Called under `lock`.
    private func moveToPending(_ tally: KeyTally) {
        guard !tally.isEmpty else { return }
        for (model, counters) in tally.byModel {
            pending[KeyUsageRow(name: tally.name, windowStart: tally.windowStart, model: model), default: KeyUsageCounters()] += counters
        }
        pending[KeyUsageRow(name: tally.name, windowStart: tally.windowStart, model: ""), default: KeyUsageCounters()] += tally.total
        owners[tally.name] = tally.owner
        let queued = tally.queued
        tally.reset()
        tally.queued = queued  // still listed in `tallies`
    }

    /// Moves every listed tally to the pending rows. Called under `lock`.
    private func moveTalliesToPending() {
        for tally in tallies {
            moveToPending(tally)
            tally.queued = false
        }
        tallies.removeAll(keepingCapacity: true)
    }

    // MARK: Administration (reads and writes LMDB directly)

    /// A new key made from a creation body (see `KeySpecValidator`), and its secret: the only
    /// time the secret exists outside its holder.
    package func create(_ body: JSONObject) throws(KeyAdminError) -> (key: VirtualKey, secret: String) {
        let secret = VirtualKeySecret.generate()
        let key: VirtualKey
        do {
            key = try KeySpecValidator.newKey(body, now: clock.now(), secretHash: VirtualKeySecret.hash(secret),
                                              hint: VirtualKeySecret.hint(secret))
        } catch {
            throw .invalid(error)
        }
        try write { txn throws(LMDBError) -> KeyAdminError? in
            if try txn.get(keysDB, Array(key.name.utf8)) != nil { return .exists(key.name) }
            try put(key, txn)
            return nil
        }
        return (key, secret)
    }

    /// The key named `name` with the fields of an update body changed.
    package func update(name: String, _ body: JSONObject) throws(KeyAdminError) -> VirtualKey {
        let now = clock.now()
        var result: Result<VirtualKey, KeyAdminError> = .failure(.notFound(name))
        try write { txn throws(LMDBError) -> KeyAdminError? in
            guard let current = try storedKey(name, txn) else { return .notFound(name) }
            let changed: VirtualKey
            do throws(KeySpecError) { changed = try KeySpecValidator.updated(current, with: body, now: now) } catch {
                return .invalid(error)
            }
            try put(changed, txn)
            result = .success(changed)
            return nil
        }
        return try result.get()
    }

    /// Deletes the key named `name`, its secret's hash and its usage; its secret stops working in
    /// every process at their next refresh.
    package func revoke(name: String) throws(KeyAdminError) {
        try write { txn throws(LMDBError) -> KeyAdminError? in
            guard let current = try storedKey(name, txn) else { return .notFound(name) }
            try txn.delete(keysDB, Array(name.utf8))
            try txn.delete(hashesDB, current.secretHash)
            var rows: [[UInt8]] = []
            try txn.forEach(usageDB, prefix: KeyUsageRow.keyPrefix(name)) { key, _ in
                rows.append(Array(key))
                return true
            }
            for row in rows { try txn.delete(usageDB, row) }
            return nil
        }
    }

    /// Every key, by name, as stored now.
    package func list() throws(KeyAdminError) -> [VirtualKey] {
        try read { txn throws(LMDBError) in
            var keys: [VirtualKey] = []
            try txn.forEach(keysDB) { _, value in
                if let key = Self.decode(value) { keys.append(key) }
                return true
            }
            return keys
        }
    }

    /// The key named `name` as stored now.
    package func get(name: String) throws(KeyAdminError) -> VirtualKey? {
        try read { txn throws(LMDBError) in try storedKey(name, txn) }
    }

    /// The key's usage in its current period and all time, per model, this process's unwritten
    /// usage included.
    package func usage(name: String) throws(KeyAdminError) -> KeyUsageReport {
        let now = clock.now()
        let found: KeyUsageReport? = try read { txn throws(LMDBError) -> KeyUsageReport? in
            guard let key = try storedKey(name, txn) else { return nil }
            var report = KeyUsageReport(key: key, period: key.usageWindow(now: now))
            func rows(_ window: Int64?) throws(LMDBError) -> [String: KeyUsageCounters] {
                let prefix = KeyUsageRow.prefix(name: name, windowStart: window)
                var out: [String: KeyUsageCounters] = [:]
                try txn.forEach(usageDB, prefix: prefix) { rowKey, value in
                    if let counters = KeyUsageCounters(decoding: value) {
                        out[KeyUsageRow.model(of: rowKey, prefixLength: prefix.count)] = counters
                    }
                    return true
                }
                return out
            }
            report.currentPeriod = try rows(KeyUsageRow.windowStart(report.period.start))
            report.allTime = try rows(nil)
            return report
        }
        guard var report = found else { throw .notFound(name) }
        let start = KeyUsageRow.windowStart(report.period.start)
        lock.lock()
        moveTalliesToPending()
        let owned = owners[name].map { $0 == KeyHash(report.key.secretHash) } ?? false
        if owned {
            for (row, delta) in pending.merging(flushing, uniquingKeysWith: Self.sum) where row.name == name {
                report.allTime[row.model, default: KeyUsageCounters()] += delta
                if row.windowStart == start { report.currentPeriod[row.model, default: KeyUsageCounters()] += delta }
            }
        }
        lock.unlock()
        return report
    }

    /// What this process booked per key and team since it started (the per-key metrics).
    package func processUsage() -> [KeyProcessUsage]? {
        lock.lock()
        defer { lock.unlock() }
        return processTotals.values.map { total in
            let current = snapshot.byName[total.name].map { ($0.key.team ?? "") == total.team } ?? false
            return KeyProcessUsage(name: total.name, team: total.team, usage: total.usage, current: current)
        }
    }

    // MARK: Refresh and flush

    /// Reads the generations and reloads what changed since the last read: the keys, or the stored
    /// spend of each budgeted key's current window. One read transaction; cheap when nothing changed.
    package func refresh() {
        lock.lock()
        let known = (snapshot.keysGeneration, snapshot.usageGeneration)
        let current = snapshot.byName.values.map(\.key)
        lock.unlock()
        let now = clock.now()
        typealias Reload = (keys: [VirtualKey]?, generations: (UInt64, UInt64), spend: [KeyUsageRow: Double]?)
        let reload: Reload? = environment.lmdb.withReadTransaction { txn -> Reload? in
            let generations = (Self.generation(Self.keysGenerationKey, metaDB, txn), Self.generation(Self.usageGenerationKey, metaDB, txn))
            var keys: [VirtualKey]?
            if generations.0 != known.0 {
                var loaded: [VirtualKey] = []
                guard (try? txn.forEach(keysDB, { _, value in
                    if let key = Self.decode(value) { loaded.append(key) }
                    return true
                })) != nil else { return nil }
                keys = loaded
            }
            var spend: [KeyUsageRow: Double]?
            if generations.0 != known.0 || generations.1 != known.1 {
                var rows: [KeyUsageRow: Double] = [:]
                for key in keys ?? current {
                    guard let window = key.budgetWindow(now: now) else { continue }
                    let row = KeyUsageRow(name: key.name, windowStart: KeyUsageRow.windowStart(window.start), model: "")
                    let raw = try? txn.get(usageDB, row.encoded)
                    rows[row] = raw.flatMap { KeyUsageCounters(decoding: $0) }?.spendUSD ?? 0
                }
                spend = rows
            }
            return (keys, generations, spend)
        }
        guard let reload else { return }
        lock.lock()
        if let keys = reload.keys {
            // The old grants' tallies become rows first: `spend` reads the current grants' only.
            moveTalliesToPending()
            var next = Snapshot()
            for key in keys {
                guard let hash = KeyHash(key.secretHash) else { continue }
                let totalKey = key.name + "\u{0}" + (key.team ?? "")
                let total = processTotals[totalKey] ?? KeyProcessTotal(name: key.name, team: key.team ?? "")
                processTotals[totalKey] = total
                let grant = KeyGrant(key, tally: KeyTally(name: key.name, owner: hash, processTotal: total))
                next.byName[key.name] = grant
                next.byHash[hash] = grant
            }
            snapshot.byHash = next.byHash
            snapshot.byName = next.byName
            grantsReloads.add(1, ordering: .releasing)
        }
        // A flush that committed after this read began has newer totals than it read.
        if let spend = reload.spend, reload.generations.1 >= storedSpendGeneration {
            storedSpend = spend
            storedSpendGeneration = reload.generations.1
        }
        snapshot.keysGeneration = reload.generations.0
        snapshot.usageGeneration = reload.generations.1
        lock.unlock()
    }

    /// `rows` (recorded per window) plus the all-time rows they add to.
    private static func withAllTimeRows(_ rows: [KeyUsageRow: KeyUsageCounters]) -> [KeyUsageRow: KeyUsageCounters] {
        var out = rows
        for (row, delta) in rows where row.windowStart != nil {
            out[KeyUsageRow(name: row.name, windowStart: nil, model: row.model), default: KeyUsageCounters()] += delta
        }
        return out
    }

    /// Writes the recorded usage in one transaction (each row read, added to and written back);
    /// on failure the usage stays pending for the next flush.
    package func flush() {
        lock.lock()
        if flushing.isEmpty { moveTalliesToPending() }
        guard flushing.isEmpty, !pending.isEmpty else { lock.unlock(); return }
        flushing = pending
        pending = [:]
        let owners = self.owners
        self.owners = [:]
        let batch = Self.withAllTimeRows(flushing)
        lock.unlock()
        do {
            let (totals, generation) = try environment.lmdb.withWriteTransaction { txn throws(LMDBError) -> ([KeyUsageRow: Double], UInt64) in
                var live: [String: Bool] = [:]
                var totals: [KeyUsageRow: Double] = [:]
                for (row, delta) in batch {
                    if live[row.name] == nil {
                        var holder: String?
                        if let owner = owners[row.name], let raw = try txn.get(hashesDB, owner.bytes) {
                            holder = String(decoding: raw, as: UTF8.self)
                        }
                        live[row.name] = holder == row.name
                    }
                    guard live[row.name] == true else { continue }
                    let key = row.encoded
                    var counters = try txn.get(usageDB, key).flatMap { KeyUsageCounters(decoding: $0) } ?? KeyUsageCounters()
                    counters += delta
                    try txn.put(usageDB, key, counters.encoded)
                    if row.model.isEmpty, row.windowStart != nil { totals[row] = counters.spendUSD }
                }
                return (totals, try bumpGeneration(Self.usageGenerationKey, txn))
            }
            lock.lock()
            flushing = [:]
            storedSpend.merge(totals) { _, new in new }
            storedSpendGeneration = max(storedSpendGeneration, generation)
            lock.unlock()
        } catch {
            lock.lock()
            pending.merge(flushing, uniquingKeysWith: Self.sum)
            flushing = [:]
            self.owners.merge(owners) { current, _ in current }
            lock.unlock()
            report("ultragate: key usage could not be written (kept in memory, retried): \(error)")
        }
    }

    /// Stops the background thread, writes the pending usage, syncs and lets go of the environment.
    package func close() {
        stopWorker()
        lock.lock()
        let wasClosed = closed
        closed = true  // no more recording: what is pending now is all there is to write
        lock.unlock()
        guard !wasClosed else { return }
        flush()
        environment.lmdb.sync(force: true)
        environment.release()
    }

    /// Tests only: lets go of the store the way a killed process does, writing nothing more.
    package func abandon() {
        stopWorker()
        lock.lock()
        let wasClosed = closed
        closed = true
        pending = [:]
        tallies = []
        lock.unlock()
        if !wasClosed { environment.release() }
    }

    // MARK: Background thread

    private func startWorker() {
        let wake = self.wake
        let done = workerDone
        let refreshInterval = options.refreshInterval
        let flushNanos = UInt64(options.flushInterval * 1e9)
        let thread = Thread { [weak self] in
            var lastFlush = Clock.nanos()
            while true {
                wake.lock()
                if self?.stopping ?? true { wake.unlock(); break }
                wake.wait(until: Date(timeIntervalSinceNow: refreshInterval))
                let stop = self?.stopping ?? true
                wake.unlock()
                if stop { break }
                guard let store = self else { break }
                store.refresh()
                if Clock.nanos() - lastFlush >= flushNanos {
                    store.flush()
                    lastFlush = Clock.nanos()
                }
            }
            done.signal()
        }
        thread.name = "ultragate-keys"
        worker = thread
        thread.start()
    }

    private func stopWorker() {
        wake.lock()
        let running = worker != nil && !stopping
        stopping = true
        wake.signal()
        wake.unlock()
        if running && Thread.current !== worker { workerDone.wait() }
    }

    // MARK: LMDB helpers

    /// Runs an administrative change in one write transaction that also bumps the keys'
    /// generation, then syncs and refreshes this process's snapshot. `body` returns why it
    /// refused, if it did (nothing was written then).
    private func write(_ body: (LMDBTransaction) throws(LMDBError) -> KeyAdminError?) throws(KeyAdminError) {
        let refusal: KeyAdminError?
        do {
            refusal = try environment.lmdb.withWriteTransaction { txn throws(LMDBError) -> KeyAdminError? in
                if let refusal = try body(txn) { return refusal }
                try bumpGeneration(Self.keysGenerationKey, txn)
                return nil
            }
        } catch {
            throw .storage(error.description)
        }
        if let refusal { throw refusal }
        environment.lmdb.sync(force: true)
        refresh()
    }

    private func read<R>(_ body: (LMDBTransaction) throws(LMDBError) -> R) throws(KeyAdminError) -> R {
        var failure: LMDBError?
        let result = environment.lmdb.withReadTransaction { txn -> R? in
            do throws(LMDBError) { return try body(txn) } catch {
                failure = error
                return nil
            }
        }
        if let failure { throw .storage(failure.description) }
        guard let result else { throw .storage("no read transaction could be had") }
        return result
    }

    private func readCounters(_ rows: [KeyUsageRow]) -> [KeyUsageRow: KeyUsageCounters] {
        environment.lmdb.withReadTransaction { txn in
            var out: [KeyUsageRow: KeyUsageCounters] = [:]
            for row in rows {
                if let raw = try? txn.get(usageDB, row.encoded), let counters = KeyUsageCounters(decoding: raw) { out[row] = counters }
            }
            return out
        } ?? [:]
    }

    private func storedKey(_ name: String, _ txn: LMDBTransaction) throws(LMDBError) -> VirtualKey? {
        try txn.get(keysDB, Array(name.utf8)).flatMap(Self.decode)
    }

    private func put(_ key: VirtualKey, _ txn: LMDBTransaction) throws(LMDBError) {
        try txn.put(keysDB, Array(key.name.utf8), JSONWriter.serialize(.object(key.storedJSON)))
        try txn.put(hashesDB, key.secretHash, Array(key.name.utf8))
    }

    private static func decode(_ raw: UnsafeRawBufferPointer) -> VirtualKey? {
        guard let json = try? JSONParser.parse(Array(raw)), let object = json.objectValue else { return nil }
        return VirtualKey(stored: object)
    }

    private static func generation(_ name: [UInt8], _ db: LMDBDatabase, _ txn: LMDBTransaction) -> UInt64 {
        guard let raw = try? txn.get(db, name), raw.count == 8 else { return 0 }
        return UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
    }

    @discardableResult
    private func bumpGeneration(_ name: [UInt8], _ txn: LMDBTransaction) throws(LMDBError) -> UInt64 {
        let next = Self.generation(name, metaDB, txn) &+ 1
        try txn.put(metaDB, name, withUnsafeBytes(of: next.littleEndian) { Array($0) })
        return next
    }

    private static func sum(_ a: KeyUsageCounters, _ b: KeyUsageCounters) -> KeyUsageCounters {
        var total = a
        total += b
        return total
    }

    /// Reports a failure on standard error, at most once a minute (a full disk fails every flush).
    private func report(_ message: String) {
        let now = Double(Clock.nanos()) / 1e9
        lock.lock()
        let due = now - lastFailureReport >= 60
        if due { lastFailureReport = now }
        lock.unlock()
        if due { FileHandle.standardError.write(Data((message + "\n").utf8)) }
    }
}
