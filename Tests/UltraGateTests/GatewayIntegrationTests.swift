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

@Suite(.serialized) struct GatewayIntegrationTests {
    @Test func concurrentIdenticalMissesMakeOneUpstreamCall() async throws {
        let provider = ScriptedChatProvider(delayMs: 300)
        let h = try GatewayHarness(routes: [route("m", provider)])
        let results = await concurrently(8) { _ in try h.chat("m", "burst") }
        let responses = try results.map { try $0.get() }
        #expect(responses.allSatisfy { $0.status == 200 })
        #expect(Set(responses.map(\.text)).count == 1)
        #expect(provider.callCount == 1)
        let again = try await blocking { try h.chat("m", "burst") }
        #expect(again.header("X-Cache") == "HIT")
        #expect(again.text == responses[0].text)
        #expect(provider.callCount == 1)
    }

    @Test func streamedMissIsTeedToEveryWaiterAsItArrives() async throws {
        let provider = ScriptedChatProvider(delayMs: 50, chunkDelayMs: 60)
        let h = try GatewayHarness(routes: [route("m", provider)])
        let results = await concurrently(3) { _ -> (String, Double, Double) in
            let c = try h.client()
            let start = Date()
            var firstChunkAt: Double?
            c.post("/v1/chat/completions", json: GatewayHarness.body("m", "tee", stream: true))
            let r = try c.readResponse { _ in if firstChunkAt == nil { firstChunkAt = Date().timeIntervalSince(start) } }
            return (r.text, firstChunkAt ?? 0, Date().timeIntervalSince(start))
        }
        let outs = try results.map { try $0.get() }
        #expect(provider.callCount == 1)
        for (text, first, total) in outs {
            #expect(text.hasSuffix("data: [DONE]\n\n"))
            #expect(first < total - 0.2, "the first chunk must arrive before the stream ends, not buffered")
        }
        let contents = outs.map { Self.streamText($0.0) }
        #expect(Set(contents).count == 1 && !contents[0].isEmpty)
        // The assembled stream was stored once complete: a plain request now hits.
        let hit = try await blocking { try h.chat("m", "tee") }
        #expect(hit.header("X-Cache") == "HIT")
        #expect(hit.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == contents[0])
    }

    static func streamText(_ sse: String) -> String {
        sse.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("data: {"), let json = try? JSONParser.parse(String(line.dropFirst(6))) else { return nil }
            return json["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue
        }.joined()
    }

    @Test func retryableFailuresAreRetried() async throws {
        let provider = ScriptedChatProvider()
        provider.failNext(.status(429, retryAfter: 0.01), .status(503))
        let h = try GatewayHarness(routes: [route("m", provider)])
        let r = try await blocking { try h.chat("m", "retry me") }
        #expect(r.status == 200)
        #expect(provider.callCount == 3)
    }

    @Test func nonRetryableFailureIsReturnedWithItsStatus() async throws {
        let provider = ScriptedChatProvider()
        provider.failNext(.status(400))
        let h = try GatewayHarness(routes: [route("m", provider)])
        let r = try await blocking { try h.chat("m", "bad") }
        #expect(r.status == 400)
        #expect(provider.callCount == 1)
        #expect(r.json?["error"]?["message"]?.stringValue?.contains("scripted 400") == true)
    }

    @Test func rateLimitKeepsStatusAndRetryAfter() async throws {
        let provider = ScriptedChatProvider()
        provider.failNext(.status(429, retryAfter: 30))
        let h = try GatewayHarness(routes: [route("m", provider, maxAttempts: 1)])
        let r = try await blocking { try h.chat("m", "limited") }
        #expect(r.status == 429)
        #expect(r.header("Retry-After") == "30")
        #expect(r.json?["error"]?["type"]?.stringValue == "rate_limit_error")
    }

