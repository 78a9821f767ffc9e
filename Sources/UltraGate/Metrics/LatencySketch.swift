import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// A fixed-memory log-linear histogram of durations (HDR-style) for percentiles finer than the
/// Prometheus buckets: whole microseconds below 128 µs are exact, above that every power of two is
/// split into 64 equal buckets, so a bucket is at most 1/64 of its lower bound wide and its
/// midpoint is within ~0.8 % of any value in it. Values above ~19 hours are clamped.
/// 1,984 atomic cells (~16 KB); recording is one relaxed atomic add to the value's bucket.
public final class LatencySketch: Sendable {
    package static let subBucketBits = 6                      // 64 sub-buckets per power of two above the exact range
    package static let subBuckets = 1 << subBucketBits        // 64
    package static let exactLimit: UInt64 = 2 << subBucketBits  // 128: below this, one bucket per microsecond
    package static let maxValue: UInt64 = (1 << 36) - 1       // microseconds, ~19 h
    package static let bucketCount = index(ofMicroseconds: maxValue) + 1

    private let cells = StripedCells(cellsPerStripe: LatencySketch.bucketCount, stripes: 1)

    public init() {}

    public func record(seconds: Double) {
        guard seconds.isFinite else { return }
        let micros = seconds <= 0 ? 0 : min((seconds * 1e6).rounded(), Double(Self.maxValue))
        cells.add(Self.index(ofMicroseconds: UInt64(micros)), 1, stripe: 0)
    }

    @inline(__always) package static func index(ofMicroseconds v: UInt64) -> Int {
        if v < exactLimit { return Int(v) }
        let msb = 63 - v.leadingZeroBitCount
        let shift = msb - subBucketBits
        return (shift + 1) * subBuckets + Int(v >> UInt64(shift)) - subBuckets
    }

    /// The lowest value of a bucket and its width, in microseconds.
    package static func range(ofIndex i: Int) -> (lower: UInt64, width: UInt64) {
        if i < Int(exactLimit) { return (UInt64(i), 1) }
        let shift = i / subBuckets - 1
        let sub = UInt64(i % subBuckets + subBuckets)
        return (sub << UInt64(shift), 1 << UInt64(shift))
    }

    /// A point-in-time copy for computing several percentiles from one consistent view.
    public func snapshot() -> Snapshot {
        var counts = [UInt64](repeating: 0, count: Self.bucketCount)
        for i in counts.indices { counts[i] = cells.sum(i) }
        return Snapshot(counts: counts)
    }

    public struct Snapshot: Sendable {
        package let counts: [UInt64]

        public var count: UInt64 { counts.reduce(0, &+) }

        /// The nearest-rank percentile (`q` in 0…1) in seconds, or nil when nothing was recorded.
        /// Exact buckets give their value; wider ones their midpoint.
        public func percentile(_ q: Double) -> Double? {
            let total = count
            guard total > 0 else { return nil }
            let rank = max(1, UInt64((min(max(q, 0), 1) * Double(total)).rounded(.up)))
            var seen: UInt64 = 0
            for (i, c) in counts.enumerated() where c > 0 {
                seen += c
                if seen >= rank {
                    let (lower, width) = LatencySketch.range(ofIndex: i)
                    let micros = width == 1 ? Double(lower) : Double(lower) + Double(width - 1) / 2
                    return micros / 1e6
                }
            }
            return nil
        }
    }
}
