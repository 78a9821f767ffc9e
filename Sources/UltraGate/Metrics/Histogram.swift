import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Counts observations into fixed buckets (upper bounds, inclusive, as Prometheus defines `le`)
/// plus an implicit `+Inf` bucket, and keeps their sum. Buckets are stored per bucket (not
/// cumulative) so an observation is one striped atomic add plus one add to the sum; the export
/// makes them cumulative. The count is the sum of all buckets, so `+Inf` always equals `_count`.
public final class Histogram: MetricChild {
    public let upperBounds: [Double]
    private let cells: StripedCells
    private let sumCell: Int

    /// `upperBounds` must be finite, strictly increasing; `+Inf` is added implicitly.
    public init(upperBounds: [Double]) {
        precondition(upperBounds.allSatisfy(\.isFinite), "bucket bounds must be finite")
        precondition(zip(upperBounds, upperBounds.dropFirst()).allSatisfy { $0 < $1 }, "bucket bounds must increase")
        self.upperBounds = upperBounds
        sumCell = upperBounds.count + 1
        cells = StripedCells(cellsPerStripe: upperBounds.count + 2)
    }

    public func observe(_ value: Double) {
        guard !value.isNaN else { return }
        let stripe = cells.currentStripe
        cells.add(bucketIndex(value), 1, stripe: stripe)
        cells.addDouble(sumCell, value, stripe: stripe)
    }

    /// The first bucket whose bound is >= value (binary search), or the `+Inf` bucket.
    @inline(__always) package func bucketIndex(_ value: Double) -> Int {
        upperBounds.withUnsafeBufferPointer { bounds in
            var lo = 0
            var hi = bounds.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if bounds[mid] < value { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
    }

    public func snapshot() -> HistogramSnapshot {
        var counts = [UInt64](repeating: 0, count: upperBounds.count + 1)
        for i in counts.indices { counts[i] = cells.sum(i) }
        return HistogramSnapshot(upperBounds: upperBounds, bucketCounts: counts, sum: cells.sumDouble(sumCell))
    }

    public func sample() -> MetricValue { .histogram(snapshot()) }

    /// Upper bounds `start, start*factor, …` (count of them), like Prometheus' ExponentialBuckets.
    public static func exponentialBounds(start: Double, factor: Double, count: Int) -> [Double] {
        var bounds: [Double] = []
        var b = start
        for _ in 0..<count { bounds.append(b); b *= factor }
        return bounds
    }
}

/// A point-in-time copy of a histogram.
public struct HistogramSnapshot: Sendable, Equatable {
    public var upperBounds: [Double]
    /// Per bucket, not cumulative; the last entry is the `+Inf` bucket.
    public var bucketCounts: [UInt64]
    public var sum: Double

    public var count: UInt64 { bucketCounts.reduce(0, &+) }

    /// Cumulative counts in `le` order, ending with `+Inf` (which equals `count`).
    public var cumulativeCounts: [UInt64] {
        var running: UInt64 = 0
        return bucketCounts.map { running &+= $0; return running }
    }
}
