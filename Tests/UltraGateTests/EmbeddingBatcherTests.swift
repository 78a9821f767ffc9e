import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateCache
@testable import UltraGateProviders
@testable import UltraGate

/// Timers that fire only when the test says: batching is checked by what reaches the provider,
/// never by the clock.
private final class ManualTimers: @unchecked Sendable {
    private let lock = NSLock()
    private var due: [@Sendable () -> Void] = []
    private(set) var delays: [Double] = []

    var scheduler: EmbeddingScheduler {
        EmbeddingScheduler(after: { [self] seconds, work in
            lock.withLock {
                delays.append(seconds)
                due.append(work)
            }
        }, executor: nil)
    }

    var pending: Int { lock.withLock { due.count } }

    func fireAll() {
        let works = lock.withLock { () -> [@Sendable () -> Void] in
            defer { due = [] }
            return due
        }
        for work in works { work() }
    }
}

@Suite struct EmbeddingBatcherTests {
    let table = EmbeddingFlightTable()
    let prefix = EmbeddingKeyPrefix(namespace: "t", route: "emb/m", upstreamModel: "m", dimensions: nil, options: "")
    let key = EmbeddingBatchKey(route: "emb/m", dimensions: nil, user: nil, options: "", tokens: false)

    func template(_ provider: ScriptedEmbeddingProvider) -> EmbeddingCallTemplate {
        EmbeddingCallTemplate(route: ModelRoute(name: "m", providerName: "emb", provider: provider, upstreamModel: "m"),
                              provider: provider, dimensions: nil, user: nil, options: [:], requestID: "r")
    }

    func group(_ owner: UInt64, _ texts: [String]) -> EmbeddingBatchGroup {
        let keys = texts.map { prefix.key(text: $0) }
        return EmbeddingBatchGroup(owner: owner, inputs: texts.map { .text($0) }, keys: keys,
                                   flights: keys.map { table.join($0).flight }, expiresAt: nil)
    }

    func vectors(_ group: EmbeddingBatchGroup) async -> [[Float]?] {
        await EmbeddingItemFlight.outcomes(of: group.flights).map { outcome in
            if case .embedded(let vector, _, _) = outcome { return vector }
            return nil
        }
    }

    @Test func groupsWithinTheWindowShareOneCallAndEachGetsItsOwnVectors() async throws {
        let provider = ScriptedEmbeddingProvider()
        let timers = ManualTimers()
        let batcher = EmbeddingBatcher(window: 0.002, flights: table, cache: nil, events: OrchestratorEvents())
        let groups = (0..<5).map { group(UInt64($0), ["item \($0)"]) }
        for g in groups { batcher.submit(g, key: key, template: template(provider), scheduler: timers.scheduler) }
        #expect(provider.calls.isEmpty && timers.pending == 1 && timers.delays == [0.002])
        timers.fireAll()
        for (n, g) in groups.enumerated() {
            #expect(await vectors(g) == [ScriptedEmbeddingProvider.vector(for: .text("item \(n)"))])
        }
        #expect(provider.calls.count == 1)
        #expect(provider.calls[0].inputs == (0..<5).map { .text("item \($0)") })
        #expect(table.count == 0, "flights of items not stored leave the table at once")
        #expect(batcher.gathering == 0)
    }

