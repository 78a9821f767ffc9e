/// Integer arithmetic on counts a client controls (`max_tokens`, `n`, limits): it stops at the
/// ends of `Int` instead of trapping, since a trap ends the whole process and every tenant's
/// requests with it.
extension Int {
    /// `self + other`, held at `Int.max` / `Int.min`.
    @inlinable package func addingSaturated(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self * other`, held at `Int.max` / `Int.min`.
    @inlinable package func multipliedSaturated(by other: Int) -> Int {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? ((self < 0) == (other < 0) ? .max : .min) : product
    }

    /// `value` rounded toward zero, held at `Int.max` / `Int.min`; 0 for NaN. `Int(_: Double)`
    /// traps outside Int's range.
    @inlinable package init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9_223_372_036_854_775_807.0 {  // 2^63 as a Double: Int.max is not representable
            self = .max
        } else if value <= -9_223_372_036_854_775_808.0 {
            self = .min
        } else {
            self = Int(value)
        }
    }
}
