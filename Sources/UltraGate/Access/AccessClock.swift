import UltraGateSupport
import Foundation

/// The wall clock of budgets and key expiry: Unix seconds, shifted by a fixed offset that tests set
/// with `ULTRAGATE_TEST_TIME_OFFSET_SECONDS` (to roll a budget period across a restart without
/// waiting for it) and unit tests replace outright.
package struct AccessClock: Sendable {
    private let read: @Sendable () -> Double

    package init(_ read: @escaping @Sendable () -> Double) { self.read = read }

    /// The system clock plus the environment's test offset, if any.
    package static func system(environment: [String: String] = ProcessInfo.processInfo.environment) -> AccessClock {
        let offset = environment["ULTRAGATE_TEST_TIME_OFFSET_SECONDS"].flatMap(Double.init) ?? 0
        return AccessClock { Clock.wallNow() + offset }
    }

    package func now() -> Double { read() }
}