    @Test func fallbackAnswerIsCachedUnderTheModelThatProducedIt() async throws {
        let a = ScriptedChatProvider(name: "pa")
        let b = ScriptedChatProvider(name: "pb")
        a.failNext(.status(500), .status(500), .status(500))
        let h = try GatewayHarness(routes: [route("A", a, fallbacks: ["B"]), route("B", b)])
        let r = try await blocking { try h.chat("A", "fall back") }
        #expect(r.status == 200)
        #expect(r.header("X-UltraGate-Model") == "B")
        #expect(r.json?["model"]?.stringValue == "B")
        #expect(a.callCount == 3 && b.callCount == 1)
        let direct = try await blocking { try h.chat("B", "fall back") }
        #expect(direct.header("X-Cache") == "HIT")
        let again = try await blocking { try h.chat("A", "fall back") }
        #expect(again.header("X-Cache") == "MISS")
        #expect(again.header("X-UltraGate-Model") == "A")
        #expect(a.callCount == 4)
    }

    /// Each chunk comes 2 s after the last (a stream of half a minute or more): only a cancellation
    /// lets the wait end before the time limit, with no wall-clock bound of its own.
    @Test(.timeLimit(.minutes(1))) func clientDisconnectMidStreamCancelsTheUpstream() async throws {
        let provider = ScriptedChatProvider(chunkDelayMs: 2000)
        let h = try GatewayHarness(routes: [route("m", provider)])
        try await blocking {
            let c = try h.client()
            c.post("/v1/chat/completions", json: GatewayHarness.body("m", "leave early", stream: true))
            _ = try c.readLine()  // status line: the stream has started
            c.closeNow()
        }
        while provider.cancellations == 0 { try await Task.sleep(nanoseconds: 20_000_000) }
        #expect(provider.cancellations == 1)
        // nothing partial was cached
        let r = try await blocking { try h.chat("m", "leave early") }
        #expect(r.header("X-Cache") == "MISS")
    }

    @Test func keepAliveCommentsFlowWhileTheFirstTokenIsAwaited() async throws {
        let provider = ScriptedChatProvider(delayMs: 700)
        let h = try GatewayHarness(routes: [route("m", provider)], keepAlive: 0.2)
        let r = try await blocking {
            let c = try h.client()
            c.post("/v1/chat/completions", json: GatewayHarness.body("m", "slow start", stream: true))
            return try c.readResponse()
        }
        #expect(r.status == 200)
        #expect(r.text.hasPrefix(": keep-alive"))
        #expect(r.text.hasSuffix("data: [DONE]\n\n"))
    }

    /// A retry gets a whole keep-alive interval before the stream starts, as the first attempt
    /// does: a final 429 then still reaches the client as HTTP 429, not as an event inside a 200
    /// (a tick counted from the request's arrival fell 0.08 s into a retry and started it).
    @Test func aRetryHasItsWholeIntervalBeforeAKeepAliveStartsTheStream() async throws {
        let provider = ScriptedChatProvider(delayMs: 400)
        provider.failNext(.status(429, retryAfter: 0.1), .status(429, retryAfter: 0.1))
        // Attempts 0-0.4 s and 0.4-0.8 s; the tick at 0.7 s falls 0.3 s into the retry.
        let h = try GatewayHarness(routes: [route("m", provider, maxAttempts: 2)], keepAlive: 0.7)
        let r = try await blocking { try h.chat("m", "retried slowly", stream: true) }
        #expect(provider.callCount == 2)
        #expect(r.status == 429, "\(r.status) \(r.text)")
        #expect(r.header("Retry-After") != nil)
    }

