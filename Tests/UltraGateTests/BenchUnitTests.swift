import Testing
@testable import UltraGate

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
}
