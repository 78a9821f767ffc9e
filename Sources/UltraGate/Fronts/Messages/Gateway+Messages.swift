import UltraGateProviders
import UltraGateCache
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// The Anthropic Messages front: `POST /v1/messages`, with the cache, single flight, fallbacks,
/// ensembles and metrics of chat completions behind it.
///
/// A request is validated as Anthropic does (`MessagesRequestValidator`), admitted by the access
/// gate once its model is known, and looked up in the cache under a key of its own dialect
/// (`messages|provider/model`, so it never meets a chat completion's entry). On a miss one flight
/// per key calls the route's chain (`Orchestrator.completeMessage` / `streamMessage`): an
/// Anthropic provider gets the client's body and answers as it came (pass-through), any other
/// gets it translated. The flight's answer is a Message and its stream Anthropic events, stored
/// and replayed as such.
extension Gateway {
    /// A Messages stream the server ends at the end of the shutdown grace period gets an
    /// `error` event (`overloaded_error`, as a 503), as a failed stream does.
    package static let messagesShutdownEnding = MessagesSSE.error(
        GatewayError(status: 503, type: "server_error", message: "The server is shutting down; the stream was ended early.",
                     code: "server_shutting_down"))

    /// The key memo's tag for Messages bodies (`RequestKeyMemo.Digest`).
    package static let messagesDialect: UInt8 = 1

    /// The cache key of a Messages request served by `route`. On pass-through (a provider that
    /// speaks Messages) the entry lives in `scope.passThrough`; a translated call does not see the
    /// client's Anthropic headers, so its entry lives in the tenant's namespace.
    package static func messagesKey(scope: MessagesKeyScope, route: ModelRoute, request: MessagesRequest) -> CacheKey {
        let namespace = route.provider is any MessagesForwarding ? scope.passThrough : scope.tenant
        return CacheKey.make(namespace: namespace, route: "messages|" + route.cacheRoute, request: route.mergedBody(request.body),
                             sizeHint: request.raw.count)
    }

    /// The namespaces a Messages request's entry may live in (see `messagesKey`).
    package struct MessagesKeyScope: Sendable {
        package var tenant: String
        /// The tenant's namespace and, within it, the `anthropic-version` and `anthropic-beta` the
        /// client sent, which go upstream with the body on pass-through and can change the answer
        /// (a beta can lengthen the output or add tools).
        package var passThrough: String

        package init(tenant: String, headers: HTTPHeaders) {
            self.tenant = tenant
            passThrough = Gateway.messagesNamespace(tenant, headers)
        }
    }

    /// `tenant` and the client's Anthropic headers, length-prefixed, so no header value can be
    /// chosen to collide with another. No version is the default one, which is what goes
    /// upstream then.
    package static func messagesNamespace(_ tenant: String, _ headers: HTTPHeaders) -> String {
        var version = headers.values("anthropic-version").joined(separator: ",")
        if version == AnthropicWire.apiVersion { version = "" }
        let betas = headers.values("anthropic-beta").joined(separator: ",")
        if version.isEmpty && betas.isEmpty { return tenant }
        return "\(tenant)\u{0}anthropic:\(version.utf8.count):\(version)\(betas.utf8.count):\(betas)"
    }

    package func handleMessages(_ request: HTTPRequest, _ responder: HTTPResponder, _ context: RequestContext) {
        if let problem = Gateway.bodyProblem(request) { return fail(responder, context, problem) }
        responder.shutdownEnding = Gateway.messagesShutdownEnding
        let cacheControl = CacheControl(headerValues: request.head.headers.values("cache-control"))
        let scope = MessagesKeyScope(tenant: context.cacheNamespace, headers: request.head.headers)
        // Fast path: these exact bytes (with these headers) were seen before; answer from the cache
        // without parsing.
        let digest = cache == nil ? nil
            : RequestKeyMemo.Digest(namespace: scope.passThrough, body: request.body, dialect: Gateway.messagesDialect)
        let remembered = answerRemembered(digest, cacheControl: cacheControl, responder, context) { hit, known in
            serveMessagesHit(hit, stream: known.stream, responder, context)
        }
        if remembered.answered { return }
        let missedKey = remembered.missedKey
        let json: JSON
        do { json = try JSONParser.parse(request.body) } catch { return fail(responder, context, .invalidJSON(error)) }
        let messages: MessagesRequest
        switch MessagesRequestValidator.validate(json, raw: request.body) {
        case .success(let valid): messages = valid
        case .failure(let error): return fail(responder, context, error)
        }
        if let refusal = admit(context, model: messages.model, estimatedTokens: messages.estimatedTokens) {
            return fail(responder, context, refusal)
        }
        let call = MessagesCall(request: messages, clientHeaders: MessagesForwardingPolicy.clientHeaders(request.head.headers),
                                requestID: context.id)
        if answeredAsEnsemble(model: messages.model, ultra: messages.body["ultra"], responder, context, run: {
            handleMessagesEnsemble(call, cacheControl: cacheControl, responder, context)
        }) { return }
        guard let route = router.route(named: messages.model) else {
            return fail(responder, context, .modelNotFound(messages.model, suggestions: suggestions(for: context)))
        }
        context.model = messages.model
        context.provider = route.providerName
        let key = Gateway.messagesKey(scope: scope, route: route, request: messages)
        if let digest {
            keyMemo.remember(.init(key: key, model: messages.model, stream: messages.stream, includeUsage: false), for: digest)
        }
        guard let cacheStatus = lookUpMessages(key, alreadyMissed: key == missedKey, model: messages.model, stream: messages.stream,
                                               cacheControl: cacheControl, responder, context)
        else { return }
        let (flight, created) = flights.join(key, streaming: messages.stream)
        if created {
            let flights = self.flights
            flight.start(executor: responder.taskExecutor, onAbandon: { flights.remove(key, flight) }) { [self] flight in
                await runMessagesFlight(flight, key: key, route: route, call: call, cacheControl: cacheControl, scope: scope)
            }
        }
        attachClient(to: flight, joined: !created, stream: messages.stream ? MessagesStreamEncoding() : nil, cacheStatus: cacheStatus,
                     knownModel: route.fallbacks.isEmpty ? route.name : nil, responder, context)
    }

