import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// An ensemble over `FakeLLMProvider` routes `a`, `b`, `c`, `judge`, `backup` (one attempt each,
/// no retry waits), plus whatever extra routes a test needs.
struct EnsembleFixture {
    let provider: FakeLLMProvider
    let router: ModelRouter
    let orchestrator: Orchestrator
    let runner: EnsembleRunner
    let caller: InMemoryCachingMemberCaller

    init(_ provider: FakeLLMProvider = FakeLLMProvider(), names: [String] = ["a", "b", "c", "judge", "backup"]) {
        self.provider = provider
        var retry = RetrySettings()
        retry.maxAttempts = 1
        let routes = names.map { ModelRoute(name: $0, providerName: provider.name, provider: provider, upstreamModel: $0, retry: retry) }
        router = ModelRouter(routes: routes, providers: [provider.name: provider], providerSettings: [:],
                             defaultRetry: retry, listed: [])
        var orchestrator = Orchestrator(router: router)
        orchestrator.sleep = { _ in }
        self.orchestrator = orchestrator
        caller = InMemoryCachingMemberCaller(orchestrator: orchestrator)
        runner = EnsembleRunner(router: router, orchestrator: orchestrator, members: caller)
    }

    static let body: JSONObject = ["model": "council", "messages": [["role": "user", "content": "What is the capital of France?"]]]

    func run(_ spec: EnsembleSpec, body: JSONObject = EnsembleFixture.body) async throws -> EnsembleOutcome {
        try await runner.run(spec, body: body, requestID: "req-1")
    }
}

extension EnsembleOutcome {
    var ultra: JSONObject { completion["ultra"]?.objectValue ?? [:] }
    var content: String { EnsembleRunner.content(completion) }
    var members: [JSON] { ultra["members"]?.arrayValue ?? [] }
}

@Suite struct EnsembleRunnerTests {
    let spec = EnsembleSpec(name: "council", members: ["a", "b", "c"], synthesizer: "judge")

