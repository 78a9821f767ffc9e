import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Renders family snapshots in the Prometheus text exposition format 0.0.4: `# HELP` and
/// `# TYPE` before each family's samples, histograms as cumulative `_bucket{le=…}` lines ending
/// with `+Inf`, then `_sum` and `_count`. Order is as given (the registry sorts families by name
/// and children by label values), so equal states give equal text.
public enum PrometheusExposition {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ families: [MetricFamilySnapshot]) -> String {
        var out = ""
        out.reserveCapacity(families.count * 256)
        for family in families { render(family, into: &out) }
        return out
    }

    package static func render(_ family: MetricFamilySnapshot, into out: inout String) {
        out += "# HELP \(family.name) \(escapeHelp(family.help))\n"
        out += "# TYPE \(family.name) \(family.kind.rawValue)\n"
        for sample in family.samples {
            let pairs = zip(family.labelNames, sample.labelValues).map { ($0, $1) }
            switch sample.value {
            case .scalar(let v):
                writeLine(&out, family.name, pairs, v)
            case .histogram(let h):
                let cumulative = h.cumulativeCounts
                for (i, bound) in h.upperBounds.enumerated() {
                    writeLine(&out, family.name + "_bucket", pairs + [("le", formatValue(bound))], Double(cumulative[i]))
                }
                writeLine(&out, family.name + "_bucket", pairs + [("le", "+Inf")], Double(cumulative.last ?? 0))
                writeLine(&out, family.name + "_sum", pairs, h.sum)
                writeLine(&out, family.name + "_count", pairs, Double(h.count))
            }
        }
    }

    private static func writeLine(_ out: inout String, _ name: String, _ labels: [(String, String)], _ value: Double) {
        out += name
        if !labels.isEmpty {
            out += "{"
            for (i, (label, labelValue)) in labels.enumerated() {
                if i > 0 { out += "," }
                out += label
                out += "=\""
                out += escapeLabelValue(labelValue)
                out += "\""
            }
            out += "}"
        }
        out += " "
        out += formatValue(value)
        out += "\n"
    }

    /// Label values escape backslash, double quote and line feed.
    public static func escapeLabelValue(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 4)
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// HELP text escapes backslash and line feed (not quotes).
    public static func escapeHelp(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x0A }) else { return s }
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// Go-style float text: integers without a fraction, `+Inf`/`-Inf`/`NaN`, otherwise the
    /// shortest text that round-trips.
    public static func formatValue(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
