import UltraGateJSON
import UltraGateSupport
#if canImport(Glibc)
import Glibc
#endif

/// The outcome of a bench run, printable as a table or as JSON.
public struct BenchReport: Sendable {
    public let options: BenchOptions
    public let tally: BenchTally
    public let elapsedSeconds: Double
    public let latency: LatencySummary?
    public let timeToFirstToken: LatencySummary?
    public let interTokenLatency: LatencySummary?

    public init(options: BenchOptions, tally: BenchTally, elapsedSeconds: Double) {
        self.options = options
        self.tally = tally
        self.elapsedSeconds = elapsedSeconds
        latency = tally.latency.summary()
        timeToFirstToken = tally.timeToFirstToken.summary()
        interTokenLatency = tally.interTokenLatency.summary()
    }

    public var requests: Int { tally.finished }
    public var succeeded: Int { tally.succeeded }
    public var errors: [String: Int] { tally.errors }
    public var errorCount: Int { tally.errorCount }
    /// Completed requests (successes and failures) per second.
    public var throughput: Double { elapsedSeconds > 0 ? Double(requests) / elapsedSeconds : 0 }
    public var tokensPerSecond: Double? {
        tally.responsesWithUsage > 0 && elapsedSeconds > 0 ? Double(tally.completionTokens) / elapsedSeconds : nil
    }
    /// Hits over the successful responses that carried an X-Cache header; nil when none did.
    public var hitRatio: Double? {
        let seen = tally.cacheHits + tally.cacheMisses + tally.cacheOther
        return seen > 0 ? Double(tally.cacheHits) / Double(seen) : nil
    }

    public func table() -> String {
        var lines: [String] = []
        func row(_ label: String, _ value: String) { lines.append(label.padding(12) + value) }
        row("target", "\(options.target.url)  model \(options.model)  mode \(options.mode.rawValue)\(options.stream ? "  stream" : "")")
        let connections = options.requests.map { min($0, options.concurrency) } ?? options.concurrency
        let loop = options.rate.map { "open loop at \(Self.format($0, digits: $0 < 100 ? 2 : 0)) req/s offered, " } ?? ""
        row("load", loop + "\(connections) connections on \(options.threads) thread\(options.threads == 1 ? "" : "s")"
            + (options.warmup > 0 ? ", \(options.warmup) warm-up requests not counted" : ""))
        row("requests", "\(requests) in \(Self.format(elapsedSeconds, digits: 3)) s: \(succeeded) ok, \(errorCount) failed")
        if let rate = options.rate {
            row("throughput", "\(Self.format(throughput, digits: 1)) req/s achieved of \(Self.format(rate, digits: rate < 100 ? 2 : 1)) req/s offered")
            row("schedule", "\(tally.scheduled) due, \(tally.lateSends) sent > 1 ms late, max \(tally.maxQueueDepth) waiting for a connection"
                + " (latency counts from the due time)")
        } else {
            row("throughput", "\(Self.format(throughput, digits: 1)) req/s")
        }
        if let latency { row("latency", Self.describe(latency)) }
        if let timeToFirstToken { row("ttft", Self.describe(timeToFirstToken)) }
        if let interTokenLatency { row("inter-token", Self.describe(interTokenLatency)) }
        if let tps = tokensPerSecond {
            row("tokens", "\(tally.completionTokens) completion tokens, \(Self.format(tps, digits: 1)) tokens/s (usage in \(tally.responsesWithUsage) responses)")
        }
        if let ratio = hitRatio {
            row("cache", "X-Cache hit ratio \(Self.format(ratio * 100, digits: 2)) % (\(tally.cacheHits) HIT, \(tally.cacheMisses) MISS\(tally.cacheOther > 0 ? ", \(tally.cacheOther) other" : ""))")
        }
        if !errors.isEmpty {
            row("errors", errors.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    public func json() -> JSON {
        var o: JSONObject = [
            "url": .string(options.target.url), "model": .string(options.model), "mode": .string(options.mode.rawValue),
            "stream": .bool(options.stream), "concurrency": Self.int(options.concurrency), "threads": Self.int(options.threads),
            "warmup": Self.int(options.warmup), "duration_s": Self.num(elapsedSeconds, 6),
            "requests": Self.int(requests), "succeeded": Self.int(succeeded), "failed": Self.int(errorCount),
            "throughput_rps": Self.num(throughput, 2),
        ]
        o["mode_loop"] = .string(options.rate == nil ? "closed" : "open")
        o["offered_rps"] = options.rate.map { .number(Self.compact($0)) } ?? .null
        o["scheduled"] = options.rate == nil ? .null : Self.int(tally.scheduled)
        o["late_sends"] = options.rate == nil ? .null : Self.int(tally.lateSends)
        o["max_queue_depth"] = options.rate == nil ? .null : Self.int(tally.maxQueueDepth)
        o["latency_ms"] = latency.map(Self.json) ?? .null
        o["ttft_ms"] = timeToFirstToken.map(Self.json) ?? .null
        o["inter_token_ms"] = interTokenLatency.map(Self.json) ?? .null
        o["completion_tokens"] = Self.int(tally.completionTokens)
        o["tokens_per_second"] = tokensPerSecond.map { Self.num($0, 2) } ?? .null
        o["cache"] = hitRatio.map { ratio in
            ["hits": Self.int(tally.cacheHits), "misses": Self.int(tally.cacheMisses), "other": Self.int(tally.cacheOther),
             "hit_ratio": Self.num(ratio, 6)]
        } ?? .null
        var errs = JSONObject()
        for (k, v) in errors.sorted(by: { $0.key < $1.key }) { errs.append(k, Self.int(v)) }
        o["errors"] = .object(errs)
        return .object(o)
    }

    package static func describe(_ s: LatencySummary) -> String {
        "p50 \(ms(s.p50Ms))  p90 \(ms(s.p90Ms))  p99 \(ms(s.p99Ms))  max \(ms(s.maxMs))  mean \(ms(s.meanMs))  (n=\(s.count))"
    }

    package static func json(_ s: LatencySummary) -> JSON {
        ["count": int(s.count), "min": num(s.minMs, 4), "mean": num(s.meanMs, 4), "p50": num(s.p50Ms, 4), "p90": num(s.p90Ms, 4),
         "p99": num(s.p99Ms, 4), "p99.9": num(s.p999Ms, 4), "max": num(s.maxMs, 4)]
    }

    /// The offered rate as given: whole numbers without a fraction, others with up to 6 digits.
    package static func compact(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int(v)) }
        var s = format(v, digits: 6)
        while s.hasSuffix("0") { s.removeLast() }
        return s
    }

    package static func ms(_ v: Double) -> String { v < 10 ? format(v, digits: 3) + " ms" : format(v, digits: 1) + " ms" }
    package static func int(_ v: Int) -> JSON { .number(String(v)) }
    package static func num(_ v: Double, _ digits: Int) -> JSON { .number(format(v, digits: digits)) }

    /// Fixed-point formatting without Foundation's String(format:).
    package static func format(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let frac = Int(scaled - Double(whole) * scale)
        var s = (value < 0 && scaled > 0 ? "-" : "") + String(whole)
        if digits > 0 {
            let f = String(frac)
            s += "." + String(repeating: "0", count: max(0, digits - f.count)) + f
        }
        return s
    }
}

extension String {
    /// Padded with spaces to `width` characters; a longer string gets one space after it.
    package func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
