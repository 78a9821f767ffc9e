import Foundation
import Testing
@testable import UltraGate

/// `Gateway.finish`: when a finished call may still be joined by newcomers. A stored result stays
/// joinable until its entry is committed (a newcomer gets what the cache would give it); a result
/// that is not stored leaves the table before anyone hears of it (a degraded ensemble answer
/// served to a later request would never be retried).
@Suite struct FlightFinishTests {
    @Test(arguments: [(false, false), (true, false), (true, true)])
    func aFinishedCallIsJoinableOnlyWhileItsEntryIsBeingStored(stored: Bool, commitFirst: Bool) async throws {
        let h = try GatewayHarness(routes: [route("m", ScriptedChatProvider())]) { $0.cache.commitBeforeAnswer = commitFirst }
        let key = CacheKey(bytes: [UInt8](repeating: 7, count: 32))
        let (flight, created) = h.gateway.flights.join(key, streaming: false)
        #expect(created)
        let joinableWhenAnswered = LockedBox<Bool?>(nil)
        let entryWhenAnswered = LockedBox<Bool?>(nil)
        flight.subscribe { event in
            guard case .finished = event else { return }
            joinableWhenAnswered.update { $0 = h.gateway.flights.count == 1 }
            entryWhenAnswered.update { $0 = h.gateway.cache?.lookup(key, now: Clock.wallNow()) != nil }
        }
        let completion: JSONObject = ["id": "c1", "object": "chat.completion", "created": 1, "model": "m", "choices": []]
        let outcome = CallOutcome(completion: completion, route: route("m", ScriptedChatProvider()), upstreamSeconds: 0,
                                  timeToFirstToken: nil, attempts: 1)
        let body = JSONWriter.serialize(.object(completion))
        await h.gateway.finish(flight, key: key, result: FlightResult(outcome: outcome, body: body),
                               storing: stored ? (key, h.gateway.cachedResponse(outcome, body: body)) : nil)
        #expect(joinableWhenAnswered.value == (stored && !commitFirst))
        #expect(entryWhenAnswered.value == (stored && commitFirst))
        #expect(h.gateway.flights.count == 0)
        #expect((h.gateway.cache?.lookup(key, now: Clock.wallNow()) != nil) == stored)
    }
}
