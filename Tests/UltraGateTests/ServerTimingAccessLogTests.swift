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

@Suite struct ServerTimingTests {
    @Test func headerListsOnlyPhasesThatHappenedInMilliseconds() {
        var t = ServerTiming()
        #expect(t.headerValue == "")
        #expect(t.isEmpty)
        t.record(.total, seconds: 0.0859)
        t.record(.cache, seconds: 0.000012)
        t.record(.upstream, seconds: 0.0853)
        t.record(.synth, seconds: 0)
        #expect(t.headerValue == "cache;dur=0.012, upstream;dur=85.3, synth;dur=0, total;dur=85.9")
        #expect(t[.parse] == nil)
        #expect(t[.upstream] == 0.0853)
    }

    @Test func millisecondsRoundToThreeDecimals() {
        func ms(_ seconds: Double) -> String {
            var t = ServerTiming()
            t.record(.total, seconds: seconds)
            return t.headerValue
        }
        #expect(ms(1.5) == "total;dur=1500")
        #expect(ms(0.0000004) == "total;dur=0")
        #expect(ms(0.0000005) == "total;dur=0.001")
        #expect(ms(0.00123456) == "total;dur=1.235")
        #expect(ms(0.01201) == "total;dur=12.01")
        #expect(ms(-1) == "total;dur=0")
    }

    @Test func repeatedPhasesAddUp() {
        var t = ServerTiming()
        t.record(.upstream, seconds: 0.1)
        t.record(.upstream, seconds: 0.2)
        #expect(abs(t[.upstream]! - 0.3) < 1e-12)
    }

    @Test func headerMatchesTheW3CSyntax() {
        var t = ServerTiming()
        for (i, phase) in ServerTiming.Phase.allCases.enumerated() { t.record(phase, seconds: Double(i) * 0.0101) }
        t.attempts = 12
        // server-timing-metric = metric-name *( OWS ";" OWS server-timing-param ), list separated by
        // ","; server-timing-param = ("dur" / "desc") "=" (token / quoted-string)
        let token = #"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"#
        let metric = "\(token)(;dur=[0-9]+(\\.[0-9]{1,3})?|;desc=\(token))"
        let regex = try! NSRegularExpression(pattern: "^\(metric)(, \(metric))*$")
        let value = t.headerValue
        #expect(regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil, "\(value)")
        #expect(value.split(separator: ",").count == ServerTiming.Phase.allCases.count + 1)
    }

    @Test func retriesAndAttemptsAreTheirOwnMetrics() {
        var t = ServerTiming()
        t.record(.cache, seconds: 0.00001)
        t.record(.upstream, seconds: 0.1528)
        t.record(.retry, seconds: 0.1501)
        t.attempts = 2
        t.record(.total, seconds: 0.153)
        #expect(t.headerValue == "cache;dur=0.01, upstream;dur=152.8, retry;dur=150.1, attempts;desc=2, total;dur=153")
        // No upstream call: no attempts metric.
        var hit = ServerTiming()
        hit.record(.cache, seconds: 0.001)
        #expect(hit.headerValue == "cache;dur=1")
        #expect(!hit.isEmpty && ServerTiming().isEmpty)
        var counted = ServerTiming()
        counted.attempts = 1
        #expect(!counted.isEmpty && counted != ServerTiming())
    }

    @Test func aStreamsHeadTellsWhatIsKnownThenTheTrailerTheRest() {
        var t = ServerTiming()
        t.record(.cache, seconds: 0.00002)
        t.record(.headers, seconds: 0.0015)
        t.record(.ttft, seconds: 0.5)
        t.record(.upstream, seconds: 0.9)
        t.attempts = 1
        t.record(.total, seconds: 0.91)
        #expect(t.headPart.headerValue == "cache;dur=0.02, headers;dur=1.5")
        #expect(t.trailerPart.headerValue == "ttft;dur=500, upstream;dur=900, attempts;desc=1, total;dur=910")
        #expect(t.headerValue == "cache;dur=0.02, headers;dur=1.5, ttft;dur=500, upstream;dur=900, attempts;desc=1, total;dur=910")
    }
}

@Suite struct AccessLogTests {
    func sampleEntry() -> AccessLogEntry {
        var timing = ServerTiming()
        timing.record(.cache, seconds: 0.000012)
        timing.record(.upstream, seconds: 0.0853)
        timing.record(.total, seconds: 0.0859)
        return AccessLogEntry(
            time: 1_700_000_000.25, requestID: "req-1", method: "POST", route: "/v1/chat/completions",
            models: ["gpt-4o"], provider: "openai", cache: .miss, status: 200, bytesIn: 312, bytesOut: 1_024,
            timing: timing, promptTokens: 12, completionTokens: 30, cachedTokens: 0, costUSD: 0.00033)
    }

