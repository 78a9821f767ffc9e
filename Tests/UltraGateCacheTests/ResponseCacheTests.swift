import Foundation
import Synchronization
import CLMDB
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateCache

/// A fresh cache directory under the temp dir, removed when the test body returns.
private func withTemporaryDirectory<R>(_ body: (String) async throws -> R) async rethrows -> R {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("ug-cache-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

private func key(_ n: Int) -> CacheKey {
    CacheKey.make(namespace: "test", route: "openai/gpt-4o", request: ["messages": [["role": "user", "content": .string("q\(n)")]]])
}

private func response(_ n: Int, createdAt: Double = 1_000_000, expiresAt: Double = CachedResponse.neverExpires, bodySize: Int = 2048) -> CachedResponse {
    var body = Array(#"{"id":"chatcmpl-\#(n)","object":"chat.completion","choices":[]}"#.utf8)
    body.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: max(0, bodySize - body.count)))
    return CachedResponse(
        createdAt: createdAt, expiresAt: expiresAt, model: "gpt-4o-2024-08-06", provider: "openai",
        promptTokens: 10 + n, completionTokens: 20, cachedTokens: 3, upstreamLatencyMs: 123.5, body: body)
}

@Suite struct ResponseCacheTests {
    @Test func codecRoundTripAndRejectsDamage() {
        let value = response(7)
        let bytes = value.encoded()
        #expect(CachedResponse(decoding: bytes) == value)
        #expect(CachedResponse(decoding: Array(bytes.dropLast())) == nil)
        #expect(CachedResponse(decoding: bytes + [0]) == nil)
        #expect(CachedResponse(decoding: Array("not a cached response at all".utf8)) == nil)
        #expect(CachedResponse(decoding: []) == nil)
        var future = bytes
        future[4] = 99
        #expect(CachedResponse(decoding: future) == nil)
        var lying = bytes
        lying[64] &+= 1  // body length no longer matches
        #expect(CachedResponse(decoding: lying) == nil)
    }

    /// An entry says what shape its body has; entries written before formats existed read as chat
    /// completions (the byte was reserved, so 0), an unknown format as no entry.
    @Test func theBodysFormatRoundTrips() {
        var message = response(8)
        message.format = .anthropicMessage
        let bytes = message.encoded()
        #expect(bytes[5] == 1)
        #expect(CachedResponse(decoding: bytes)?.format == .anthropicMessage)
        #expect(CachedResponse(decoding: response(8).encoded())?.format == .chatCompletion)
        var unknown = bytes
        unknown[5] = 7
        #expect(CachedResponse(decoding: unknown) == nil)
    }

    @Test func storeThenLookup() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { cache.close() }
            #expect(cache.lookup(key(1), now: 1_000_001) == nil)
            await cache.store(key(1), response(1))
            #expect(cache.lookup(key(1), now: 1_000_001) == response(1))
            #expect(cache.lookup(key(2), now: 1_000_001) == nil)
            // Overwriting replaces the value and its age-index entry.
            await cache.store(key(1), response(99, createdAt: 1_000_050))
            #expect(cache.lookup(key(1), now: 1_000_060) == response(99, createdAt: 1_000_050))
            let stats = cache.stats()
            #expect(stats.entries == 1)
            try cache.environment.lmdb.withWriteTransaction { txn throws(LMDBError) in
                #expect(try txn.stat(cache.environment.ageIndex).ms_entries == 1)
            }
            #expect(stats.writeErrors == 0)
            #expect(stats.mapSize == 1 << 30)
        }
    }

    @Test func expiredEntriesMissAndAreSwept() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir, defaultTTL: 60))
            defer { cache.close() }
            let created = 1_000_000.0
            #expect(cache.expiry(createdAt: created) == created + 60)
            await cache.store(key(1), response(1, createdAt: created, expiresAt: cache.expiry(createdAt: created)))
            await cache.store(key(2), response(2, createdAt: created, expiresAt: CachedResponse.neverExpires))
            #expect(cache.lookup(key(1), now: created + 59) != nil)
            #expect(cache.lookup(key(1), now: created + 60) == nil)
            #expect(cache.lookup(key(2), now: created + 1e9) != nil)
            await cache.sweepExpired(now: created + 30)
            #expect(cache.stats().entries == 2)
            await cache.sweepExpired(now: created + 61)
            let stats = cache.stats()
            #expect(stats.entries == 1)
            #expect(stats.expiredRemoved == 1)
            #expect(cache.lookup(key(2), now: created + 61) != nil)
        }
    }

    @Test func maxAgeRejectsOlderEntries() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { cache.close() }
            await cache.store(key(1), response(1, createdAt: 1000))
            #expect(cache.lookup(key(1), now: 1100, maxAge: 100) != nil)
            #expect(cache.lookup(key(1), now: 1100.5, maxAge: 100) == nil)
            #expect(cache.lookup(key(1), now: 1100.5) != nil)
        }
    }

    @Test func smallMapEvictsOldestFirst() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir, maxBytes: 1 << 20))
            defer { cache.close() }
            let total = 1500  // ~3 MB of 2 KB bodies into a 1 MiB map
            for batchStart in stride(from: 0, to: total, by: 50) {
                await withTaskGroup(of: Void.self) { group in
                    for n in batchStart..<(batchStart + 50) {
                        group.addTask { await cache.store(key(n), response(n, createdAt: 1_000_000 + Double(n))) }
                    }
                }
            }
            let stats = cache.stats()
            #expect(stats.writeErrors == 0)
            #expect(stats.evictions > 0)
            #expect(stats.entries + stats.evictions == total)
            #expect(stats.usedBytes < stats.mapSize)
            #expect(cache.lookup(key(total - 1), now: 2_000_000) != nil)
            #expect(cache.lookup(key(0), now: 2_000_000) == nil)
            // The survivors are exactly the newest ones.
            let survivors = (0..<total).filter { cache.lookup(key($0), now: 2_000_000) != nil }
            #expect(survivors.count == stats.entries)
            #expect(survivors.first == total - stats.entries)
        }
    }

    @Test func oversizedValueIsSkippedAndCounted() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir, maxBytes: 1 << 20))
            defer { cache.close() }
            await cache.store(key(1), response(1, bodySize: 600_000))
            await cache.store(key(2), response(2))
            let stats = cache.stats()
            #expect(stats.oversizedSkipped == 1)
            #expect(stats.writeErrors == 1)
            #expect(stats.lastWriteError?.contains("larger than a quarter of the cache") == true)
            #expect(cache.lookup(key(1), now: 1_000_001) == nil)
            #expect(cache.lookup(key(2), now: 1_000_001) != nil)
        }
    }

    @Test func entriesOverMaxEntryBytesAreSkippedAndCountedNotFailed() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir, maxEntryBytes: 4096))
            defer { cache.close() }
            let fits = response(1, bodySize: 4096 - 200)
            #expect(fits.encodedSize <= 4096)
            await cache.store(key(1), fits)
            await cache.store(key(2), response(2, bodySize: 4097))
            let committed = Mutex(false)
            cache.storeLater(key(3), response(3, bodySize: 100_000)) { committed.withLock { $0 = true } }
            #expect(committed.withLock { $0 })  // told at once: nothing is queued
            #expect(cache.lookup(key(1), now: 1_000_001) != nil)
            #expect(cache.lookup(key(2), now: 1_000_001) == nil)
            #expect(cache.lookup(key(3), now: 1_000_001) == nil)
            let stats = cache.stats()
            #expect(stats.tooLarge == 2)
            #expect(stats.writeErrors == 0 && stats.oversizedSkipped == 0)
        }
    }

    @Test func namedEntryCarriesTheAskedNameInBodyAndProvenance() throws {
        var entry = response(3)
        entry.model = "alias-a"
        entry.body = Array(#"{"id":"c1","object":"chat.completion","model":"alias-a","choices":[]}"#.utf8)
        #expect(entry.named("alias-a") == entry)
        let renamed = entry.named("alias-b")
        #expect(renamed.model == "alias-b")
        #expect(String(decoding: renamed.body, as: UTF8.self) == #"{"id":"c1","object":"chat.completion","model":"alias-b","choices":[]}"#)
        #expect(renamed.createdAt == entry.createdAt && renamed.promptTokens == entry.promptTokens)
        // A key the in-place patch will not touch (an escape) is written out again instead.
        entry.body = Array(#"{"id":"c1","mod\u0065l":"alias-a","choices":[]}"#.utf8)
        let rewritten = try #require(try JSONParser.parse(entry.named("alias-b").body).objectValue)
        #expect(rewritten["model"] == "alias-b" && rewritten["id"] == "c1")
    }

    @Test func writeFailuresAreReportedOncePerIntervalWithTheCountFolded() async throws {
        let lines = Mutex<[String]>([])
        let counters = CacheCounters(failureReportInterval: 0.3) { line in lines.withLock { $0.append(line) } }
        counters.writeFailed("mdb_txn_commit: No space left on device (28)")
        counters.writeFailed("mdb_txn_commit: No space left on device (28)")
        counters.writeFailed("mdb_txn_commit: File too large (27)", count: 2)
        #expect(lines.withLock { $0 } == ["ultragate: cache write failed: mdb_txn_commit: No space left on device (28); answers are still served, not cached"])
        try await Task.sleep(for: .milliseconds(350))
        counters.writeFailed("mdb_txn_commit: File too large (27)")
        #expect(lines.withLock { $0.count } == 2)
        #expect(lines.withLock { $0.last } == "ultragate: cache write failed (4 failures since the last report): mdb_txn_commit: File too large (27); answers are still served, not cached")
        #expect(counters.snapshot.writeErrors == 5)
        #expect(counters.snapshot.lastWriteError == "mdb_txn_commit: File too large (27)")
    }

    @Test func concurrentLookupsAndStores() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { cache.close() }
            await withTaskGroup(of: Int.self) { group in
                for task in 0..<8 {
                    group.addTask {
                        var wrong = 0
                        for i in 0..<40 {
                            let n = task * 1000 + i
                            await cache.store(key(n), response(n))
                            if cache.lookup(key(n), now: 1_000_001) != response(n) { wrong += 1 }
                            if i > 0, cache.lookup(key(n - 1), now: 1_000_001) == nil { wrong += 1 }
                        }
                        return wrong
                    }
                }
                var wrong = 0
                for await w in group { wrong += w }
                #expect(wrong == 0)
            }
            let stats = cache.stats()
            #expect(stats.entries == 320)
            #expect(stats.commits <= 320)  // grouped when stores overlap
        }
    }

    @Test func entriesSurviveRestart() async throws {
        try await withTemporaryDirectory { dir in
            do {
                let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
                for n in 0..<10 { await cache.store(key(n), response(n)) }
                cache.close()
            }
            let reopened = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { reopened.close() }
            for n in 0..<10 { #expect(reopened.lookup(key(n), now: 1_000_001) == response(n)) }
            #expect(reopened.stats().entries == 10)
        }
    }

    @Test func twoInstancesSeeEachOthersWrites() async throws {
        try await withTemporaryDirectory { dir in
            let a = try ResponseCache(ResponseCacheConfig(directory: dir))
            let b = try ResponseCache(ResponseCacheConfig(directory: dir + "/."))
            await a.store(key(1), response(1))
            #expect(b.lookup(key(1), now: 1_000_001) == response(1))
            await b.store(key(2), response(2))
            #expect(a.lookup(key(2), now: 1_000_001) == response(2))
            // One closing leaves the other working.
            a.close()
            await b.store(key(3), response(3))
            #expect(b.lookup(key(3), now: 1_000_001) != nil)
            #expect(b.stats().entries == 3)
            b.close()
        }
    }

    @Test func clearWhileAnotherInstanceIsOpen() async throws {
        try await withTemporaryDirectory { dir in
            let server = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { server.close() }
            for n in 0..<5 { await server.store(key(n), response(n)) }
            let admin = try ResponseCache(ResponseCacheConfig(directory: dir))
            #expect(admin.stats().entries == 5)
            try admin.clear()
            admin.close()
            #expect(server.lookup(key(0), now: 1_000_001) == nil)
            #expect(server.stats().entries == 0)
            await server.store(key(9), response(9))
            #expect(server.lookup(key(9), now: 1_000_001) != nil)
            #expect(server.stats().writeErrors == 0)
        }
    }

    @Test func corruptValueIsAMiss() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { cache.close() }
            await cache.store(key(1), response(1))
            var damaged = response(1).encoded()
            damaged.removeLast(100)
            let env = cache.environment
            try env.lmdb.withWriteTransaction { txn throws(LMDBError) in
                try txn.put(env.responses, key(1).bytes, damaged)
                try txn.put(env.responses, key(2).bytes, Array("{\"foreign\":true}".utf8))
            }
            #expect(cache.lookup(key(1), now: 1_000_001) == nil)
            #expect(cache.lookup(key(2), now: 1_000_001) == nil)
            // The sweep removes unreadable values too.
            await cache.sweepExpired(now: 1_000_001)
            #expect(cache.stats().entries == 0)
        }
    }
}

