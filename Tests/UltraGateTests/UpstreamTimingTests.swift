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

/// A stream whose role chunk comes at once and whose first token comes `firstTokenMs` later, as
/// Anthropic's `message_start` or an OpenAI role chunk does before the model has produced anything.
struct LateFirstTokenProvider: ChatProvider {
    var name: String { "late" }
    var type: String { "late" }
    let firstTokenMs: Double

    func complete(_ request: ProviderRequest) async throws -> JSONObject {
        try await MockProvider().complete(request)
    }

    func stream(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject> {
        var builder = OpenAIChunkBuilder(model: request.model)
        let chunks = [builder.start(), builder.delta(["content": "Hello"]), builder.delta([:], finishReason: "stop")]
        let delay = firstTokenMs
        let (stream, continuation) = ChunkStream<JSONObject>.makeStream()
        let task = Task {
            continuation.yield(chunks[0])
            try? await Task.sleep(nanoseconds: UInt64(delay * 1e6))
            continuation.yield(chunks[1])
            continuation.yield(chunks[2])
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// Counts what the orchestrator reports.
final class OrchestratorEventLog: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var attemptsStarted = 0
    private(set) var retryWaits: [Double] = []
    private(set) var finished: [(seconds: Double, ttft: Double?)] = []

    func events() -> OrchestratorEvents {
        var events = OrchestratorEvents()
        events.attemptStarted = { _ in self.lock.withLock { self.attemptsStarted += 1 } }
        events.retryWaited = { _, seconds in self.lock.withLock { self.retryWaits.append(seconds) } }
        events.upstreamFinished = { _, seconds, ttft in self.lock.withLock { self.finished.append((seconds, ttft)) } }
        return events
    }
}

@Suite struct UpstreamTimingTests {
    static func orchestrator(_ routes: [ModelRoute], log: OrchestratorEventLog, sleepMs: Double = 0) -> Orchestrator {
        var providers: [String: ChatProvider] = [:]
        for route in routes { providers[route.providerName] = route.provider }
        let router = ModelRouter(routes: routes, providers: providers, providerSettings: [:], defaultRetry: RetrySettings(),
                                 listed: routes.map { ($0.name, $0.providerName) })
        var orchestrator = Orchestrator(router: router, events: log.events())
        orchestrator.sleep = { _ in try await Task.sleep(nanoseconds: UInt64(sleepMs * 1e6)) }
        return orchestrator
    }

    static let body: JSONObject = ["model": "m", "messages": [["role": "user", "content": "hi"]]]

    @Test func timeToFirstTokenWaitsForContentNotTheRoleChunk() async throws {
        let provider = LateFirstTokenProvider(firstTokenMs: 300)
        let m = ModelRoute(name: "m", providerName: "late", provider: provider, upstreamModel: "m")
        let log = OrchestratorEventLog()
        let outcome = try await Self.orchestrator([m], log: log).stream(m, body: Self.body, requestID: "r") { _ in }
        let ttft = try #require(outcome.timeToFirstToken)
        #expect(ttft >= 0.25, "ttft \(ttft): the role chunk at once is not the first token")
        #expect(try #require(log.finished.first?.ttft) >= 0.25)
        #expect(outcome.attempts == 1 && outcome.retryWaitSeconds == 0)
    }

    @Test func upstreamTimeCoversEveryAttemptAndTheWaitsBetween() async throws {
        let provider = ScriptedChatProvider(delayMs: 60)
        provider.failNext(.status(500))
        let m = route("m", provider)
        let log = OrchestratorEventLog()
        let orchestrator = Self.orchestrator([m], log: log, sleepMs: 40)
        let outcome = try await orchestrator.complete(m, body: Self.body, requestID: "r")
        #expect(provider.callCount == 2)
        #expect(outcome.attempts == 2)
        #expect(outcome.retryWaitSeconds >= 0.04)
        // Two attempts of at least 60 ms each plus the wait; the answering attempt alone is shorter.
        #expect(outcome.upstreamSeconds >= 0.06 + 0.06 + 0.04, "upstream \(outcome.upstreamSeconds)")
        let answering = try #require(log.finished.last?.seconds)
        #expect(outcome.upstreamSeconds >= answering + 0.1)
        #expect(log.attemptsStarted == 2)
        #expect(log.retryWaits.count == 1 && log.retryWaits[0] >= 0.04)
    }

    @Test func aFallbackIsAnAttemptWithoutAWait() async throws {
        let failing = ScriptedChatProvider(name: "a")
        failing.failNext(.status(500))
        let backup = ScriptedChatProvider(name: "b")
        let a = route("a", failing, fallbacks: ["b"], maxAttempts: 1)
        let b = route("b", backup)
        let log = OrchestratorEventLog()
        let outcome = try await Self.orchestrator([a, b], log: log).stream(a, body: Self.body, requestID: "r") { _ in }
        #expect(outcome.route.name == "b")
        #expect(outcome.attempts == 2 && outcome.retryWaitSeconds == 0)
        #expect(log.attemptsStarted == 2 && log.retryWaits.isEmpty)
    }
}

/// `Server-Timing` as clients see it: in the head of whole answers; for streams, the head's part
/// in the head and the rest in a trailer after the last chunk.
@Suite(.serialized) struct ServerTimingGatewayTests {
    static func metrics(_ value: String?) -> [String: String] {
        var out: [String: String] = [:]
        for metric in (value ?? "").split(separator: ",") {
            let parts = metric.trimmingCharacters(in: .whitespaces).split(separator: ";", maxSplits: 1)
            let param = parts.count > 1 ? parts[1].split(separator: "=", maxSplits: 1) : []
            out[String(parts[0])] = param.count > 1 ? String(param[1]) : ""
        }
        return out
    }

    @Test func aStreamEndsWithAServerTimingTrailerAndTheConnectionStaysUsable() async throws {
        let provider = ScriptedChatProvider(delayMs: 20)
        let h = try GatewayHarness(routes: [route("m", provider)])
        let (miss, hit, after) = try await blocking { () -> (TestHTTPClient.Response, TestHTTPClient.Response, TestHTTPClient.Response) in
            let c = try h.client()
            c.post("/v1/chat/completions", json: GatewayHarness.body("m", "trailer", stream: true))
            let miss = try c.readResponse()
            c.post("/v1/chat/completions", json: GatewayHarness.body("m", "trailer", stream: true))
            let hit = try c.readResponse()
            c.post("/v1/chat/completions", json: GatewayHarness.body("m", "trailer"))
            return (miss, hit, try c.readResponse())
        }
        #expect(miss.status == 200 && miss.text.hasSuffix("data: [DONE]\n\n"))
        #expect(miss.header("Trailer") == "Server-Timing")
        let missHead = Self.metrics(miss.header("Server-Timing"))
        #expect(Set(missHead.keys) == ["cache", "headers"])
        let missTrailer = Self.metrics(miss.trailer("Server-Timing"))
        #expect(Set(missTrailer.keys) == ["ttft", "upstream", "attempts", "total"])
        #expect(missTrailer["attempts"] == "1")
        #expect(try #require(Double(missTrailer["upstream"] ?? "")) >= 20)
        #expect(try #require(Double(missTrailer["total"] ?? "")) >= Double(missTrailer["upstream"] ?? "")!)

        // The cache hit's replay: the trailer too, with no upstream.
        #expect(hit.header("X-Cache") == "HIT" && hit.header("Trailer") == "Server-Timing")
        #expect(Set(Self.metrics(hit.header("Server-Timing")).keys) == ["cache", "headers"])
        #expect(Set(Self.metrics(hit.trailer("Server-Timing")).keys) == ["total"])
        // The next request on the connection was read after the trailer section.
        #expect(after.status == 200 && after.header("X-Cache") == "HIT")
        #expect(after.header("Trailer") == nil && after.trailers.isEmpty)
    }

    @Test func anHTTP10StreamHasNoTrailer() async throws {
        let h = try GatewayHarness(routes: [route("m", ScriptedChatProvider())])
        let (head, raw) = try await blocking { () -> (TestHTTPClient.Response, String) in
            let c = try h.client()
            let json = GatewayHarness.body("m", "old client", stream: true)
            c.send("POST /v1/chat/completions HTTP/1.0\r\nHost: t\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(json.utf8.count)\r\n\r\n" + json)
            let head = try c.readResponse()
            var rest: [UInt8] = []
            while let more = try? c.readExactly(1) { rest += more }
            return (head, String(decoding: rest, as: UTF8.self))
        }
        #expect(head.status == 200)
        #expect(head.header("Transfer-Encoding") == nil && head.header("Trailer") == nil)
        #expect(raw.hasSuffix("data: [DONE]\n\n"), "the body ends with the stream, no trailer after it")
    }

    @Test func aRetriedAnswerTellsAllItsUpstreamTimeTheWaitAndTheAttempts() async throws {
        let provider = ScriptedChatProvider(delayMs: 50)
        provider.failNext(.status(500))
        // Real waits, with the default retry settings (base delay 0.25 s).
        let h = try GatewayHarness(routes: [route("m", provider)], fastRetries: false)
        let r = try await blocking { try h.chat("m", "retry timing") }
        #expect(r.status == 200 && provider.callCount == 2)
        let timing = Self.metrics(r.header("Server-Timing"))
        let upstream = try #require(Double(timing["upstream"] ?? ""))
        let retry = try #require(Double(timing["retry"] ?? ""))
        #expect(timing["attempts"] == "2")
        // Equal jitter on a 0.25 s base: at least 125 ms of waiting.
        #expect(retry >= 120, "retry \(retry)")
        #expect(upstream >= 50 + 50 + retry, "upstream \(upstream) must include the failed attempt and the wait")
        let check = PrometheusTextChecker.check(h.gateway.metrics.prometheusText())
        let pm = ["provider": "scripted", "model": "m"]
        #expect(check.value("ultragate_upstream_attempts_total", pm) == 2)
        #expect(check.value("ultragate_upstream_retry_wait_seconds_count", pm) == 1)
        #expect(check.value("ultragate_upstream_retries_total", pm) == 1)
    }
}
