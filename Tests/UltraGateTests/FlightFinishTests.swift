import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// `Gateway.finish`: when a finished call may still serve newcomers. Only while its entry is
/// being committed under the very key it was asked for: they then get what the cache is about to
/// give them (as a hit). A result that is not stored (a degraded ensemble answer must be retried)
/// or is stored under another key (a fallback's answer belongs to the model that produced it)
/// leaves the table before anyone hears of it; the latter is committed first.
@Suite struct FlightFinishTests {
    enum Storing: Sendable, CaseIterable { case nothing, sameKey, otherKey }

    @Test(arguments: Storing.allCases, [false, true])
    func aFinishedCallServesNewcomersOnlyWhileItsOwnEntryIsBeingCommitted(storing: Storing, commitFirst: Bool) async throws {
        let h = try GatewayHarness(routes: [route("m", ScriptedChatProvider())]) { $0.cache.commitBeforeAnswer = commitFirst }
        let key = CacheKey(bytes: [UInt8](repeating: 7, count: 32))
        let otherKey = CacheKey(bytes: [UInt8](repeating: 9, count: 32))
        let (flight, created) = h.gateway.flights.join(key, streaming: false)
        #expect(created)
        let joinableWhenAnswered = LockedBox<Bool?>(nil)
        let hitWhenAnswered = LockedBox<Bool?>(nil)
        let storedWhenAnswered = LockedBox<Bool?>(nil)
        let gateway = h.gateway
        flight.subscribe { event in
            guard case .finished = event else { return }
            joinableWhenAnswered.update { $0 = gateway.flights.count == 1 }
            hitWhenAnswered.update { $0 = gateway.committingHit(key) != nil }
            storedWhenAnswered.update { $0 = gateway.cache?.lookup(storing == .otherKey ? otherKey : key, now: Clock.wallNow()) != nil }
        }
        let completion: JSONObject = ["id": "c1", "object": "chat.completion", "created": 1, "model": "m", "choices": []]
        let outcome = CallOutcome(completion: completion, route: route("m", ScriptedChatProvider()), upstreamSeconds: 0,
                                  timeToFirstToken: nil, attempts: 1)
        let body = JSONWriter.serialize(.object(completion))
        let entry: (key: CacheKey, value: CachedResponse)? = switch storing {
        case .nothing: nil
        case .sameKey: (key, h.gateway.cachedResponse(outcome, body: body))
        case .otherKey: (otherKey, h.gateway.cachedResponse(outcome, body: body))
        }
        await h.gateway.finish(flight, key: key, result: FlightResult(outcome: outcome, body: body), storing: entry)

        let servesNewcomers = storing == .sameKey && !commitFirst
        #expect(joinableWhenAnswered.value == servesNewcomers)
        #expect(hitWhenAnswered.value == servesNewcomers)
        // A fallback's answer (another key) is committed before it is answered: a request for the
        // model that gave it, sent on reading the answer, finds it stored.
        #expect(storedWhenAnswered.value == (storing == .otherKey || storing == .sameKey && commitFirst))
        #expect(h.gateway.flights.count == 0)
        #expect(h.gateway.committingHit(key) == nil)
        #expect((h.gateway.cache?.lookup(key, now: Clock.wallNow()) != nil) == (storing == .sameKey))
        #expect((h.gateway.cache?.lookup(otherKey, now: Clock.wallNow()) != nil) == (storing == .otherKey))
    }

    func outcome(_ id: String) -> (CallOutcome, [UInt8]) {
        let completion: JSONObject = ["id": .string(id), "object": "chat.completion", "created": 1, "model": "m", "choices": []]
        return (CallOutcome(completion: completion, route: route("m", ScriptedChatProvider()), upstreamSeconds: 0,
                            timeToFirstToken: nil, attempts: 1), JSONWriter.serialize(.object(completion)))
    }

    /// A refresh (`no-cache`, `max-age`) answered a moment ago is newer than the entry it replaces:
    /// while its entry is being committed, lookups get it, not the older stored one.
    @Test func aCommittingAnswerWinsOverTheStoredOneItReplaces() async throws {
        let h = try GatewayHarness(routes: [route("m", ScriptedChatProvider())])
        let cache = try #require(h.gateway.cache)
        let key = CacheKey(bytes: [UInt8](repeating: 5, count: 32))
        let (old, oldBody) = outcome("old")
        await cache.store(key, h.gateway.cachedResponse(old, body: oldBody))
        let (flight, _) = h.gateway.flights.join(key, streaming: false)
        let (new, newBody) = outcome("new")
        flight.publish(.finished(FlightResult(outcome: new, body: newBody)))  // finished, not yet committed
        #expect(h.gateway.cachedOrCommitting(cache, key, maxAge: nil)?.body == newBody)
    }

    /// An answer too large to store must not serve newcomers as a hit while its store is refused.
    @Test func anAnswerTooLargeToStoreLeavesTheTableBeforeItIsAnswered() async throws {
        let h = try GatewayHarness(routes: [route("m", ScriptedChatProvider())]) { $0.cache.maxEntryBytes = 1024 }
        let key = CacheKey(bytes: [UInt8](repeating: 6, count: 32))
        let (flight, _) = h.gateway.flights.join(key, streaming: false)
        let gateway = h.gateway
        let joinableWhenAnswered = LockedBox<Bool?>(nil)
        flight.subscribe { event in
            guard case .finished = event else { return }
            joinableWhenAnswered.update { $0 = gateway.committingHit(key) != nil }
        }
        let (big, _) = outcome("big")
        let body = Array(repeating: UInt8(ascii: "x"), count: 4096)
        await h.gateway.finish(flight, key: key, result: FlightResult(outcome: big, body: body),
                               storing: (key, h.gateway.cachedResponse(big, body: body)))
        #expect(joinableWhenAnswered.value == false)
        #expect(h.gateway.cache?.lookup(key, now: Clock.wallNow()) == nil)
        #expect(h.gateway.cache?.stats().tooLarge == 1)
    }
}