/// Entries in the responses database and in the age index, read in one transaction.
private func entryCounts(_ cache: ResponseCache) -> (responses: Int, ages: Int) {
    let env = cache.environment
    return env.lmdb.withReadTransaction { txn in
        guard let r = try? txn.stat(env.responses), let a = try? txn.stat(env.ageIndex) else { return nil }
        return (Int(r.ms_entries), Int(a.ms_entries))
    } ?? (-1, -1)
}

/// The store path that commits on the caller's thread at low load (`CacheWriter.commitInline`).
@Suite struct ResponseCacheInlineTests {
    @Test func sequentialStoresCommitInline() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { cache.close() }
            for n in 0..<20 { await cache.store(key(n), response(n, createdAt: 1_000_000 + Double(n))) }
            // Overwrite a few: the old age entries must go.
            for n in 0..<5 { await cache.store(key(n), response(n + 100, createdAt: 1_000_100 + Double(n))) }
            let stats = cache.stats()
            #expect(stats.inlineCommits == 25)
            #expect(stats.commits == 25)
            #expect(stats.entries == 20)
            #expect(stats.writeErrors == 0)
            let counts = entryCounts(cache)
            #expect(counts.responses == 20 && counts.ages == 20)
            #expect(cache.lookup(key(3), now: 1_000_200) == response(103, createdAt: 1_000_103))
            #expect(cache.lookup(key(7), now: 1_000_200) == response(7, createdAt: 1_000_007))
        }
    }

    @Test func fallsBackToTheWriterNearTheEvictionMark() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir, maxBytes: 1 << 20))
            defer { cache.close() }
            let pageSize = cache.environment.lmdb.pageSize
            let totalPages = (1 << 20) / pageSize
            let total = 600  // ~1.2 MB of 2 KB bodies into a 1 MiB map: evicts a few times
            var inlineAboveMark = 0
            var queued = 0
            for n in 0..<total {
                let value = response(n, createdAt: 1_000_000 + Double(n))
                let before = cache.stats()
                await cache.store(key(n), value)
                let after = cache.stats()
                if after.inlineCommits > before.inlineCommits {
                    let incoming = CacheWriter.pagesNeeded(value.encoded().count + 32, pageSize: pageSize)
                    let usedPages = before.usedBytes / pageSize
                    if usedPages + incoming > Int(Double(totalPages) * CacheWriter.inlineHighWater) { inlineAboveMark += 1 }
                } else {
                    queued += 1
                }
            }
            let stats = cache.stats()
            #expect(inlineAboveMark == 0)
            #expect(queued > 0)
            #expect(stats.inlineCommits > 0)
            #expect(stats.inlineCommits + queued == total)
            #expect(stats.evictions > 0)
            #expect(stats.writeErrors == 0)
            #expect(stats.entries + stats.evictions == total)
            let counts = entryCounts(cache)
            #expect(counts.responses == stats.entries && counts.ages == stats.entries)
            #expect(cache.lookup(key(total - 1), now: 2_000_000) != nil)
            #expect(cache.lookup(key(0), now: 2_000_000) == nil)
        }
    }

    @Test func concurrentInlineAndQueuedStoresOfTheSameKeysStayConsistent() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { cache.close() }
            let keys = 16
            // Even tasks try inline first; odd ones always queue, so both paths overwrite the same keys
            // at once however the scheduler runs the tasks.
            await withTaskGroup(of: Void.self) { group in
                for task in 0..<64 {
                    group.addTask {
                        for round in 0..<20 {
                            let n = (task + round) % keys
                            // Distinct creation times, so each overwrite moves the age entry.
                            let value = response(task * 1000 + round, createdAt: 1_000_000 + Double(task * 1000 + round))
                            if task % 2 == 0 {
                                await cache.store(key(n), value)
                            } else {
                                await cache.storeQueued(key(n), encoded: value.encoded(), createdAt: value.createdAt)
                            }
                        }
                    }
                }
            }
            let stats = cache.stats()
            #expect(stats.writeErrors == 0)
            #expect(stats.inlineCommits > 0)
            #expect(stats.commits > stats.inlineCommits)  // some went through the writer
            #expect(stats.entries == keys)
            let counts = entryCounts(cache)
            #expect(counts.responses == keys && counts.ages == keys)
            // Each age entry names its key and that key's stored creation time.
            let env = cache.environment
            let mismatches = env.lmdb.withReadTransaction { txn -> Int? in
                guard let cursor = try? txn.openCursor(env.ageIndex) else { return nil }
                defer { cursor.close() }
                var wrong = 0
                var entry = try? cursor.move(MDB_FIRST)
                while let e = entry {
                    let k = [UInt8](UnsafeRawBufferPointer(rebasing: e.key[8...]))
                    let stored = (try? txn.get(env.responses, k)).flatMap { $0 }.flatMap { CachedResponse.peekTimes($0) }
                    if stored == nil || CacheEnvironment.ageKey(createdAt: stored!.createdAt, key: k) != [UInt8](e.key) { wrong += 1 }
                    entry = try? cursor.move(MDB_NEXT)
                }
                return wrong
            }
            #expect(mismatches == 0)
        }
    }

    @Test func inlineCommittedEntriesSurviveRestart() async throws {
        try await withTemporaryDirectory { dir in
            do {
                let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
                for n in 0..<10 { await cache.store(key(n), response(n)) }
                #expect(cache.stats().inlineCommits == 10)
                cache.close()
            }
            let reopened = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { reopened.close() }
            for n in 0..<10 { #expect(reopened.lookup(key(n), now: 1_000_001) == response(n)) }
            #expect(entryCounts(reopened) == (10, 10))
        }
    }

    @Test func storeAfterCloseIsCountedNotCommitted() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
            let other = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { other.close() }
            cache.close()
            await cache.store(key(1), response(1))
            #expect(cache.stats().writeErrors == 1)
            #expect(cache.stats().inlineCommits == 0)
            #expect(other.lookup(key(1), now: 1_000_001) == nil)
        }
    }
}