    @Test func aBatchAtTheProviderLimitGoesAtOnceInCallsOfAtMostTheLimit() async throws {
        let provider = ScriptedEmbeddingProvider(batchLimit: 4)
        let timers = ManualTimers()
        let batcher = EmbeddingBatcher(window: 0.002, flights: table, cache: nil, events: OrchestratorEvents())
        let groups = [group(1, ["a", "b", "c"]), group(2, ["d", "e", "f"]), group(3, ["g", "h", "i", "j"])]
        for g in groups { batcher.submit(g, key: key, template: template(provider), scheduler: timers.scheduler) }
        for g in groups { #expect(await vectors(g).allSatisfy { $0 != nil }) }
        #expect(provider.calls.map(\.inputs.count).sorted() == [2, 4, 4])
        #expect(provider.itemsSent == 10)
        timers.fireAll()  // the first batch's timer finds it gone
        #expect(provider.calls.count == 3)
    }

    @Test func aWindowOfZeroSendsEachGroupAtOnce() async throws {
        let provider = ScriptedEmbeddingProvider()
        let timers = ManualTimers()
        let batcher = EmbeddingBatcher(window: 0, flights: table, cache: nil, events: OrchestratorEvents())
        let groups = (0..<3).map { group(UInt64($0), ["x\($0)", "y\($0)"]) }
        for g in groups { batcher.submit(g, key: key, template: template(provider), scheduler: timers.scheduler) }
        for g in groups { #expect(await vectors(g).allSatisfy { $0 != nil }) }
        #expect(provider.calls.count == 3 && timers.pending == 0)
    }

    /// A call refused for one request's item is sent again request by request: only that request fails.
    @Test func aRequestWithABadItemFailsAlone() async throws {
        let provider = ScriptedEmbeddingProvider()
        let timers = ManualTimers()
        let batcher = EmbeddingBatcher(window: 0.002, flights: table, cache: nil, events: OrchestratorEvents())
        let good1 = group(1, ["fine", "also fine"]), bad = group(2, ["ok", "bad one"]), good2 = group(3, ["third"])
        for g in [good1, bad, good2] { batcher.submit(g, key: key, template: template(provider), scheduler: timers.scheduler) }
        timers.fireAll()
        #expect(await vectors(good1) == [ScriptedEmbeddingProvider.vector(for: .text("fine")),
                                         ScriptedEmbeddingProvider.vector(for: .text("also fine"))])
        #expect(await vectors(good2) == [ScriptedEmbeddingProvider.vector(for: .text("third"))])
        for outcome in await EmbeddingItemFlight.outcomes(of: bad.flights) {
            guard case .failed(let error, let owner) = outcome else { Issue.record("the bad request succeeded"); continue }
            #expect(owner == 2 && error.kind == .http(status: 400))
        }
        #expect(provider.calls.count == 4, "the shared call, then one per request")
    }

    /// An outage is nobody's item: every request in the call gets the failure (and retries on its own).
    @Test func aServerErrorFailsTheWholeCall() async throws {
        let provider = ScriptedEmbeddingProvider(failures: [503])
        let timers = ManualTimers()
        let batcher = EmbeddingBatcher(window: 0.002, flights: table, cache: nil, events: OrchestratorEvents())
        let groups = [group(1, ["a"]), group(2, ["b"])]
        for g in groups { batcher.submit(g, key: key, template: template(provider), scheduler: timers.scheduler) }
        timers.fireAll()
        for g in groups {
            for outcome in await EmbeddingItemFlight.outcomes(of: g.flights) {
                guard case .failed(let error, let owner) = outcome else { Issue.record("succeeded"); continue }
                #expect(error.kind == .http(status: 503) && owner == g.owner)
            }
        }
        #expect(provider.calls.count == 1)
        #expect(table.count == 0, "failed flights leave the table")
    }

    @Test func storedItemsLeaveTheTableOnceCommitted() async throws {
        let dir = NSTemporaryDirectory() + "ug-batcher-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = try ResponseCache(ResponseCacheConfig(directory: dir))
        defer { cache.close() }
        let provider = ScriptedEmbeddingProvider()
        let batcher = EmbeddingBatcher(window: 0, flights: table, cache: cache.embeddingItems, events: OrchestratorEvents(),
                                       now: { 1_000_000 })
        var g = group(1, ["kept", "kept too"])
        g.expiresAt = 1_000_060
        batcher.submit(g, key: key, template: template(provider), scheduler: ManualTimers().scheduler)
        _ = await vectors(g)
        for _ in 0..<500 where table.count > 0 { try await Task.sleep(nanoseconds: 2_000_000) }
        #expect(table.count == 0)
        let stored = cache.embeddingItems.lookup(g.keys, now: 1_000_001)
        #expect(stored == [CachedEmbedding(createdAt: 1_000_000, expiresAt: 1_000_060, tokens: 1,
                                           vector: ScriptedEmbeddingProvider.vector(for: .text("kept"))),
                           CachedEmbedding(createdAt: 1_000_000, expiresAt: 1_000_060, tokens: 1,
                                           vector: ScriptedEmbeddingProvider.vector(for: .text("kept too")))])
    }
}

