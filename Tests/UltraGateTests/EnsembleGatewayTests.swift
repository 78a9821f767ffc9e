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

/// The real server, gateway and LMDB cache with a configured ensemble `council` over fake routes.
final class EnsembleHarness: @unchecked Sendable {
    let server: HTTPServer
    let gateway: Gateway
    let provider: FakeLLMProvider
    let cacheDir: String

    init(_ provider: FakeLLMProvider = FakeLLMProvider(), keepAlive: Double = 10, pattern: String? = nil) throws {
        self.provider = provider
        cacheDir = NSTemporaryDirectory() + "ultragate-ensemble-\(UUID().uuidString)"
        var config = GatewayConfig()
        config.cache.directory = cacheDir
        config.streamKeepAliveInterval = keepAlive
        var retry = RetrySettings()
        retry.maxAttempts = 1
        let routes = ["a", "b", "c", "judge"].map {
            ModelRoute(name: $0, providerName: provider.name, provider: provider, upstreamModel: $0, retry: retry)
        }
        var council = ModelSettings(name: "council")
        council.ensemble = ["a", "b", "c"]
        council.synthesizer = "judge"
        council.pattern = pattern
        let router = ModelRouter(routes: routes, ensembles: [council], providers: [provider.name: provider], providerSettings: [:],
                                 defaultRetry: retry, listed: [])
        var cacheConfig = ResponseCacheConfig(directory: cacheDir)
        cacheConfig.maxBytes = 64 << 20
        gateway = Gateway(config: config, router: router, cache: try ResponseCache(cacheConfig), orchestrator: Orchestrator(router: router))
        var sc = HTTPServerConfig()
        sc.port = 0
        sc.threads = 2
        server = HTTPServer(config: sc, handler: gateway)
        try server.start()
    }

    /// One request on a thread of its own: the blocking socket reads must not hold a thread of
    /// the (two-thread) cooperative pool the server's tasks need.
    func post(_ json: String) async throws -> TestHTTPClient.Response {
        let port = server.boundPort
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    let c = try TestHTTPClient(port: port)
                    c.post("/v1/chat/completions", json: json)
                    return try c.readResponse()
                })
            }
        }
    }

    static func body(_ model: String, _ content: String = "Name a colour.", stream: Bool = false, extra: String = "") -> String {
        #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(content)"}],"stream":\#(stream)\#(extra)}"#
    }

    deinit {
        server.shutdown()
        gateway.cache?.close()
        try? FileManager.default.removeItem(atPath: cacheDir)
    }
}

@Suite(.serialized) struct EnsembleGatewayTests {
    @Test func ensembleIsAnsweredThenServedFromCache() async throws {
        let h = try EnsembleHarness()
        let first = try await h.post(EnsembleHarness.body("council"))
        #expect(first.status == 200)
        #expect(first.header("X-Cache") == "MISS")
        let json = try #require(first.json)
        #expect(json["model"]?.stringValue == "council")
        #expect(json["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "synthesis by judge")
        #expect(json["ultra"]?["members"]?.arrayValue?.count == 3)
        #expect(json["usage"]?["total_tokens"]?.intValue == 60)
        #expect(h.provider.calls.count == 4)

        let again = try await h.post(EnsembleHarness.body("council"))
        #expect(again.header("X-Cache") == "HIT")
        #expect(again.text == first.text)
        #expect(h.provider.calls.count == 4)

        // Each member's answer is the single-model request's answer too.
        let single = try await h.post(EnsembleHarness.body("b"))
        #expect(single.header("X-Cache") == "HIT")
        #expect(single.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "answer from b")
        #expect(h.provider.calls.count == 4)
    }

