import UltraGateSupport
import Foundation

/// The wall clock of the access layer: key creation and expiry, budget windows, usage timestamps.
/// One small value so tests inject time (budget windows roll without waiting) and the key store
/// and the access gate read the same clock.
///
/// `ULTRAGATE_TEST_TIME_OFFSET_SECONDS` (tests only) shifts this clock by that many seconds in the
/// whole process, so an end-to-end test can start a gateway "a month later" and see a budget
/// period roll over across a restart. It moves nothing else: the cache, logs and metrics keep the
/// real time.
package struct AccessClock: Sendable {
    /// The environment variable that shifts the access clock (tests only).
    package static let offsetVariable = "ULTRAGATE_TEST_TIME_OFFSET_SECONDS"

    private let read: @Sendable () -> Double

    /// A clock reading `now` (Unix seconds).
    package init(_ now: @escaping @Sendable () -> Double) {
        read = now
    }

    /// Unix seconds, now.
    package func now() -> Double { read() }

    /// The real wall clock shifted by `ULTRAGATE_TEST_TIME_OFFSET_SECONDS` of this process's
    /// environment (read once).
    package static let system = AccessClock(environment: ProcessInfo.processInfo.environment)

    /// The wall clock shifted by the offset `environment` names (none when it is unset or not a number).
    package init(environment: [String: String]) {
        let offset = environment[Self.offsetVariable].flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil } ?? 0
        if offset == 0 {
            self.init { Clock.wallNow() }
        } else {
            self.init { Clock.wallNow() + offset }
        }
    }
}
