import UltraGateJSON
import UltraGateSupport
/// Keeps every latency sample (nanoseconds) so percentiles are exact, not bucketed: a million
/// requests cost 8 MB, which a benchmark run can afford. One recorder per client thread; they are
/// merged at the end.
public struct LatencyRecorder: Sendable {
    public private(set) var samples: [UInt64] = []

    public init(capacity: Int = 0) { samples.reserveCapacity(capacity) }

    public var count: Int { samples.count }

    @inline(__always) public mutating func record(_ nanos: UInt64) { samples.append(nanos) }

    public mutating func merge(_ other: LatencyRecorder) { samples.append(contentsOf: other.samples) }

    public func summary() -> LatencySummary? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        var total: Double = 0
        for s in sorted { total += Double(s) }
        /// Nearest-rank percentile: the smallest sample with at least p % of samples at or below it.
        func rank(_ p: Double) -> Double {
            let r = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return Double(sorted[min(max(r, 1), sorted.count) - 1]) / 1e6
        }
        return LatencySummary(count: sorted.count, minMs: Double(sorted[0]) / 1e6, meanMs: total / Double(sorted.count) / 1e6,
                              p50Ms: rank(50), p90Ms: rank(90), p99Ms: rank(99), p999Ms: rank(99.9),
                              maxMs: Double(sorted[sorted.count - 1]) / 1e6)
    }
}

/// Percentiles of a latency distribution, in milliseconds.
public struct LatencySummary: Sendable, Equatable {
    public var count: Int
    public var minMs: Double
    public var meanMs: Double
    public var p50Ms: Double
    public var p90Ms: Double
    public var p99Ms: Double
    public var p999Ms: Double
    public var maxMs: Double
}
