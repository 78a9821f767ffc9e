import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Reduces short answers to a comparable form and counts them (self-consistency voting).
/// "**Paris.**", "paris" and "Final answer: Paris" are one vote for `paris`.
public enum VoteNormalizer {
    /// The answer's voting key: the text after the last `answer:` line marker if there is one,
    /// without markdown emphasis, surrounding quotes or trailing punctuation, lowercased, with
    /// runs of white space collapsed.
    public static func normalize(_ text: String) -> String {
        var answer = Substring(text)
        for line in text.split(whereSeparator: \.isNewline) {
            let lower = line.lowercased()
            for marker in ["final answer:", "answer:"] {
                if let range = lower.range(of: marker) {
                    let offset = lower.distance(from: lower.startIndex, to: range.upperBound)
                    answer = line[line.index(line.startIndex, offsetBy: offset)...]
                    break
                }
            }
        }
        var s = answer.lowercased()
        s.removeAll { $0 == "*" || $0 == "`" || $0 == "_" }
        let words = s.split(whereSeparator: \.isWhitespace)
        s = words.joined(separator: " ")
        if s.hasPrefix("the answer is ") { s.removeFirst("the answer is ".count) }
        return trimmingPunctuation(s)
    }

    package static let trimmable: Set<Character> = [".", "!", "?", ";", ":", ",", "\"", "'", "“", "”", "‘", "’", "(", ")", " "]

    /// `text` without leading and trailing punctuation, quotes and spaces, cut as one slice:
    /// `removeFirst` one character at a time moved the rest of the text each time.
    package static func trimmingPunctuation(_ text: String) -> String {
        guard let start = text.firstIndex(where: { !trimmable.contains($0) }),
              let last = text.lastIndex(where: { !trimmable.contains($0) }) else { return "" }
        return String(text[start...last])
    }

    /// One group of identical normalized answers.
    public struct Tally: Sendable, Equatable {
        public var answer: String
        public var count: Int
        /// Indexes (into the answers given) of the members that voted for it, in order.
        public var voters: [Int]
    }

    /// The groups, most votes first (ties in order of first appearance).
    public static func tally(_ answers: [String]) -> [Tally] {
        var groups: [Tally] = []
        for (index, text) in answers.enumerated() {
            let key = normalize(text)
            if let g = groups.firstIndex(where: { $0.answer == key }) {
                groups[g].count += 1
                groups[g].voters.append(index)
            } else {
                groups.append(Tally(answer: key, count: 1, voters: [index]))
            }
        }
        return groups.enumerated().sorted { a, b in
            a.element.count != b.element.count ? a.element.count > b.element.count : a.offset < b.offset
        }.map(\.element)
    }
}
