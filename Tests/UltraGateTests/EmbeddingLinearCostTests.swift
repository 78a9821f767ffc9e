import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateCache
@testable import UltraGateProviders
@testable import UltraGate

/// An embeddings request's steps are linear in its items and fields: 2,048 items (or 16,000
/// unknown fields) cost about eight times 256 (2,000), measured against that baseline with a
/// generous ratio (a quadratic step would make it about 64).
@Suite struct EmbeddingLinearCostTests {
    static func body(items: Int, fields: Int = 0) -> [UInt8] {
        var object: JSONObject = ["model": "emb", "input": .array((0..<items).map { .string("chunk \($0) of a document") })]
        for i in 0..<fields { object.append("x\(i)", .int(i)) }
        return JSONWriter.serialize(.object(object))
    }

    /// Validation, keys with duplicates found, the answer written, usage split, and the upstream
    /// request built: what a request of `body` costs outside I/O.
    static func work(_ body: [UInt8], _ pipeline: EmbeddingPipeline, _ route: ModelRoute, _ provider: ScriptedEmbeddingProvider) {
        let request = try! EmbeddingRequestValidator.validate(try! JSONParser.parse(body)).get()
        let scheduler = EmbeddingScheduler(after: { _, _ in }, executor: nil)
        let plan = EmbeddingPipeline.Plan(request: request, namespace: "t", cacheControl: CacheControl(), requestID: "r",
                                          scheduler: scheduler)
        let prepared = pipeline.prepare(plan, route: route, provider: provider)
        let vectors = prepared.distinct.map { ScriptedEmbeddingProvider.vector(for: $0) }
        _ = EmbeddingResponseWriter.body(model: "emb", vectors: vectors, itemOf: prepared.itemOf, encoding: .base64, promptTokens: 1)
        _ = EmbeddingAnswer.apportion(1000, over: prepared.distinct)
        let openAI = OpenAICompatibleProvider(apiKey: nil, transport: ScriptedTransport())
        _ = try! openAI.embeddingsRequest(EmbeddingCall(model: "m", inputs: prepared.distinct, options: prepared.template.options))
    }

    @Test func manyItemsAndManyFieldsCostInProportion() async throws {
        let (items, fields) = try await RelativeCost.offPool { () -> (Double, Double) in
            let provider = ScriptedEmbeddingProvider()
            let route = ModelRoute(name: "emb", providerName: "emb", provider: provider, upstreamModel: "emb", kind: .embedding)
            let router = ModelRouter(routes: [route], providers: ["emb": provider], providerSettings: [:], defaultRetry: RetrySettings(),
                                     listed: [])
            let pipeline = EmbeddingPipeline(cache: nil, orchestrator: Orchestrator(router: router), callEvents: OrchestratorEvents(),
                                             requestEvents: OrchestratorEvents(), windowSeconds: 0, defaultTTL: 0)
            let large = Self.body(items: 2048), small = Self.body(items: 256)
            let items = RelativeCost.ratio({ Self.work(large, pipeline, route, provider) },
                                           to: { for _ in 0..<8 { Self.work(small, pipeline, route, provider) } })
            let wide = Self.body(items: 1, fields: 16_000), narrow = Self.body(items: 1, fields: 2_000)
            let fields = RelativeCost.ratio({ Self.work(wide, pipeline, route, provider) },
                                            to: { for _ in 0..<8 { Self.work(narrow, pipeline, route, provider) } })
            return (items, fields)
        }
        #expect(items < 4, "2,048 items: \(items)× eight requests of 256")
        #expect(fields < 4, "16,000 fields: \(fields)× eight requests of 2,000")
    }
}
