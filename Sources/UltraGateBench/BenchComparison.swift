import UltraGateJSON
import UltraGateSupport
/// The reports of one `ultragate bench` run per model (`--model a --model b`), printed side by
/// side: one column per model. Its JSON is `{"runs": [report, …]}`, each report as a single
/// model's run prints it alone.
public struct BenchComparison: Sendable {
    public let reports: [BenchReport]

    public init(reports: [BenchReport]) { self.reports = reports }

    public func json() -> JSON {
        .object(["runs": .array(reports.map { $0.json() })])
    }

    public func table() -> String {
        guard let first = reports.first else { return "" }
        let options = first.options
        func ms(_ summary: LatencySummary?, _ pick: (LatencySummary) -> Double) -> String {
            summary.map { BenchReport.ms(pick($0)) } ?? "-"
        }
        var rows: [(String, (BenchReport) -> String)] = [
            ("model", { $0.options.model }),
            ("requests", { "\($0.requests)" }),
            ("ok / failed", { "\($0.succeeded) / \($0.errorCount)" }),
            ("seconds", { BenchReport.format($0.elapsedSeconds, digits: 3) }),
            ("req/s", { BenchReport.format($0.throughput, digits: 1) }),
            ("latency p50", { ms($0.latency, \.p50Ms) }),
            ("latency p90", { ms($0.latency, \.p90Ms) }),
            ("latency p99", { ms($0.latency, \.p99Ms) }),
            ("latency max", { ms($0.latency, \.maxMs) }),
        ]
        if reports.contains(where: { $0.timeToFirstToken != nil }) {
            rows += [("ttft p50", { ms($0.timeToFirstToken, \.p50Ms) }), ("ttft p99", { ms($0.timeToFirstToken, \.p99Ms) }),
                     ("inter-token p50", { ms($0.interTokenLatency, \.p50Ms) })]
        }
        rows += [
            ("tokens/s", { $0.tokensPerSecond.map { BenchReport.format($0, digits: 1) } ?? "-" }),
            ("cache hits", { $0.hitRatio.map { BenchReport.format($0 * 100, digits: 2) + " %" } ?? "-" }),
            ("errors", { r in
                r.errors.isEmpty ? "-" : r.errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            }),
        ]
        let cells = rows.map { label, value in (label, reports.map(value)) }
        let labelWidth = (cells.map(\.0.count).max() ?? 0) + 2
        let connections = options.requests.map { min($0, options.concurrency) } ?? options.concurrency
        var lines = [
            "target".padding(labelWidth) + options.target.url + "  mode \(options.mode.rawValue)" + (options.stream ? "  stream" : ""),
            "load".padding(labelWidth) + (options.rate.map { "open loop at \(BenchReport.compact($0)) req/s offered, " } ?? "")
                + "\(connections) connections on \(options.threads) thread\(options.threads == 1 ? "" : "s"), models run in turn",
        ]
        let widths = reports.indices.map { column in (cells.map { $0.1[column].count }.max() ?? 0) + 2 }
        for (label, values) in cells {
            var line = label.padding(labelWidth)
            for (column, value) in values.enumerated() {
                line += column == values.count - 1 ? value : value.padding(widths[column])
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
