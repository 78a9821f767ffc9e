/// The timing breakdown of one request, for the W3C `Server-Timing` response header
/// (`cache;dur=0.012, upstream;dur=85.3, total;dur=85.9`) and the access log. Phases are a fixed
/// set stored inline (no allocation); only phases that happened are written, in a fixed order.
public struct ServerTiming: Sendable, Equatable {
    public enum Phase: Int, Sendable, CaseIterable {
        case parse, cache, upstream, synth, total

        public var name: String {
            switch self {
            case .parse: return "parse"
            case .cache: return "cache"
            case .upstream: return "upstream"
            case .synth: return "synth"
            case .total: return "total"
            }
        }
    }

    /// Seconds per phase; NaN means the phase did not happen.
    private var seconds: (Double, Double, Double, Double, Double) = (.nan, .nan, .nan, .nan, .nan)

    public init() {}

    /// Sets a phase's duration (repeated calls for one phase add up, e.g. retried upstream calls).
    public mutating func record(_ phase: Phase, seconds value: Double) {
        let v = max(0, value.isFinite ? value : 0)
        withUnsafeMutableBytes(of: &seconds) { raw in
            let p = raw.baseAddress!.assumingMemoryBound(to: Double.self)
            p[phase.rawValue] = p[phase.rawValue].isNaN ? v : p[phase.rawValue] + v
        }
    }

    /// The phase's duration in seconds, or nil when it did not happen.
    public subscript(phase: Phase) -> Double? {
        let v = withUnsafeBytes(of: seconds) { $0.load(fromByteOffset: phase.rawValue * 8, as: Double.self) }
        return v.isNaN ? nil : v
    }

    public var isEmpty: Bool { Phase.allCases.allSatisfy { self[$0] == nil } }

    /// The phases that happened, in order, with milliseconds.
    public var phasesMilliseconds: [(phase: Phase, milliseconds: Double)] {
        Phase.allCases.compactMap { p in self[p].map { (p, $0 * 1000) } }
    }

    /// The header value, durations in milliseconds with at most three decimals.
    public var headerValue: String {
        var out = ""
        out.reserveCapacity(80)
        for phase in Phase.allCases {
            guard let s = self[phase] else { continue }
            if !out.isEmpty { out += ", " }
            out += phase.name
            out += ";dur="
            Self.appendMilliseconds(s * 1000, to: &out)
        }
        return out
    }

    /// `85.3`, `0.012`, `0`: rounded to microseconds, trailing zeros dropped.
    static func appendMilliseconds(_ ms: Double, to out: inout String) {
        let micros = Int64((max(0, ms) * 1000).rounded())
        out += String(micros / 1000)
        var frac = micros % 1000
        guard frac != 0 else { return }
        var digits = 3
        while frac % 10 == 0 { frac /= 10; digits -= 1 }
        out += "."
        let text = String(frac)
        if text.count < digits { out += String(repeating: "0", count: digits - text.count) }
        out += text
    }

    public static func == (lhs: ServerTiming, rhs: ServerTiming) -> Bool {
        Phase.allCases.allSatisfy { lhs[$0] == rhs[$0] }
    }
}
