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

/// A clock tests move by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var seconds: Double = 1000
    var now: Double { lock.withLock { seconds } }
    func advance(_ by: Double) { lock.withLock { seconds += by } }
}

/// Counts how often it was run and waits until released, so callers can pile up meanwhile.
final class GatedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var runs = 0
    var count: Int { lock.withLock { runs } }
    func run() -> Int { lock.withLock { runs += 1; return runs } }
}

@Suite struct CoalescedValueTests {
    @Test func concurrentCallersShareOneComputationAndItsResultIsReusedWhileFresh() async {
        let clock = ManualClock()
        let value = CoalescedValue<Int>(now: { clock.now })
        let counter = GatedCounter()
        let results = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    await value.get {
                        // Long enough, in yields, for the other callers to arrive and wait.
                        for _ in 0..<200 { await Task.yield() }
                        return (counter.run(), 10)
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results == Array(repeating: 1, count: 20))
        #expect(counter.count == 1)
        #expect(value.fresh() == 1)
        clock.advance(9.9)
        #expect(await value.get { (counter.run(), 10) } == 1)
        clock.advance(0.2)
        #expect(value.fresh() == nil)
        #expect(await value.get { (counter.run(), 10) } == 2)
        #expect(counter.count == 2)
    }

    @Test func lifetimeZeroIsNeverReused() async {
        let value = CoalescedValue<Int>(now: { 5 })
        let counter = GatedCounter()
        #expect(await value.get { (counter.run(), 0) } == 1)
        #expect(value.fresh() == nil)
        #expect(await value.get { (counter.run(), 0) } == 2)
    }
}

@Suite struct ModelCatalogTests {
    func catalog(_ transport: ScriptedTransport, type: String, name: String = "p", models: [ModelSettings] = [],
                 environmentOnly: Bool = false, limits: ModelListLimits = ModelListLimits()) throws -> ModelCatalog {
        var config = GatewayConfig()
        var settings = ProviderSettings(name: name, type: type, baseURL: "http://fake", apiKey: "k-123")
        if type == "openai" { settings.baseURL = "http://fake/v1" }
        config.providers = [settings]
        config.models = models
        config.mock.enabled = environmentOnly
        var builder = GatewayBuilder(config: config, transport: transport)
        return ModelCatalog(router: try builder.makeRouter(), limits: limits)
    }

