import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Runs an ensemble: asks every member in parallel (each with its own retries and fallbacks,
/// within the deadline and quorum), then turns the answers into one by the spec's pattern.
///
/// Robustness rules: a failed member is recorded, not fatal; no answer at all is a 502 naming
/// every member's error; a single answer is returned as is; a failed synthesizer is replaced by
/// the backup synthesizer, then by the pattern's own fallback answer (recorded in
/// `synthesis_error`). Requests with `tools` or `n > 1` go to the synthesizer alone.
public struct EnsembleRunner: Sendable {
    public let router: ModelRouter
    public let orchestrator: Orchestrator
    public let members: EnsembleMemberCaller

    public init(router: ModelRouter, orchestrator: Orchestrator, members: EnsembleMemberCaller) {
        self.router = router
        self.orchestrator = orchestrator
        self.members = members
    }

    public func run(_ spec: EnsembleSpec, body: JSONObject, requestID: String) async throws(GatewayError) -> EnsembleOutcome {
        try await execute(spec, body: body, requestID: requestID, relay: nil)
    }

    /// Members run without streaming; then the final step streams through `onChunk` as
    /// `chat.completion.chunk` objects named after the ensemble. The last chunk carries the
    /// summed `usage` and the `ultra` detail.
    public func runStreaming(_ spec: EnsembleSpec, body: JSONObject, requestID: String,
                             onChunk: @escaping @Sendable (JSONObject) async -> Void) async throws(GatewayError) -> EnsembleOutcome {
        try await execute(spec, body: body, requestID: requestID, relay: EnsembleChunkRelay(name: spec.name, onChunk: onChunk))
    }

    // MARK: The run

    /// What the pattern step produced.
    package struct Final {
        package var completion: JSONObject
        package var synthesized = false
        /// The model that synthesized or judged, when one was asked.
        package var synthesizer: String?
        package var synthesisError: String?
        /// Already sent through the relay (streamed synthesis).
        package var streamed = false
        package var complete = true
        package var extras = JSONObject()
    }

    private func execute(_ spec: EnsembleSpec, body: JSONObject, requestID: String,
                         relay: EnsembleChunkRelay?) async throws(GatewayError) -> EnsembleOutcome {
        let started = DispatchTime.now().uptimeNanoseconds
        var usage = UsageTotal()
        let memberBody = EnsembleRunner.memberBody(body)
        var detail = JSONObject()
        detail.append("pattern", .string(spec.pattern.rawValue))

        if let reason = EnsembleRunner.notEnsembledReason(body) {
            let final = try await single(spec, body: memberBody, requestID: requestID, relay: relay, usage: &usage)
            detail.append("ensembled", false)
            detail.append("reason", .string(reason))
            detail.append("members", [])
            detail.append("synthesizer", .string(final.synthesizer ?? ""))
            detail.append("is_synthesized", false)
            return try await finish(spec, final, detail: detail, usage: usage, relay: relay, started: started)
        }

        let results = await collect(spec, body: memberBody, requestID: requestID)
        if Task.isCancelled { throw GatewayError.clientClosed }
        let answered = results.filter { $0.answer != nil }
        for result in answered where result.answer?.cached == false { usage.add(result.answer?.completion["usage"]) }
        detail.append("members", .array(results.map(\.json)))
        guard !answered.isEmpty else {
            let errors = results.map { "\($0.name): \($0.errorMessage ?? "no answer")" }.joined(separator: "; ")
            throw GatewayError(status: 502, type: "upstream_error",
                               message: "All \(results.count) ensemble members failed. \(errors)", code: "ensemble_failed")
        }
        let membersComplete = results.allSatisfy { $0.answer != nil || $0.skippedByQuorum }

        var final: Final
        if answered.count == 1 {
            final = Final(completion: answered[0].answer!.completion)
        } else {
            switch spec.pattern {
            case .synthesize: final = await synthesize(spec, body: memberBody, answered: answered, requestID: requestID, relay: relay, usage: &usage)
            case .critique: final = await critique(spec, body: memberBody, answered: answered, requestID: requestID, relay: relay, usage: &usage)
            case .vote: final = await vote(spec, body: memberBody, answered: answered, requestID: requestID, relay: relay, usage: &usage)
            case .best: final = await best(spec, body: memberBody, answered: answered, requestID: requestID, usage: &usage)
            }
        }
        if let relay, relay.delivered && !final.streamed {
            // A streamed synthesis broke off after part of it reached the client.
            throw GatewayError.upstream(status: 502, message: final.synthesisError ?? "the synthesis stream failed",
                                        code: "ensemble_synthesis_failed")
        }
        final.complete = final.complete && membersComplete
        detail.append("synthesizer", final.synthesizer.map(JSON.string) ?? .null)
        detail.append("is_synthesized", .bool(final.synthesized))
        for (key, value) in final.extras { detail.append(key, value) }
        if let error = final.synthesisError { detail.append("synthesis_error", .string(error)) }
        return try await finish(spec, final, detail: detail, usage: usage, relay: relay, started: started)
    }

    private func finish(_ spec: EnsembleSpec, _ final: Final, detail: JSONObject, usage: UsageTotal,
                        relay: EnsembleChunkRelay?, started: UInt64) async throws(GatewayError) -> EnsembleOutcome {
        var completion = final.completion
        completion["model"] = .string(spec.name)
        completion["usage"] = usage.json
        completion["ultra"] = .object(detail)
        if let relay {
            if !final.streamed { await relay.replay(completion) }
            if Task.isCancelled { throw GatewayError.clientClosed }
            await relay.finish(completion: completion)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return EnsembleOutcome(completion: completion, isComplete: final.complete, seconds: seconds)
    }

    /// Tools or several choices cannot be merged: the synthesizer answers alone.
    private func single(_ spec: EnsembleSpec, body: JSONObject, requestID: String, relay: EnsembleChunkRelay?,
                        usage: inout UsageTotal) async throws(GatewayError) -> Final {
        let candidates = synthesizerCandidates(spec, answered: [])
        guard let route = candidates.first else { throw GatewayError.modelNotFound(spec.synthesizer ?? spec.name) }
        var request = body
        request["model"] = .string(route.name)
        if let relay {
            let outcome = try await orchestrator.stream(route, body: request, requestID: requestID) { await relay.forward($0) }
            usage.add(outcome.completion["usage"])
            return Final(completion: outcome.completion, synthesizer: route.name, streamed: true)
        }
        let answer = try await members.callMember(route, body: request, sample: 0, requestID: requestID)
        if !answer.cached { usage.add(answer.completion["usage"]) }
        return Final(completion: answer.completion, synthesizer: route.name)
    }

    // MARK: Members

    /// One member's fate.
    package struct MemberResult: Sendable {
        package var name: String
        package var sample: Int
        package var answer: MemberAnswer?
        package var error: GatewayError?
        /// Not waited for: `deadline` or `quorum`.
        package var cancelled: String?
        package var latency: Double = 0

        package var skippedByQuorum: Bool { cancelled == "quorum" }
        package var content: String { EnsembleRunner.content(answer?.completion) }

        package var errorMessage: String? {
            if let error { return error.message }
            switch cancelled {
            case "deadline": return "cancelled: the ensemble deadline passed"
            case "quorum": return "not needed: the quorum was reached"
            default: return nil
            }
        }

        package var json: JSON {
            var entry = JSONObject()
            entry.append("model", .string(name))
            entry.append("sample", .int(sample))
            entry.append("provider", answer?.provider.map(JSON.string) ?? .null)
            entry.append("status", .string(answer != nil ? "ok" : cancelled == "quorum" ? "skipped" : cancelled != nil ? "cancelled" : "failed"))
            entry.append("content", answer != nil ? .string(content) : .null)
            // The member's own call time (0 when cached); for a failure, the time until it failed.
            let seconds = answer.map { $0.cached ? 0 : $0.latencySeconds } ?? latency
            entry.append("latency_ms", .double((seconds * 1000 * 1000).rounded() / 1000))
            entry.append("usage", answer?.completion["usage"] ?? .null)
            if let message = errorMessage {
                entry.append("error", ["message": .string(message), "status": error.map { .int($0.status) } ?? .null,
                                       "code": (error?.code ?? cancelled).map(JSON.string) ?? .null])
            } else {
                entry.append("error", .null)
            }
            entry.append("cached", .bool(answer?.cached ?? false))
            return .object(entry)
        }
    }

    private enum MemberEvent: Sendable {
        case done(Int, Result<MemberAnswer, GatewayError>, Double)
        case deadline
    }

    /// Calls every member at once and waits until all are done, the quorum is reached or the
    /// deadline passes; members still running then are cancelled, not waited for.
    package func collect(_ spec: EnsembleSpec, body: JSONObject, requestID: String) async -> [MemberResult] {
        var results: [MemberResult] = []
        var seen: [String: Int] = [:]
        for name in spec.members {
            let sample = seen[name, default: 0]
            seen[name] = sample + 1
            results.append(MemberResult(name: name, sample: sample))
        }
        let (events, continuation) = AsyncStream.makeStream(of: MemberEvent.self)
        var tasks: [Task<Void, Never>] = []
        for (index, result) in results.enumerated() {
            let caller = members
            let route = router.route(named: result.name)
            var request = body
            request["model"] = .string(result.name)
            let sample = result.sample
            tasks.append(Task {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let outcome: Result<MemberAnswer, GatewayError>
                if let route {
                    do throws(GatewayError) { outcome = .success(try await caller.callMember(route, body: request, sample: sample, requestID: requestID)) } catch {
                        outcome = .failure(error)
                    }
                } else {
                    outcome = .failure(.modelNotFound(result.name))
                }
                continuation.yield(.done(index, outcome, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
            })
        }
        if let deadline = spec.deadline {
            tasks.append(Task {
                do {
                    try await Task.sleep(nanoseconds: Seconds.nanoseconds(deadline))
                    continuation.yield(.deadline)
                } catch {}
            })
        }
        let all = tasks
        let quorum = spec.minAnswers ?? results.count
        await withTaskCancellationHandler {
            var pending = results.count
            var answers = 0
            loop: for await event in events {
                switch event {
                case .done(let index, let outcome, let seconds):
                    results[index].latency = seconds
                    switch outcome {
                    case .success(let answer):
                        results[index].answer = answer
                        answers += 1
                    case .failure(let error): results[index].error = error
                    }
                    pending -= 1
                    if pending == 0 { break loop }
                    if answers >= quorum {
                        mark(&results, "quorum")
                        break loop
                    }
                case .deadline:
                    mark(&results, "deadline")
                    break loop
                }
            }
        } onCancel: {
            continuation.finish()
        }
        for task in all { task.cancel() }
        continuation.finish()
        return results
    }

    private func mark(_ results: inout [MemberResult], _ reason: String) {
        for i in results.indices where results[i].answer == nil && results[i].error == nil { results[i].cancelled = reason }
    }

    // MARK: Patterns

    private func synthesize(_ spec: EnsembleSpec, body: JSONObject, answered: [MemberResult], requestID: String,
                            relay: EnsembleChunkRelay?, usage: inout UsageTotal) async -> Final {
        let labelled = EnsembleRunner.labelled(answered)
        let prompt = spec.prompts.render("synthesize", answers: EnsemblePrompts.answerBlock(labelled), count: labelled.count)
        return await synthesisStep(spec, body: body, prompt: prompt, answered: answered, requestID: requestID, relay: relay,
                                   usage: &usage, fallback: EnsembleRunner.longest(answered))
    }

    private func critique(_ spec: EnsembleSpec, body: JSONObject, answered: [MemberResult], requestID: String,
                          relay: EnsembleChunkRelay?, usage: inout UsageTotal) async -> Final {
        let labelled = EnsembleRunner.labelled(answered)
        let labels = labelled.map(\.label)
        // Each member reviews the others' answers (its own left out), under their global labels.
        let reviews = await withTaskGroup(of: (Int, Result<CallOutcome, GatewayError>).self) { group in
            for (index, reviewer) in answered.enumerated() {
                guard let route = router.route(named: reviewer.name) else { continue }
                let others = labelled.enumerated().filter { $0.offset != index }.map(\.element)
                let prompt = spec.prompts.render("critique_review", answers: EnsemblePrompts.answerBlock(others), count: others.count)
                let request = EnsembleRunner.withInstruction(body, prompt, model: route.name)
                let orchestrator = self.orchestrator
                group.addTask {
                    do throws(GatewayError) { return (index, .success(try await orchestrator.complete(route, body: request, requestID: requestID))) } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var out: [Int: Result<CallOutcome, GatewayError>] = [:]
            for await (index, result) in group { out[index] = result }
            return out
        }
        var rankings: [JSON] = []
        var positions: [String: [Int]] = [:]
        var reviewsFailed = false
        var rankingLines: [String] = []
        for (index, reviewer) in answered.enumerated() {
            var entry = JSONObject()
            entry.append("reviewer", .string(reviewer.name))
            entry.append("sample", .int(reviewer.sample))
            let review: Result<CallOutcome, GatewayError>? = reviews[index]
            switch review {
            case .some(.success(let outcome)):
                usage.add(outcome.completion["usage"])
                let allowed = labels.enumerated().filter { $0.offset != index }.map(\.element)
                let ranking = RankingParser.ranking(in: EnsembleRunner.content(outcome.completion), allowed: allowed)
                for (position, label) in ranking.enumerated() { positions[label, default: []].append(position + 1) }
                entry.append("ranking", .array(ranking.map(JSON.string)))
                entry.append("error", .null)
                if !ranking.isEmpty { rankingLines.append("Reviewer \(index + 1): " + ranking.joined(separator: " > ")) }
            case .some(.failure(let error)):
                reviewsFailed = true
                entry.append("ranking", [])
                entry.append("error", .string(error.message))
            case .none:
                reviewsFailed = true
                entry.append("ranking", [])
                entry.append("error", .string("no route for \(reviewer.name)"))
            }
            rankings.append(.object(entry))
        }
        // Aggregate: mean position, unranked answers last, ties in answer order.
        let aggregate = labels.enumerated().map { index, label -> (index: Int, label: String, mean: Double?, votes: Int) in
            let p = positions[label] ?? []
            return (index, label, p.isEmpty ? nil : Double(p.reduce(0, +)) / Double(p.count), p.count)
        }.sorted { a, b in
            switch (a.mean, b.mean) {
            case let (x?, y?): return x != y ? x < y : a.index < b.index
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a.index < b.index
            }
        }
        let aggregateJSON: [JSON] = aggregate.map {
            ["label": .string($0.label), "model": .string(answered[$0.index].name), "sample": .int(answered[$0.index].sample),
             "average_rank": $0.mean.map(JSON.double) ?? .null, "rankings_count": .int($0.votes)]
        }
        rankingLines.append("Aggregate: " + aggregate.map(\.label).joined(separator: " > "))
        let prompt = spec.prompts.render("critique_synthesize", answers: EnsemblePrompts.answerBlock(labelled),
                                         count: labelled.count, rankings: rankingLines.joined(separator: "\n"))
        var final = await synthesisStep(spec, body: body, prompt: prompt, answered: answered, requestID: requestID, relay: relay,
                                        usage: &usage, fallback: answered[aggregate[0].index])
        final.extras.append("rankings", .array(rankings))
        final.extras.append("aggregate_ranking", .array(aggregateJSON))
        if reviewsFailed { final.complete = false }
        return final
    }

    private func vote(_ spec: EnsembleSpec, body: JSONObject, answered: [MemberResult], requestID: String,
                      relay: EnsembleChunkRelay?, usage: inout UsageTotal) async -> Final {
        let tallies = VoteNormalizer.tally(answered.map(\.content))
        let votes: [JSON] = tallies.map { tally in
            ["answer": .string(tally.answer), "count": .int(tally.count),
             "models": .array(tally.voters.map { .string(answered[$0].name) })]
        }
        let top = tallies[0]
        var final: Final
        if tallies.count == 1 || top.count > tallies[1].count {
            final = Final(completion: answered[top.voters[0]].answer!.completion)
            final.extras.append("votes", .array(votes))
            final.extras.append("winner", .string(top.answer))
            final.extras.append("vote_count", .int(top.count))
            return final
        }
        // A tie: one representative answer per tied group goes to the synthesizer.
        let tied = tallies.filter { $0.count == top.count }.map { answered[$0.voters[0]] }
        let labelled = EnsembleRunner.labelled(tied)
        let prompt = spec.prompts.render("vote_tiebreak", answers: EnsemblePrompts.answerBlock(labelled), count: labelled.count)
        final = await synthesisStep(spec, body: body, prompt: prompt, answered: answered, requestID: requestID, relay: relay,
                                    usage: &usage, fallback: tied[0])
        final.extras.append("votes", .array(votes))
        final.extras.append("tie", true)
        final.extras.append("winner", final.synthesisError == nil ? .string(VoteNormalizer.normalize(EnsembleRunner.content(final.completion))) : .string(top.answer))
        final.extras.append("vote_count", .int(top.count))
        return final
    }

    private func best(_ spec: EnsembleSpec, body: JSONObject, answered: [MemberResult], requestID: String,
                      usage: inout UsageTotal) async -> Final {
        let labelled = EnsembleRunner.labelled(answered)
        let labels = labelled.map(\.label)
        let prompt = spec.prompts.render("best", answers: EnsemblePrompts.answerBlock(labelled), count: labelled.count,
                                         labels: labels.joined(separator: ", "))
        var errors: [String] = []
        var judgeName: String?
        for route in synthesizerCandidates(spec, answered: answered) {
            judgeName = judgeName ?? route.name
            do {
                let outcome = try await orchestrator.complete(route, body: EnsembleRunner.withInstruction(body, prompt, model: route.name),
                                                              requestID: requestID)
                usage.add(outcome.completion["usage"])
                guard let verdict = RankingParser.verdict(in: EnsembleRunner.content(outcome.completion), allowed: labels),
                      let index = labels.firstIndex(of: verdict.label) else {
                    errors.append("\(route.name): the judge named no answer")
                    continue
                }
                var final = Final(completion: answered[index].answer!.completion, synthesizer: route.name)
                final.extras.append("best", ["label": .string(verdict.label), "model": .string(answered[index].name),
                                             "sample": .int(answered[index].sample), "reason": .string(verdict.reason)])
                return final
            } catch {
                if error.isClientClosed { break }
                errors.append("\(route.name): \(error.message)")
            }
        }
        let fallback = EnsembleRunner.longest(answered)
        var final = Final(completion: fallback.answer!.completion, synthesizer: judgeName,
                          synthesisError: errors.isEmpty ? "no judge model is available" : errors.joined(separator: "; "), complete: false)
        final.extras.append("best", ["label": .null, "model": .string(fallback.name), "sample": .int(fallback.sample), "reason": .null])
        return final
    }

    /// Asks the synthesizer, then the backup; if both fail, `fallback`'s answer stands. Streams
    /// when a relay is given.
    private func synthesisStep(_ spec: EnsembleSpec, body: JSONObject, prompt: String, answered: [MemberResult], requestID: String,
                               relay: EnsembleChunkRelay?, usage: inout UsageTotal, fallback: MemberResult) async -> Final {
        var errors: [String] = []
        let candidates = synthesizerCandidates(spec, answered: answered)
        for route in candidates {
            let request = EnsembleRunner.withInstruction(body, prompt, model: route.name)
            let t0 = DispatchTime.now().uptimeNanoseconds
            do {
                let outcome: CallOutcome
                if let relay {
                    outcome = try await orchestrator.stream(route, body: request, requestID: requestID) { await relay.forward($0) }
                } else {
                    outcome = try await orchestrator.complete(route, body: request, requestID: requestID)
                }
                usage.add(outcome.completion["usage"])
                var final = Final(completion: outcome.completion, synthesized: true, synthesizer: route.name, streamed: relay != nil)
                let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
                final.extras.append("synthesis_latency_ms", .double((ms * 1000).rounded() / 1000))
                return final
            } catch {
                errors.append("\(route.name): \(error.message)")
                if error.isClientClosed || relay?.delivered == true { break }
            }
        }
        return Final(completion: fallback.answer!.completion, synthesizer: candidates.first?.name,
                     synthesisError: errors.isEmpty ? "no synthesizer model is available" : errors.joined(separator: "; "),
                     complete: false)
    }

    /// The synthesizer (or, when it does not resolve, the first member that answered, else the
    /// first member that resolves), then the backup synthesizer.
    package func synthesizerCandidates(_ spec: EnsembleSpec, answered: [MemberResult]) -> [ModelRoute] {
        var out: [ModelRoute] = []
        if let name = spec.synthesizer, let route = router.route(named: name) {
            out.append(route)
        } else if let route = (answered.map(\.name) + spec.members).lazy.compactMap({ router.route(named: $0) }).first {
            out.append(route)
        }
        if let name = spec.backupSynthesizer, let route = router.route(named: name), !out.contains(where: { $0.name == name }) {
            out.append(route)
        }
        return out
    }

    // MARK: Helpers

    /// The body every member gets: the client's, without the ensemble field or stream flags.
    package static func memberBody(_ body: JSONObject) -> JSONObject {
        var out = body
        for key in ["ultra", "stream", "stream_options"] where out[key] != nil { out[key] = nil }
        return out
    }

    /// Why a request is not ensembled, or nil when it is.
    package static func notEnsembledReason(_ body: JSONObject) -> String? {
        if let tools = body["tools"]?.arrayValue, !tools.isEmpty { return "the request carries tools" }
        if let n = body["n"]?.intValue, n > 1 { return "the request asks for n > 1" }
        return nil
    }

    /// The client's conversation plus one user message carrying `instruction`.
    package static func withInstruction(_ body: JSONObject, _ instruction: String, model: String) -> JSONObject {
        var out = body
        out["model"] = .string(model)
        var messages = body["messages"]?.arrayValue ?? []
        messages.append(["role": "user", "content": .string(instruction)])
        out["messages"] = .array(messages)
        return out
    }

    package static func labelled(_ answered: [MemberResult]) -> [(label: String, text: String)] {
        answered.enumerated().map { (EnsemblePrompts.label($0.offset), $0.element.content) }
    }

    /// The longest answer (the first of equals), as the reference falls back to.
    package static func longest(_ answered: [MemberResult]) -> MemberResult {
        answered.enumerated().max { a, b in
            a.element.content.count != b.element.content.count ? a.element.content.count < b.element.content.count : a.offset > b.offset
        }!.element
    }

    /// The text of a completion's first choice.
    package static func content(_ completion: JSONObject?) -> String {
        guard let choice = completion?["choices"]?.arrayValue?.first else { return "" }
        return choice["message"]?["content"]?.stringValue ?? ""
    }
}
