import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// A monotonically increasing count, striped per thread so concurrent increments do not share a
/// cache line. Whole increments use an atomic add; fractional ones (money) use an atomic
/// compare-exchange on a separate `Double` cell; the value is the sum of both.
public final class Counter: MetricChild {
    private static let intCell = 0
    private static let doubleCell = 1
    private let cells = StripedCells(cellsPerStripe: 2)

    public init() {}

    @inline(__always) public func increment() {
        cells.add(Self.intCell, 1)
    }

    @inline(__always) public func increment(by amount: Int) {
        guard amount > 0 else { return }
        cells.add(Self.intCell, UInt64(amount))
    }

    /// Adds a fractional amount; negative and non-finite amounts are ignored (counters never go down).
    @inline(__always) public func add(_ amount: Double) {
        guard amount > 0, amount.isFinite else { return }
        cells.addDouble(Self.doubleCell, amount)
    }

    /// Makes the counter show `total`, for counts whose source of truth lives elsewhere (e.g. the
    /// cache's eviction count, copied in at scrape time). Exact only without concurrent writers.
    public func mirror(total: Double) {
        let delta = total - value
        if delta > 0 { cells.addDouble(Self.doubleCell, delta) }
    }

    public var value: Double {
        Double(cells.sum(Self.intCell)) + cells.sumDouble(Self.doubleCell)
    }

    /// The whole-number increments alone (exact for counts above 2^53, unlike `value`).
    public var integerValue: UInt64 { cells.sum(Self.intCell) }

    public func sample() -> MetricValue { .scalar(value) }
}