    static func openAIList(_ ids: [String]) -> ScriptedTransport.Reply {
        .body(#"{"object":"list","data":["# + ids.map { #"{"id":"\#($0)","object":"model","created":1,"owned_by":"x"}"# }.joined(separator: ",") + "]}")
    }

    @Test func listsBareNamesThatRouteAndQualifiedNamesAndFindsOnlyThose() async throws {
        let transport = ScriptedTransport(Self.openAIList(["gpt-4o", "text-embedding-3-small"]))
        let catalog = try catalog(transport, type: "openai", name: "openai", environmentOnly: true)
        let snapshot = await catalog.snapshot()
        #expect(snapshot.entries.map(\.id) == ["openai/gpt-4o", "gpt-4o", "openai/text-embedding-3-small",
                                                "mock-gpt", "mock-claude", "mock-gemini", "mock-embedding"])
        #expect(transport.requests.map(\.url) == ["http://fake/v1/models"])
        #expect(transport.requests.first?.method == "GET")
        #expect(header(transport.requests[0], "authorization") == "Bearer k-123")
        #expect(catalog.find("gpt-4o", in: snapshot)?.ownedBy == "openai")
        #expect(catalog.find("openai/gpt-5", in: snapshot) == nil, "the provider's complete list lacks it")
        #expect(catalog.find("gpt-5", in: snapshot) == nil)
        #expect(catalog.find("mock-claude", in: snapshot)?.ownedBy == "ultragate-mock")
        #expect(catalog.find("mock/mock-claude", in: snapshot)?.ownedBy == "mock")
        #expect(catalog.find("mock/nope", in: snapshot) == nil)
        #expect(catalog.find("nothing-routes-here", in: snapshot) == nil)
        // Fresh: no second fetch.
        _ = await catalog.snapshot()
        #expect(transport.requests.count == 1)
    }

    @Test func aFailedFetchFallsBackToTheAssumedModelsAndNothingIsSaidMissing() async throws {
        let transport = ScriptedTransport(.body(#"{"error":{"message":"down"}}"#, status: 503))
        let catalog = try catalog(transport, type: "openai", name: "openai", environmentOnly: true)
        let snapshot = await catalog.snapshot()
        #expect(snapshot.entries.map(\.id).starts(with: ["openai/gpt-4o", "gpt-4o", "openai/gpt-4o-mini", "gpt-4o-mini"]))
        #expect(catalog.find("openai/anything", in: snapshot)?.ownedBy == "openai")
    }

    @Test func aBodyPastTheSizeLimitFailsTheFetch() async throws {
        var limits = ModelListLimits()
        limits.maxBytes = 64
        // A body that never ends: only the size limit stops the read.
        var endless = ScriptedTransport.Reply.body(#"{"object":"list","data":["# + String(repeating: #"{"id":"m"},"#, count: 40),
                                                   split: [16])
        endless.hang = true
        let transport = ScriptedTransport(endless)
        let catalog = try catalog(transport, type: "openai", models: [ModelSettings(name: "alias", provider: "p", model: "m")],
                                  limits: limits)
        let snapshot = await catalog.snapshot()
        #expect(snapshot.entries.map(\.id) == ["alias"])
        #expect(transport.bodyTerminations == ["cancelled"], "the transfer is abandoned, not read to its end")
        #expect(catalog.find("p/anything", in: snapshot) != nil)
    }

    @Test func aListPastTheCountLimitIsCutAndCannotSayANameIsMissing() async throws {
        var limits = ModelListLimits()
        limits.maxModels = 2
        let transport = ScriptedTransport(Self.openAIList(["a", "b", "c"]))
        let catalog = try catalog(transport, type: "openai", models: [ModelSettings(name: "alias", provider: "p", model: "a")],
                                  limits: limits)
        let snapshot = await catalog.snapshot()
        #expect(snapshot.entries.map(\.id) == ["alias", "p/a", "p/b"])
        #expect(catalog.find("p/c", in: snapshot) != nil)
    }

    @Test func anthropicPagesAreFollowedWithinThePageLimit() async throws {
        var limits = ModelListLimits()
        limits.maxPages = 2
        let page = { (ids: [String], more: Bool) -> ScriptedTransport.Reply in
            .body(#"{"data":["# + ids.map { #"{"type":"model","id":"\#($0)"}"# }.joined(separator: ",")
                  + #"],"has_more":\#(more),"last_id":"\#(ids.last!)"}"#)
        }
        let transport = ScriptedTransport(page(["claude-a", "claude-b"], true), page(["claude-c"], true))
        let catalog = try catalog(transport, type: "anthropic", models: [ModelSettings(name: "x", provider: "p", model: "claude-a")],
                                  limits: limits)
        let snapshot = await catalog.snapshot()
        #expect(transport.requests.map(\.url) == ["http://fake/v1/models?limit=1000",
                                                  "http://fake/v1/models?limit=1000&after_id=claude-b"])
        #expect(header(transport.requests[0], "x-api-key") == "k-123")
        #expect(header(transport.requests[0], "anthropic-version") == AnthropicProvider.apiVersion)
        #expect(snapshot.entries.map(\.id) == ["x", "p/claude-a", "claude-a", "p/claude-b", "claude-b", "p/claude-c", "claude-c"])
        #expect(catalog.find("p/claude-z", in: snapshot) != nil, "more pages were left: the list is not complete")
    }

    @Test func geminiListsOnlyModelsThatGenerateContentOrEmbed() async throws {
        let transport = ScriptedTransport(
            .body(#"{"models":[{"name":"models/gemini-x","supportedGenerationMethods":["generateContent"]},"#
                  + #"{"name":"models/embed","supportedGenerationMethods":["embedContent"]},"#
                  + #"{"name":"models/aqa","supportedGenerationMethods":["generateAnswer"]}],"nextPageToken":"t/1"}"#),
            .body(#"{"models":[{"name":"models/gemini-y"}]}"#))
        let catalog = try catalog(transport, type: "gemini", models: [ModelSettings(name: "x", provider: "p", model: "gemini-x")])
        let snapshot = await catalog.snapshot()
        #expect(transport.requests.map(\.url) == ["http://fake/v1beta/models?pageSize=1000",
                                                  "http://fake/v1beta/models?pageSize=1000&pageToken=t%2F1"])
        #expect(header(transport.requests[0], "x-goog-api-key") == "k-123")
        #expect(snapshot.entries.map(\.id) == ["x", "p/gemini-x", "gemini-x", "p/embed", "p/gemini-y", "gemini-y"])
        #expect(catalog.find("p/aqa", in: snapshot) == nil)
        #expect(catalog.find("gemini-z", in: snapshot) == nil, "a bare name is looked up in its provider's list too")
    }

    @Test func unknownModelErrorsOfferNamesThatRoute() throws {
        var config = GatewayConfig()
        config.providers = [ProviderSettings(name: "openai", type: "openai", baseURL: "http://fake/v1", apiKey: "k")]
        var builder = GatewayBuilder(config: config, transport: ScriptedTransport())
        let router = try builder.makeRouter()
        #expect(router.suggestions == ["mock-gpt", "mock-claude", "mock-gemini", "openai/gpt-4o", "openai/gpt-4o-mini"])
        #expect(router.route(named: "mock-gpt")?.providerName == "mock")
        #expect(router.checked.first == "openai/gpt-4o", "the mock is not what the availability check asks")
        #expect(!router.checked.contains("mock-gpt"))
        #expect(GatewayError.modelNotFound("x", suggestions: ["a", "b"]).message
                == "The model `x` does not exist or you do not have access to it; try one of: a, b.")
    }
}
