import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// The mock answers the gateway's own judge prompts in the format the ensemble parsers read.
@Suite struct MockJudgeTests {
    static let labelled = [(label: "Response A", text: "one"), (label: "Response B", text: "two"),
                           (label: "Response C", text: "three")]
    static let prompts = try! EnsemblePrompts()

    @Test func bestPromptGetsAVerdictNamingOneOfTheAnswers() throws {
        let prompt = Self.prompts.render("best", answers: EnsemblePrompts.answerBlock(Self.labelled), count: 3,
                                         labels: "Response A, Response B, Response C")
        var chosen: Set<String> = []
        for seed in UInt64(0)..<32 {
            let text = try #require(MockJudge.answer(to: prompt, seed: seed))
            let verdict = try #require(RankingParser.verdict(in: text, allowed: Self.labelled.map(\.label)))
            chosen.insert(verdict.label)
            #expect(!verdict.reason.isEmpty)
        }
        #expect(chosen.count == 3, "the seed decides which answer wins")
    }

    @Test func critiquePromptGetsAFullRanking() throws {
        let prompt = Self.prompts.render("critique_review", answers: EnsemblePrompts.answerBlock(Self.labelled), count: 3,
                                         labels: "")
        let text = try #require(MockJudge.answer(to: prompt, seed: 9))
        let ranking = RankingParser.ranking(in: text, allowed: Self.labelled.map(\.label))
        #expect(Set(ranking) == Set(Self.labelled.map(\.label)) && ranking.count == 3)
    }

    @Test func otherPromptsGetNoJudgeAnswer() {
        #expect(MockJudge.answer(to: "Explain caching. Response A is mentioned here.", seed: 1) == nil)
        #expect(MockJudge.answer(to: "BEST: Response X but no answer blocks", seed: 1) == nil)
    }
}
