import Foundation

/// Cost comparisons that hold on a loaded machine: each side is the fastest of a few runs (the
/// least disturbed by other work), and callers compare two sides of one test against a generous
/// ratio, never against seconds. A quadratic step shows as a ratio of hundreds or more.
///
/// Tests run this heavy work through `offPool`: on a thread of its own (on the two threads of the
/// cooperative pool it would starve the tests running alongside, which wait on timers and tasks),
/// one such test at a time and at the lowest priority, so that the tests with deadlines running
/// alongside keep the CPU.
package enum RelativeCost {
    private static let oneAtATime = NSLock()

    package static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await blocking {
            // On Linux the nice value is per thread: 0 is the calling thread, not the whole process.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
            oneAtATime.lock()
            defer { oneAtATime.unlock() }
            return try body()
        }
    }

    /// The least CPU time of `runs` runs of `body`, in seconds: this thread's CPU time, not the
    /// wall clock, so time the thread spends preempted by other work (a build beside the tests, a
    /// busy neighbour) is not counted. A CI run under such load once saw a linear step at 13× its
    /// baseline by the wall clock.
    package static func fastest(runs: Int = 3, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<runs {
            let start = threadCPUSeconds()
            body()
            best = min(best, threadCPUSeconds() - start)
        }
        return best
    }

    private static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// How many times `body` costs what `baseline` does (the baseline floored at 1 ms, so that a
    /// baseline too quick to time cannot make any ratio large).
    package static func ratio(runs: Int = 3, _ body: () -> Void, to baseline: () -> Void) -> Double {
        // Interleaved, so that both sides meet the same conditions.
        var base = Double.infinity, cost = Double.infinity
        for _ in 0..<runs {
            base = min(base, fastest(runs: 1, baseline))
            cost = min(cost, fastest(runs: 1, body))
        }
        return cost / max(base, 0.001)
    }
}
