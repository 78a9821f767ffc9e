import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// The mock provider's answers to the ensemble judge prompts (`critique_review` and `best`), so an
/// ensemble of mock models exercises the same parsing and selection as one of real models: the
/// answer blocks' labels (`--- Response A ---`) are ranked, or one is chosen, by the request's seed.
/// Any other prompt gets `nil` and the usual filler text.
package enum MockJudge {
    package static func answer(to prompt: String, seed: UInt64) -> String? {
        let asksForRanking = prompt.contains("FINAL RANKING:")
        let asksForVerdict = prompt.contains("BEST: Response")
        guard asksForRanking || asksForVerdict else { return nil }
        let labels = blockLabels(in: prompt)
        guard !labels.isEmpty else { return nil }
        var rng = MockText.Generator(seed: seed)
        if asksForVerdict {
            let label = labels[Int(rng.next() % UInt64(labels.count))]
            return "BEST: \(label)\nREASON: \(MockText.paragraph(seed: seed))"
        }
        var order = labels
        order.shuffle(using: &rng)
        let lines = order.enumerated().map { "\($0.offset + 1). \($0.element)" }
        return MockText.paragraph(seed: seed) + "\n\nFINAL RANKING:\n" + lines.joined(separator: "\n")
    }

    /// The labels of the answer blocks, `--- Response A ---`, in order and without repeats.
    package static func blockLabels(in prompt: String) -> [String] {
        var labels: [String] = []
        for line in prompt.split(separator: "\n") where line.hasPrefix("--- Response ") && line.hasSuffix(" ---") {
            let label = String(line.dropFirst(4).dropLast(4))
            if !labels.contains(label) { labels.append(label) }
        }
        return labels
    }
}