    @Test func synthesizesEveryAnswerAndSumsUsage() async throws {
        let f = EnsembleFixture()
        let out = try await f.run(spec)
        #expect(out.content == "synthesis by judge")
        #expect(out.completion["model"]?.stringValue == "council")
        #expect(out.completion["object"]?.stringValue == "chat.completion")
        #expect(out.ultra["is_synthesized"]?.boolValue == true)
        #expect(out.ultra["synthesizer"]?.stringValue == "judge")
        #expect(out.ultra["pattern"]?.stringValue == "synthesize")
        #expect(out.isComplete)
        // 3 members + 1 synthesis, 10 + 5 tokens each.
        #expect(out.completion["usage"]?["prompt_tokens"]?.intValue == 40)
        #expect(out.completion["usage"]?["completion_tokens"]?.intValue == 20)
        #expect(out.completion["usage"]?["total_tokens"]?.intValue == 60)
        #expect(out.members.map { $0["content"]?.stringValue } == ["answer from a", "answer from b", "answer from c"])
        #expect(out.members.allSatisfy { $0["status"]?.stringValue == "ok" && $0["cached"]?.boolValue == false && $0["error"]?.isNull == true })
        let synthesis = try #require(f.provider.calls(to: "judge").first)
        for label in ["Response A", "Response B", "Response C"] { #expect(synthesis.instruction.contains(label)) }
        for model in ["a", "b", "c"] { #expect(synthesis.instruction.contains("answer from \(model)")) }
    }

    @Test func allMembersFailingIs502NamingEach() async throws {
        let f = EnsembleFixture(FakeLLMProvider(failing: ["a", "b", "c"]))
        do {
            _ = try await f.run(spec)
            Issue.record("expected a failure")
        } catch let error as GatewayError {
            #expect(error.status == 502)
            #expect(error.code == "ensemble_failed")
            for model in ["a", "b", "c"] { #expect(error.message.contains("\(model): ")) }
        }
        #expect(f.provider.calls(to: "judge").isEmpty)
    }

    @Test func oneAnswerIsReturnedAsIs() async throws {
        let f = EnsembleFixture(FakeLLMProvider(failing: ["a", "c"]))
        let out = try await f.run(spec)
        #expect(out.content == "answer from b")
        #expect(out.ultra["is_synthesized"]?.boolValue == false)
        #expect(f.provider.calls(to: "judge").isEmpty)
        #expect(!out.isComplete)
        #expect(out.members[0]["status"]?.stringValue == "failed")
        #expect(out.members[0]["error"]?["message"]?.stringValue?.contains("a is down") == true)
        #expect(out.completion["usage"]?["total_tokens"]?.intValue == 15)
    }

    @Test func failedSynthesizerFallsBackToBackupThenLongestAnswer() async throws {
        let withBackup = EnsembleFixture(FakeLLMProvider(failing: ["judge"]))
        var spec = self.spec
        spec.backupSynthesizer = "backup"
        let out = try await withBackup.run(spec)
        #expect(out.content == "synthesis by backup")
        #expect(out.ultra["synthesizer"]?.stringValue == "backup")
        #expect(out.ultra["synthesis_error"] == nil)
        #expect(out.isComplete)

        let longest = EnsembleFixture(FakeLLMProvider(failing: ["judge", "backup"]) { model, last in
            last.contains("candidate answers") ? "unused" : model == "b" ? "the longest answer of all" : "short \(model)"
        })
        let degraded = try await longest.run(spec)
        #expect(degraded.content == "the longest answer of all")
        #expect(degraded.ultra["is_synthesized"]?.boolValue == false)
        let error = try #require(degraded.ultra["synthesis_error"]?.stringValue)
        #expect(error.contains("judge") && error.contains("backup"))
        #expect(!degraded.isComplete)
        #expect(degraded.completion["model"]?.stringValue == "council")
    }

    @Test func missingSynthesizerIsReplacedByFirstAvailableModel() async throws {
        let f = EnsembleFixture(FakeLLMProvider(failing: ["a"]))
        var spec = self.spec
        spec.synthesizer = "no-such-model"
        let out = try await f.run(spec)
        #expect(out.content == "synthesis by b")
        #expect(out.ultra["synthesizer"]?.stringValue == "b")
    }

    /// The slow member would take ten minutes: the run ends only because the deadline cancels it
    /// (the time limit fails the test otherwise), with no wall-clock bound to flake on a busy machine.
    @Test(.timeLimit(.minutes(1))) func deadlineCancelsSlowMemberAndSynthesizesTheRest() async throws {
        let f = EnsembleFixture(FakeLLMProvider(delaysMs: ["c": 600_000]))
        var spec = self.spec
        spec.deadline = 0.2
        let out = try await f.run(spec)
        #expect(out.content == "synthesis by judge")
        #expect(out.members[2]["status"]?.stringValue == "cancelled")
        #expect(out.members[2]["error"]?["code"]?.stringValue == "deadline")
        #expect(!out.isComplete)
        let synthesis = try #require(f.provider.calls(to: "judge").first)
        #expect(!synthesis.instruction.contains("Response C"))
        // The cancelled member's task notices its cancellation (bounded by the time limit).
        while f.provider.cancellations == 0 { try await Task.sleep(nanoseconds: 1_000_000) }
        #expect(f.provider.cancellations == 1)
    }

    /// The member left out of the quorum would take ten minutes: the run ends only because the
    /// quorum does not wait for it.
    @Test(.timeLimit(.minutes(1))) func quorumProceedsWithFirstKAnswers() async throws {
        let f = EnsembleFixture(FakeLLMProvider(delaysMs: ["a": 600_000]))
        var spec = self.spec
        spec.minAnswers = 2
        let out = try await f.run(spec)
        #expect(out.members[0]["status"]?.stringValue == "skipped")
        #expect(out.members.filter { $0["status"]?.stringValue == "ok" }.count == 2)
        #expect(out.ultra["is_synthesized"]?.boolValue == true)
        #expect(out.isComplete, "a quorum result is the configured outcome, not a degraded one")
    }

    @Test func critiqueRanksAnonymizedAnswersThenSynthesizes() async throws {
        let f = EnsembleFixture()
        var spec = self.spec
        spec.pattern = .critique
        let out = try await f.run(spec)
        #expect(out.content == "synthesis by judge")
        // Each member reviewed the two others, never its own answer.
        for (model, own) in [("a", "answer from a"), ("b", "answer from b"), ("c", "answer from c")] {
            let review = try #require(f.provider.calls(to: model).first { $0.instruction.contains("FINAL RANKING:") })
            #expect(!review.instruction.contains(own))
        }
        let aggregate = try #require(out.ultra["aggregate_ranking"]?.arrayValue)
        #expect(aggregate.map { $0["model"]?.stringValue } == ["c", "b", "a"])
        #expect(aggregate[0]["average_rank"]?.doubleValue == 1)
        #expect(aggregate[1]["average_rank"]?.doubleValue == 1.5)
        #expect(out.ultra["rankings"]?.arrayValue?.count == 3)
        let synthesis = try #require(f.provider.calls(to: "judge").first)
        #expect(synthesis.instruction.contains("Aggregate: Response C > Response B > Response A"))
        // 3 answers + 3 reviews + 1 synthesis.
        #expect(out.completion["usage"]?["total_tokens"]?.intValue == 7 * 15)
        #expect(out.isComplete)
    }

    @Test func critiqueFallsBackToTopRankedAnswer() async throws {
        let f = EnsembleFixture(FakeLLMProvider(failing: ["judge"]))
        var spec = self.spec
        spec.pattern = .critique
        let out = try await f.run(spec)
        #expect(out.content == "answer from c")
        #expect(out.ultra["synthesis_error"] != nil)
    }

    @Test func voteReturnsMajorityWithoutSynthesis() async throws {
        let answers = ["a": "Paris.", "b": "**paris**", "c": "Lyon"]
        let f = EnsembleFixture(FakeLLMProvider { model, _ in answers[model] ?? "tiebreak" })
        var spec = self.spec
        spec.pattern = .vote
        let out = try await f.run(spec)
        #expect(out.content == "Paris.")
        #expect(out.ultra["winner"]?.stringValue == "paris")
        #expect(out.ultra["vote_count"]?.intValue == 2)
        #expect(out.ultra["is_synthesized"]?.boolValue == false)
        #expect(f.provider.calls(to: "judge").isEmpty)
        let votes = try #require(out.ultra["votes"]?.arrayValue)
        #expect(votes.map { $0["count"]?.intValue } == [2, 1])
        #expect(out.isComplete)
    }

    @Test func voteTieGoesToSynthesizer() async throws {
        let answers = ["a": "Paris", "b": "Lyon"]
        let f = EnsembleFixture(FakeLLMProvider { model, _ in answers[model] ?? "Lyon" })
        var spec = self.spec
        spec.members = ["a", "b"]
        spec.pattern = .vote
        let out = try await f.run(spec)
        #expect(out.content == "Lyon")
        #expect(out.ultra["tie"]?.boolValue == true)
        #expect(out.ultra["is_synthesized"]?.boolValue == true)
        #expect(f.provider.calls(to: "judge").count == 1)
    }

    @Test func bestReturnsJudgesPickVerbatim() async throws {
        let f = EnsembleFixture()
        var spec = self.spec
        spec.pattern = .best
        let out = try await f.run(spec)
        #expect(out.content == "answer from b")
        #expect(out.ultra["best"]?["model"]?.stringValue == "b")
        #expect(out.ultra["best"]?["reason"]?.stringValue == "it is the most complete.")
        #expect(out.ultra["synthesizer"]?.stringValue == "judge")
        #expect(out.completion["usage"]?["total_tokens"]?.intValue == 60)
        #expect(out.isComplete)
    }

    @Test func selfMoASamplesHaveTheirOwnCacheSlots() async throws {
        let f = EnsembleFixture()
        let spec = EnsembleSpec(name: "moa", members: ["a", "a", "a"], synthesizer: "judge")
        let first = try await f.run(spec)
        #expect(f.provider.calls(to: "a").count == 3)
        #expect(f.caller.count == 3)
        #expect(first.members.map { $0["sample"]?.intValue } == [0, 1, 2])
        let second = try await f.run(spec)
        #expect(f.provider.calls(to: "a").count == 3, "every sample comes from its own cache slot")
        #expect(second.members.allSatisfy { $0["cached"]?.boolValue == true })
        // Cached members cost nothing: only the synthesis is counted.
        #expect(second.completion["usage"]?["total_tokens"]?.intValue == 15)
        // A later single-model request for `a` is the sample-0 slot.
        let single = try await f.caller.callMember(f.router.route(named: "a")!, body: EnsembleRunner.memberBody(
            ["model": "a", "messages": EnsembleFixture.body["messages"]!]), sample: 0, requestID: "x")
        #expect(single.cached)
    }

    @Test func changingOneMemberReusesTheOthers() async throws {
        let f = EnsembleFixture()
        _ = try await f.run(spec)
        var changed = spec
        changed.members = ["a", "b", "backup"]
        let out = try await f.run(changed)
        #expect(f.provider.calls(to: "a").count == 1 && f.provider.calls(to: "b").count == 1)
        #expect(out.members.map { $0["cached"]?.boolValue } == [true, true, false])
    }

    @Test func toolsOrSeveralChoicesSkipTheEnsemble() async throws {
        let f = EnsembleFixture()
        var body = EnsembleFixture.body
        body["tools"] = [["type": "function", "function": ["name": "f", "parameters": ["type": "object"]]]]
        let out = try await f.run(spec, body: body)
        #expect(out.ultra["ensembled"]?.boolValue == false)
        #expect(out.ultra["reason"]?.stringValue?.contains("tools") == true)
        #expect(out.content == "answer from judge")
        #expect(f.provider.calls.map(\.model) == ["judge"])
        var several = EnsembleFixture.body
        several["n"] = 2
        let other = try await f.run(spec, body: several)
        #expect(other.ultra["reason"]?.stringValue?.contains("n > 1") == true)
    }

    @Test func streamingSendsSynthesisChunksThenUltraOnTheLast() async throws {
        let f = EnsembleFixture()
        let chunks = LockedBox<[JSONObject]>([])
        let out = try await f.runner.runStreaming(spec, body: EnsembleFixture.body, requestID: "r") { chunk in
            chunks.update { $0.append(chunk) }
        }
        let all = chunks.value
        #expect(all.count > 2)
        #expect(all.allSatisfy { $0["model"]?.stringValue == "council" && $0["object"]?.stringValue == "chat.completion.chunk" })
        let text = all.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
        #expect(text == "synthesis by judge")
        #expect(text == out.content)
        let last = try #require(all.last)
        #expect(last["ultra"]?["is_synthesized"]?.boolValue == true)
        #expect(last["usage"]?["total_tokens"]?.intValue == 60)
        #expect(all.dropLast().allSatisfy { $0["ultra"] == nil && $0["usage"] == nil })
        #expect(f.provider.calls(to: "judge").first?.streamed == true)
        #expect(f.provider.calls(to: "a").first?.streamed == false)
        #expect(out.isComplete)
    }

    @Test func streamingReplaysAnUnsynthesizedAnswer() async throws {
        let f = EnsembleFixture(FakeLLMProvider(failing: ["b", "c"]))
        let chunks = LockedBox<[JSONObject]>([])
        _ = try await f.runner.runStreaming(spec, body: EnsembleFixture.body, requestID: "r") { chunk in
            chunks.update { $0.append(chunk) }
        }
        let text = chunks.value.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
        #expect(text == "answer from a")
        #expect(chunks.value.last?["ultra"]?["members"]?.arrayValue?.count == 3)
    }
}

@Suite struct EnsembleSpecTests {
    let router = EnsembleFixture().router

    @Test func requestUltraObjectBuildsASpec() throws {
        let spec = try #require(try EnsembleSpec.resolve(
            model: "judge", ultra: ["models": ["a", "b", "a"], "pattern": "vote", "min_answers": 2, "deadline": 1.5], router: router))
        #expect(spec.name == "judge")
        #expect(spec.members == ["a", "b", "a"])
        #expect(spec.synthesizer == "judge")
        #expect(spec.pattern == .vote)
        #expect(spec.minAnswers == 2 && spec.deadline == 1.5)
        #expect(try EnsembleSpec.resolve(model: "a", ultra: nil, router: router) == nil)
    }

    @Test func badFieldsAreRejectedWithTheirParam() {
        func error(_ ultra: JSON) -> GatewayError? {
            do { _ = try EnsembleSpec.resolve(model: "judge", ultra: ultra, router: router); return nil } catch { return error }
        }
        #expect(error(["models": ["a"], "pattern": "chaos"])?.param == "ultra.pattern")
        #expect(error(["models": ["a"], "pattern": "chaos"])?.status == 400)
        #expect(error(["models": ["a", "nope"]])?.status == 404)
        #expect(error(["models": ["a", "nope"]])?.param == "ultra.models")
        #expect(error(["models": ["a"], "synthesizer": "nope"])?.status == 404)
        #expect(error(["models": []])?.param == "ultra.models")
        #expect(error(["models": ["a"], "min_answers": 3])?.param == "ultra.min_answers")
        #expect(error(["models": ["a"], "extra": 1])?.param == "ultra.extra")
        #expect(error("yes")?.param == "ultra")
    }

    @Test func configuredEnsembleWithPromptOverrides() throws {
        var settings = ModelSettings(name: "council")
        settings.ensemble = ["a", "b"]
        settings.synthesizer = "judge"
        settings.pattern = "critique"
        settings.prompts = ["synthesize": "Merge: {answers}"]
        let spec = try EnsembleSpec(settings: settings)
        #expect(spec.pattern == .critique)
        #expect(spec.prompts.render("synthesize", answers: "X", count: 1) == "Merge: X")
        #expect(spec.prompts.templates["best"] == EnsemblePrompts.defaults["best"])
        settings.prompts = ["synthesise": "typo"]
        #expect(throws: GatewayError.self) { try EnsembleSpec(settings: settings) }
        // Different prompts or members make a different ensemble cache entry.
        var other = spec
        other.members = ["a", "c"]
        #expect(spec.cacheDescriptor != other.cacheDescriptor)
    }
}

@Suite struct EnsembleParsingTests {
    @Test func voteNormalization() {
        #expect(VoteNormalizer.normalize("**Paris.**") == "paris")
        #expect(VoteNormalizer.normalize("  The answer is   Paris! ") == "paris")
        #expect(VoteNormalizer.normalize("Let me think.\nFinal answer: \"42\"") == "42")
        #expect(VoteNormalizer.normalize("New  York") == "new york")
        let tally = VoteNormalizer.tally(["B", "a", "b.", "A", "c"])
        #expect(tally.map(\.answer) == ["b", "a", "c"])
        #expect(tally[0].voters == [0, 2])
    }

    @Test func rankingParsing() {
        let text = "Response A is good. Response B is better.\nFINAL RANKING:\n1. Response B\n2. Response A\n3. Response Q"
        #expect(RankingParser.ranking(in: text, allowed: ["Response A", "Response B"]) == ["Response B", "Response A"])
        #expect(RankingParser.ranking(in: "I prefer Response C, then Response AB", allowed: ["Response C", "Response AB"]) == ["Response C", "Response AB"])
        #expect(RankingParser.ranking(in: "Responses Adam", allowed: ["Response A"]).isEmpty)
        let verdict = RankingParser.verdict(in: "Thinking about Response A...\nBEST: Response B\nREASON: clear and right", allowed: ["Response A", "Response B"])
        #expect(verdict?.label == "Response B" && verdict?.reason == "clear and right")
        #expect(RankingParser.verdict(in: "none of them", allowed: ["Response A"]) == nil)
        #expect(EnsemblePrompts.label(0) == "Response A" && EnsemblePrompts.label(25) == "Response Z" && EnsemblePrompts.label(26) == "Response AA")
    }
}
