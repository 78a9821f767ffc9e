import Foundation

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
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let date = Date(timeIntervalSince1970: now)
            let parts = calendar.dateComponents([.year, .month], from: date)
            let start = calendar.date(from: parts)!
            let end = calendar.date(byAdding: .month, value: 1, to: start)!
            return (start.timeIntervalSince1970, end.timeIntervalSince1970)
        }
    }
}
