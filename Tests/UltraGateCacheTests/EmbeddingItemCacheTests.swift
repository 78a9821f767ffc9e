import Foundation
import Synchronization
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateCache

private func withTemporaryDirectory<R>(_ body: (String) async throws -> R) async rethrows -> R {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("ug-emb-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

private let prefix = EmbeddingKeyPrefix(namespace: "test", route: "openai/text-embedding-3-small",
                                        upstreamModel: "text-embedding-3-small", dimensions: nil, options: "")

private func item(_ n: Int, createdAt: Double = 1_000_000, expiresAt: Double = CachedResponse.neverExpires,
                  dimensions: Int = 8) -> CachedEmbedding {
    CachedEmbedding(createdAt: createdAt, expiresAt: expiresAt, tokens: n + 1,
                    vector: (0..<dimensions).map { Float(n) + Float($0) / 8 - 0.3 })
}

private func response(_ n: Int, createdAt: Double) -> CachedResponse {
    CachedResponse(createdAt: createdAt, expiresAt: CachedResponse.neverExpires, model: "m", provider: "p",
                   body: Array(#"{"n":\#(n)}"#.utf8) + [UInt8](repeating: 0x20, count: 2000))
}

@Suite struct EmbeddingItemCacheTests {
    @Test func codecRoundTripKeepsEveryBitAndRejectsDamage() {
        let value = CachedEmbedding(createdAt: 1_000_000.5, expiresAt: .infinity, tokens: 12,
                                    vector: [0, -0.0, 1e-45, .leastNormalMagnitude, 0.1, -3.4028235e38, 0.333333343])
        let bytes = value.encoded()
        #expect(bytes.count == value.encodedSize && bytes.count == 40 + 4 * 7)
        let decoded = CachedEmbedding(decoding: bytes)
        #expect(decoded?.vector.map(\.bitPattern) == value.vector.map(\.bitPattern))
        #expect(decoded == value)
        #expect(CachedEmbedding(decoding: Array(bytes.dropLast())) == nil)
        #expect(CachedEmbedding(decoding: bytes + [0, 0, 0, 0]) == nil)
        #expect(CachedEmbedding(decoding: response(1, createdAt: 1).encoded()) == nil)
        #expect(CachedResponse(decoding: bytes) == nil)
        var future = bytes
        future[4] = 2
        #expect(CachedEmbedding(decoding: future) == nil)
    }

    @Test func keysTellItemsAndEverythingAroundThemApart() {
        let base = prefix.key(text: "hello")
        #expect(base == prefix.key(text: "hello"))
        #expect(base == EmbeddingKeyPrefix(namespace: "test", route: "openai/text-embedding-3-small",
                                           upstreamModel: "text-embedding-3-small", dimensions: nil, options: "").key(text: "hello"))
        let others: [CacheKey] = [
            prefix.key(text: "hello "), prefix.key(text: "Hello"), prefix.key(text: ""),
            prefix.key(tokens: [15339]), prefix.key(tokens: []), prefix.key(tokens: [1, 2]), prefix.key(tokens: [2, 1]),
            EmbeddingKeyPrefix(namespace: "other", route: "openai/text-embedding-3-small", upstreamModel: "text-embedding-3-small",
                               dimensions: nil, options: "").key(text: "hello"),
            EmbeddingKeyPrefix(namespace: "test", route: "azure/text-embedding-3-small", upstreamModel: "text-embedding-3-small",
                               dimensions: nil, options: "").key(text: "hello"),
            EmbeddingKeyPrefix(namespace: "test", route: "openai/text-embedding-3-small", upstreamModel: "text-embedding-3-small",
                               dimensions: 256, options: "").key(text: "hello"),
            EmbeddingKeyPrefix(namespace: "test", route: "openai/text-embedding-3-small", upstreamModel: "text-embedding-3-small",
                               dimensions: nil, options: #"{"input_type":"query"}"#).key(text: "hello"),
            // Field boundaries are length-prefixed: moving bytes between fields changes the key.
            EmbeddingKeyPrefix(namespace: "testopenai/text-embedding-3-small", route: "", upstreamModel: "text-embedding-3-small",
                               dimensions: nil, options: "").key(text: "hello"),
        ]
        #expect(Set(others + [base]).count == others.count + 1)
        // A token array is not the text of its numbers.
        #expect(prefix.key(tokens: [1]) != prefix.key(text: "1"))
    }

    @Test func storesManyAndLooksThemUpInOrderAcrossARestart() async throws {
        try await withTemporaryDirectory { dir in
            let keys = (0..<300).map { prefix.key(text: "chunk \($0)") }
            do {
                let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
                defer { cache.close() }
                let items = cache.embeddingItems
                #expect(items.lookup(keys, now: 1_000_001).allSatisfy { $0 == nil })
                await items.store((0..<300).filter { $0 % 3 != 0 }.map { (keys[$0], item($0)) })
                let found = items.lookup(keys, now: 1_000_001)
                #expect(found.count == 300)
                for n in 0..<300 { #expect(found[n] == (n % 3 == 0 ? nil : item(n))) }
                #expect(cache.stats().embeddingItems == 200)
                #expect(cache.stats().entries == 0)
            }
            let reopened = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { reopened.close() }
            #expect(reopened.embeddingItems.lookup([keys[1], keys[0]], now: 1_000_001) == [item(1), nil])
        }
    }

    @Test func expiredItemsMissAndAreSwept() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { cache.close() }
            let created = 1_000_000.0
            let a = prefix.key(text: "a"), b = prefix.key(text: "b")
            await cache.embeddingItems.store([(a, item(1, createdAt: created, expiresAt: created + 60)), (b, item(2, createdAt: created))])
            #expect(cache.embeddingItems.lookup([a, b], now: created + 59) == [item(1, createdAt: created, expiresAt: created + 60), item(2)])
            #expect(cache.embeddingItems.lookup([a], now: created + 60) == [nil])
            #expect(cache.embeddingItems.lookup([b], now: created + 30, maxAge: 10) == [nil])
            await cache.sweepExpired(now: created + 61)
            #expect(cache.stats().embeddingItems == 1)
            #expect(cache.stats().expiredRemoved == 1)
        }
    }

    /// Answers and items share one map: filling it with both evicts the oldest entries of either
    /// kind, and usage stays under the map size.
    @Test func itemsAndAnswersAreEvictedTogetherOldestFirst() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir, maxBytes: 1 << 20))
            defer { cache.close() }
            let total = 600  // 300 answers of ~2 KB and 300 items of ~2 KB into a 1 MiB map
            let keys = (0..<total).map { prefix.key(text: "item \($0)") }
            for start in stride(from: 0, to: total, by: 20) {
                for n in start..<(start + 20) {
                    if n % 2 == 0 {
                        await cache.store(CacheKey.make(namespace: "t", route: "r", request: ["n": .int(n)]),
                                          response(n, createdAt: 1_000_000 + Double(n)))
                    } else {
                        await cache.embeddingItems.store([(keys[n], item(n, createdAt: 1_000_000 + Double(n), dimensions: 500))])
                    }
                }
            }
            let stats = cache.stats()
            #expect(stats.evictions > 0 && stats.writeErrors == 0)
            #expect(stats.entries + stats.embeddingItems + stats.evictions == total)
            #expect(stats.usedBytes < stats.mapSize)
            let items = cache.embeddingItems.lookup(keys, now: 2_000_000)
            let survivingItems = (0..<total).filter { $0 % 2 == 1 && items[$0] != nil }
            #expect(survivingItems.count == stats.embeddingItems)
            // The items left are the newest ones; the oldest went, alongside the oldest answers.
            #expect(survivingItems.last == total - 1)
            #expect(items[1] == nil)
            #expect(survivingItems == Array(stride(from: survivingItems.first!, to: total, by: 2)))
        }
    }

    @Test func itemsOverMaxEntryBytesAreSkippedAndClearEmptiesThem() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir, maxEntryBytes: 1024))
            defer { cache.close() }
            let small = prefix.key(text: "small"), big = prefix.key(text: "big")
            let told = Mutex(false)
            cache.embeddingItems.storeLater([(big, item(1, dimensions: 300))]) { told.withLock { $0 = true } }
            #expect(told.withLock { $0 })
            await cache.embeddingItems.store([(small, item(2, dimensions: 100)), (big, item(3, dimensions: 1000))])
            #expect(cache.embeddingItems.lookup([small, big], now: 1_000_001) == [item(2, dimensions: 100), nil])
            #expect(cache.stats().tooLarge == 2)
            try cache.clear()
            #expect(cache.embeddingItems.lookup([small], now: 1_000_001) == [nil])
            #expect(cache.stats().embeddingItems == 0)
        }
    }

    /// Many concurrent stores go to the writer's group commits and all arrive.
    @Test func concurrentStoresAllArrive() async throws {
        try await withTemporaryDirectory { dir in
            let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
            defer { cache.close() }
            let keys = (0..<64).map { prefix.key(tokens: [$0, $0 + 1]) }
            await withTaskGroup(of: Void.self) { group in
                for n in 0..<64 { group.addTask { await cache.embeddingItems.store([(keys[n], item(n, dimensions: 64))]) } }
            }
            #expect(cache.embeddingItems.lookup(keys, now: 1_000_001).enumerated().allSatisfy { $0.element == item($0.offset, dimensions: 64) })
        }
    }
}
