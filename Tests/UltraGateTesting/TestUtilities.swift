import Foundation
@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench

/// A value shared between test threads.
package final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    package init(_ value: T) { stored = value }
    package var value: T { lock.withLock { stored } }
    package func update(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}

/// A small, fast, seedable generator (SplitMix64) so randomized tests are reproducible.
package struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs blocking work (socket reads, `Thread.sleep`) on a thread of its own, so it never holds
/// one of the few cooperative-pool threads the server under test needs for its own tasks.
package func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// A started server on an ephemeral loopback port with one loop thread; shut it down when done.
package func startOneLoopServer(_ handler: any HTTPHandler) throws -> HTTPServer {
    var config = HTTPServerConfig()
    config.port = 0
    config.threads = 1
    let server = HTTPServer(config: config, handler: handler)
    try server.start()
    return server
}
