import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Every instruction the ensemble sends to a synthesizer, reviewer or judge, in one place.
/// Each is appended to the client's conversation as a final user message after its placeholders
/// are filled: `{answers}` (the labelled answers), `{rankings}` (the reviewers' rankings, critique
/// only), `{labels}` (the labels to choose from) and `{count}` (how many answers there are).
/// A config's `prompts` object overrides any of them by key.
public struct EnsemblePrompts: Sendable, Equatable {
    public static let keys = ["synthesize", "critique_review", "critique_synthesize", "vote_tiebreak", "best"]

    public static let defaults: [String: String] = [
        "synthesize": """
            You are given {count} candidate answers to the conversation above, written independently by different assistants.

            {answers}

            Write the single best final answer to the user's last message. Merge the strongest, correct points of every answer, fix any errors you find, and do not repeat yourself. Do not mention that several answers existed, and do not refer to them by label. Reply with the final answer only.
            """,
        "critique_review": """
            Below are anonymized answers to the conversation above.

            {answers}

            Evaluate each answer: say briefly what it does well and what it gets wrong. Then rank them from best to worst. End your reply with the ranking in exactly this format, one answer per line and nothing after it:
            FINAL RANKING:
            1. Response X
            2. Response Y
            """,
        "critique_synthesize": """
            You are given {count} candidate answers to the conversation above, and peer reviews ranking them.

            {answers}

            Peer rankings (best first):
            {rankings}

            Write the single best final answer to the user's last message. Favour what the reviewers ranked highly, merge the strongest correct points, fix errors, and do not repeat yourself. Do not mention the answers, labels or reviews. Reply with the final answer only.
            """,
        "vote_tiebreak": """
            The following {count} candidate answers to the conversation above received the same number of votes.

            {answers}

            Decide which answer is correct and reply with that answer only, in the same short form, with no explanation.
            """,
        "best": """
            You are judging {count} candidate answers to the conversation above.

            {answers}

            Pick the single best answer (the most correct, complete and helpful). Reply in exactly this format:
            BEST: Response X
            REASON: one or two sentences explaining why.
            The label must be one of: {labels}.
            """,
    ]

    public private(set) var templates: [String: String]

    /// The defaults with `overrides` applied; unknown keys are refused so a typo cannot silently
    /// leave the default in place.
    public init(overrides: [String: String] = [:]) throws(GatewayError) {
        var templates = EnsemblePrompts.defaults
        for (key, value) in overrides {
            guard templates[key] != nil else {
                throw GatewayError.invalidRequest(
                    "Unknown ensemble prompt `\(key)`; known prompts: \(EnsemblePrompts.keys.joined(separator: ", ")).",
                    param: "prompts.\(key)")
            }
            templates[key] = value
        }
        self.templates = templates
    }

    /// The template for `key` with its placeholders filled, in one pass over the template: text
    /// put in is not searched again, so an answer that contains `{rankings}` is left as written,
    /// not filled with every review (which made the prompt the size of the answers times the
    /// reviews).
    public func render(_ key: String, answers: String, count: Int, labels: String = "", rankings: String = "") -> String {
        let template = templates[key] ?? ""
        let fills = [("{answers}", answers), ("{rankings}", rankings), ("{labels}", labels), ("{count}", String(count))]
        var out = ""
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let tail = rest[open...]
            var filled = false
            for (name, value) in fills where tail.hasPrefix(name) {
                out += value
                rest = tail.dropFirst(name.count)
                filled = true
                break
            }
            if !filled {
                out += "{"
                rest = tail.dropFirst()
            }
        }
        out += rest
        return out
    }

    /// `Response A`, `Response B`, …, `Response Z`, `Response AA`, … (anonymous, stable labels).
    public static func label(_ index: Int) -> String {
        var n = index
        var letters = ""
        repeat {
            letters = String(UnicodeScalar(UInt8(65 + n % 26))) + letters
            n = n / 26 - 1
        } while n >= 0
        return "Response " + letters
    }

    /// The answers as one block: each under its label.
    public static func answerBlock(_ answers: [(label: String, text: String)]) -> String {
        answers.map { "--- \($0.label) ---\n\($0.text)" }.joined(separator: "\n\n")
    }
}
