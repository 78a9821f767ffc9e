import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How often a key's spend starts again from zero. `1d`, `7d`, `30d` (any `Nd`) are windows of N
/// days counted from the key's creation; `monthly` is the calendar month in UTC.
package enum BudgetPeriod: Sendable, Equatable, CustomStringConvertible {
    case days(Int)
    case monthly

    package init?(_ text: String) {
        if text == "monthly" { self = .monthly; return }
        guard text.hasSuffix("d"), let n = Int(text.dropLast()), n > 0, n <= 3660 else { return nil }
        self = .days(n)
    }

    package var description: String {
        switch self {
        case .days(let n): return "\(n)d"
        case .monthly: return "monthly"
        }
    }

    /// The start and end (Unix seconds) of the period holding `now`, for a key created at `anchor`.
    package func window(containing now: Double, anchor: Double) -> (start: Double, end: Double) {
        switch self {
        case .days(let n):
            let length = Double(n) * 86_400
            let index = max(0, ((now - anchor) / length).rounded(.down))
            let start = anchor + index * length
            return (start, start + length)
        case .monthly:
            // The month in hand is remembered: this runs on every keyed request (usage is filed
            // by window), and gmtime_r and timegm cost more than the rest of the booking.
            if let known = BudgetPeriod.currentMonth.withLock({ $0 }), known.start <= now, now < known.end { return known }
            let window = BudgetPeriod.month(containing: now)
            BudgetPeriod.currentMonth.withLock { $0 = window }
            return window
        }
    }

    private static let currentMonth = Mutex<(start: Double, end: Double)?>(nil)

    private static func month(containing now: Double) -> (start: Double, end: Double) {
        do {
            // gmtime_r/timegm rather than Foundation's Calendar, which costs microseconds to make.
            var t = time_t(now.rounded(.down))
            var parts = tm()
            gmtime_r(&t, &parts)
            func firstOfMonth(_ year: Int32, _ month: Int32) -> Double {
                var first = tm()
                first.tm_year = year + month / 12
                first.tm_mon = month % 12
                first.tm_mday = 1
                return Double(timegm(&first))
            }
            return (firstOfMonth(parts.tm_year, parts.tm_mon), firstOfMonth(parts.tm_year, parts.tm_mon + 1))
        }
    }
}
