import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateBench
@testable import ultragate

@Suite struct BenchUnitTests {
    // MARK: options

    @Test func parsesOptionsAndURLForms() throws {
        let o = try BenchOptions.parse(["--url", "http://localhost:9000/v1", "-c", "16", "--duration=2.5", "--stream",
                                        "--mode", "miss", "--max-tokens", "32", "--json", "--warmup", "5"],
                                       environment: ["OPENAI_API_KEY": "sk-env"])
        #expect(o.target == BenchTarget(host: "localhost", port: 9000, path: "/v1/chat/completions"))
        #expect(o.concurrency == 16 && o.duration == 2.5 && o.requests == nil)
        #expect(o.stream && o.mode == .miss && o.maxTokens == 32 && o.json && o.warmup == 5)
        #expect(o.apiKey == "sk-env")
        let explicit = try BenchOptions.parse(["--url", "http://h/v1/", "--api-key", "k"], environment: ["OPENAI_API_KEY": "sk-env"])
        #expect(explicit.apiKey == "k")
        #expect(explicit.target.port == 80 && explicit.target.path == "/v1/chat/completions")
        #expect(try BenchTarget(url: "http://[::1]:81/openai/v1/chat/completions") == BenchTarget(host: "::1", port: 81, path: "/openai/v1/chat/completions"))
        #expect(try BenchTarget(url: "http://127.0.0.1:8080").path == "/v1/chat/completions")
    }

    @Test func rejectsBadCommandLines() throws {
        let bad: [[String]] = [
            [], ["--url", "https://api.openai.com/v1"], ["--url", "ftp://x"], ["--url", "http://h:99999/v1"],
            ["--url", "http://h/v1", "-c", "0"], ["--url", "http://h/v1", "--mode", "sometimes"],
            ["--url", "http://h/v1", "-n", "5", "-d", "1"], ["--url", "http://h/v1", "--frobnicate"],
            ["--url", "http://h/v1", "--duration", "-1"], ["--url", "http://h/v1", "--requests"],
        ]
        for args in bad {
            #expect(throws: UsageError.self, "\(args)") { try BenchOptions.parse(args, environment: [:]) }
        }
        #expect(throws: UsageError.self) { try CommandLineParser.parse(["bench", "--concurrency", "x", "--url", "http://h/v1"]) }
        #expect(try CommandLineParser.parse(["bench", "--help"]) == .benchHelp)
    }

    // MARK: prompts

