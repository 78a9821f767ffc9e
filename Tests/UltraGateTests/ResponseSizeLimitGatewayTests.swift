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

/// Size limits seen from a client: an upstream answer past its provider's limits is a 502
/// `upstream_response_too_large` (an error event once a stream has started), tried once on that
/// provider, never cached; an answer past `cache.max_entry_bytes` is served but not stored.
@Suite(.serialized) struct ResponseSizeLimitGatewayTests {
    let server: FakeUpstreamServer
    let transport: CurlTransport

    init() throws {
        server = try FakeUpstreamServer()
        transport = try CurlTransport()
    }

    func openAIRoute(_ name: String, limits: UpstreamLimits = UpstreamLimits(), fallbacks: [String] = []) -> ModelRoute {
        route(name, upstream: server, transport: transport, limits: limits, fallbacks: fallbacks)
    }

    static func completion(_ content: String) -> FakeUpstreamResponse {
        .json(["id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-test",
               "choices": [["index": 0, "message": ["role": "assistant", "content": .string(content)], "finish_reason": "stop"]],
               "usage": ["prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8]])
    }

    static func chunk(_ content: String, finish: String? = nil) -> String {
        let delta: JSON = finish == nil ? ["content": .string(content)] : [:]
        let choice: JSON = ["index": 0, "delta": delta, "finish_reason": finish.map(JSON.string) ?? .null]
        let object: JSON = ["id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test",
                            "choices": [choice]]
        return "data: " + object.serializedString + "\n\n"
    }

    static let sseHead = [HTTPHeaderField("Content-Type", "text/event-stream")]

    static func expectTooLarge(_ r: TestHTTPClient.Response) {
        #expect(r.status == 502)
        let error = r.json?["error"]
        #expect(error?["code"]?.stringValue == "upstream_response_too_large")
        #expect(error?.objectValue.map { Set($0.keys) } == ["message", "type", "param", "code"])
    }

    @Test func answerPastTheLimitIs502OnceAndNeverCached() async throws {
        server.handler = { _ in Self.completion(String(repeating: "a", count: 64 << 10)) }
        let h = try GatewayHarness(routes: [openAIRoute("m", limits: UpstreamLimits(maxResponseBytes: 16 << 10))])
        let first = try await blocking { try h.chat("m", "too much") }
        Self.expectTooLarge(first)
        #expect(first.json?["error"]?["message"]?.stringValue?.contains("max_response_bytes") == true)
        // Not retried on the same provider (three attempts are allowed).
        #expect(server.requests.count == 1)
        let second = try await blocking { try h.chat("m", "too much") }
        Self.expectTooLarge(second)
        #expect(server.requests.count == 2)  // nothing was cached
        let text = h.gateway.metrics.prometheusText()
        #expect(PrometheusTextChecker.check(text).value(
            "ultragate_upstream_errors_total", ["provider": "up", "model": "m", "kind": "too_large"]) == 2)
    }

    @Test func gzipAnswerIsHeldToTheLimitAfterDecoding() async throws {
        let bomb = GzipBomb.make(decodedBytes: 2 << 20)
        server.handler = { _ in .full(status: 200, headers: [HTTPHeaderField("Content-Type", "application/json"),
                                                             HTTPHeaderField("Content-Encoding", "gzip")], body: bomb) }
        let h = try GatewayHarness(routes: [openAIRoute("m", limits: UpstreamLimits(maxResponseBytes: 256 << 10))])
        Self.expectTooLarge(try await blocking { try h.chat("m", "bomb") })
        Self.expectTooLarge(try await blocking { try h.chat("m", "bomb") })
        #expect(server.requests.count == 2)
    }

    @Test func oversizedAnswerFallsBackToTheNextModel() async throws {
        server.handler = { _ in Self.completion(String(repeating: "a", count: 64 << 10)) }
        let backup = ScriptedChatProvider(name: "backup")
        let h = try GatewayHarness(routes: [openAIRoute("big", limits: UpstreamLimits(maxResponseBytes: 16 << 10), fallbacks: ["small"]),
                                            route("small", backup)])
        let r = try await blocking { try h.chat("big", "fall back") }
        #expect(r.status == 200)
        #expect(r.header("X-UltraGate-Model") == "small")
        #expect(server.requests.count == 1 && backup.callCount == 1)
    }

    @Test func streamEventPastTheLimitEndsAStartedStreamWithTheErrorEvent() async throws {
        let endless = "data: " + String(repeating: "x", count: 32 << 10)  // no line end
        server.handler = { _ in
            .streamed(headers: Self.sseHead, parts: [FakeUpstreamPart(Self.chunk("Hello")), FakeUpstreamPart(delayMs: 50, endless)])
        }
        let h = try GatewayHarness(routes: [openAIRoute("m", limits: UpstreamLimits(maxEventBytes: 8 << 10))])
        let r = try await blocking { try h.chat("m", "endless line", stream: true) }
        #expect(r.status == 200)
        let events = r.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        // The role chunk the gateway opens the choice with (the upstream sent none), then its text.
        #expect(events.first?.contains(#""role":"assistant""#) == true)
        #expect(events.dropFirst().first?.contains("Hello") == true)
        #expect(events.count >= 4)
        let error = try JSONParser.parse(Array(events[events.count - 2].dropFirst("data: ".count).utf8))
        #expect(error["error"]?["code"]?.stringValue == "upstream_response_too_large")
        #expect(error["error"]?["message"]?.stringValue?.contains("max_event_bytes") == true)
        #expect(events.last == "data: [DONE]")
        #expect(server.requests.count == 1)
        _ = try await blocking { try h.chat("m", "endless line", stream: true) }
        #expect(server.requests.count == 2)  // nothing was cached
    }

    @Test func streamPastTheLimitBeforeItsFirstChunkIs502() async throws {
        let endless = "data: " + String(repeating: "x", count: 32 << 10)
        server.handler = { _ in .streamed(headers: Self.sseHead, parts: [FakeUpstreamPart(endless)]) }
        let h = try GatewayHarness(routes: [openAIRoute("m", limits: UpstreamLimits(maxEventBytes: 8 << 10))])
        Self.expectTooLarge(try await blocking { try h.chat("m", "endless from the start", stream: true) })
        #expect(server.requests.count == 1)
    }

    @Test func streamPastTheResponseLimitEndsWithTheErrorEvent() async throws {
        let parts = [FakeUpstreamPart(Self.chunk("first"))]
            + (0..<64).map { _ in FakeUpstreamPart(delayMs: 2, Self.chunk(String(repeating: "y", count: 1000))) }
        server.handler = { _ in .streamed(headers: Self.sseHead, parts: parts) }
        let h = try GatewayHarness(routes: [openAIRoute("m", limits: UpstreamLimits(maxResponseBytes: 16 << 10))])
        let r = try await blocking { try h.chat("m", "long stream", stream: true) }
        #expect(r.status == 200)
        #expect(r.text.contains("upstream_response_too_large"))
        #expect(r.text.hasSuffix("data: [DONE]\n\n"))
        let again = try await blocking { try h.chat("m", "long stream", stream: true) }
        #expect(again.text.contains("upstream_response_too_large"))
        #expect(server.requests.count == 2)
    }

    @Test func hugeErrorBodyKeepsTheUpstreamStatusAndOnlyItsBeginning() async throws {
        let message = "overloaded " + String(repeating: "z", count: 3 << 20)
        server.handler = { _ in .json(status: 500, ["error": ["message": .string(message), "type": "server_error"]]) }
        let h = try GatewayHarness(routes: [openAIRoute("m")])
        let r = try await blocking { try h.chat("m", "huge error") }
        #expect(r.status == 500)
        // The message is the first bytes of the body, not megabytes of it.
        let shown = r.json?["error"]?["message"]?.stringValue ?? ""
        #expect(shown.contains("overloaded") && shown.utf8.count < 4096)
        #expect(server.requests.count == 3)  // a 500 is retried as before
    }

    // MARK: cache entry bound

    @Test func answersOverMaxEntryBytesAreServedButNotStored() async throws {
        server.handler = { request in
            let prompt = request.json?["messages"]?.arrayValue?.first?["content"]?.stringValue ?? ""
            return Self.completion(prompt == "big" ? String(repeating: "b", count: 8 << 10) : "small answer")
        }
        let h = try GatewayHarness(routes: [openAIRoute("m")]) { $0.cache.maxEntryBytes = 4096 }
        for _ in 0..<2 {
            let r = try await blocking { try h.chat("m", "big") }
            #expect(r.status == 200)
            #expect(r.header("X-Cache") == "MISS")
            #expect(r.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue?.utf8.count == 8 << 10)
        }
        #expect(server.requests.count == 2)
        // A small answer is stored as before.
        _ = try await blocking { try h.chat("m", "small") }
        #expect(try await blocking { try h.chat("m", "small") }.header("X-Cache") == "HIT")
        #expect(server.requests.count == 3)
        let check = PrometheusTextChecker.check(h.gateway.metrics.prometheusText())
        #expect(check.value("ultragate_cache_entries_too_large_total") == 2)
        #expect(check.value("ultragate_cache_write_errors_total") == 0)
        #expect(h.gateway.cache?.stats().tooLarge == 2)
    }
}