    @Test func lineIsOneJSONObjectWithTheExpectedKeys() throws {
        var bytes: [UInt8] = []
        sampleEntry().appendLine(to: &bytes)
        #expect(bytes.last == 0x0A)
        #expect(bytes.filter { $0 == 0x0A }.count == 1)
        let json = try JSONParser.parse(Array(bytes.dropLast()))
        let keys = try #require(json.objectValue?.keys)
        #expect(keys == ["time", "request_id", "method", "route", "model", "provider", "cache", "status",
                         "bytes_in", "bytes_out", "timing_ms", "tokens", "cost_usd"])
        #expect(json["time"]?.stringValue == "2023-11-14T22:13:20.250Z")
        #expect(json["status"]?.intValue == 200)
        #expect(json["cache"]?.stringValue == "miss")
        #expect(json["timing_ms"]?["upstream"]?.doubleValue == 85.3)
        #expect(json["timing_ms"]?["cache"]?.doubleValue == 0.012)
        #expect(json["timing_ms"]?.objectValue?.keys == ["cache", "upstream", "total"])
        #expect(json["tokens"]?["completion"]?.intValue == 30)
        #expect(json["cost_usd"]?.doubleValue == 0.00033)
    }

    @Test func retriedStreamLogsTimeToFirstTokenRetryWaitAndAttempts() throws {
        var entry = sampleEntry()
        entry.timing.record(.headers, seconds: 0.002)
        entry.timing.record(.ttft, seconds: 0.5)
        entry.timing.record(.retry, seconds: 0.15)
        entry.timing.attempts = 2
        var bytes: [UInt8] = []
        entry.appendLine(to: &bytes)
        let json = try JSONParser.parse(Array(bytes.dropLast()))
        #expect(json["timing_ms"]?.objectValue?.keys == ["cache", "headers", "ttft", "upstream", "retry", "total"])
        #expect(json["timing_ms"]?["ttft"]?.doubleValue == 500)
        #expect(json["timing_ms"]?["retry"]?.doubleValue == 150)
        #expect(json["attempts"]?.intValue == 2)
        #expect(json.objectValue?.keys.firstIndex(of: "attempts") == json.objectValue?.keys.firstIndex(of: "timing_ms").map { $0 + 1 })
    }

    @Test func ensembleListsAllModelsAndMissingPartsAreNull() throws {
        var entry = AccessLogEntry(requestID: "r", method: "GET", route: "/v1/models", status: 404)
        var bytes: [UInt8] = []
        entry.appendLine(to: &bytes)
        var json = try JSONParser.parse(Array(bytes.dropLast()))
        #expect(json["model"] == .null)
        #expect(json["tokens"] == nil)
        #expect(json["cost_usd"] == .null)
        entry.models = ["a", "b"]
        entry.errorKind = "upstream_timeout"
        bytes = []
        entry.appendLine(to: &bytes)
        json = try JSONParser.parse(Array(bytes.dropLast()))
        #expect(json["model"]?.stringValue == "a")
        #expect(json["models"] == ["a", "b"])
        #expect(json["error"]?.stringValue == "upstream_timeout")
    }

    @Test func backgroundWriterDeliversEveryLineInOrder() throws {
        let collected = LockedBox<[UInt8]>([])
        let log = try AccessLog(destination: .sink { batch in collected.update { $0 += batch } })
        for i in 0..<500 {
            var e = sampleEntry()
            e.requestID = "req-\(i)"
            log.log(e)
        }
        log.flush()
        let lines = collected.value.split(separator: 0x0A)
        #expect(lines.count == 500)
        for (i, line) in lines.enumerated() {
            let json = try JSONParser.parse(Array(line))
            #expect(json["request_id"]?.stringValue == "req-\(i)")
            // Only metadata: the entry type has no field for prompts, completions or keys.
            #expect(json.objectValue?.keys.contains { ["messages", "content", "authorization", "api_key"].contains($0) } == false)
        }
        log.close()
        log.log(sampleEntry())  // after close: dropped, not written
        #expect(log.droppedCount == 1)
        #expect(collected.value.split(separator: 0x0A).count == 500)
    }

    @Test func writesToAFileAndCanBeDisabled() throws {
        let path = NSTemporaryDirectory() + "ultragate-access-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try AccessLog(destination: .file(path: path))
        log.log(sampleEntry())
        log.log(sampleEntry())
        log.close()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 2)

        let off = try AccessLog(destination: .disabled)
        #expect(!off.isEnabled)
        off.log(sampleEntry())
        off.flush()
        off.close()

        #expect(throws: AccessLog.OpenError.self) { try AccessLog(destination: .file(path: "/nonexistent-dir/x.log")) }
    }

    @Test func fullQueueDropsInsteadOfBlocking() throws {
        let gate = NSCondition()
        let release = LockedBox(false)
        let entered = LockedBox(false)
        let log = try AccessLog(destination: .sink { _ in
            gate.lock()
            entered.update { $0 = true }
            gate.broadcast()
            while !release.value { gate.wait() }
            gate.unlock()
        }, maxPending: 10)
        log.log(sampleEntry())  // the writer takes this one and blocks in the sink
        gate.lock()
        while !entered.value { gate.wait() }
        gate.unlock()
        for _ in 0..<25 { log.log(sampleEntry()) }
        #expect(log.droppedCount == 15)
        gate.lock()
        release.update { $0 = true }
        gate.broadcast()
        gate.unlock()
        log.close()
    }
}