    /// Looks `key` up (unless the fast path `alreadyMissed` it) and answers a hit; returns the
    /// `X-Cache` status of a request that goes on to a flight, nil when it was answered.
    private func lookUpMessages(_ key: CacheKey, alreadyMissed: Bool = false, model: String, stream: Bool,
                                cacheControl: CacheControl, _ responder: HTTPResponder, _ context: RequestContext) -> String? {
        guard let cache, cacheControl.allowsLookup else {
            context.cacheResult = .bypass
            metrics.recordCacheLookup(.bypass, model: model)
            return "BYPASS"
        }
        let lookupStart = Clock.nanos()
        let hit = cachedOrCommitting(cache, key, maxAge: cacheControl.maxAge, lookedUp: alreadyMissed)
        if !alreadyMissed || hit != nil { context.timing.record(.cache, seconds: Double(Clock.nanos() - lookupStart) / 1e9) }
        if let hit, serveMessagesHit(answer(hit, asked: model), stream: stream, responder, context) {
            noteHit(hit, model: model, context: context)
            return nil
        }
        context.cacheResult = .miss
        metrics.recordCacheLookup(.miss, model: model)
        return "MISS"
    }

    /// Answers from a Message entry: the body as stored, or replayed as Anthropic events. False
    /// when the entry cannot be used (another dialect's, unreadable): then it is a miss.
    package func serveMessagesHit(_ hit: CachedResponse, stream: Bool, _ responder: HTTPResponder, _ context: RequestContext) -> Bool {
        guard hit.format == .anthropicMessage else { return false }
        var message: JSONObject?
        if stream {
            guard case .object(let parsed)? = try? JSONParser.parse(hit.body) else { return false }
            message = parsed
        }
        var headers = commonHeaders(context, cacheStatus: "HIT", model: hit.model)
        headers.append(Gateway.ageField(of: hit))
        // Noted before answering: the access log entry is made when the answer is done.
        context.cacheResult = .hit
        context.provider = hit.provider
        bookHit(hit, context)
        guard let message else {
            headers.append(HTTPHeaderField("Content-Type", "application/json"))
            headers.append(serverTiming(context))
            responder.respond(status: 200, headers: headers, body: hit.body)
            return true
        }
        respondStream(MessagesSSE.events(MessagesReplayer.events(message)), headers: headers, responder, context)
        return true
    }

    /// The upstream work of one Messages flight: call (with retries and fallbacks), store, then
    /// tell everyone. Answers without a `stop_reason` (cut, or malformed) are served, not stored.
    private func runMessagesFlight(_ flight: CompletionFlight, key: CacheKey, route: ModelRoute, call: MessagesCall,
                                   cacheControl: CacheControl, scope: MessagesKeyScope) async {
        do {
            let outcome: CallOutcome
            if flight.streaming {
                outcome = try await orchestrator.streamMessage(route, call: call, onRetryWait: { flight.setWaitingToRetry($0) }) {
                    flight.publish(.chunk($0))
                }
            } else {
                outcome = try await orchestrator.completeMessage(route, call: call)
            }
            let body = outcome.upstreamText.flatMap {
                JSONTopLevelPatch.replacingString("model", with: outcome.route.name, in: $0)
            } ?? JSONWriter.serialize(.object(outcome.completion))
            let usage = Usage(message: outcome.completion)
            let result = FlightResult(outcome: outcome, body: body, usage: usage, format: .anthropicMessage)
            metrics.recordTokens(model: outcome.route.name, prompt: usage.prompt, completion: usage.completion, cached: usage.cached)
            var entry: (key: CacheKey, value: CachedResponse)?
            if cache != nil, !cacheControl.noStore, !Task.isCancelled, outcome.completion["stop_reason"]?.stringValue != nil {
                // A fallback's answer belongs to the model that produced it, never to the one asked.
                let answeringKey = outcome.route.name == route.name
                    ? key : Gateway.messagesKey(scope: scope, route: outcome.route, request: call.request)
                entry = (answeringKey, cachedResponse(outcome, body: body, usage: usage, format: .anthropicMessage))
            }
            await finish(flight, key: key, result: result, storing: entry)
        } catch {
            flights.remove(key, flight)
            flight.publish(.failed(error))
        }
    }

