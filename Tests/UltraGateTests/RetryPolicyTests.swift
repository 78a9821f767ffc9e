import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

@Suite struct RetryPolicyTests {
    var settings: RetrySettings {
        var s = RetrySettings()
        s.maxAttempts = 4
        s.baseDelay = 0.25
        s.maxDelay = 2
        s.deadline = 10
        return s
    }

    @Test func backsOffExponentiallyWithBoundedJitter() {
        let policy = RetryPolicy(settings)
        let error = ProviderError.status(503)
        for (attempt, cap) in [(1, 0.25), (2, 0.5), (3, 1.0)] {
            let low = policy.delay(after: attempt, error: error, elapsed: 0, random: { 0 })!
            let high = policy.delay(after: attempt, error: error, elapsed: 0, random: { 0.999 })!
            #expect(abs(low - cap / 2) < 1e-9)
            #expect(high <= cap && high > cap * 0.99)
        }
        #expect(policy.delay(after: 4, error: error, elapsed: 0) == nil, "four attempts in all")
    }

    @Test func onlyRetryableFailuresAreRetried() {
        let policy = RetryPolicy(settings)
        for status in [408, 409, 429, 500, 502, 503, 529] {
            #expect(policy.delay(after: 1, error: .status(status), elapsed: 0) != nil, "\(status)")
        }
        for status in [400, 401, 403, 404, 422] {
            #expect(policy.delay(after: 1, error: .status(status), elapsed: 0) == nil, "\(status)")
        }
        let connect = ProviderError(kind: .transport(.connect("refused")), provider: "p", message: "refused")
        let firstByte = ProviderError(kind: .transport(.timeout(.firstByte)), provider: "p", message: "slow")
        let broken = ProviderError(kind: .transport(.broken("reset")), provider: "p", message: "reset")
        let idle = ProviderError(kind: .transport(.timeout(.idle)), provider: "p", message: "stalled")
        #expect(policy.delay(after: 1, error: connect, elapsed: 0) != nil)
        #expect(policy.delay(after: 1, error: firstByte, elapsed: 0) != nil)
        #expect(policy.delay(after: 1, error: broken, elapsed: 0) == nil)
        #expect(policy.delay(after: 1, error: idle, elapsed: 0) == nil)
    }

    @Test func honoursRetryAfterAndTheDeadline() {
        let policy = RetryPolicy(settings)
        #expect(policy.delay(after: 1, error: .status(429, retryAfter: 3), elapsed: 0, random: { 0 }) == 3)
        #expect(policy.delay(after: 1, error: .status(429, retryAfter: 60), elapsed: 0) == nil, "beyond the budget")
        #expect(policy.delay(after: 1, error: .status(503), elapsed: 9.99, random: { 0.5 }) == nil, "past the deadline")
    }
}

@Suite struct CacheControlTests {
    @Test func parsesTheDirectivesThatSteerTheCache() {
        #expect(CacheControl(headerValues: []) == CacheControl())
        #expect(CacheControl(headerValues: ["no-cache"]).allowsLookup == false)
        #expect(CacheControl(headerValues: ["No-Store, max-age=\"30\""]) == CacheControl(noStore: true, maxAge: 30))
        #expect(CacheControl(headerValues: ["max-age=0"]) == CacheControl(noCache: true, maxAge: 0))
        #expect(CacheControl(headerValues: ["max-age=-5", "private"]) == CacheControl())
        #expect(CacheControl(headerValues: ["max-age=10", "no-store"]) == CacheControl(noStore: true, maxAge: 10))
    }
}

@Suite struct CompletionFlightTests {
    @Test func lateSubscribersGetTheHistoryThenTheEnd() {
        let flight = CompletionFlight(streaming: true)
        flight.publish(.chunk(["n": 1]))
        let seen = LockedBox<[String]>([])
        _ = flight.subscribe { event in
            if case .chunk(let c) = event { seen.update { $0.append("chunk \(c["n"]!.intValue!)") } }
            if case .failed = event { seen.update { $0.append("failed") } }
        }
        flight.publish(.chunk(["n": 2]))
        flight.publish(.failed(.serverError("x")))
        flight.publish(.chunk(["n": 3]))  // after the end: ignored
        #expect(seen.value == ["chunk 1", "chunk 2", "failed"])
        let replay = LockedBox<[String]>([])
        let id = flight.subscribe { if case .failed = $0 { replay.update { $0.append("failed") } } }
        #expect(id == nil)
        #expect(replay.value == ["failed"])
    }

    @Test func abandonedOnlyWhenTheLastSubscriberLeavesAndNoOneIsJoining() async {
        let table = FlightTable()
        let key = CacheKey.make(namespace: "t", route: "r", request: [:])
        let (flight, created) = table.join(key, streaming: false)
        #expect(created)
        let abandoned = LockedBox(false)
        flight.start(onAbandon: { abandoned.update { $0 = true } }) { _ in
            try? await Task.sleep(nanoseconds: 5_000_000_000)
        }
        let first = flight.subscribe { _ in }!
        let (same, createdAgain) = table.join(key, streaming: false)  // a second request reserves a place
        #expect(same === flight && !createdAgain)
        flight.unsubscribe(first)
        #expect(abandoned.value == false, "a reserved joiner keeps the flight alive")
        let second = flight.subscribe { _ in }!
        flight.unsubscribe(second)
        #expect(abandoned.value == true)
        let (fresh, createdFresh) = table.join(key, streaming: false)
        #expect(createdFresh && fresh !== flight, "nobody joins cancelled work")
    }

    /// Wired the way the gateway wires it (the abandon callback and the work both capture the
    /// flight): once it ends and leaves the table, nothing may keep it (and its result) alive.
    /// A cycle here once leaked ~12 KB per cache miss.
    @Test(arguments: [false, true]) func aFinishedOrAbandonedFlightIsFreed(abandon: Bool) async throws {
        weak var weakFlight: CompletionFlight?
        let table = FlightTable()
        let key = CacheKey.make(namespace: "t", route: "r", request: [:])
        do {
            let (flight, _) = table.join(key, streaming: false)
            weakFlight = flight
            let ended = LockedBox(false)
            flight.start(onAbandon: { table.remove(key, flight) }) { flight in
                if abandon { try? await Task.sleep(nanoseconds: 5_000_000_000) }
                flight.publish(.failed(.serverError("done")))
                table.remove(key, flight)
            }
            let id = flight.subscribe { if case .failed = $0 { ended.update { $0 = true } } }
            if abandon, let id { flight.unsubscribe(id) }
            for _ in 0..<200 where !ended.value && !abandon { try await Task.sleep(nanoseconds: 5_000_000) }
        }
        for _ in 0..<200 where weakFlight != nil { try await Task.sleep(nanoseconds: 5_000_000) }
        #expect(weakFlight == nil)
    }
}
