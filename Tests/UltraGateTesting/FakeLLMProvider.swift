import Foundation
@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench

/// A provider for ensemble tests: each model answers with text chosen by a closure (so members,
/// reviewers, judges and synthesizers can be told apart), with fixed usage (10 prompt + 5
/// completion tokens), per-model delays and failures, and a log of every call.
package final class FakeLLMProvider: ChatProvider, @unchecked Sendable {
    package struct Call: Sendable {
        package var model: String
        package var instruction: String
        package var streamed: Bool
    }

    package let name: String
    package var type: String { "fake" }
    private let lock = NSLock()
    private var _calls: [Call] = []
    private var _cancellations = 0
    private let reply: @Sendable (_ model: String, _ lastMessage: String) -> String
    private let delaysMs: [String: Double]
    private let failing: Set<String>

    package init(name: String = "fake", delaysMs: [String: Double] = [:], failing: Set<String> = [],
         reply: @escaping @Sendable (_ model: String, _ lastMessage: String) -> String = FakeLLMProvider.defaultReply) {
        self.name = name
        self.delaysMs = delaysMs
        self.failing = failing
        self.reply = reply
    }

    /// Members answer "answer from <model>"; instruction prompts get a synthesizer/reviewer/judge reply.
    package static let defaultReply: @Sendable (String, String) -> String = { model, last in
        if last.contains("FINAL RANKING:") { return "Solid work.\nFINAL RANKING:\n1. Response C\n2. Response B\n3. Response A" }
        if last.contains("BEST: Response X") { return "BEST: Response B\nREASON: it is the most complete." }
        if last.contains("candidate answers") { return "synthesis by \(model)" }
        return "answer from \(model)"
    }

    package var calls: [Call] { lock.withLock { _calls } }
    package var cancellations: Int { lock.withLock { _cancellations } }
    package func calls(to model: String) -> [Call] { calls.filter { $0.model == model } }

    private func answer(_ request: ProviderRequest, streamed: Bool) async throws -> JSONObject {
        let model = request.model
        let last = request.body["messages"]?.arrayValue?.last?["content"]?.stringValue ?? ""
        lock.withLock { _calls.append(Call(model: model, instruction: last, streamed: streamed)) }
        if let ms = delaysMs[model], ms > 0 {
            do { try await Task.sleep(nanoseconds: UInt64(ms * 1e6)) } catch {
                lock.withLock { _cancellations += 1 }
                throw error
            }
        }
        if failing.contains(model) {
            throw ProviderError(kind: .http(status: 500), provider: name, message: "\(model) is down")
        }
        let text = reply(model, last)
        return ["id": .string("chatcmpl-\(model)"), "object": "chat.completion", "created": 1700000000, "model": .string(model),
                "choices": [["index": 0, "message": ["role": "assistant", "content": .string(text)], "logprobs": nil, "finish_reason": "stop"]],
                "usage": ["prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15]]
    }

    package func complete(_ request: ProviderRequest) async throws -> JSONObject {
        try await answer(request, streamed: false)
    }

    package func stream(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject> {
        let completion = try await answer(request, streamed: true)
        let chunks = ChatCompletionReplayer.chunks(from: completion, includeUsage: true)
        return ChunkStream { continuation in
            for chunk in chunks { continuation.yield(chunk) }
            continuation.finish()
        }
    }
}

/// An `EnsembleMemberCaller` with an in-memory cache keyed like the gateway's (the equivalent
/// single-model request, `sample-N` variants for repeats), over the orchestrator.
package final class InMemoryCachingMemberCaller: EnsembleMemberCaller, @unchecked Sendable {
    package let orchestrator: Orchestrator
    private let lock = NSLock()
    private var store: [CacheKey: JSONObject] = [:]

    package init(orchestrator: Orchestrator) { self.orchestrator = orchestrator }

    package var count: Int { lock.withLock { store.count } }

    package static func key(_ route: ModelRoute, body: JSONObject, sample: Int) -> CacheKey {
        CacheKey.make(namespace: "test", route: route.cacheRoute, request: route.mergedBody(body),
                      variant: sample > 0 ? "sample-\(sample)" : nil)
    }

    package func callMember(_ route: ModelRoute, body: JSONObject, sample: Int, requestID: String) async throws(GatewayError) -> MemberAnswer {
        let key = Self.key(route, body: body, sample: sample)
        if let hit = lock.withLock({ store[key] }) {
            return MemberAnswer(completion: hit, cached: true, latencySeconds: 0, provider: route.providerName)
        }
        let outcome = try await orchestrator.complete(route, body: body, requestID: requestID)
        lock.withLock { store[key] = outcome.completion }
        return MemberAnswer(completion: outcome.completion, cached: false, latencySeconds: outcome.upstreamSeconds,
                            provider: outcome.route.providerName)
    }
}
