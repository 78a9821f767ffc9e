@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench

/// A strict reader of the Prometheus text format 0.0.4, for tests: it rejects what the format
/// forbids and checks the histogram invariants. Returns the problems found (empty = valid).
package struct PrometheusTextChecker {
    package struct Sample: Equatable {
        package var name: String
        package var labels: [String: String]
        package var value: Double
    }

    package private(set) var problems: [String] = []
    package private(set) var samples: [Sample] = []
    package private(set) var types: [String: String] = [:]
    package private(set) var helps: [String: String] = [:]

    package static func check(_ text: String) -> PrometheusTextChecker {
        var c = PrometheusTextChecker()
        c.run(text)
        return c
    }

    private mutating func run(_ text: String) {
        guard text.isEmpty || text.hasSuffix("\n") else { problems.append("text does not end with a newline"); return }
        var finishedFamilies: Set<String> = []
        var currentFamily: String?
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let line = String(line)
            let where_ = "line \(number + 1): \(line)"
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let rest = line.dropFirst(7)
                let parts = rest.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(parts[0])
                guard MetricNames.isValidMetricName(name) else { problems.append("bad name in \(where_)"); continue }
                if finishedFamilies.contains(name) { problems.append("family \(name) appears twice") }
                if currentFamily != name, let current = currentFamily { finishedFamilies.insert(current) }
                currentFamily = name
                if line.hasPrefix("# HELP ") {
                    if helps[name] != nil { problems.append("second HELP for \(name)") }
                    if samples.contains(where: { familyName(of: $0.name) == name }) { problems.append("HELP after samples: \(where_)") }
                    helps[name] = parts.count > 1 ? String(parts[1]) : ""
                } else {
                    let type = parts.count > 1 ? String(parts[1]) : ""
                    guard ["counter", "gauge", "histogram", "summary", "untyped"].contains(type) else {
                        problems.append("bad type in \(where_)"); continue
                    }
                    if types[name] != nil { problems.append("second TYPE for \(name)") }
                    if samples.contains(where: { familyName(of: $0.name) == name }) { problems.append("TYPE after samples: \(where_)") }
                    types[name] = type
                }
                continue
            }
            if line.hasPrefix("#") || line.isEmpty { continue }
            guard let sample = parseSample(line) else { problems.append("unparsable sample \(where_)"); continue }
            let family = familyName(of: sample.name)
            guard types[family] != nil, helps[family] != nil else { problems.append("sample before HELP/TYPE: \(where_)"); continue }
            if family != currentFamily { problems.append("sample outside its family block: \(where_)") }
            samples.append(sample)
        }
        checkHistograms()
    }

    /// The family a sample belongs to: histogram samples carry a suffix.
    private func familyName(of sampleName: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where sampleName.hasSuffix(suffix) {
            let base = String(sampleName.dropLast(suffix.count))
            if types[base] == "histogram" { return base }
        }
        return sampleName
    }

    private mutating func checkHistograms() {
        for (family, type) in types where type == "histogram" {
            var groups: [[String: String]: [(le: Double, count: Double)]] = [:]
            var sums: [[String: String]: Double] = [:]
            var counts: [[String: String]: Double] = [:]
            for s in samples where familyName(of: s.name) == family {
                var labels = s.labels
                if s.name == family + "_bucket" {
                    guard let leText = labels.removeValue(forKey: "le"), let le = Self.parseValue(leText) else {
                        problems.append("bucket without valid le in \(family)"); continue
                    }
                    groups[labels, default: []].append((le, s.value))
                } else if s.name == family + "_sum" {
                    sums[labels] = s.value
                } else if s.name == family + "_count" {
                    counts[labels] = s.value
                } else {
                    problems.append("unexpected sample \(s.name) in histogram \(family)")
                }
            }
            for (labels, buckets) in groups {
                if zip(buckets, buckets.dropFirst()).contains(where: { $0.le >= $1.le }) { problems.append("\(family)\(labels): le not increasing") }
                if zip(buckets, buckets.dropFirst()).contains(where: { $0.count > $1.count }) { problems.append("\(family)\(labels): buckets not cumulative") }
                guard let last = buckets.last, last.le == .infinity else { problems.append("\(family)\(labels): no +Inf bucket"); continue }
                guard let count = counts[labels] else { problems.append("\(family)\(labels): no _count"); continue }
                if last.count != count { problems.append("\(family)\(labels): +Inf \(last.count) != _count \(count)") }
                if sums[labels] == nil { problems.append("\(family)\(labels): no _sum") }
            }
            if Set(counts.keys) != Set(groups.keys) { problems.append("\(family): _count without buckets") }
        }
    }

    /// `name{label="value",…} value` with the format's escapes; nil when malformed.
    private func parseSample(_ line: String) -> Sample? {
        let chars = Array(line.unicodeScalars)
        var i = 0
        var name = ""
        while i < chars.count, chars[i] != "{", chars[i] != " " { name.unicodeScalars.append(chars[i]); i += 1 }
        guard MetricNames.isValidMetricName(name), i < chars.count else { return nil }
        var labels: [String: String] = [:]
        if chars[i] == "{" {
            i += 1
            while i < chars.count, chars[i] != "}" {
                var label = ""
                while i < chars.count, chars[i] != "=" { label.unicodeScalars.append(chars[i]); i += 1 }
                guard MetricNames.isValidLabelName(label) || label == "le", labels[label] == nil else { return nil }
                i += 1
                guard i < chars.count, chars[i] == "\"" else { return nil }
                i += 1
                var value = ""
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\" {
                        i += 1
                        guard i < chars.count else { return nil }
                        switch chars[i] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: return nil
                        }
                    } else {
                        guard chars[i] != "\n" else { return nil }
                        value.unicodeScalars.append(chars[i])
                    }
                    i += 1
                }
                guard i < chars.count else { return nil }
                i += 1  // closing quote
                labels[label] = value
                if i < chars.count, chars[i] == "," { i += 1; continue }
                guard i < chars.count, chars[i] == "}" else { return nil }
            }
            guard i < chars.count, chars[i] == "}" else { return nil }
            i += 1
        }
        guard i < chars.count, chars[i] == " " else { return nil }
        i += 1
        var rest = ""
        while i < chars.count { rest.unicodeScalars.append(chars[i]); i += 1 }
        guard !rest.contains(" "), let value = Self.parseValue(rest) else { return nil }  // no timestamps from us
        return Sample(name: name, labels: labels, value: value)
    }

    package static func parseValue(_ s: String) -> Double? {
        switch s {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            guard !s.isEmpty, s.allSatisfy({ "0123456789.eE+-".contains($0) }) else { return nil }
            return Double(s)
        }
    }

    package func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }
}
