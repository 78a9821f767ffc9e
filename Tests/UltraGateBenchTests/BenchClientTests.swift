import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateBench

/// Runs the bench client against servers whose latency, errors and cache answers are known,
/// and checks the report says so.
@Suite(.serialized) struct BenchClientTests {
    func options(_ url: String, _ args: [String] = []) throws -> BenchOptions {
        var o = try BenchOptions.parse(["--url", url, "--no-progress"] + args, environment: [:])
        o.progress = false
        return o
    }

    func run(_ o: BenchOptions, prompts: [String]? = nil) throws -> BenchReport {
        try BenchClient(options: o, promptLines: prompts).run()
    }

    @Test func countsRequestsAndMeasuresTheInjectedLatency() throws {
        let server = try FakeOpenAIServer(.init(latencyMs: 20))
        let r = try run(try options(server.url, ["-n", "40", "-c", "4"]))
        #expect(r.requests == 40)
        #expect(r.succeeded == 40)
        #expect(r.errors.isEmpty)
        #expect(server.requestsServed == 40)
        let l = try #require(r.latency)
        #expect(l.count == 40)
        #expect(l.p50Ms >= 20 && l.p50Ms < 45, "p50 \(l.p50Ms)")
        #expect(l.minMs >= 20)
        #expect(l.p99Ms >= l.p90Ms && l.p90Ms >= l.p50Ms && l.maxMs >= l.p99Ms)
        // 4 connections, 20 ms each: about 200 req/s, never more.
        #expect(r.throughput <= 205 && r.throughput > 60, "throughput \(r.throughput)")
        #expect(r.tally.completionTokens == 40 * 7)
        #expect(r.tally.responsesWithUsage == 40)
    }

    @Test func twoThreadsShareTheRequestsAndSequenceNumbersExactly() throws {
        let server = try FakeOpenAIServer()
        let r = try run(try options(server.url, ["-n", "41", "-c", "5", "--threads", "2", "--mode", "miss"]))
        #expect(r.requests == 41 && r.succeeded == 41)
        #expect(server.requestsServed == 41)
        // Every miss-mode sequence number was used once: the fake cache saw 41 distinct bodies.
        #expect(r.tally.cacheMisses == 41)
    }

    @Test func countsStatusErrorsByCode() throws {
        let server = try FakeOpenAIServer(.init(failEvery: 5))
        let r = try run(try options(server.url, ["-n", "50", "-c", "1"]))
        #expect(r.requests == 50)
        #expect(r.errors == ["status 503": 10])
        #expect(r.succeeded == 40)
        #expect(r.latency?.count == 40)
    }

    @Test func refusedConnectionsAreConnectErrors() throws {
        let server = try FakeOpenAIServer()
        let url = server.url
        server.stop()
        let r = try run(try options(url, ["-n", "25", "-c", "3"]))
        #expect(r.errors == ["connect": 25])
        #expect(r.succeeded == 0)
        #expect(r.latency == nil)
    }

