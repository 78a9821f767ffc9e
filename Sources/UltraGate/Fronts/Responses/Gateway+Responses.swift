import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// The Responses front: `POST /v1/responses` through the same cache, single flight, retries,
/// fallbacks and ensembles as chat completions; stored responses for `GET`/`DELETE
/// /v1/responses/{id}`, `…/input_items` and `previous_response_id`.
///
/// A flight of a Responses request carries Responses stream events (`CompletionFlight.Event.chunk`)
/// and ends with the finished `Response` as its completion and body, whichever way each attempt
/// went: passed through to a provider that speaks Responses, or translated to the hub and back.
/// The cache stores the `Response` JSON (the front's dialect), so a hit never translates.
extension Gateway {
    /// The owner stored responses are kept under: a virtual key's own name, else one shared owner
    /// (the master key and an open gateway see the same store).
    package func responseOwner(_ context: RequestContext) -> String {
        if let key = context.caller.virtualKey { return "key:\(key.identity.utf8.count):\(key.identity)" }
        return "shared"
    }

    package static func responseNotFound(_ id: String) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error", message: "Response with id '\(id)' not found.",
                     param: "response_id", code: nil)
    }

    /// Longest `previous_response_id` chain followed (a guard; chains are acyclic by construction).
    package static let maxChainLength = 10_000

    /// The items `previous_response_id` stands for: every stored turn's input and output, oldest
    /// first. Ids the gateway minted are kept; unknown or foreign ids are a 404.
    package func conversation(before id: String, owner: String, now: Double) throws(GatewayError) -> [JSON] {
        var turns: [[JSON]] = []
        var next: String? = id
        var total = 0
        while let current = next {
            guard turns.count < Gateway.maxChainLength, let record = responseStore.get(current, now: now), record.owner == owner else {
                if current == id { throw Gateway.responseNotFound(id) }
                throw GatewayError(status: 404, type: "invalid_request_error",
                                   message: "Response with id '\(current)' (earlier in the conversation of '\(id)') not found.",
                                   param: "previous_response_id", code: nil)
            }
            let turn = record.input + (record.response["output"]?.arrayValue ?? [])
            total += turn.count
            turns.append(turn)
            next = record.previousResponseID
        }
        var items: [JSON] = []
        items.reserveCapacity(total)
        for turn in turns.reversed() { items += turn }
        return items
    }

    // MARK: POST /v1/responses

    package func handleCreateResponse(_ request: HTTPRequest, _ responder: HTTPResponder, _ context: RequestContext) {
        if let problem = Gateway.bodyProblem(request) { return fail(responder, context, problem) }
        let json: JSON
        do { json = try JSONParser.parse(request.body) } catch {
            return fail(responder, context, .invalidJSON(error))
        }
        let asked: ResponsesRequest
        switch ResponsesRequest.validate(json) {
        case .success(let valid): asked = valid
        case .failure(let error): return fail(responder, context, error)
        }
        var prior: [JSON] = []
        if let previous = asked.previousResponseID {
            do { prior = try conversation(before: previous, owner: responseOwner(context), now: Clock.wallNow()) } catch {
                return fail(responder, context, error)
            }
        }
        let call = ResponsesCall(request: asked, priorItems: prior)
        if let refusal = admit(context, model: asked.model,
                               estimatedTokens: ResponsesRequest.estimatedTokens(chat: call.chatBody ?? [:], body: asked.body)) {
            return fail(responder, context, refusal)
        }
        let cacheControl = CacheControl(headerValues: request.head.headers.values("cache-control"))
        if answeredAsEnsemble(model: asked.model, ultra: asked.body["ultra"], responder, context, run: {
            handleEnsembleResponse(call, cacheControl: cacheControl, responder, context)
        }) { return }
        guard let route = router.route(named: asked.model) else {
            return fail(responder, context, .modelNotFound(asked.model, suggestions: suggestions(for: context)))
        }
        let native = route.forwardsResponses
        if !native, let error = call.translationError { return fail(responder, context, error) }
        context.model = asked.model
        context.provider = route.providerName
        let key = call.key(namespace: context.cacheNamespace, route: route, native: native)
        serveResponses(call, key: key, source: .route(route), cacheControl: cacheControl,
                       knownModel: route.fallbacks.isEmpty ? route.name : nil, responder, context)
    }

    private func handleEnsembleResponse(_ call: ResponsesCall, cacheControl: CacheControl, _ responder: HTTPResponder,
                                        _ context: RequestContext) {
        guard let chat = call.chatBody else { return fail(responder, context, call.translationError ?? .serverError("untranslatable")) }
        let spec: EnsembleSpec
        do {
            guard let resolved = try EnsembleSpec.resolve(model: call.request.model, ultra: call.request.body["ultra"], router: router) else {
                return fail(responder, context, .modelNotFound(call.request.model))
            }
            spec = resolved
        } catch {
            return fail(responder, context, error)
        }
        var ensembleChat = chat
        ensembleChat["ultra"] = call.request.body["ultra"]
        let key = CacheKey.make(namespace: context.cacheNamespace, route: spec.cacheRoute, request: spec.cacheRequest(ensembleChat),
                                variant: "responses")
        serveResponses(call, key: key, source: .ensemble(spec, chat: ensembleChat), cacheControl: cacheControl, knownModel: nil,
                       responder, context)
    }

    /// Where a Responses flight gets its answer.
    package enum ResponsesSource: Sendable {
        case route(ModelRoute)
        case ensemble(EnsembleSpec, chat: JSONObject)
    }

    /// Cache lookup, then a hit or the shared flight.
    private func serveResponses(_ call: ResponsesCall, key: CacheKey, source: ResponsesSource, cacheControl: CacheControl,
                                knownModel: String?, _ responder: HTTPResponder, _ context: RequestContext) {
        let model = call.request.model
        let cacheStatus: String
        if let cache, cacheControl.allowsLookup {
            let lookupStart = Clock.nanos()
            let hit = cachedOrCommitting(cache, key, maxAge: cacheControl.maxAge)
            context.timing.record(.cache, seconds: Double(Clock.nanos() - lookupStart) / 1e9)
            if let hit, serveResponseHit(hit, call: call, responder, context) {
                noteHit(hit, model: model, context: context)
                return
            }
            cacheStatus = "MISS"
            context.cacheResult = .miss
        } else {
            cacheStatus = "BYPASS"
            context.cacheResult = .bypass
        }
        metrics.recordCacheLookup(context.cacheResult ?? .bypass, model: model)
        let (flight, created) = flights.join(key, streaming: call.request.stream)
        let flightID = ResponseObject.newID()
        if created {
            let flights = self.flights
            let namespace = context.cacheNamespace
            flight.start(executor: responder.taskExecutor, onAbandon: { flights.remove(key, flight) }) { [self] flight in
                await runResponsesFlight(flight, key: key, call: call, source: source, responseID: flightID,
                                         cacheControl: cacheControl, requestID: context.id, namespace: namespace)
            }
        }
        let client = ResponsesClient(gateway: self, call: call, context: context, responder: responder,
                                     responseID: created ? nil : ResponseObject.newID(), flightID: flightID, cacheStatus: cacheStatus,
                                     joined: !created, knownModel: knownModel, keepAliveInterval: config.streamKeepAliveInterval)
        client.attach(to: flight)
    }

    /// Answers from a stored `Response`: a new id and creation time for this request (stored anew
    /// when `store` is true), as JSON or replayed as stream events.
    private func serveResponseHit(_ hit: CachedResponse, call: ResponsesCall, _ responder: HTTPResponder,
                                  _ context: RequestContext) -> Bool {
        guard hit.format == .openAIResponse, case .object(let stored)? = try? JSONParser.parse(hit.body) else { return false }
        let response = ResponseObject.personalized(stored, id: ResponseObject.newID(), createdAt: Int(Clock.wallNow()),
                                                   request: call.request.body)
        context.cacheResult = .hit
        context.provider = hit.provider
        bookHit(hit, context)
        storeResponse(response, call: call, context: context)
        var headers = commonHeaders(context, cacheStatus: "HIT", model: hit.model)
        headers.append(Gateway.ageField(of: hit))
        guard call.request.stream else {
            headers.append(HTTPHeaderField("Content-Type", "application/json"))
            headers.append(serverTiming(context))
            responder.respond(status: 200, headers: headers, body: JSONWriter.serialize(.object(response)))
            return true
        }
        var bytes: [UInt8] = []
        for event in ResponsesStreamEncoder.replay(response) { bytes += ResponsesStreamEncoder.sse(event) }
        headers.append(contentsOf: Gateway.sseHeaders)
        let headersSeconds = Double(Clock.nanos() - context.startNanos) / 1e9
        headers.append(Gateway.streamHeadTiming(cacheSeconds: context.timing[.cache], headersSeconds: headersSeconds))
        context.timing.record(.headers, seconds: headersSeconds)
        responder.startStream(status: 200, headers: headers)
        responder.writeStreamChunk(bytes)
        responder.finishStream(trailers: [serverTimingTrailer(context)])
        return true
    }

    /// Keeps a finished response (unless `store` is false or it failed) under its id, for its owner.
    package func storeResponse(_ response: JSONObject, call: ResponsesCall, context: RequestContext) {
        guard call.request.store, response["status"]?.stringValue != "failed", let id = response["id"]?.stringValue else { return }
        let now = Clock.wallNow()
        let ttl = config.responses.ttl
        responseStore.put(StoredResponse(id: id, owner: responseOwner(context), createdAt: now,
                                         expiresAt: ttl > 0 ? now + ttl : .infinity,
                                         previousResponseID: call.request.previousResponseID, response: response,
                                         input: call.request.input), now: now)
    }

    // MARK: The flight

    private func runResponsesFlight(_ flight: CompletionFlight, key: CacheKey, call: ResponsesCall, source: ResponsesSource,
                                    responseID: String, cacheControl: CacheControl, requestID: String, namespace: String) async {
        let createdAt = Int(Clock.wallNow())
        do {
            let outcome: CallOutcome
            var answeringKey = key
            switch source {
            case .route(let route):
                outcome = try await orchestrator.withRetriesAndFallbacks(
                    route, body: call.resolvedBody, requestID: requestID,
                    onRetryWait: { flight.setWaitingToRetry($0) }
                ) { candidate, request in
                    try await responsesAttempt(candidate, request: request, call: call, flight: flight, responseID: responseID,
                                               createdAt: createdAt)
                }
                if outcome.route.name != route.name {
                    answeringKey = call.key(namespace: namespace, route: outcome.route, native: outcome.route.forwardsResponses)
                }
            case .ensemble(let spec, let chat):
                outcome = try await ensembleResponse(spec, chat: chat, call: call, flight: flight, responseID: responseID,
                                                     createdAt: createdAt, requestID: requestID, cacheControl: cacheControl,
                                                     namespace: namespace)
            }
            let body = JSONWriter.serialize(.object(outcome.completion))
            let usage = Usage(response: outcome.completion)
            let result = FlightResult(outcome: outcome, body: body, usage: usage, format: .openAIResponse)
            metrics.recordTokens(model: outcome.route.name, prompt: usage.prompt, completion: usage.completion, cached: usage.cached)
            var entry: (key: CacheKey, value: CachedResponse)?
            let complete = outcome.completion["status"]?.stringValue == "completed" && outcome.upstreamFinished
                && (outcome.completion["ultra"]?["degraded"]?.boolValue != true)
            if cache != nil, complete, !cacheControl.noStore, !Task.isCancelled {
                entry = (answeringKey, cachedResponse(outcome, body: body, usage: usage, format: .openAIResponse))
            }
            await finish(flight, key: key, result: result, storing: entry)
        } catch {
            flights.remove(key, flight)
            flight.publish(.failed(error))
        }
    }

    /// One attempt on one route: passed through when its provider speaks Responses, else
    /// translated. Events go to the flight as they come; nothing is retried once one went out.
    private func responsesAttempt(_ candidate: ModelRoute, request: ProviderRequest, call: ResponsesCall, flight: CompletionFlight,
                                  responseID: String, createdAt: Int) async throws -> CallOutcome {
        let t0 = Clock.nanos()
        var ttft: Double?
        var delivered = false
        let finished: JSONObject
        var upstreamFinished = true  // a native Response says so itself, in its `status`
        if let native = candidate.provider as? any ResponsesForwarding, native.forwardsResponses {
            if flight.streaming {
                var last: JSONObject?
                do {
                    for try await var event in try await native.streamResponse(request) {
                        if ttft == nil, event["type"]?.stringValue?.hasSuffix(".delta") == true {
                            ttft = Double(Clock.nanos() - t0) / 1e9
                        }
                        if case .object(var response)? = event["response"] {
                            response["id"] = .string(responseID)
                            response["model"] = .string(candidate.name)
                            event["response"] = .object(response)
                            if ResponsesEventPassThrough.terminalTypes.contains(event["type"]?.stringValue ?? "") { last = response }
                        }
                        delivered = true
                        flight.publish(.chunk(event))
                    }
                } catch {
                    guard delivered, !Task.isCancelled else { throw error }
                    throw Orchestrator.FinalFailure(error: Orchestrator.providerError(error, provider: candidate.providerName).gatewayError)
                }
                guard let last else {
                    throw ProviderError(kind: .invalidResponse, provider: candidate.providerName, message: "stream had no final response")
                }
                finished = last
            } else {
                var response = try await native.createResponse(request)
                response["id"] = .string(responseID)
                response["model"] = .string(candidate.name)
                finished = response
            }
        } else {
            let chat = try call.chatRequest(for: candidate, upstreamModel: candidate.upstreamModel)
            let chatRequest = ProviderRequest(body: chat, requestID: request.requestID, timeouts: request.timeouts)
            let shell = ResponseObject.shell(request: call.request.body, id: responseID, createdAt: createdAt, model: candidate.name)
            if flight.streaming {
                var encoder = ResponsesStreamEncoder(shell: shell)
                var usage = HubUsageWatch(request: chat)
                var sawFinish = false
                do {
                    for try await chunk in try await candidate.provider.stream(chatRequest) {
                        if ttft == nil, OpenAIShapes.chunkCarriesContent(chunk) { ttft = Double(Clock.nanos() - t0) / 1e9 }
                        if !sawFinish, chunk["choices"]?.arrayValue?.contains(where: { $0["finish_reason"]?.stringValue != nil }) == true {
                            sawFinish = true
                        }
                        delivered = true
                        usage.add(chunk)
                        for event in encoder.add(chunk) { flight.publish(.chunk(event)) }
                    }
                    if delivered, let chunk = usage.missingUsageChunk(model: candidate.name) {
                        for event in encoder.add(chunk) { flight.publish(.chunk(event)) }
                    }
                } catch {
                    guard delivered, !Task.isCancelled else { throw error }
                    throw Orchestrator.FinalFailure(error: Orchestrator.providerError(error, provider: candidate.providerName).gatewayError)
                }
                if Task.isCancelled { throw Orchestrator.FinalFailure(error: .clientClosed) }
                for event in encoder.finish(completedAt: Int(Clock.wallNow())) { flight.publish(.chunk(event)) }
                finished = encoder.response ?? shell
                upstreamFinished = sawFinish
            } else {
                let completion = HubUsageWatch.completing(try await candidate.provider.complete(chatRequest), request: chat)
                finished = ResponsesChatCodec.response(fromChat: completion, shell: shell, completedAt: Int(Clock.wallNow()))
                upstreamFinished = Gateway.isFinished(completion)
            }
        }
        if Task.isCancelled { throw Orchestrator.FinalFailure(error: .clientClosed) }
        let seconds = Double(Clock.nanos() - t0) / 1e9
        orchestrator.events.upstreamFinished(candidate, seconds, ttft)
        var outcome = CallOutcome(completion: finished, route: candidate, upstreamSeconds: seconds, timeToFirstToken: ttft, attempts: 1)
        // A chat answer cut before its `finish_reason` (or without choices) is passed on, not stored.
        outcome.upstreamFinished = upstreamFinished
        return outcome
    }

    /// An ensemble's synthesized answer as a `Response`, its `ultra` detail kept as an extra field.
    private func ensembleResponse(_ spec: EnsembleSpec, chat: JSONObject, call: ResponsesCall, flight: CompletionFlight,
                                  responseID: String, createdAt: Int, requestID: String, cacheControl: CacheControl,
                                  namespace: String) async throws(GatewayError) -> CallOutcome {
        let runner = EnsembleRunner(router: router, orchestrator: orchestrator,
                                    members: GatewayMemberCaller(gateway: self, cacheControl: cacheControl, namespace: namespace))
        let shell = ResponseObject.shell(request: call.request.body, id: responseID, createdAt: createdAt, model: spec.name)
        let outcome: EnsembleOutcome
        var response: JSONObject
        if flight.streaming {
            let encoder = ResponsesEncoderBox(ResponsesStreamEncoder(shell: shell))
            outcome = try await runner.runStreaming(spec, body: chat, requestID: requestID) { chunk in
                for event in encoder.add(chunk) { flight.publish(.chunk(event)) }
            }
            for event in encoder.finish() { flight.publish(.chunk(event)) }
            response = encoder.response ?? shell
        } else {
            outcome = try await runner.run(spec, body: chat, requestID: requestID)
            response = ResponsesChatCodec.response(fromChat: outcome.completion, shell: shell, completedAt: Int(Clock.wallNow()))
        }
        for member in outcome.completion["ultra"]?["members"]?.arrayValue ?? [] {
            metrics.recordEnsembleMember(ensemble: spec.name, result: member["status"]?.stringValue ?? "ok")
        }
        if var ultra = outcome.completion["ultra"]?.objectValue {
            if !outcome.isComplete { ultra["degraded"] = true }
            response["ultra"] = .object(ultra)
        }
        return CallOutcome(completion: response, route: ensembleRoute(spec), upstreamSeconds: outcome.seconds, timeToFirstToken: nil, attempts: 0)
    }

    // MARK: GET / DELETE /v1/responses/{id}, input items

    package func handleStoredResponse(_ id: String, method: String, _ responder: HTTPResponder, _ context: RequestContext) {
        let owner = responseOwner(context)
        guard let record = responseStore.get(id, now: Clock.wallNow()), record.owner == owner else {
            return fail(responder, context, Gateway.responseNotFound(id))
        }
        if method == "DELETE" {
            responseStore.delete(id)
            return respondResponsesJSON(responder, context, .object(["id": .string(id), "object": "response", "deleted": true]))
        }
        respondResponsesJSON(responder, context, .object(record.response))
    }

    package func handleInputItems(_ id: String, query: String?, _ responder: HTTPResponder, _ context: RequestContext) {
        guard let record = responseStore.get(id, now: Clock.wallNow()), record.owner == responseOwner(context) else {
            return fail(responder, context, Gateway.responseNotFound(id))
        }
        switch InputItemsPage.parse(query) {
        case .failure(let error): fail(responder, context, error)
        case .success(let page): respondResponsesJSON(responder, context, page.list(record))
        }
    }

    private func respondResponsesJSON(_ responder: HTTPResponder, _ context: RequestContext, _ json: JSON) {
        var headers = commonHeaders(context, cacheStatus: nil, model: nil)
        headers.append(HTTPHeaderField("Content-Type", "application/json"))
        responder.respond(status: 200, headers: headers, body: JSONWriter.serialize(json))
    }
}

/// A stream encoder shared with the ensemble's chunk callback (called one chunk at a time).
private final class ResponsesEncoderBox: @unchecked Sendable {
    private var encoder: ResponsesStreamEncoder
    private let lock = NSLock()
    init(_ encoder: ResponsesStreamEncoder) { self.encoder = encoder }
    func add(_ chunk: JSONObject) -> [JSONObject] { lock.withLock { encoder.add(chunk) } }
    func finish() -> [JSONObject] { lock.withLock { encoder.finish(completedAt: Int(Clock.wallNow())) } }
    var response: JSONObject? { lock.withLock { encoder.response } }
}
