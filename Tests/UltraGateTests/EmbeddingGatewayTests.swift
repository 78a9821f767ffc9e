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

private func embeddingRoute(_ name: String, _ provider: ScriptedEmbeddingProvider, params: JSONObject = [:],
                            fallbacks: [String] = [], maxAttempts: Int = 1, price: ModelPriceSettings? = nil) -> ModelRoute {
    var retry = RetrySettings()
    retry.maxAttempts = maxAttempts
    return ModelRoute(name: name, providerName: provider.name, provider: provider, upstreamModel: name, params: params,
                      fallbacks: fallbacks, retry: retry, price: price, kind: .embedding)
}

private extension GatewayHarness {
    func embed(_ model: String, _ input: JSON, extra: JSONObject = [:], headers: [String: String] = [:]) throws -> TestHTTPClient.Response {
        var body: JSONObject = ["model": .string(model), "input": input]
        for (k, v) in extra { body[k] = v }
        let c = try client()
        c.post("/v1/embeddings", json: JSON.object(body).serializedString, headers: headers)
        return try c.readResponse()
    }
}

private func texts(_ range: Range<Int>) -> [String] { range.map { "chunk number \($0)" } }

/// The `embedding` of each item of an answer, as floats (JSON numbers or base64 float32).
private func vectors(_ response: TestHTTPClient.Response) -> [[Float]] {
    (response.json?["data"]?.arrayValue ?? []).map { item in EmbeddingVectors.decode(item["embedding"]) ?? [] }
}

@Suite(.serialized) struct EmbeddingGatewayTests {
    /// A batch of 100 after 90 of them were embedded sends exactly the 10 others, and answers all
    /// 100 in order with the usage of all 100; the same batch again sends nothing.
    @Test func onlyTheMissingItemsGoUpstreamAndTheAnswerKeepsInputOrder() async throws {
        let provider = ScriptedEmbeddingProvider()
        let h = try GatewayHarness(routes: [embeddingRoute("emb", provider)])
        let all = texts(0..<100)
        let first = all.enumerated().filter { $0.offset % 10 != 3 }.map(\.element)
        let warm = try await blocking { try h.embed("emb", .array(first.map(JSON.string))) }
        #expect(warm.status == 200 && warm.header("X-Cache") == "MISS" && warm.header("X-UltraGate-Cache-Items") == "0/90")
        #expect(provider.itemsSent == 90)

        let partial = try await blocking { try h.embed("emb", .array(all.map(JSON.string))) }
        #expect(partial.status == 200)
        #expect(provider.itemsSent == 100, "exactly the 10 new items were sent")
        #expect(provider.calls.last?.inputs == (0..<10).map { .text("chunk number \($0 * 10 + 3)") })
        #expect(partial.header("X-Cache") == "PARTIAL" && partial.header("X-UltraGate-Cache-Items") == "90/100")
        #expect(vectors(partial) == all.map { ScriptedEmbeddingProvider.vector(for: .text($0)) })
        #expect(partial.json?["data"]?.arrayValue?.map { $0["index"]?.intValue } == (0..<100).map { $0 })
        #expect(partial.json?["usage"] == ["prompt_tokens": 100, "total_tokens": 100])
        #expect(partial.json?["object"] == "list" && partial.json?["model"] == "emb")

        let repeated = try await blocking { try h.embed("emb", .array(all.map(JSON.string))) }
        #expect(repeated.header("X-Cache") == "HIT" && repeated.header("X-UltraGate-Cache-Items") == "100/100")
        #expect(provider.itemsSent == 100 && provider.calls.count == 2)
        #expect(repeated.text == partial.text)
    }

    @Test func duplicatesInOneRequestAreSentOnceAndAnsweredEach() async throws {
        let provider = ScriptedEmbeddingProvider()
        let h = try GatewayHarness(routes: [embeddingRoute("emb", provider)])
        let r = try await blocking { try h.embed("emb", ["same", "other", "same"]) }
        #expect(r.status == 200 && provider.itemsSent == 2)
        #expect(vectors(r) == ["same", "other", "same"].map { ScriptedEmbeddingProvider.vector(for: .text($0)) })
        #expect(r.json?["usage"]?["prompt_tokens"] == 3)
    }

