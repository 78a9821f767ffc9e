import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// A flight keeps its chunks for clients that join later, but not without bound: past
/// `maxReplayChunks` the replay is dropped and identical requests start a call of their own.
@Suite struct CompletionFlightReplayTests {
    let key = CacheKey(bytes: [UInt8](repeating: 3, count: 32))

    func chunk(_ i: Int) -> JSONObject { ["id": "c", "choices": [["index": 0, "delta": ["content": .string("t\(i) ")]]]] }

    @Test func aVeryLongStreamStopsBeingJoinableAndDropsItsReplay() {
        let table = FlightTable()
        let (first, created) = table.join(key, streaming: true)
        #expect(created)
        let live = LockedBox(0)
        first.subscribe { event in if case .chunk = event { live.update { $0 += 1 } } }
        for i in 0...CompletionFlight.maxReplayChunks { first.publish(.chunk(chunk(i))) }
        // The clients already listening get everything; a newcomer gets a call of its own.
        #expect(live.value == CompletionFlight.maxReplayChunks + 1)
        let (second, createdAgain) = table.join(key, streaming: true)
        #expect(createdAgain && second !== first)
        // Subscribing to the old flight directly replays nothing any more.
        let replayed = LockedBox(0)
        first.subscribe { event in if case .chunk = event { replayed.update { $0 += 1 } } }
        #expect(replayed.value == 0)
        // The old flight leaving does not take the new one out of the table.
        table.remove(key, first)
        #expect(table.count == 1)
    }

    @Test func aJoinerBetweenReserveAndSubscribeStillGetsTheWholeReplay() {
        let table = FlightTable()
        let (flight, _) = table.join(key, streaming: true)
        flight.subscribe { _ in }
        for i in 0..<CompletionFlight.maxReplayChunks { flight.publish(.chunk(chunk(i))) }
        let (joined, created) = table.join(key, streaming: true)  // reserved, not yet subscribed
        #expect(!created && joined === flight)
        for i in 0..<10 { flight.publish(.chunk(chunk(CompletionFlight.maxReplayChunks + i))) }
        let replayed = LockedBox(0)
        joined.subscribe { event in if case .chunk = event { replayed.update { $0 += 1 } } }
        #expect(replayed.value == CompletionFlight.maxReplayChunks + 10)
    }

    /// A flight started with `Task.immediate` can run to its end before its creator subscribes
    /// (its upstream's chunks were all buffered): the creator still gets every chunk, then the end.
    @Test func aFlightThatEndsBeforeItsFirstSubscriberKeepsItsChunks() {
        let table = FlightTable()
        let (flight, _) = table.join(key, streaming: true)
        for i in 0..<5 { flight.publish(.chunk(chunk(i))) }
        flight.publish(.failed(.clientClosed))
        let seen = LockedBox<[String]>([])
        flight.subscribe { event in
            switch event {
            case .chunk: seen.update { $0.append("chunk") }
            case .finished: seen.update { $0.append("finished") }
            case .failed: seen.update { $0.append("failed") }
            }
        }
        #expect(seen.value == Array(repeating: "chunk", count: 5) + ["failed"])
    }
}
