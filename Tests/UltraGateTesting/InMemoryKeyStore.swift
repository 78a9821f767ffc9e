import Foundation
@testable import UltraGateCache
@testable import UltraGate

/// A `KeyStore` in memory for gate tests: keys added by secret, usage kept as recorded.
package final class InMemoryKeyStore: KeyStore, @unchecked Sendable {
    private let lock = NSLock()
    private var keys: [[UInt8]: VirtualKey] = [:]
    private var spent: [String: Double] = [:]
    package private(set) var recorded: [KeyUsageEvent] = []

    package init() {}

    /// Adds (or replaces) a key with the given secret; `configure` sets its fields.
    @discardableResult
    package func add(_ name: String, secret: String, createdAt: Double = 0, _ configure: (inout VirtualKey) -> Void = { _ in }) -> VirtualKey {
        var key = VirtualKey(name: name, createdAt: createdAt, secretHash: SHA256.hash(secret), hint: String(secret.suffix(4)))
        configure(&key)
        lock.lock()
        keys[key.secretHash] = key
        lock.unlock()
        return key
    }

    package func update(_ name: String, _ change: (inout VirtualKey) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        guard let hash = keys.first(where: { $0.value.name == name })?.key else { return }
        change(&keys[hash]!)
    }

    package func key(hash: [UInt8]) -> VirtualKey? {
        lock.lock()
        defer { lock.unlock() }
        return keys[hash]
    }

    package func spend(name: String, periodStart: Double) -> Double {
        lock.lock()
        defer { lock.unlock() }
        return recorded.filter { $0.name == name && $0.at >= periodStart }.reduce(0) { $0 + $1.costUSD }
    }

    package func record(_ usage: KeyUsageEvent) {
        lock.lock()
        recorded.append(usage)
        lock.unlock()
    }

    package var records: [KeyUsageEvent] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }
}