    // MARK: Ensembles

    /// A Messages request naming an ensemble (or carrying `ultra`): the request translated to the
    /// hub, the ensemble run on it as for chat completions, and its synthesized answer returned as
    /// a Message with the `ultra` detail as an extra top-level member. Streaming clients get the
    /// answer as events once the synthesis is done.
    private func handleMessagesEnsemble(_ call: MessagesCall, cacheControl: CacheControl, _ responder: HTTPResponder,
                                        _ context: RequestContext) {
        let hub: JSONObject
        let spec: EnsembleSpec
        do {
            hub = try MessagesRequestTranslator(provider: "ensemble", kind: "ensemble").request(call.request.body)
            guard let resolved = try EnsembleSpec.resolve(model: call.request.model, ultra: hub["ultra"], router: router) else {
                return fail(responder, context, .modelNotFound(call.request.model))
            }
            spec = resolved
        } catch let error as ProviderError {
            return fail(responder, context, error.gatewayError)
        } catch let error as GatewayError {
            return fail(responder, context, error)
        } catch {
            return fail(responder, context, .serverError(String(describing: error)))
        }
        let key = CacheKey.make(namespace: context.cacheNamespace, route: "messages|" + spec.cacheRoute, request: spec.cacheRequest(hub))
        guard let cacheStatus = lookUpMessages(key, model: call.request.model, stream: call.request.stream, cacheControl: cacheControl,
                                               responder, context)
        else { return }
        let (flight, created) = flights.join(key, streaming: false)
        if created {
            let flights = self.flights
            let namespace = context.cacheNamespace
            flight.start(executor: responder.taskExecutor, onAbandon: { flights.remove(key, flight) }) { [self] flight in
                await runMessagesEnsembleFlight(flight, key: key, spec: spec, hub: hub, call: call, cacheControl: cacheControl,
                                                namespace: namespace)
            }
        }
        attachClient(to: flight, joined: !created, stream: call.request.stream ? MessagesStreamEncoding() : nil,
                     cacheStatus: cacheStatus, responder, context)
    }

    private func runMessagesEnsembleFlight(_ flight: CompletionFlight, key: CacheKey, spec: EnsembleSpec, hub: JSONObject,
                                           call: MessagesCall, cacheControl: CacheControl, namespace: String) async {
        let runner = EnsembleRunner(router: router, orchestrator: orchestrator,
                                    members: GatewayMemberCaller(gateway: self, cacheControl: cacheControl, namespace: namespace))
        do throws(GatewayError) {
            let outcome = try await runner.run(spec, body: hub, requestID: call.requestID)
            for member in outcome.completion["ultra"]?["members"]?.arrayValue ?? [] {
                metrics.recordEnsembleMember(ensemble: spec.name, result: member["status"]?.stringValue ?? "ok")
            }
            var message: JSONObject
            do {
                message = try MessagesResponseTranslator(provider: "ensemble")
                    .message(outcome.completion, model: spec.name, stopSequences: call.request.stopSequences)
            } catch {
                throw error.gatewayError
            }
            if let ultra = outcome.completion["ultra"] { message["ultra"] = ultra }
            let body = JSONWriter.serialize(.object(message))
            let usage = Usage(message: message)
            let callOutcome = CallOutcome(completion: message, route: ensembleRoute(spec), upstreamSeconds: outcome.seconds,
                                          timeToFirstToken: nil, attempts: 0)
            // A degraded answer (a member failed, a fallback answer) is served but never stored.
            let store = cache != nil && outcome.isComplete && !cacheControl.noStore && !Task.isCancelled
            await finish(flight, key: key, result: FlightResult(outcome: callOutcome, body: body, usage: usage, format: .anthropicMessage),
                         storing: store ? (key, cachedResponse(callOutcome, body: body, usage: usage, format: .anthropicMessage)) : nil)
        } catch {
            flights.remove(key, flight)
            flight.publish(.failed(error))
        }
    }
}

extension Usage {
    /// The token counts of a Message's `usage` (prompt counts include cache reads and writes).
    package init(message: JSONObject) {
        self.init([:])
        let tokens = AnthropicWire.tokens(message["usage"])
        prompt = tokens.prompt
        completion = tokens.completion
        cached = tokens.cached ?? 0
    }
}
