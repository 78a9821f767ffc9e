import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// The gateway's way of calling an ensemble member: through the response cache under the key of
/// the equivalent single-model request (repeats of one model get `sample-N` variants), else
/// through the orchestrator, storing what a successful call returned.
package struct GatewayMemberCaller: EnsembleMemberCaller {
    package let gateway: Gateway
    package let cacheControl: CacheControl
    /// The requesting tenant's cache namespace (`RequestContext.cacheNamespace`).
    package let namespace: String

    package func callMember(_ route: ModelRoute, body: JSONObject, sample: Int, requestID: String) async throws(GatewayError) -> MemberAnswer {
        let variant = sample > 0 ? "sample-\(sample)" : nil
        let key = CacheKey.make(namespace: namespace, route: route.cacheRoute, request: route.mergedBody(body), variant: variant)
        if let cache = gateway.cache, cacheControl.allowsLookup,
           let hit = cache.lookup(key, now: Clock.wallNow(), maxAge: cacheControl.maxAge),
           let completion = try? JSONParser.parse(hit.body).objectValue {
            return MemberAnswer(completion: completion, cached: true, latencySeconds: 0, provider: hit.provider)
        }
        let outcome = try await gateway.orchestrator.complete(route, body: body, requestID: requestID)
        if let cache = gateway.cache, !cacheControl.noStore, !Task.isCancelled {
            // A fallback's answer belongs to the model that produced it.
            let answeringKey = outcome.route.name == route.name
                ? key
                : CacheKey.make(namespace: namespace, route: outcome.route.cacheRoute,
                                request: outcome.route.mergedBody(body), variant: variant)
            let bytes = JSONWriter.serialize(.object(outcome.completion))
            let entry = gateway.cachedResponse(outcome, body: bytes)
            // Off the ensemble's critical path: the writer commits in order, so the member answers
            // are stored no later than the ensemble result that follows them.
            Task.detached { await cache.store(answeringKey, entry) }
        }
        return MemberAnswer(completion: outcome.completion, cached: false, latencySeconds: outcome.upstreamSeconds,
                            provider: outcome.route.providerName)
    }
}
