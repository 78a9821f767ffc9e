import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Synchronization

/// Request ids: a random per-process prefix and a counter, so making one costs nanoseconds.
package final class RequestIDGenerator: Sendable {
    private let prefix: String
    private let counter = Atomic<UInt64>(0)

    package init() {
        let random = UInt64.random(in: 0..<(1 << 48))
        prefix = "req_" + String(random, radix: 16)
    }

    package func next() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return prefix + "_" + String(n, radix: 16)
    }

    /// A client-supplied id is echoed only when it is short and printable.
    package static func sanitized(_ value: String) -> String? {
        guard !value.isEmpty, value.utf8.count <= 128,
              value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return value
    }
}