    /// Concurrent requests' misses within the window reach the provider as a few calls, and
    /// each client gets its own vector.
    @Test func concurrentSingleItemRequestsAreBatched() async throws {
        let provider = ScriptedEmbeddingProvider()
        let h = try GatewayHarness(routes: [embeddingRoute("emb", provider)]) { $0.embeddings.batchWindowMs = 300 }
        let results = await concurrently(50) { n in try h.embed("emb", .string("request \(n)")) }
        for (n, result) in results.enumerated() {
            let r = try result.get()
            #expect(r.status == 200)
            #expect(vectors(r) == [ScriptedEmbeddingProvider.vector(for: .text("request \(n)"))])
        }
        #expect(provider.itemsSent == 50)
        #expect(provider.calls.count < 25, "\(provider.calls.count) calls for 50 requests")
    }

    @Test func withoutAWindowEachRequestMakesItsOwnCall() async throws {
        let provider = ScriptedEmbeddingProvider()
        let h = try GatewayHarness(routes: [embeddingRoute("emb", provider)]) { $0.embeddings.batchWindowMs = 0 }
        for n in 0..<5 { #expect(try await blocking { try h.embed("emb", .string("solo \(n)")) }.status == 200) }
        #expect(provider.calls.count == 5)
    }

    @Test func concurrentIdenticalItemsAreFetchedOnce() async throws {
        let provider = ScriptedEmbeddingProvider(delay: 0.3)
        let h = try GatewayHarness(routes: [embeddingRoute("emb", provider)]) { $0.embeddings.batchWindowMs = 0 }
        let results = await concurrently(8) { _ in try h.embed("emb", ["shared item"]) }
        #expect(try results.allSatisfy { try $0.get().status == 200 })
        #expect(provider.itemsSent == 1)
    }

    /// In a batch with others, the request with a bad item fails alone, with the upstream's 400;
    /// a request that only shared an item with it still gets its answer.
    @Test func aRequestWithABadItemFailsAlone() async throws {
        let provider = ScriptedEmbeddingProvider()
        let h = try GatewayHarness(routes: [embeddingRoute("emb", provider)]) { $0.embeddings.batchWindowMs = 300 }
        let bodies: [JSON] = [["good one", "shared"], ["shared", "a bad item"], ["good two"], ["shared"]]
        let results = await concurrently(bodies.count) { n in try h.embed("emb", bodies[n]) }
        let statuses = try results.map { try $0.get().status }
        #expect(statuses == [200, 400, 200, 200])
        let failed = try results[1].get()
        #expect(failed.json?["error"]?["param"] == "input" && failed.json?["error"]?["type"] == "invalid_request_error")
        #expect(try vectors(results[3].get()) == [ScriptedEmbeddingProvider.vector(for: .text("shared"))])
    }

    /// A request that joined another's flight for an item, which failed because of that other
    /// request's own bad item, sends the item itself rather than failing with it.
    @Test func aSharedItemFailedByAnotherRequestsBadItemIsSentAgain() async throws {
        let provider = ScriptedEmbeddingProvider(delay: 0.3)
        let h = try GatewayHarness(routes: [embeddingRoute("emb", provider)]) { $0.embeddings.batchWindowMs = 0 }
        async let failing = blocking { try h.embed("emb", ["shared", "a bad item"]) }
        for _ in 0..<1000 where provider.calls.isEmpty { try await Task.sleep(nanoseconds: 2_000_000) }
        let joined = try await blocking { try h.embed("emb", ["shared"]) }  // joins the call in flight
        #expect(try await failing.status == 400)
        #expect(joined.status == 200)
        #expect(vectors(joined) == [ScriptedEmbeddingProvider.vector(for: .text("shared"))])
        #expect(provider.calls.map(\.inputs) == [[.text("shared"), .text("a bad item")], [.text("shared")]])
    }

    @Test func cacheControlNoStoreAndNoCacheWorkPerRequest() async throws {
        let provider = ScriptedEmbeddingProvider()
        let h = try GatewayHarness(routes: [embeddingRoute("emb", provider)]) { $0.embeddings.batchWindowMs = 0 }
        _ = try await blocking { try h.embed("emb", ["kept out"], headers: ["Cache-Control": "no-store"]) }
        let again = try await blocking { try h.embed("emb", ["kept out"]) }
        #expect(again.header("X-Cache") == "MISS" && provider.itemsSent == 2)
        let hit = try await blocking { try h.embed("emb", ["kept out"]) }
        #expect(hit.header("X-Cache") == "HIT" && provider.itemsSent == 2)
        let refreshed = try await blocking { try h.embed("emb", ["kept out"], headers: ["Cache-Control": "no-cache"]) }
        #expect(refreshed.header("X-Cache") == "BYPASS" && refreshed.header("X-UltraGate-Cache-Items") == "0/1")
        #expect(provider.itemsSent == 3)
    }

    @Test func routeParamsGiveADefaultDimensionsTheRequestOverrides() async throws {
        let provider = ScriptedEmbeddingProvider()
        let h = try GatewayHarness(routes: [embeddingRoute("small", provider, params: ["dimensions": 8, "input_type": "doc"])]) {
            $0.embeddings.batchWindowMs = 0
        }
        let byDefault = try await blocking { try h.embed("small", "text") }
        #expect(vectors(byDefault).first?.count == 8)
        let asked = try await blocking { try h.embed("small", "text", extra: ["dimensions": 4, "input_type": "query"]) }
        #expect(vectors(asked).first?.count == 4)
        #expect(provider.calls.map(\.dimensions) == [8, 4])
        #expect(provider.calls.map(\.options) == [["input_type": "doc"], ["input_type": "query"]])
        // Dimensions are part of the item's key: the 8-long vector does not answer a request for 4.
        #expect(provider.itemsSent == 2)
    }

    @Test func aFailingModelFallsBackAndTheAnswerNamesTheFallback() async throws {
        let primary = ScriptedEmbeddingProvider(name: "primary", failures: [503])
        let backup = ScriptedEmbeddingProvider(name: "backup")
        let h = try GatewayHarness(routes: [embeddingRoute("first", primary, fallbacks: ["second"]), embeddingRoute("second", backup)]) {
            $0.embeddings.batchWindowMs = 0
        }
        let r = try await blocking { try h.embed("first", ["x", "y"]) }
        #expect(r.status == 200 && r.header("X-UltraGate-Model") == "second" && r.json?["model"] == "second")
        #expect(primary.itemsSent == 2 && backup.itemsSent == 2)
        let direct = try await blocking { try h.embed("second", ["x", "y"]) }
        #expect(direct.header("X-Cache") == "HIT", "the fallback's items are stored under the fallback")
    }

    @Test func retryableFailuresAreRetriedPerRequest() async throws {
        let provider = ScriptedEmbeddingProvider(failures: [503, 429])
        let h = try GatewayHarness(routes: [embeddingRoute("emb", provider, maxAttempts: 3)]) { $0.embeddings.batchWindowMs = 0 }
        let r = try await blocking { try h.embed("emb", "retried") }
        #expect(r.status == 200 && provider.calls.count == 3)
        let failing = ScriptedEmbeddingProvider(failures: [503, 503])
        let h2 = try GatewayHarness(routes: [embeddingRoute("emb", failing, maxAttempts: 2)]) { $0.embeddings.batchWindowMs = 0 }
        let failed = try await blocking { try h2.embed("emb", "retried") }
        #expect(failed.status == 503 && failing.calls.count == 2)
    }

    @Test func wrongKindsAndProvidersWithoutEmbeddingsAre400s() async throws {
        let embedder = ScriptedEmbeddingProvider()
        let chat = ScriptedChatProvider()
        let anthropic = AnthropicProvider(name: "ant", apiKey: "k", transport: ScriptedTransport())
        let gemini = GeminiProvider(name: "gem", apiKey: "k", transport: ScriptedTransport())
        let h = try GatewayHarness(routes: [
            embeddingRoute("emb", embedder),
            ModelRoute(name: "chatty", providerName: chat.name, provider: chat, upstreamModel: "chatty", kind: .chat),
            ModelRoute(name: "claude", providerName: "ant", provider: anthropic, upstreamModel: "claude-sonnet-4-5"),
            ModelRoute(name: "gem-embed", providerName: "gem", provider: gemini, upstreamModel: "text-embedding-004", kind: .embedding),
        ])
        let chatToEmbedder = try await blocking { try h.chat("emb", "hello") }
        #expect(chatToEmbedder.status == 400 && chatToEmbedder.json?["error"]?["param"] == "model")
        #expect(chatToEmbedder.json?["error"]?["message"]?.stringValue?.contains("embedding model") == true)
        let embedToChat = try await blocking { try h.embed("chatty", "hello") }
        #expect(embedToChat.status == 400 && embedToChat.json?["error"]?["code"] == "model_not_supported")
        let claude = try await blocking { try h.embed("claude", "hello") }
        #expect(claude.status == 400 && claude.json?["error"]?["message"]?.stringValue?.contains("`claude`") == true)
        let tokens = try await blocking { try h.embed("gem-embed", [1, 2, 3]) }
        #expect(tokens.status == 400 && tokens.json?["error"]?["param"] == "input")
        let unknown = try await blocking { try h.embed("nope", "hello") }
        #expect(unknown.status == 404)
        #expect(unknown.json?["error"]?["message"]?.stringValue?.hasSuffix("try one of: emb, gem-embed.") == true)
        let unknownChat = try await blocking { try h.chat("nope", "hello") }
        #expect(unknownChat.json?["error"]?["message"]?.stringValue?.hasSuffix("try one of: chatty, claude.") == true)
        #expect(embedder.calls.isEmpty && chat.callCount == 0)
    }

    @Test func base64AndFloatAnswersDecodeToTheSameVectors() async throws {
        let provider = ScriptedEmbeddingProvider()
        let h = try GatewayHarness(routes: [embeddingRoute("emb", provider)]) { $0.embeddings.batchWindowMs = 0 }
        let float = try await blocking { try h.embed("emb", ["p", "q"]) }
        let base64 = try await blocking { try h.embed("emb", ["p", "q"], extra: ["encoding_format": "base64"]) }
        #expect(base64.json?["data"]?.arrayValue?.first?["embedding"]?.stringValue != nil)
        #expect(vectors(base64) == vectors(float) && vectors(float).count == 2)
        let spec = try #require(OpenAPISchema.shared)
        #expect(spec.problems(try #require(float.json?.objectValue), against: "CreateEmbeddingResponse") == [])
        // (The schema knows only float arrays: OpenAI documents base64 in `encoding_format` alone.)
    }

    @Test func itemHitsMissesAndSavedCostAreCounted() async throws {
        let provider = ScriptedEmbeddingProvider()
        let price = ModelPriceSettings(input: 1_000_000, output: 0)  // one dollar a token, to read it easily
        let h = try GatewayHarness(routes: [embeddingRoute("emb", provider, price: price)]) { config in
            config.embeddings.batchWindowMs = 0
            var model = ModelSettings(name: "emb", provider: "emb")
            model.price = price
            config.models = [model]
        }
        _ = try await blocking { try h.embed("emb", ["a", "b", "c"]) }
        _ = try await blocking { try h.embed("emb", ["a", "b", "c", "d"]) }
        let text = h.gateway.metrics.prometheusText()
        #expect(text.contains(#"ultragate_embedding_items_total{model="emb",result="hit"} 3"#))
        #expect(text.contains(#"ultragate_embedding_items_total{model="emb",result="miss"} 4"#))
        #expect(text.contains(#"ultragate_cost_saved_usd_total{model="emb"} 3"#))
        #expect(text.contains(#"ultragate_tokens_total{model="emb",kind="prompt"} 4"#))
        #expect(text.contains(#"ultragate_cost_usd_total{model="emb"} 4"#))
        #expect(text.contains(#"ultragate_upstream_attempts_total{provider="emb",model="emb"} 2"#))
    }
}
