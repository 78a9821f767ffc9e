import UltraGateJSON
import UltraGateSupport
import Foundation

/// Counts the workers publish about every 100 ms, for the live progress line.
package final class BenchProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var succeeded: [Int: Int] = [:]
    private var errors: [Int: Int] = [:]

    package func publish(worker: Int, succeeded s: Int, errors e: Int) {
        lock.lock()
        succeeded[worker] = s
        errors[worker] = e
        lock.unlock()
    }

    package var totals: (succeeded: Int, errors: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (succeeded.values.reduce(0, +), errors.values.reduce(0, +))
    }
}