    /// A hanging answer would hold the run forever without the client timeout: the time limit, not
    /// a wall-clock assertion, catches that.
    @Test(.timeLimit(.minutes(1))) func slowAnswersBecomeTimeoutsAndCutBodiesProtocolErrors() throws {
        let server = try FakeOpenAIServer()
        let prompts = [#"[{"role":"user","content":"fine"}]"#, #"[{"role":"user","content":"[[fake:hang]]"}]"#,
                       #"[{"role":"user","content":"[[fake:truncate]]"}]"#, #"[{"role":"user","content":"fine too"}]"#]
        let r = try run(try options(server.url, ["-n", "8", "-c", "2", "--timeout", "0.3"]), prompts: prompts)
        #expect(r.requests == 8)
        #expect(r.errors == ["timeout": 2, "protocol": 2])
        #expect(r.succeeded == 4)
    }

    @Test func hitModeRepeatsAndMissModeNeverRepeats() throws {
        let server = try FakeOpenAIServer()
        let hit = try run(try options(server.url, ["-n", "30", "-c", "1", "--mode", "hit"]))
        #expect(hit.tally.cacheHits == 29 && hit.tally.cacheMisses == 1)
        #expect(abs((hit.hitRatio ?? 0) - 29.0 / 30) < 1e-9)
        let miss = try run(try options(server.url, ["-n", "30", "-c", "3", "--mode", "miss"]))
        #expect(miss.tally.cacheMisses == 30)
        #expect(miss.hitRatio == 0)
        // A second miss-mode run is still all misses: nonces carry a per-run id.
        let again = try run(try options(server.url, ["-n", "10", "-c", "1", "--mode", "miss"]))
        #expect(again.tally.cacheMisses == 10)
    }

    @Test func warmupRequestsAreSentButNotCounted() throws {
        let server = try FakeOpenAIServer()
        let r = try run(try options(server.url, ["-n", "10", "-c", "2", "--warmup", "3"]))
        #expect(server.requestsServed == 13)
        #expect(r.requests == 10)
        #expect(r.hitRatio == 1)
    }

    @Test func streamsReportTimeToFirstTokenAndInterTokenGaps() throws {
        let server = try FakeOpenAIServer(.init(latencyMs: 10, ttftMs: 40, chunkGapMs: 15, chunks: 5, completionTokens: 9))
        let r = try run(try options(server.url, ["-n", "6", "-c", "2", "--stream"]))
        #expect(r.succeeded == 6)
        let ttft = try #require(r.timeToFirstToken)
        #expect(ttft.count == 6)
        // latency 10 + ttft 40: the empty role chunk before it must not count as the first token.
        #expect(ttft.p50Ms >= 50 && ttft.p50Ms < 75, "ttft \(ttft.p50Ms)")
        let itl = try #require(r.interTokenLatency)
        #expect(itl.count == 6 * 4)
        #expect(itl.p50Ms >= 14 && itl.p50Ms < 30, "itl \(itl.p50Ms)")
        let total = try #require(r.latency)
        #expect(total.p50Ms >= 50 + 4 * 15)
        #expect(r.tally.completionTokens == 6 * 9)
    }

    /// The run lasts its duration (never less; more only by what a loaded machine adds to the last
    /// answers, so the upper bound is generous) and 2 connections at ≥ 10 ms each cannot exceed 102.
    @Test(.timeLimit(.minutes(1))) func durationModeStopsOnTime() throws {
        let server = try FakeOpenAIServer(.init(latencyMs: 10))
        let r = try run(try options(server.url, ["-d", "0.5", "-c", "2"]))
        #expect(r.elapsedSeconds >= 0.5 && r.elapsedSeconds < 5, "elapsed \(r.elapsedSeconds)")
        #expect(r.requests >= 2 && r.requests <= 102, "requests \(r.requests)")
    }

    @Test func realGatewayHitsAfterTheFirstAndMissesInMissMode() async throws {
        let h = try GatewayHarness(routes: [route("mock-gpt", ScriptedChatProvider())])
        let url = "http://127.0.0.1:\(h.port)/v1"
        let hitOptions = try options(url, ["-n", "40", "-c", "4", "--warmup", "1"])
        let missOptions = try options(url, ["-n", "20", "-c", "4", "--mode", "miss", "--stream"])
        let (hit, miss) = try await blocking { (try run(hitOptions), try run(missOptions)) }
        #expect(hit.succeeded == 40)
        #expect(hit.hitRatio == 1)
        #expect(miss.succeeded == 20)
        #expect(miss.hitRatio == 0)
        #expect(miss.timeToFirstToken?.count == 20)
        #expect(miss.tally.responsesWithUsage == 20)
    }

    @Test func jsonReportCarriesTheFigures() throws {
        let server = try FakeOpenAIServer(.init(failEvery: 4))
        let r = try run(try options(server.url, ["-n", "8", "-c", "1", "--json"]))
        let json = try JSONParser.parse(r.json().serializedString)
        #expect(json["requests"]?.intValue == 8)
        #expect(json["succeeded"]?.intValue == 6)
        #expect(json["errors"]?["status 503"]?.intValue == 2)
        #expect(json["latency_ms"]?["count"]?.intValue == 6)
        #expect(json["cache"]?["hits"]?.intValue == 5)
        #expect(r.table().contains("status 503: 2"))
    }

    // MARK: open loop (--rate)

    @Test func openLoopOffersTheRateAndSendsExactlyN() throws {
        let server = try FakeOpenAIServer()
        let r = try run(try options(server.url, ["-r", "200", "-n", "200", "-c", "4"]))
        #expect(r.requests == 200 && r.succeeded == 200)
        #expect(server.requestsServed == 200)
        #expect(r.tally.scheduled == 200)
        // The last request is due at 0.995 s: the run cannot be shorter, nor much longer on a fast server.
        #expect(r.elapsedSeconds >= 0.99 && r.elapsedSeconds < 10, "elapsed \(r.elapsedSeconds)")
        #expect(r.throughput > 20 && r.throughput <= 202, "throughput \(r.throughput)")
        let json = try JSONParser.parse(r.json().serializedString)
        #expect(json["mode_loop"]?.stringValue == "open" && json["offered_rps"]?.intValue == 200)
    }

    @Test func openLoopSplitsTheScheduleAcrossThreads() throws {
        let server = try FakeOpenAIServer()
        let r = try run(try options(server.url, ["-r", "300", "-n", "91", "-c", "4", "--threads", "2", "--mode", "miss"]))
        #expect(r.requests == 91 && r.succeeded == 91)
        #expect(r.tally.cacheMisses == 91)
        // 91 requests at 300/s: the last is due at 0.3 s.
        #expect(r.elapsedSeconds >= 0.29 && r.elapsedSeconds < 10, "elapsed \(r.elapsedSeconds)")
    }

    @Test func openLoopCountsQueueingBehindASlowServer() throws {
        // 1 connection, 50 ms per answer (20/s) offered 100/s: requests pile up behind it.
        let server = try FakeOpenAIServer(.init(latencyMs: 50))
        let r = try run(try options(server.url, ["-r", "100", "-n", "20", "-c", "1"]))
        #expect(r.succeeded == 20)
        let l = try #require(r.latency)
        // Request k is due at 10k ms and answered no sooner than 50(k+1) ms: the last waits ~800 ms.
        #expect(l.maxMs > 600, "max \(l.maxMs)")
        #expect(l.p50Ms > 200, "p50 \(l.p50Ms)")
        #expect(l.minMs >= 50)
        #expect(r.tally.lateSends >= 15, "late \(r.tally.lateSends)")
        #expect(r.tally.maxQueueDepth >= 5, "depth \(r.tally.maxQueueDepth)")
        // Closed loop on the same server would have said ~50 ms for every request.
        let closed = try run(try options(server.url, ["-n", "5", "-c", "1"]))
        #expect((closed.latency?.maxMs ?? .infinity) < l.maxMs)
    }

    @Test func openLoopTimeToFirstTokenCountsFromTheDueTime() throws {
        // About 110 ms per stream on 1 connection, offered 100/s: later first tokens wait their turn.
        let server = try FakeOpenAIServer(.init(latencyMs: 10, ttftMs: 40, chunkGapMs: 15, chunks: 5))
        let r = try run(try options(server.url, ["-r", "100", "-n", "6", "-c", "1", "--stream"]))
        #expect(r.succeeded == 6)
        let ttft = try #require(r.timeToFirstToken)
        #expect(ttft.count == 6)
        #expect(ttft.minMs >= 50, "min \(ttft.minMs)")
        // The 6th is due at 50 ms and cannot start before ~550 ms.
        #expect(ttft.maxMs > 350, "max \(ttft.maxMs)")
    }

    @Test func openLoopForADurationAndAfterWarmup() throws {
        let server = try FakeOpenAIServer()
        let r = try run(try options(server.url, ["-r", "100", "-d", "0.5", "-c", "2", "--warmup", "3"]))
        #expect(r.elapsedSeconds >= 0.5 && r.elapsedSeconds < 5, "elapsed \(r.elapsedSeconds)")
        // 50 due in 0.5 s; the last few may still be in flight at the end.
        #expect(r.tally.scheduled == 50)
        #expect(r.requests >= 10 && r.requests <= 50, "requests \(r.requests)")
        #expect(server.requestsServed >= 3 + r.requests - 1)
    }
}

/// `--api messages` against the gateway's own Messages front: the requests are Messages requests
/// it accepts, and streams, TTFT, output tokens and cache hits are read from Anthropic's shapes.
@Suite(.serialized) struct BenchMessagesAPITests {
    @Test func measuresMessagesStreamsAndHits() throws {
        let h = try GatewayHarness(routes: [route("claude-bench", ScriptedChatProvider(chunkDelayMs: 2))])
        let url = "http://127.0.0.1:\(h.port)/v1"
        var o = try BenchOptions.parse(["--url", url, "--api", "messages", "--model", "claude-bench", "--stream", "--mode", "miss",
                                        "-n", "12", "-c", "3", "--no-progress"], environment: [:])
        o.progress = false
        #expect(o.target.path == "/v1/messages")
        let streamed = try BenchClient(options: o, promptLines: nil).run()
        #expect(streamed.succeeded == 12 && streamed.errors.isEmpty)
        #expect(streamed.timeToFirstToken?.count == 12)
        #expect(streamed.tally.responsesWithUsage == 12 && streamed.tally.completionTokens > 12)
        #expect(streamed.tally.cacheMisses == 12)
        o.stream = false
        o.mode = .hit
        let hits = try BenchClient(options: o, promptLines: nil).run()
        #expect(hits.succeeded == 12 && hits.tally.cacheHits >= 12 - 3)  // the first three may share the one call
        #expect(hits.tally.responsesWithUsage == 12 && hits.tally.completionTokens > 12)
    }

    @Test func writesMessagesRequests() throws {
        var o = try BenchOptions.parse(["--url", "http://h:1", "--api", "messages", "--api-key", "k", "--stream"], environment: [:])
        o.mode = .miss
        let p = try PromptSource(lines: nil, options: o, runID: "r")
        let body = try JSONParser.parse(p.body(0))
        #expect(body["system"]?.stringValue?.isEmpty == false)
        #expect(body["messages"]?.arrayValue?.count == 1 && body["messages"]?.arrayValue?.first?["role"] == "user")
        #expect(body["max_tokens"] == 256 && body["stream"] == true && body["stream_options"] == nil)
        var request: [UInt8] = []
        p.request(0, into: &request)
        let text = String(decoding: request, as: UTF8.self)
        #expect(text.hasPrefix("POST /v1/messages HTTP/1.1\r\n"))
        #expect(text.contains("anthropic-version: 2023-06-01\r\nx-api-key: k\r\n") && !text.contains("Authorization"))
        #expect(throws: UsageError.self) { try BenchOptions.parse(["--url", "http://h/v1", "--api", "grpc"], environment: [:]) }
    }
}