    @Test func missModeMakesEveryBodyUniqueAndValid() throws {
        var o = try BenchOptions.parse(["--url", "http://h:1/v1", "--mode", "miss", "--stream", "--max-tokens", "5"], environment: [:])
        o.apiKey = "sk-test"
        let p = try PromptSource(lines: [#"[{"role":"user","content":"a"}]"#,
                                         #"{"model":"other","messages":[{"role":"user","content":[{"type":"text","text":"b"}]}],"temperature":0}"#],
                                 options: o, runID: "run1")
        var bodies: Set<[UInt8]> = []
        for i in 0..<10 {
            let json = try JSONParser.parse(p.body(i))
            #expect(json["model"]?.stringValue == "mock-gpt")
            #expect(json["stream"]?.boolValue == true)
            #expect(json["stream_options"]?["include_usage"]?.boolValue == true)
            #expect(json["max_tokens"]?.intValue == 5)
            bodies.insert(p.body(i))
        }
        #expect(bodies.count == 10)
        let second = try JSONParser.parse(p.body(3))
        #expect(second["temperature"]?.intValue == 0)
        #expect(second["messages"]?.arrayValue?[0]["content"]?.arrayValue?[0]["text"]?.stringValue == "b [bench run1-3]")
        var request: [UInt8] = []
        p.request(0, into: &request)
        let text = String(decoding: request, as: UTF8.self)
        #expect(text.hasPrefix("POST /v1/chat/completions HTTP/1.1\r\nHost: h:1\r\n"))
        #expect(text.contains("Authorization: Bearer sk-test\r\n"))
        #expect(text.contains("Content-Length: \(p.body(0).count)\r\n\r\n"))
    }

    @Test func hitModeRepeatsTheSamePrompts() throws {
        let o = try BenchOptions.parse(["--url", "http://h:1/v1"], environment: [:])
        let p = try PromptSource(lines: [#"[{"role":"user","content":"a"}]"#, "", #"[{"role":"user","content":"b"}]"#], options: o)
        #expect(p.count == 2)
        #expect(p.body(0) == p.body(2) && p.body(1) == p.body(3) && p.body(0) != p.body(1))
        #expect(try JSONParser.parse(p.body(0))["stream"] == nil)
        #expect(throws: PromptFileError.self) { try PromptSource(lines: ["{\"no\":1}"], options: o) }
        #expect(throws: PromptFileError.self) { try PromptSource(lines: ["not json"], options: o) }
    }

    // MARK: response parsing

    func parse(_ wire: String, splitEvery step: Int) throws -> BenchResponseParser {
        var p = BenchResponseParser()
        let bytes = Array(wire.utf8)
        var i = 0
        var t: UInt64 = 0
        while i < bytes.count {
            let end = min(i + step, bytes.count)
            t += 1
            let done = try Array(bytes[i..<end]).withUnsafeBytes { raw in try p.feed(raw, now: t) }
            i = end
            if done { #expect(i == bytes.count); break }
        }
        return p
    }

    @Test func parsesContentLengthAndChunkedBodiesSplitAnywhere() throws {
        let plain = "HTTP/1.1 200 OK\r\nX-Cache: HIT\r\ncontent-length: 45\r\n\r\n" + #"{"usage":{"completion_tokens": 12},"x":"yyy"}"#
        func chunk(_ s: String) -> String { String(s.utf8.count, radix: 16) + "\r\n" + s + "\r\n" }
        let sse = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\nx-cache: miss\r\n\r\n"
            + chunk("data: {\"delta\":{\"content\":\"\"}}\n\n")
            + chunk("data") + chunk(": {\"delta\":{\"content\": \"a\"}}\n\n")
            + chunk("data: {\"delta\":{\"content\":\"b\"}}\n\n")
            + chunk("data: {\"usage\":{\"completion_tokens\":2}}\n\ndata: ") + chunk("[DONE]\n\n")
            + "0\r\nTrailer: x\r\n\r\n"
        for step in [1, 2, 3, 7, 1000] {
            let p = try parse(plain, splitEvery: step)
            #expect(p.isComplete && p.status == 200 && p.cache == .hit && p.keepAlive)
            #expect(p.scanner.completionTokens == 12)
            let s = try parse(sse, splitEvery: step)
            #expect(s.isComplete && s.cache == .miss && s.scanner.isEventStream)
            #expect(s.scanner.contentEvents == 2)
            #expect(s.scanner.gaps.count == 1)
            #expect(s.scanner.completionTokens == 2)
            #expect(s.scanner.firstEventAt! < s.scanner.firstTokenAt! || step == 1000)
        }
    }

    @Test func bodyUntilCloseAndErrors() throws {
        var p = try parse("HTTP/1.0 200 OK\r\n\r\nhello", splitEvery: 100)
        #expect(!p.isComplete && !p.keepAlive)
        #expect(try p.endOfInput(now: 9))
        let noBody = try parse("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", splitEvery: 100)
        #expect(noBody.isComplete && !noBody.keepAlive)
        #expect(throws: BenchProtocolError.self) { try parse("SMTP 220 hi\r\n\r\n", splitEvery: 100) }
        #expect(throws: BenchProtocolError.self) { try parse("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", splitEvery: 100) }
        #expect(throws: BenchProtocolError.self) { try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", splitEvery: 100) }
        var cut = try parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", splitEvery: 100)
        #expect(throws: BenchProtocolError.self) { try cut.endOfInput(now: 1) }
    }

    // MARK: statistics

    @Test func percentilesAreExactNearestRank() throws {
        var r = LatencyRecorder()
        for v in (1...100).shuffled() { r.record(UInt64(v) * 1_000_000) }
        let s = try #require(r.summary())
        #expect(s.p50Ms == 50 && s.p90Ms == 90 && s.p99Ms == 99 && s.maxMs == 100 && s.minMs == 1)
        #expect(abs(s.meanMs - 50.5) < 1e-9)
        var one = LatencyRecorder()
        one.record(3_000_000)
        #expect(one.summary()?.p99Ms == 3)
        #expect(LatencyRecorder().summary() == nil)
        #expect(BenchReport.format(1.005, digits: 1) == "1.0" && BenchReport.format(12.345, digits: 2) == "12.35" && BenchReport.format(0.04, digits: 3) == "0.040")
    }

    // MARK: open loop

    @Test func parsesAndRejectsRates() throws {
        let base = ["--url", "http://h:1/v1"]
        #expect(try BenchOptions.parse(base + ["--rate", "200"], environment: [:]).rate == 200)
        #expect(try BenchOptions.parse(base + ["-r", "1.5", "-d", "3"], environment: [:]).rate == 1.5)
        #expect(try BenchOptions.parse(base + ["--rate=50"], environment: [:]).rate == 50)
        #expect(try BenchOptions.parse(base, environment: [:]).rate == nil)
        for v in ["0", "-5", "inf", "nan", "abc", "1e400"] {
            #expect(throws: UsageError("--rate must be a positive finite number, not `\(v)`"), "\(v)") {
                try BenchOptions.parse(base + ["--rate", v], environment: [:])
            }
        }
        #expect(throws: UsageError.self) { try BenchOptions.parse(base + ["--rate"], environment: [:]) }
        #expect(BenchOptions.usage.contains("--rate R, -r"))
    }

    @Test func scheduleIsExactAndDoesNotDrift() {
        let start: UInt64 = 5_000_000_000
        let s = OpenLoopSchedule(start: start, rate: 3)
        #expect(s.dueTime(0) == start && s.dueTime(1) == start + 333_333_333 && s.dueTime(2) == start + 666_666_666)
        // Every third request is due on a whole second, however far into the run.
        for k in [1, 10, 1_000, 1_000_000] { #expect(s.dueTime(3 * k) == start + UInt64(k) * 1_000_000_000, "k \(k)") }
        let fast = OpenLoopSchedule(start: 0, rate: 7_000)
        #expect(fast.dueTime(7_000_000) == 1_000_000_000_000)
        // Threads interleave: stride 2 offsets 0 and 1 together give the single-thread schedule.
        let one = OpenLoopSchedule(start: start, rate: 10)
        let even = OpenLoopSchedule(start: start, rate: 10, stride: 2, offset: 0)
        let odd = OpenLoopSchedule(start: start, rate: 10, stride: 2, offset: 1)
        let merged = ((0..<50).map(even.dueTime) + (0..<50).map(odd.dueTime)).sorted()
        #expect(merged == (0..<100).map(one.dueTime))
    }

    @Test func releasesWhatIsDueAndStopsAtTheLimitOrTheEnd() {
        let start: UInt64 = 1_000_000
        var s = OpenLoopSchedule(start: start, rate: 10)
        #expect(s.release(upTo: start - 1) == 0 && s.nextDue == start)
        #expect(s.release(upTo: start) == 1)
        #expect(s.release(upTo: start + 1_000_000_000) == 10)
        #expect(s.released == 11 && s.queued == 11 && s.nextDue == start + 1_100_000_000)

        var limited = OpenLoopSchedule(start: start, rate: 1_000, limit: 5)
        #expect(limited.release(upTo: start + 60_000_000_000) == 5)
        #expect(limited.nextDue == nil && !limited.isDrained)
        for _ in 0..<5 { _ = limited.take(now: start + 60_000_000_000) }
        #expect(limited.isDrained && limited.take(now: 0) == nil)

        var timed = OpenLoopSchedule(start: start, rate: 10, end: start + 1_000_000_000)
        #expect(timed.release(upTo: start + 5_000_000_000) == 10)
        #expect(timed.nextDue == nil)
    }

    @Test func queuedRequestsKeepTheirDueTimeAndCountAsLate() {
        let ms: UInt64 = 1_000_000
        let start: UInt64 = 7 * ms
        var s = OpenLoopSchedule(start: start, rate: 1_000)
        // Nothing was free for 5 ms: six requests (due at 0...5 ms) wait, oldest first.
        #expect(s.release(upTo: start + 5 * ms) == 6)
        let sendAt = start + 5 * ms
        #expect(s.take(now: sendAt) == start)
        #expect(s.take(now: sendAt) == start + ms)
        s.noteBacklog()
        #expect(s.maxQueueDepth == 4)
        while s.take(now: sendAt) != nil {}
        // Due at 0, 1, 2 and 3 ms were sent more than 1 ms late; 4 ms (exactly 1 ms) and 5 ms were not.
        #expect(s.lateSends == 4)
        s.noteBacklog()
        #expect(s.maxQueueDepth == 4 && s.queued == 0)
        // The request due at 0 ms, sent at 5 ms, answered at 7 ms: its latency is 7 ms, not 2 ms.
        #expect(OpenLoopSchedule.latency(scheduled: start, now: start + 7 * ms) == 7 * ms)
        #expect(OpenLoopSchedule.latency(scheduled: start, now: start - 1) == 0)
    }

    @Test func withoutATimerThePollTimeoutRoundsDownToSpinInTheLastMillisecond() {
        let ms: UInt64 = 1_000_000
        var s = OpenLoopSchedule(start: 100 * ms, rate: 10, limit: 1)
        #expect(s.pollTimeoutMillis(now: 0, cap: 5) == 5)
        #expect(s.pollTimeoutMillis(now: 97 * ms, cap: 5) == 3)
        #expect(s.pollTimeoutMillis(now: 97 * ms + 1, cap: 5) == 2)
        #expect(s.pollTimeoutMillis(now: 99 * ms + 500_000, cap: 5) == 0)
        #expect(s.pollTimeoutMillis(now: 101 * ms, cap: 5) == 0)
        s.release(upTo: 100 * ms)
        #expect(s.pollTimeoutMillis(now: 100 * ms, cap: 5) == 5)
    }

    @Test func longQueuesStayFIFO() {
        var s = OpenLoopSchedule(start: 0, rate: 1_000_000)
        s.release(upTo: 10_000_000)
        #expect(s.queued == 10_001)
        var expected = 0
        var inOrder = true
        for _ in 0..<5_000 {
            inOrder = inOrder && s.take(now: 10_000_000) == s.dueTime(expected)
            expected += 1
        }
        s.release(upTo: 12_000_000)
        while let t = s.take(now: 12_000_000) {
            inOrder = inOrder && t == s.dueTime(expected)
            expected += 1
        }
        #expect(inOrder && expected == 12_001)
    }

    @Test func reportSaysWhichLoopAndHowLate() throws {
        var open = try BenchOptions.parse(["--url", "http://h:1/v1", "--rate", "250.5", "-n", "10"], environment: [:])
        var tally = BenchTally()
        tally.succeeded = 10
        tally.scheduled = 10
        tally.lateSends = 3
        tally.maxQueueDepth = 2
        let r = BenchReport(options: open, tally: tally, elapsedSeconds: 0.05)
        let json = try JSONParser.parse(r.json().serializedString)
        #expect(json["mode_loop"]?.stringValue == "open")
        #expect(json["offered_rps"]?.doubleValue == 250.5)
        #expect(json["late_sends"]?.intValue == 3 && json["max_queue_depth"]?.intValue == 2 && json["scheduled"]?.intValue == 10)
        #expect(r.table().contains("200.0 req/s achieved of 250.5 req/s offered"))
        open.rate = nil
        let closed = try JSONParser.parse(BenchReport(options: open, tally: tally, elapsedSeconds: 0.05).json().serializedString)
        #expect(closed["mode_loop"]?.stringValue == "closed")
        #expect(closed["offered_rps"] == .null && closed["late_sends"] == .null && closed["max_queue_depth"] == .null)
    }
}
