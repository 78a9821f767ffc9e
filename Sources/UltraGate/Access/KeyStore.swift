import UltraGateJSON

/// One finished request's use of a virtual key, booked against its spend and usage.
package struct KeyUsageEvent: Sendable, Equatable {
    package var name: String
    package var model: String
    package var at: Double
    package var promptTokens = 0
    package var completionTokens = 0
    package var costUSD: Double = 0
    /// What a cache hit (or a shared in-flight call) saved: the cost the key did not pay.
    package var savedUSD: Double = 0

    package init(name: String, model: String, at: Double) {
        self.name = name
        self.model = model
        self.at = at
    }
}

/// Where virtual keys and their spend live. The access gate asks it on every keyed request, so
/// `key(hash:)` and `spend` answer from memory; the LMDB store refreshes that memory from disk at
/// least once a second, so a revocation or change made by any process sharing the directory takes
/// effect within a second.
package protocol KeyStore: AnyObject, Sendable {
    /// The key whose secret hashes to `hash` (SHA-256), if one exists (disabled and expired keys
    /// included: the gate says why it refuses them).
    func key(hash: [UInt8]) -> VirtualKey?
    /// The same key as a grant (what the gate passes along a request); a store may keep one per key.
    func grant(hash: KeyHash) -> KeyGrant?
    /// What `name` spent in the budget window starting at `periodStart`, over every process.
    func spend(name: String, periodStart: Double) -> Double
    /// Books a finished request.
    func record(_ usage: KeyUsageEvent)
    /// Books one finished request of the key `grant` (which this store handed out), `usage` of
    /// `model` at `at`: what the access gate calls, so a store can add to the grant's tally
    /// instead of looking the key up by name.
    func record(_ usage: KeyUsageCounters, model: String, at: Double, grant: KeyGrant)
    /// Changes whenever `grant(hash:)` may answer otherwise than before (the keys were reloaded):
    /// while it stays the same, a grant it gave may be reused without asking again. Nil: ask every time.
    var grantsVersion: UInt64? { get }
    /// What this process booked per key and team since it started, when the store keeps that
    /// (the per-key metrics are then read from it); nil: the access gate counts them itself.
    func processUsage() -> [KeyProcessUsage]?
}

/// One key's (and team's) usage booked by this process since it started.
package struct KeyProcessUsage: Sendable, Equatable {
    package let name: String
    package let team: String
    package let usage: KeyUsageCounters
    /// Whether `team` is the key's team now (a key whose team changed has one entry per team).
    package var current = false
}

extension KeyStore {
    package func grant(hash: KeyHash) -> KeyGrant? { key(hash: hash.bytes).map(KeyGrant.init) }
    package func grant(hash: [UInt8]) -> KeyGrant? { KeyHash(hash).flatMap { grant(hash: $0) } }
    package func record(_ usage: KeyUsageCounters, model: String, at: Double, grant: KeyGrant) {
        var event = KeyUsageEvent(name: grant.name, model: model, at: at)
        event.promptTokens = Int(clamping: usage.promptTokens)
        event.completionTokens = Int(clamping: usage.completionTokens)
        event.costUSD = usage.spendUSD
        event.savedUSD = usage.savedUSD
        record(event)
    }

    package func record(_ usage: KeyUsageEvent, grant: KeyGrant) {
        record(KeyUsageCounters(usage), model: usage.model, at: usage.at, grant: grant)
    }
    package var grantsVersion: UInt64? { nil }
    package func processUsage() -> [KeyProcessUsage]? { nil }
}
