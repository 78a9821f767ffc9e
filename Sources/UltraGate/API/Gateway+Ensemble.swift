import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Ensemble requests (an ensemble model, or any request carrying `ultra`): cached whole under the
/// ensemble request's key when complete, shared by identical requests in flight like any other.
extension Gateway {
    package func handleEnsemble(_ chat: ChatCompletionRequest, cacheControl: CacheControl, _ responder: HTTPResponder,
                        _ context: RequestContext) {
        let spec: EnsembleSpec
        do {
            guard let resolved = try EnsembleSpec.resolve(model: chat.model, ultra: chat.body["ultra"], router: router) else {
                return fail(responder, context, .modelNotFound(chat.model))
            }
            spec = resolved
        } catch {
            return fail(responder, context, error)
        }
        let key = CacheKey.make(namespace: context.cacheNamespace, route: spec.cacheRoute, request: spec.cacheRequest(chat.body))
        var cacheStatus = "BYPASS"
        context.cacheResult = .bypass
        if let cache, cacheControl.allowsLookup {
            let lookupStart = Clock.nanos()
            let hit = cachedOrCommitting(cache, key, maxAge: cacheControl.maxAge)
            context.timing.record(.cache, seconds: Double(Clock.nanos() - lookupStart) / 1e9)
            if let hit, serveHit(hit, chat: chat, responder, context) {
                noteHit(hit, model: chat.model, context: context)
                return
            }
            cacheStatus = "MISS"
            context.cacheResult = .miss
        }
        metrics.recordCacheLookup(context.cacheResult ?? .bypass, model: chat.model)
        let (flight, created) = flights.join(key, streaming: chat.stream)
        if created {
            let flights = self.flights
            flight.start(executor: responder.taskExecutor, onAbandon: { flights.remove(key, flight) }) { [self] flight in
                await runEnsembleFlight(flight, key: key, spec: spec, chat: chat, cacheControl: cacheControl, requestID: context.id,
                                       namespace: context.cacheNamespace)
            }
        }
        attachClient(to: flight, joined: !created, chat: chat, cacheStatus: cacheStatus, responder, context)
    }

    /// Whether the request was taken as an ensemble (it names a configured one, or carries
    /// `ultra`): then `run` handles it, or the caller's key may not run its members and the
    /// refusal is answered. Every front (chat completions, Messages, Responses) asks this once it
    /// has admitted the model. A virtual key with a model list may call an ensemble it is allowed,
    /// with the members and synthesizers the configuration gives it; models a request names
    /// itself in `ultra` must be allowed one by one. A spec that does not resolve is `run`'s to
    /// refuse.
    package func answeredAsEnsemble(model: String, ultra: JSON?, _ responder: HTTPResponder, _ context: RequestContext,
                                    run: () -> Void) -> Bool {
        guard ultra.map({ !$0.isNull }) == true || router.ensemble(named: model) != nil else { return false }
        if let refusal = ensembleMemberRefusal(model: model, ultra: ultra, context: context) {
            fail(responder, context, refusal)
            return true
        }
        context.model = model
        run()
        return true
    }

    /// The names a request's `ultra` object gives (members, synthesizers), checked against the
    /// key's model list as written, before anything resolves them: a name the key may not use gets
    /// the same 403 whether it is a model, an ensemble or nothing at all, so `ultra` cannot map
    /// what exists. Names the configured ensemble gives itself need no check; the request's own
    /// `model` (the ad-hoc synthesizer) was admitted already.
    private func ensembleMemberRefusal(model: String, ultra: JSON?, context: RequestContext) -> GatewayError? {
        guard let key = context.caller.virtualKey, key.models != nil, let ultra = ultra?.objectValue else { return nil }
        let configured = router.ensemble(named: model)
        let given = Set((configured?.ensemble ?? []) + [configured?.synthesizer, configured?.backupSynthesizer].compactMap { $0 })
        var named = ultra["models"]?.arrayValue?.compactMap(\.stringValue) ?? []
        named += ["synthesizer", "backup_synthesizer"].compactMap { ultra[$0]?.stringValue }
        guard let refused = named.first(where: { !given.contains($0) && !key.allows(model: $0) }) else { return nil }
        return AccessGate.modelNotAllowed(refused)
    }

    private func runEnsembleFlight(_ flight: CompletionFlight, key: CacheKey, spec: EnsembleSpec, chat: ChatCompletionRequest,
                                   cacheControl: CacheControl, requestID: String, namespace: String) async {
        let runner = EnsembleRunner(router: router, orchestrator: orchestrator,
                                    members: GatewayMemberCaller(gateway: self, cacheControl: cacheControl,
                                                                namespace: namespace))
        do {
            let outcome = flight.streaming
                ? try await runner.runStreaming(spec, body: chat.body, requestID: requestID) { flight.publish(.chunk($0)) }
                : try await runner.run(spec, body: chat.body, requestID: requestID)
            for member in outcome.completion["ultra"]?["members"]?.arrayValue ?? [] {
                metrics.recordEnsembleMember(ensemble: spec.name, result: member["status"]?.stringValue ?? "ok")
            }
            let body = JSONWriter.serialize(.object(outcome.completion))
            let call = CallOutcome(completion: outcome.completion, route: ensembleRoute(spec), upstreamSeconds: outcome.seconds,
                                   timeToFirstToken: nil, attempts: 0)
            // A degraded answer (a member failed, a fallback answer) is served but never stored.
            let store = cache != nil && outcome.isComplete && !cacheControl.noStore && !Task.isCancelled
            await finish(flight, key: key, result: FlightResult(outcome: call, body: body),
                         storing: store ? (key, cachedResponse(call, body: body)) : nil)
        } catch {
            flights.remove(key, flight)
            flight.publish(.failed(error))
        }
    }

    /// The ensemble as a route, for headers, cache entries and TTL (it is never called).
    package func ensembleRoute(_ spec: EnsembleSpec) -> ModelRoute {
        ModelRoute(name: spec.name, providerName: "ensemble", provider: EnsembleNoProvider(), upstreamModel: spec.name,
                   ttl: router.ensemble(named: spec.name)?.ttl)
    }
}

/// Stands in for a provider on the ensemble's own route: ensembles call their members instead.
private struct EnsembleNoProvider: ChatProvider {
    var name: String { "ensemble" }
    var type: String { "ensemble" }
    func complete(_ request: ProviderRequest) async throws -> JSONObject {
        throw ProviderError(kind: .invalidResponse, provider: name, message: "an ensemble is not a provider")
    }
    func stream(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject> {
        throw ProviderError(kind: .invalidResponse, provider: name, message: "an ensemble is not a provider")
    }
}
