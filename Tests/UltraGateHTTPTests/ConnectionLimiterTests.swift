import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP

@Suite struct ConnectionLimiterTests {
    @Test func slotsAreTakenUpToTheLimitAndFreedByRelease() {
        let limiter = ConnectionLimiter(limit: 3)
        #expect((0..<5).map { _ in limiter.tryAcquire() } == [true, true, true, false, false])
        #expect(limiter.count == 3)
        limiter.release()
        #expect(limiter.tryAcquire() && !limiter.tryAcquire())
        #expect(ConnectionLimiter(limit: 0).limit == 1, "at least one connection")
    }

    /// The cap holds for the whole server: threads taking and giving back slots together never
    /// hold more than the limit at once, and every slot comes back.
    @Test func threadsTogetherNeverHoldMoreThanTheLimit() {
        let limiter = ConnectionLimiter(limit: 8)
        let overLimit = LockedFlag()
        let threads = 4
        let group = DispatchGroup()
        for _ in 0..<threads {
            group.enter()
            Thread {
                var held = 0
                for i in 0..<50_000 {
                    if i % 3 != 2, limiter.tryAcquire() {
                        held += 1
                        if limiter.count > limiter.limit { overLimit.set() }
                    } else if held > 0 {
                        limiter.release()
                        held -= 1
                    }
                }
                for _ in 0..<held { limiter.release() }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(!overLimit.isSet)
        #expect(limiter.count == 0)
    }
}

private final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
