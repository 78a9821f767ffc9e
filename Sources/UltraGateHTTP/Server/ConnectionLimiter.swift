import UltraGateSupport
import Synchronization

/// The server-wide cap on client connections held at once (`server.max_connections`), shared by
/// every event loop: a slot is taken before a connection is registered and given back when it
/// closes. One compare-and-swap per accept, one subtraction per close.
package final class ConnectionLimiter: Sendable {
    package let limit: Int
    private let held = Atomic<Int>(0)

    package init(limit: Int) { self.limit = max(1, limit) }

    /// Connections holding a slot now.
    package var count: Int { held.load(ordering: .relaxed) }

    /// Takes a slot if one is free; never lets the count pass `limit`, whatever the threads do.
    package func tryAcquire() -> Bool {
        var current = held.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = held.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    package func release() { held.subtract(1, ordering: .relaxed) }
}
