import Foundation

/// Cost comparisons that hold on a loaded machine: each side is the fastest of a few runs (the
/// least disturbed by other work), and callers compare two sides of one test against a generous
/// ratio, never against seconds. A quadratic step shows as a ratio of hundreds or more.
package enum RelativeCost {
    package static func fastest(runs: Int = 3, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    /// How many times `body` costs what `baseline` does (the baseline floored at 1 ms, so that a
    /// baseline too quick to time cannot make any ratio large).
    package static func ratio(runs: Int = 3, _ body: () -> Void, to baseline: () -> Void) -> Double {
        let base = fastest(runs: runs, baseline)
        let cost = fastest(runs: runs, body)
        return cost / max(base, 0.001)
    }
}
