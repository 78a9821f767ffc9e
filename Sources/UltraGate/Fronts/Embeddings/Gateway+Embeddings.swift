import UltraGateProviders
import UltraGateCache
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// `POST /v1/embeddings` (OpenAI's "Create embeddings"): validated as OpenAI does, admitted by the
/// access gate once the model is known, routed as chat is (aliases, `provider/model`, params,
/// fallbacks), and answered item by item from the per-item cache, the items it lacks sent
/// upstream through `EmbeddingPipeline` (single flight per item, batching across requests).
///
/// Headers: `X-Cache: HIT` (every item from the cache), `MISS` (none), `PARTIAL`, or `BYPASS`
/// (`Cache-Control: no-cache`, or no cache); `X-UltraGate-Cache-Items: <hits>/<items>`. `usage`
/// counts every item, as the client would be charged without the cache; the request's cost is
/// what its own upstream calls carried, and the rest is booked as saved.
extension Gateway {
    func handleEmbeddings(_ request: HTTPRequest, _ responder: HTTPResponder, _ context: RequestContext) {
        if let problem = Gateway.bodyProblem(request) { return fail(responder, context, problem) }
        let json: JSON
        do { json = try JSONParser.parse(request.body) } catch {
            return fail(responder, context, .invalidJSON(error))
        }
        let embedding: EmbeddingRequest
        switch EmbeddingRequestValidator.validate(json) {
        case .success(let valid): embedding = valid
        case .failure(let error): return fail(responder, context, error)
        }
        if let refusal = admit(context, model: embedding.model, estimatedTokens: embedding.estimatedTokens) {
            return fail(responder, context, refusal)
        }
        if router.ensemble(named: embedding.model) != nil {
            return fail(responder, context, .wrongModelKind(embedding.model, kind: .chat))  // ensembles answer chat
        }
        guard let route = router.route(named: embedding.model) else {
            return fail(responder, context, .modelNotFound(embedding.model, suggestions: suggestions(for: context, from: router.embeddingSuggestions)))
        }
        if route.kind == .chat { return fail(responder, context, .wrongModelKind(embedding.model, kind: .chat)) }
        guard let provider = route.provider as? any EmbeddingProvider else {
            return fail(responder, context, EmbeddingPipeline.noEmbeddings(route))
        }
        for (i, input) in embedding.inputs.enumerated() {
            guard let problem = provider.embeddingInputProblem(input) else { continue }
            let param = embedding.inputs.count == 1 ? "input" : "input[\(i)]"
            return fail(responder, context, .invalidRequest("The model `\(embedding.model)` \(problem).", param: param,
                                                            code: "unsupported_input"))
        }
        context.model = embedding.model
        context.provider = route.providerName
        let cacheControl = CacheControl(headerValues: request.head.headers.values("cache-control"))
        let scheduler = EmbeddingScheduler(after: { seconds, work in _ = responder.schedule(after: seconds, work) },
                                           executor: responder.taskExecutor)
        let plan = EmbeddingPipeline.Plan(request: embedding, namespace: context.cacheNamespace, cacheControl: cacheControl,
                                          requestID: context.id, scheduler: scheduler)
        // Every item in the cache: answered here, on the event loop, with no task.
        let prepared = embeddings.prepare(plan, route: route, provider: provider)
        if let answered = prepared.answered {
            return respondEmbeddings(answered, embedding, cacheControl: cacheControl, responder, context)
        }
        let task = Task.immediate(executorPreference: responder.taskExecutor) { [self] in
            do throws(GatewayError) {
                let outcome = try await embeddings.run(plan, route: route, prepared: prepared)
                respondEmbeddings(outcome, embedding, cacheControl: cacheControl, responder, context)
            } catch {
                fail(responder, context, error)
            }
        }
        responder.onClientGone { task.cancel() }
    }

    private func respondEmbeddings(_ outcome: EmbeddingPipeline.Outcome, _ embedding: EmbeddingRequest, cacheControl: CacheControl,
                                   _ responder: HTTPResponder, _ context: RequestContext) {
        let items = outcome.itemOf.count
        let promptTokens = outcome.promptTokens
        let savedTokens = max(0, promptTokens - outcome.sentTokens)
        let looked = embeddings.cache != nil && cacheControl.allowsLookup
        let status = !looked ? "BYPASS" : outcome.hits == items ? "HIT" : outcome.hits == 0 ? "MISS" : "PARTIAL"
        let result: CacheLookupResult = !looked ? .bypass : outcome.hits == items ? .hit : .miss
        let answering = outcome.route.name
        // Booked before answering: the access log entry and the key's usage are made once the
        // answer is out, which may be inside `respond`.
        context.cacheResult = result
        context.provider = outcome.route.providerName
        context.promptTokens = promptTokens
        context.completionTokens = 0
        context.cachedTokens = 0
        let price = metrics.model(answering).price
        context.costUSD = price?.cost(prompt: outcome.sentTokens, completion: 0, cached: 0)
        if savedTokens > 0 { context.savedUSD = price?.cost(prompt: savedTokens, completion: 0, cached: 0) }
        context.upstreamSeconds = outcome.upstreamSeconds
        if looked { context.timing.record(.cache, seconds: outcome.lookupSeconds) }
        if outcome.upstreamSeconds > 0 { context.timing.record(.upstream, seconds: outcome.upstreamSeconds) }
        if outcome.attempts > 1 { context.timing.record(.retry, seconds: outcome.retryWaitSeconds) }
        metrics.recordCacheLookup(result, model: embedding.model)
        if looked { metrics.recordEmbeddingItems(model: answering, hits: outcome.hits, misses: items - outcome.hits) }
        metrics.recordTokens(model: answering, prompt: outcome.sentTokens, completion: 0, cached: 0)
        if savedTokens > 0 { metrics.recordCacheSavings(model: answering, prompt: savedTokens, completion: 0, cached: 0) }

        var headers = commonHeaders(context, cacheStatus: status, model: answering)
        headers.append(HTTPHeaderField("X-UltraGate-Cache-Items", "\(looked ? outcome.hits : 0)/\(items)"))
        headers.append(HTTPHeaderField("Content-Type", "application/json"))
        headers.append(serverTiming(context))
        let body = EmbeddingResponseWriter.body(model: answering, vectors: outcome.vectors, itemOf: outcome.itemOf,
                                                encoding: embedding.encoding, promptTokens: promptTokens)
        responder.respond(status: 200, headers: headers, body: body)
    }

    /// The events of one embeddings request's retry loop: its retries and their waits, and
    /// fallbacks. Upstream calls, their errors and durations are the batcher's to report (one
    /// call may carry many requests' items, and a request may make none).
    package static func embeddingRequestEvents(_ metrics: GatewayMetrics) -> OrchestratorEvents {
        var events = OrchestratorEvents()
        events.attemptFailed = { route, _, willRetry in
            if willRetry { metrics.recordRetry(provider: route.providerName, model: route.name) }
        }
        events.fallback = { from, to in metrics.recordFallback(from: from.name, to: to.name) }
        events.retryWaited = { route, seconds in
            metrics.recordRetryWait(provider: route.providerName, model: route.name, seconds: seconds)
        }
        return events
    }
}

extension GatewayError {
    /// A model declared for one kind of request asked another (`models.NAME.kind`).
    package static func wrongModelKind(_ model: String, kind: ModelKind) -> GatewayError {
        let (what, use) = kind == .embedding ? ("an embedding model", "/v1/embeddings") : ("a chat model", "/v1/chat/completions")
        return .invalidRequest("The model `\(model)` is \(what); it serves \(use) only.", param: "model", code: "model_not_supported")
    }
}
