/// A token bucket: holds up to `capacity`, refilled continuously at `capacity` per `period`
/// seconds. A limit of N per minute is a bucket of N refilled over 60 s: a burst of N, then one
/// every 60/N s, with no window edge at which 2N could pass (as fixed windows allow).
package struct TokenBucket: Sendable, Equatable {
    package private(set) var capacity: Double
    package private(set) var ratePerSecond: Double
    package private(set) var level: Double
    private var updatedAt: Double

    package init(capacity: Int, period: Double, now: Double) {
        self.capacity = Double(capacity)
        ratePerSecond = Double(capacity) / period
        level = Double(capacity)
        updatedAt = now
    }

    package mutating func refill(now: Double) {
        if now > updatedAt { level = min(capacity, level + (now - updatedAt) * ratePerSecond) }
        updatedAt = max(updatedAt, now)
    }

    /// Keeps the level (clamped) when the limit changes.
    package mutating func resize(capacity newCapacity: Int, period: Double) {
        capacity = Double(newCapacity)
        ratePerSecond = capacity / period
        level = min(level, capacity)
    }

    /// Takes `amount` (may leave the level negative: a reservation larger than what was left, or
    /// usage reconciled above its reservation, is owed and refills first).
    package mutating func take(_ amount: Double) { level -= amount }

    /// Gives back what a reservation did not use.
    package mutating func giveBack(_ amount: Double) { level = min(capacity, level + amount) }

    /// Seconds until the level reaches `amount` (0 when it already has).
    package func secondsUntil(_ amount: Double) -> Double {
        level >= amount ? 0 : (amount - level) / ratePerSecond
    }

    /// Seconds until the bucket is full again (OpenAI's `x-ratelimit-reset-*`).
    package var secondsUntilFull: Double { secondsUntil(capacity) }
}