    @Test func ultraObjectReusesMemberAnswersAndCountsSamples() async throws {
        let h = try EnsembleHarness()
        _ = try await h.post(EnsembleHarness.body("a"))
        #expect(h.provider.calls.count == 1)
        let r = try await h.post(EnsembleHarness.body("judge", extra: #","ultra":{"models":["a","a","b"]}"#))
        #expect(r.status == 200)
        let members = try #require(r.json?["ultra"]?["members"]?.arrayValue)
        #expect(members.map { $0["cached"]?.boolValue } == [true, false, false])
        #expect(members.map { $0["sample"]?.intValue } == [0, 1, 0])
        // a (sample 1), b and the synthesis by judge: the cached sample-0 answer cost nothing.
        #expect(h.provider.calls.count == 4)
        #expect(r.json?["usage"]?["total_tokens"]?.intValue == 45)
        #expect(r.json?["model"]?.stringValue == "judge")
    }

    @Test func degradedResultIsServedButNotCached() async throws {
        let h = try EnsembleHarness(FakeLLMProvider(failing: ["c"]))
        let first = try await h.post(EnsembleHarness.body("council"))
        #expect(first.status == 200)
        #expect(first.json?["ultra"]?["members"]?.arrayValue?[2]["status"]?.stringValue == "failed")
        let calls = h.provider.calls.count
        let again = try await h.post(EnsembleHarness.body("council"))
        #expect(again.header("X-Cache") == "MISS")
        // a and b come from their own cache slots; c is tried again, and the synthesis runs again.
        #expect(h.provider.calls.count == calls + 2)
    }

    @Test func invalidUltraIsRejected() async throws {
        let h = try EnsembleHarness()
        let badPattern = try await h.post(EnsembleHarness.body("judge", extra: #","ultra":{"models":["a","b"],"pattern":"chaos"}"#))
        #expect(badPattern.status == 400)
        #expect(badPattern.json?["error"]?["param"]?.stringValue == "ultra.pattern")
        let unknown = try await h.post(EnsembleHarness.body("judge", extra: #","ultra":{"models":["a","zzz"]}"#))
        #expect(unknown.status == 404)
        #expect(unknown.json?["error"]?["code"]?.stringValue == "model_not_found")
        let nested = try await h.post(EnsembleHarness.body("judge", extra: #","ultra":{"models":["council","a"]}"#))
        #expect(nested.status == 400)
        #expect(nested.json?["error"]?["param"]?.stringValue == "ultra.models")
        #expect(nested.json?["error"]?["message"]?.stringValue == "`council` is an ensemble; an ensemble cannot be a member of an ensemble.")
        let ensembleSynthesizer = try await h.post(EnsembleHarness.body("judge", extra: #","ultra":{"models":["a","b"],"synthesizer":"council"}"#))
        #expect(ensembleSynthesizer.status == 400)
        #expect(ensembleSynthesizer.json?["error"]?["param"]?.stringValue == "ultra.synthesizer")
        #expect(ensembleSynthesizer.json?["error"]?["message"]?.stringValue == "`council` is an ensemble; `ultra.synthesizer` must be a model.")
        let allFail = try await EnsembleHarness(FakeLLMProvider(failing: ["a", "b", "c"])).post(EnsembleHarness.body("council"))
        #expect(allFail.status == 502)
        #expect(h.provider.calls.isEmpty)
    }

    @Test func streamKeepsAliveThenStreamsSynthesisWithUltraLast() async throws {
        let h = try EnsembleHarness(FakeLLMProvider(delaysMs: ["a": 300, "b": 300, "c": 300]), keepAlive: 0.05)
        let r = try await h.post(EnsembleHarness.body("council", stream: true))
        #expect(r.status == 200)
        let text = r.text
        #expect(text.hasPrefix(": keep-alive"))
        #expect(text.hasSuffix("data: [DONE]\n\n"))
        let events = text.split(separator: "\n").filter { $0.hasPrefix("data: {") }.compactMap { try? JSONParser.parse(String($0.dropFirst(6))) }
        #expect(events.allSatisfy { $0["model"]?.stringValue == "council" })
        #expect(GatewayIntegrationTests.streamText(text) == "synthesis by judge")
        let last = try #require(events.last)
        #expect(last["ultra"]?["is_synthesized"]?.boolValue == true)
        #expect(last["usage"] == nil, "usage only when stream_options.include_usage asks")
        #expect(events.dropLast().allSatisfy { $0["ultra"] == nil })

        // The streamed result was complete, so it was stored: a plain request now hits, and a
        // streamed hit carries `ultra` on its last chunk as well.
        let plain = try await h.post(EnsembleHarness.body("council"))
        #expect(plain.header("X-Cache") == "HIT")
        #expect(plain.json?["ultra"]?["members"]?.arrayValue?.count == 3)
        let replay = try await h.post(EnsembleHarness.body("council", stream: true, extra: #","stream_options":{"include_usage":true}"#))
        #expect(replay.header("X-Cache") == "HIT")
        let replayed = replay.text.split(separator: "\n").filter { $0.hasPrefix("data: {") }.compactMap { try? JSONParser.parse(String($0.dropFirst(6))) }
        #expect(replayed.last?["ultra"]?["pattern"]?.stringValue == "synthesize")
        #expect(replayed.last?["usage"]?["total_tokens"]?.intValue == 60)
    }

    @Test func identicalEnsembleRequestsShareOneFlight() async throws {
        let h = try EnsembleHarness(FakeLLMProvider(delaysMs: ["a": 200]))
        let responses = try await withThrowingTaskGroup(of: TestHTTPClient.Response.self) { group in
            for _ in 0..<4 { group.addTask { try await h.post(EnsembleHarness.body("council", "burst")) } }
            var out: [TestHTTPClient.Response] = []
            for try await r in group { out.append(r) }
            return out
        }
        #expect(responses.allSatisfy { $0.status == 200 })
        #expect(Set(responses.map(\.text)).count == 1)
        #expect(h.provider.calls.count == 4)
    }
}