/// `storeLater`: entries of requests already answered, handed to the writer thread's group commit.
@Suite struct ResponseCacheDeferredTests {
    final class Calls: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [Int] = []
        private var visibleWhenCalled = true
        func record(_ n: Int, visible: Bool) {
            lock.lock()
            seen.append(n)
            if !visible { visibleWhenCalled = false }
            lock.unlock()
        }
        var snapshot: (seen: [Int], allVisible: Bool) { lock.lock(); defer { lock.unlock() }; return (seen, visibleWhenCalled) }
    }

    /// Each entry is readable by the time its callback runs, every callback runs once, and entries
    /// queued while a commit is under way share the next one (no pacing: the count does not depend
    /// on how fast this machine is at the moment).
    @Test(.timeLimit(.minutes(1))) func entriesArriveTogetherInFewCommits() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { cache.close() }
            let calls = Calls()
            let total = 200
            for n in 0..<total {
                cache.storeLater(key(n), response(n)) { [cache] in
                    calls.record(n, visible: cache.lookup(key(n), now: 1_000_001) == response(n))
                }
            }
            while calls.snapshot.seen.count < total { try await Task.sleep(nanoseconds: 1_000_000) }
            let (seen, allVisible) = calls.snapshot
            #expect(seen.sorted() == Array(0..<total))
            #expect(allVisible)
            let stats = cache.stats()
            #expect(stats.entries == total)
            #expect(stats.inlineCommits == 0)
            #expect(stats.commits <= total / 2, "\(stats.commits) commits for \(total) entries")
        }
    }

    @Test func afterCloseTheCallbackStillRuns() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
            cache.close()
            let calls = Calls()
            cache.storeLater(key(1), response(1)) { calls.record(1, visible: false) }
            #expect(calls.snapshot.seen == [1])
            #expect(cache.stats().writeErrors == 1)
        }
    }
}
