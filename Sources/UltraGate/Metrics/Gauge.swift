import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// A value that goes up and down. `increment`/`decrement` (in-flight requests, open connections)
/// are striped atomic adds; `set` (values copied in at scrape time) adjusts a `Double` cell by the
/// difference to the current value, which is exact when nobody increments at the same moment.
public final class Gauge: MetricChild {
    private static let intCell = 0
    private static let doubleCell = 1
    private let cells = StripedCells(cellsPerStripe: 2)

    public init() {}

    @inline(__always) public func increment() { cells.add(Self.intCell, 1) }
    @inline(__always) public func decrement() { cells.add(Self.intCell, UInt64.max) }  // wraps to -1

    @inline(__always) public func increment(by amount: Int) {
        cells.add(Self.intCell, UInt64(bitPattern: Int64(amount)))
    }

    public func add(_ amount: Double) {
        guard amount.isFinite else { return }
        cells.addDouble(Self.doubleCell, amount)
    }

    public func set(_ newValue: Double) {
        guard newValue.isFinite else { return }
        cells.addDouble(Self.doubleCell, newValue - value)
    }

    public var value: Double {
        Double(Int64(bitPattern: cells.sum(Self.intCell))) + cells.sumDouble(Self.doubleCell)
    }

    public func sample() -> MetricValue { .scalar(value) }
}
