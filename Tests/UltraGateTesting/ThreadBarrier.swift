import Foundation

/// Holds each arriving thread until `count` threads have arrived (or `timeout` seconds pass), so a
/// fake upstream can prove that requests were in flight at the same time without timing them.
package final class ThreadBarrier: @unchecked Sendable {
    private let condition = NSCondition()
    private let count: Int
    private let timeout: Double
    private var arrived = 0
    private var expired = false

    package init(count: Int, timeout: Double = 30) {
        self.count = count
        self.timeout = timeout
    }

    /// Whether some thread gave up waiting before all had arrived.
    package var timedOut: Bool { condition.lock(); defer { condition.unlock() }; return expired }

    /// Arrives and waits for the others; `false` when the time ran out first.
    @discardableResult package func arriveAndWait() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        let deadline = Date().addingTimeInterval(timeout)
        while arrived < count {
            if !condition.wait(until: deadline) {
                expired = true
                return false
            }
        }
        return true
    }
}
