import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// The timing breakdown of one request, for the W3C `Server-Timing` response header
/// (`cache;dur=0.012, upstream;dur=85.3, total;dur=85.9`) and the access log. Phases are a fixed
/// set stored inline (no allocation); only phases that happened are written, in a fixed order.
/// The number of upstream attempts rides along as `attempts;desc=2` (a count, not a duration:
/// W3C Server Timing allows a metric with only a `desc` parameter, a token here).
///
/// A stream sends what is known when its head goes out (`headPart`: cache, time to headers) in
/// the head, and the rest (`trailerPart`) in a `Server-Timing` trailer field after the last chunk.
public struct ServerTiming: Sendable, Equatable {
    public enum Phase: Int, Sendable, CaseIterable {
        /// `headers`: from the request's arrival to its response head going out (streams).
        /// `ttft`: the answering upstream call's time to its first chunk with content (streams).
        /// `upstream`: from the first upstream attempt's start to the answer's end, so every
        /// attempt and every wait between them. `retry`: the waits between attempts alone.
        case parse, cache, headers, ttft, upstream, retry, synth, total

        public var name: String {
            switch self {
            case .parse: return "parse"
            case .cache: return "cache"
            case .headers: return "headers"
            case .ttft: return "ttft"
            case .upstream: return "upstream"
            case .retry: return "retry"
            case .synth: return "synth"
            case .total: return "total"
            }
        }

        /// Known when a stream's head goes out.
        package var isKnownAtHead: Bool { self == .parse || self == .cache || self == .headers }
    }

    /// Seconds per phase; NaN means the phase did not happen.
    private var seconds: (Double, Double, Double, Double, Double, Double, Double, Double) =
        (.nan, .nan, .nan, .nan, .nan, .nan, .nan, .nan)

    /// Upstream calls made for the answer (first attempt, retries, fallbacks); 0 when none.
    public var attempts = 0

    public init() {}

    /// Sets a phase's duration (repeated calls for one phase add up).
    public mutating func record(_ phase: Phase, seconds value: Double) {
        let v = max(0, value.isFinite ? value : 0)
        withUnsafeMutableBytes(of: &seconds) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: Double.self)
            p[phase.rawValue] = p[phase.rawValue].isNaN ? v : p[phase.rawValue] + v
        }
    }

    /// The phase's duration in seconds, or nil when it did not happen.
    public subscript(phase: Phase) -> Double? {
        let v = storedSeconds(raw: phase.rawValue)
        return v.isNaN ? nil : v
    }

    private func storedSeconds(raw: Int) -> Double {
        withUnsafeBytes(of: seconds) { $0.load(fromByteOffset: raw * 8, as: Double.self) }
    }

    private mutating func clear(_ keep: (Phase) -> Bool) {
        withUnsafeMutableBytes(of: &seconds) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: Double.self)
            for phase in Phase.allCases where !keep(phase) { p[phase.rawValue] = .nan }
        }
    }

    public var isEmpty: Bool { attempts == 0 && Phase.allCases.allSatisfy { self[$0] == nil } }

    /// Only what a stream's head can tell (parse, cache, time to headers).
    public var headPart: ServerTiming {
        var t = self
        t.clear { $0.isKnownAtHead }
        t.attempts = 0
        return t
    }

    /// Everything but the head's part: what a stream's trailer tells.
    public var trailerPart: ServerTiming {
        var t = self
        t.clear { !$0.isKnownAtHead }
        return t
    }

    /// The phases that happened, in order, with milliseconds.
    public var phasesMilliseconds: [(phase: Phase, milliseconds: Double)] {
        Phase.allCases.compactMap { p in self[p].map { (p, $0 * 1000) } }
    }

    /// The header value, durations in milliseconds with at most three decimals.
    public var headerValue: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(80)
        appendHeaderValue(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the header value as bytes (no `String` building: this runs on every response).
    public func appendHeaderValue(to bytes: inout [UInt8]) {
        var first = true
        func separate() {
            if !first { bytes.append(0x2C); bytes.append(0x20) }  // ", "
            first = false
        }
        for raw in 0..<Self.phaseNames.count {  // not `allCases`: that builds an array per call
            let s = storedSeconds(raw: raw)
            if !s.isNaN {
                separate()
                bytes.append(contentsOf: Self.phaseNames[raw])
                bytes.append(contentsOf: Self.durPrefix)
                Self.appendMilliseconds(s * 1000, to: &bytes)
            }
            if raw == Phase.retry.rawValue && attempts > 0 {
                separate()
                bytes.append(contentsOf: Self.attemptsPrefix)
                Self.appendDecimal(UInt64(attempts), to: &bytes)
            }
        }
    }

    private static let phaseNames: [[UInt8]] = Phase.allCases.map { Array($0.name.utf8) }
    private static let durPrefix: [UInt8] = Array(";dur=".utf8)
    private static let attemptsPrefix: [UInt8] = Array("attempts;desc=".utf8)

    /// `85.3`, `0.012`, `0`: rounded to microseconds, trailing zeros dropped.
    package static func appendMilliseconds(_ ms: Double, to bytes: inout [UInt8]) {
        let micros = UInt64(min((max(0, ms) * 1000).rounded(), 1e15))
        appendDecimal(micros / 1000, to: &bytes)
        var frac = micros % 1000
        guard frac != 0 else { return }
        bytes.append(0x2E)  // "."
        var digits = 3
        while frac % 10 == 0 { frac /= 10; digits -= 1 }
        var divisor: UInt64 = digits == 3 ? 100 : digits == 2 ? 10 : 1
        while divisor > 0 {
            bytes.append(0x30 + UInt8(frac / divisor % 10))
            divisor /= 10
        }
    }

    private static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            bytes.append(0x30 + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }

    public static func == (lhs: ServerTiming, rhs: ServerTiming) -> Bool {
        lhs.attempts == rhs.attempts && Phase.allCases.allSatisfy { lhs[$0] == rhs[$0] }
    }
}
