import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// How an ensemble calls one member. The gateway's implementation goes through the response
/// cache, so a member answer is shared with the equivalent single-model request.
public protocol EnsembleMemberCaller: Sendable {
    /// One member call. `sample` tells repeats of one model apart (Self-MoA): each has its own
    /// cache slot, so three samples are three answers, never one cached answer three times.
    func callMember(_ route: ModelRoute, body: JSONObject, sample: Int, requestID: String) async throws(GatewayError) -> MemberAnswer
}

/// One member's answer.
public struct MemberAnswer: Sendable {
    /// The `chat.completion` (its `model` the route that answered, a fallback's name if one did).
    public var completion: JSONObject
    /// Served from the cache: it cost nothing and is left out of the usage sum.
    public var cached: Bool
    public var latencySeconds: Double
    /// The provider that answered, when known.
    public var provider: String?

    public init(completion: JSONObject, cached: Bool, latencySeconds: Double, provider: String? = nil) {
        self.completion = completion
        self.cached = cached
        self.latencySeconds = latencySeconds
        self.provider = provider
    }
}

/// What an ensemble produced.
public struct EnsembleOutcome: Sendable {
    /// A `chat.completion` whose `model` is the ensemble's name, `usage` the sum of every call
    /// made, with the top-level `ultra` detail object.
    public var completion: JSONObject
    /// Every member answered and every step after them succeeded: safe to cache.
    public var isComplete: Bool
    /// Wall time of the whole ensemble.
    public var seconds: Double

    public init(completion: JSONObject, isComplete: Bool, seconds: Double) {
        self.completion = completion
        self.isComplete = isComplete
        self.seconds = seconds
    }
}

/// Calls members straight through the orchestrator (no cache): for tests and cacheless gateways.
public struct OrchestratorMemberCaller: EnsembleMemberCaller {
    public let orchestrator: Orchestrator
    public init(orchestrator: Orchestrator) { self.orchestrator = orchestrator }

    public func callMember(_ route: ModelRoute, body: JSONObject, sample: Int, requestID: String) async throws(GatewayError) -> MemberAnswer {
        let outcome = try await orchestrator.complete(route, body: body, requestID: requestID)
        return MemberAnswer(completion: outcome.completion, cached: false, latencySeconds: outcome.upstreamSeconds,
                            provider: outcome.route.providerName)
    }
}
