import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// The cache key sorts every object's members. With an insertion sort, 60k keys in descending
/// order held an event loop for 55 s (n²/2 comparisons); the order must cost O(n log n) whatever
/// the input order, and stay stable (the last of equal keys wins).
@Suite struct CanonicalOrderCostTests {
    /// Sorts `keys`' indices, counting comparisons.
    static func sortCounting(_ keys: [Int]) -> (order: [Int], comparisons: Int) {
        var order = Array(keys.indices)
        var scratch = [Int](repeating: 0, count: keys.count)
        var comparisons = 0
        order.withUnsafeMutableBufferPointer { order in
            scratch.withUnsafeMutableBufferPointer { scratch in
                StableIndexSort.sort(order, scratch: scratch) { a, b in
                    comparisons += 1
                    return keys[a] < keys[b]
                }
            }
        }
        return (order, comparisons)
    }

    @Test func comparisonsAreAtMostNLogNWhateverTheOrder() async throws {
        let n = 100_000
        let outcomes = try await RelativeCost.offPool { () -> [(name: String, comparisons: Int, sorted: Bool)] in
            var random = SplitMix64(seed: 12)
            let inputs: [(String, [Int])] = [
                ("descending", Array((0..<n).reversed())),
                ("ascending", Array(0..<n)),
                ("random", (0..<n).map { _ in Int(random.next() % UInt64(n)) }),
                ("organ pipe", (0..<n).map { min($0, n - $0) }),
                ("all equal", Array(repeating: 7, count: n)),
            ]
            return inputs.map { name, keys in
                let (order, comparisons) = Self.sortCounting(keys)
                // Sorted, and equal keys in input order.
                let sorted = zip(order, order.dropFirst()).allSatisfy { a, b in keys[a] < keys[b] || (keys[a] == keys[b] && a < b) }
                return (name, comparisons, sorted)
            }
        }
        let log2n = Int.bitWidth - n.leadingZeroBitCount  // 17
        #expect(outcomes.count == 5)
        for outcome in outcomes {
            #expect(outcome.comparisons <= 2 * n * log2n, "\(outcome.name): \(outcome.comparisons) comparisons for \(n) keys")
            #expect(outcome.sorted, "\(outcome.name)")
        }
    }

    @Test func shortAndOddLengthsSortStably() {
        var random = SplitMix64(seed: 3)
        for n in [0, 1, 2, 15, 16, 17, 31, 32, 33, 100, 1023, 1025] {
            let keys = (0..<n).map { _ in Int(random.next() % 10) }
            let (order, _) = Self.sortCounting(keys)
            #expect(order == keys.indices.sorted { (keys[$0], $0) < (keys[$1], $1) }, "n = \(n)")
        }
    }

    /// End to end through the cache key: 200k keys in descending order cost a small multiple of
    /// the same keys ascending (about 1×; the insertion sort's ratio was over 1000 at 20k keys).
    @Test func descendingKeysCostAboutWhatAscendingKeysDo() async throws {
        let ratio = try await RelativeCost.offPool { () -> Double in
            let n = 200_000
            let names = (0..<n).map { "k" + String(1_000_000 + $0) }
            let ascending = JSONObject(names.map { (key: $0, value: JSON.int(1)) })
            let descending = JSONObject(names.reversed().map { (key: $0, value: JSON.int(1)) })
            return RelativeCost.ratio(runs: 2, { _ = CacheKey.make(namespace: "", route: "r", request: descending) },
                                      to: { _ = CacheKey.make(namespace: "", route: "r", request: ascending) })
        }
        #expect(ratio < 30, "descending keys cost \(ratio)× ascending ones")
    }
}
