import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateCache

/// The stored-responses store, LMDB and in-memory, over the same checks: put/get/delete, owner
/// kept, expiry, expired records swept by later writes, and survival across reopening.
@Suite struct ResponseStoreTests {
    static func record(_ id: String, owner: String = "shared", now: Double = 1000, ttl: Double = 60, previous: String? = nil) -> StoredResponse {
        StoredResponse(id: id, owner: owner, createdAt: now, expiresAt: now + ttl, previousResponseID: previous,
                       response: ["id": .string(id), "object": "response", "output": []],
                       input: [.object(["role": "user", "content": .string("hi \(id)")])])
    }

    static func withLMDB(_ body: (ResponseCache, LMDBResponseStore) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "ultragate-store-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = try ResponseCache(ResponseCacheConfig(directory: dir, maxBytes: 8 << 20))
        defer { cache.close() }
        try body(cache, try LMDBResponseStore(cache: cache))
    }

    static func basics(_ store: any ResponseStore) {
        #expect(store.get("resp_a", now: 1000) == nil)
        #expect(store.put(record("resp_a", owner: "key:1:k", previous: "resp_0"), now: 1000))
        let got = store.get("resp_a", now: 1001)
        #expect(got == record("resp_a", owner: "key:1:k", previous: "resp_0"))
        #expect(store.get("resp_a", now: 1060) == nil)  // expired
        #expect(store.delete("resp_a"))
        #expect(!store.delete("resp_a"))
        #expect(store.get("resp_a", now: 1001) == nil)
    }

    @Test func memoryStoreBasics() { Self.basics(MemoryResponseStore()) }

    @Test func lmdbStoreBasics() throws { try Self.withLMDB { _, store in Self.basics(store) } }

    @Test func bufferedStoreBasics() throws {
        try Self.withLMDB { _, store in
            let buffered = BufferedResponseStore(store)
            Self.basics(buffered)
            buffered.close()
        }
    }

    /// Written behind, read at once: a put is visible before its commit, a delete hides a record
    /// whose put is still queued, the order of writes to one id holds, and `close` commits all.
    @Test func bufferedStoreReadsItsOwnWritesAndCommitsThemInOrder() throws {
        try Self.withLMDB { _, store in
            let buffered = BufferedResponseStore(store)
            for i in 0..<200 { #expect(buffered.put(Self.record("resp_\(i)", now: 1000), now: 1000)) }
            #expect(buffered.get("resp_199", now: 1001)?.id == "resp_199")
            #expect(buffered.delete("resp_7"))
            #expect(buffered.get("resp_7", now: 1001) == nil)
            #expect(buffered.put(Self.record("resp_8", owner: "second", now: 1000), now: 1000))
            buffered.close()
            // Everything reached LMDB, in order: the later put of resp_8 won, resp_7 stayed deleted.
            #expect(store.get("resp_199", now: 1001)?.id == "resp_199")
            #expect(store.get("resp_7", now: 1001) == nil)
            #expect(store.get("resp_8", now: 1001)?.owner == "second")
            #expect(!buffered.put(Self.record("late", now: 1000), now: 1000), "closed: later puts are refused")
        }
    }

    @Test func memoryStoreIsBounded() {
        let store = MemoryResponseStore(maxRecords: 3)
        for i in 0..<5 { store.put(Self.record("resp_\(i)"), now: 1000) }
        #expect(store.count == 3)
        #expect(store.get("resp_0", now: 1000) == nil && store.get("resp_4", now: 1000) != nil)
    }

    @Test func lmdbWritesSweepExpiredRecords() throws {
        try Self.withLMDB { _, store in
            for i in 0..<10 { store.put(Self.record("resp_old\(i)", now: 1000, ttl: 10), now: 1000) }
            store.put(Self.record("resp_new", now: 2000), now: 2000)  // the old ones expired at 1010
            #expect(store.get("resp_new", now: 2000) != nil)
            for i in 0..<10 { #expect(store.get("resp_old\(i)", now: 1005) == nil) }  // gone, not merely expired
        }
    }

    @Test func lmdbRecordsSurviveReopening() throws {
        let dir = NSTemporaryDirectory() + "ultragate-store-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir, maxBytes: 8 << 20))
            try LMDBResponseStore(cache: cache).put(Self.record("resp_kept"), now: 1000)
            cache.close()
        }
        let cache = try ResponseCache(ResponseCacheConfig(directory: dir, maxBytes: 8 << 20))
        defer { cache.close() }
        #expect(try LMDBResponseStore(cache: cache).get("resp_kept", now: 1001)?.input.count == 1)
    }

    @Test func oversizedRecordsAreRefused() throws {
        try Self.withLMDB { cache, _ in
            let store = try LMDBResponseStore(cache: cache, maxRecordBytes: 100)
            #expect(!store.put(Self.record("resp_big"), now: 1000))
            #expect(store.get("resp_big", now: 1000) == nil)
        }
    }
}