    /// The Responses API keeps a slow start alive the same way, and its events then follow; a
    /// failure after keep-alives alone is the whole failed sequence, `response.created` first.
    @Test func responsesStreamsKeepASlowStartAlive() async throws {
        let provider = ScriptedChatProvider(delayMs: 700)
        let h = try GatewayHarness(routes: [route("m", provider)], keepAlive: 0.2)
        let body = #"{"model":"m","input":"slow start","stream":true}"#
        let r = try await blocking {
            let c = try h.client()
            c.post("/v1/responses", json: body)
            return try c.readResponse()
        }
        #expect(r.status == 200)
        #expect(r.text.hasPrefix(": keep-alive"))
        let types = r.text.components(separatedBy: "\n").filter { $0.hasPrefix("event: ") }
        #expect(types.first == "event: response.created" && types.last == "event: response.completed")
        provider.failNext(.status(400))
        let failed = try await blocking {
            let c = try h.client()
            c.post("/v1/responses", json: #"{"model":"m","input":"slow failure","stream":true}"#)
            return try c.readResponse()
        }
        #expect(failed.status == 200 && failed.text.hasPrefix(": keep-alive"))
        let failedTypes = failed.text.components(separatedBy: "\n").filter { $0.hasPrefix("event: ") }
        #expect(failedTypes == ["event: response.created", "event: response.in_progress", "event: error", "event: response.failed"])
        let sequence = failed.text.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }
            .compactMap { try? JSONParser.parse(Array($0.dropFirst(6).utf8)) }.compactMap { $0["sequence_number"]?.intValue }
        #expect(sequence == [0, 1, 2, 3])
    }

    @Test func gracefulShutdownFinishesRequestsInFlight() async throws {
        let provider = ScriptedChatProvider(delayMs: 500)
        let h = try GatewayHarness(routes: [route("m", provider)])
        let c = try h.client()
        c.post("/v1/chat/completions", json: GatewayHarness.body("m", "finish me"))
        try await Task.sleep(nanoseconds: 100_000_000)
        let shutdown = Task.detached { try await blocking { h.server.shutdown() } }
        let r = try await blocking { try c.readResponse() }
        #expect(r.status == 200)
        #expect(r.header("Connection") == "close")
        try await shutdown.value
        #expect(throws: (any Error).self) { _ = try TestHTTPClient(port: h.port) }
    }

    /// RFC 9110 §15.5.16 and §12.5.3: a body in a coding the gateway does not decode is a 415 that
    /// names the coding it takes; the body was read, so the pipelined requests after it are answered.
    @Test func contentEncodingOtherThanIdentityIs415() async throws {
        let provider = ScriptedChatProvider()
        let h = try GatewayHarness(routes: [route("m", provider)])
        let body = GatewayHarness.body("m", "coded")
        let responses = try await blocking {
            let c = try h.client()
            for coding in ["gzip", "gzip, identity", "IDENTITY", "br", " identity ,identity"] {
                c.post("/v1/chat/completions", json: body, headers: ["Content-Encoding": coding])
            }
            return try (0..<5).map { _ in try c.readResponse() }
        }
        #expect(responses.map(\.status) == [415, 415, 200, 415, 200])
        let refused = responses[0]
        #expect(refused.header("Accept-Encoding") == "identity")
        #expect(refused.json?["error"]?["code"]?.stringValue == "unsupported_content_encoding")
        #expect(refused.json?["error"]?["type"]?.stringValue == "invalid_request_error")
        #expect(refused.json?["error"]?["param"]?.isNull == true)
        #expect(refused.json?["error"]?["message"]?.stringValue?.contains("`gzip`") == true)
        #expect(responses[1].json?["error"]?["message"]?.stringValue?.contains("`gzip, identity`") == true)
        #expect(provider.callCount == 1)
    }

    @Test func slowClientGets408() async throws {
        var sc = HTTPServerConfig()
        sc.requestReadTimeout = 1
        sc.readInactivityTimeout = 1
        let h = try GatewayHarness(routes: [route("m", ScriptedChatProvider())], serverConfig: sc)
        let (r, closed) = try await blocking {
            let c = try h.client()
            c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            let r = try c.readResponse()
            return (r, c.isClosedByServer())
        }
        #expect(r.status == 408)
        #expect(closed)
    }
}
