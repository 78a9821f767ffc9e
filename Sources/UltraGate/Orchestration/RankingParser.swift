import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Reads the labels (`Response A`, `Response B`, …) out of a reviewer's or judge's reply.
public enum RankingParser {
    /// The ranking in a review: the labels after its `FINAL RANKING:` marker in order of first
    /// mention (the whole reply when the marker is missing), restricted to `allowed`.
    public static func ranking(in text: String, allowed: [String]) -> [String] {
        var section = Substring(text)
        if let marker = text.range(of: "FINAL RANKING:", options: [.caseInsensitive, .backwards]) {
            section = text[marker.upperBound...]
        }
        var seen: [String] = []
        for label in labels(in: section) where allowed.contains(label) && !seen.contains(label) {
            seen.append(label)
        }
        return seen
    }

    /// What a judge chose: the label on its `BEST:` line (else the first label mentioned) and
    /// the text after `REASON:` (else the whole reply), or nil when it names no allowed label.
    public static func verdict(in text: String, allowed: [String]) -> (label: String, reason: String)? {
        var label: String?
        if let marker = text.range(of: "BEST:", options: .caseInsensitive) {
            let line = text[marker.upperBound...].prefix { !$0.isNewline }
            label = labels(in: line).first { allowed.contains($0) }
        }
        if label == nil { label = labels(in: Substring(text)).first { allowed.contains($0) } }
        guard let label else { return nil }
        var reason = text
        if let marker = text.range(of: "REASON:", options: .caseInsensitive) {
            reason = String(text[marker.upperBound...])
        }
        return (label, reason.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Every `Response X` (X: capital letters) in `text`, in order.
    package static func labels(in text: Substring) -> [String] {
        var out: [String] = []
        var rest = text[...]
        // The standard library's search: Foundation's `range(of:)` on a substring copied the rest
        // of the text at every call, quadratic in a reply full of labels.
        while let range = rest.firstRange(of: "Response ") {
            let letters = rest[range.upperBound...].prefix { $0.isASCII && $0.isUppercase }
            let after = rest.index(range.upperBound, offsetBy: letters.count)
            let boundary = after == rest.endIndex || !(rest[after].isLetter || rest[after].isNumber)
            if !letters.isEmpty && boundary { out.append("Response " + letters) }
            rest = rest[range.upperBound...]
        }
        return out
    }
}