@Suite struct EmbeddingRequestValidatorTests {
    func check(_ body: String) -> Result<EmbeddingRequest, GatewayError> {
        EmbeddingRequestValidator.validate(try! JSONParser.parse(body))
    }

    func param(_ body: String) -> String? {
        guard case .failure(let error) = check(body) else { return "accepted" }
        #expect(error.status == 400 && error.type == "invalid_request_error")
        return error.param
    }

    @Test func readsEveryInputShape() throws {
        #expect(try check(#"{"model":"m","input":"hi"}"#).get().inputs == [.text("hi")])
        #expect(try check(#"{"model":"m","input":["a","b"]}"#).get().inputs == [.text("a"), .text("b")])
        #expect(try check(#"{"model":"m","input":[1,2,3]}"#).get().inputs == [.tokens([1, 2, 3])])
        #expect(try check(#"{"model":"m","input":[[1],[2,3.0]]}"#).get().inputs == [.tokens([1]), .tokens([2, 3])])
        let full = try check(#"{"model":"m","input":"x","encoding_format":"base64","dimensions":256,"user":"u","input_type":"query"}"#).get()
        #expect(full.encoding == .base64 && full.dimensions == 256 && full.user == "u" && full.options == ["input_type": "query"])
        let defaults = try check(#"{"model":"m","input":"x","encoding_format":null,"dimensions":null,"user":null}"#).get()
        #expect(defaults.encoding == .float && defaults.dimensions == nil && defaults.user == nil && defaults.options.isEmpty)
    }

    @Test func refusesWhatOpenAIRefusesNamingTheField() {
        #expect(param(#"{"input":"x"}"#) == "model")
        #expect(param(#"{"model":"","input":"x"}"#) == "model")
        #expect(param(#"{"model":"m"}"#) == "input")
        #expect(param(#"{"model":"m","input":null}"#) == "input")
        #expect(param(#"{"model":"m","input":""}"#) == "input")
        #expect(param(#"{"model":"m","input":[]}"#) == "input")
        #expect(param(#"{"model":"m","input":["a",""]}"#) == "input[1]")
        #expect(param(#"{"model":"m","input":["a",1]}"#) == "input[1]")
        #expect(param(#"{"model":"m","input":[1,"a"]}"#) == "input[1]")
        #expect(param(#"{"model":"m","input":[1,2.5]}"#) == "input[1]")
        #expect(param(#"{"model":"m","input":[1,-2]}"#) == "input[1]")
        #expect(param(#"{"model":"m","input":[[1],[]]}"#) == "input[1]")
        #expect(param(#"{"model":"m","input":[[1],["a"]]}"#) == "input[1][0]")
        #expect(param(#"{"model":"m","input":[{"text":"a"}]}"#) == "input[0]")
        #expect(param(#"{"model":"m","input":{"text":"a"}}"#) == "input")
        #expect(param(#"{"model":"m","input":7}"#) == "input")
        #expect(param(#"{"model":"m","input":"x","encoding_format":"int8"}"#) == "encoding_format")
        #expect(param(#"{"model":"m","input":"x","dimensions":0}"#) == "dimensions")
        #expect(param(#"{"model":"m","input":"x","dimensions":-3}"#) == "dimensions")
        #expect(param(#"{"model":"m","input":"x","dimensions":1.5}"#) == "dimensions")
        #expect(param(#"{"model":"m","input":"x","dimensions":"8"}"#) == "dimensions")
        #expect(param(#"{"model":"m","input":"x","user":5}"#) == "user")
        let many = "[" + Array(repeating: #""a""#, count: 2049).joined(separator: ",") + "]"
        #expect(param(#"{"model":"m","input":\#(many)}"#) == "input")
        let most = "[" + Array(repeating: #""a""#, count: 2048).joined(separator: ",") + "]"
        #expect(param(#"{"model":"m","input":\#(most)}"#) == "accepted")
    }
}
