import Foundation

/// The OpenAI-compatible front: routes requests, answers chat completions from the cache when it
/// can, and otherwise through one shared upstream call per identical request (single flight).
public final class Gateway: HTTPHandler, @unchecked Sendable {
    public let config: GatewayConfig
    public let router: ModelRouter
    public let cache: ResponseCache?
    public let orchestrator: Orchestrator
    let flights = FlightTable()
    let startedAt = Int(Clock.wallNow())
    private let requestIDs = RequestIDGenerator()

    public init(config: GatewayConfig, router: ModelRouter, cache: ResponseCache?, orchestrator: Orchestrator? = nil) {
        self.config = config
        self.router = router
        self.cache = cache
        self.orchestrator = orchestrator ?? Orchestrator(router: router)
    }

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let context = RequestContext(id: request.head.headers["x-request-id"].flatMap(RequestIDGenerator.sanitized) ?? requestIDs.next(),
                                     startNanos: Clock.nanos())
        switch Endpoint.match(method: request.head.method, path: request.head.path) {
        case .chatCompletions: handleChat(request, responder, context)
        case .listModels: respondJSON(responder, context, listModels())
        case .model(let id):
            if let model = modelObject(id) {
                respondJSON(responder, context, model)
            } else {
                fail(responder, context, .modelNotFound(id))
            }
        case .health: respondJSON(responder, context, ["status": "ok"])
        case .metrics, .stats, .notFound:
            fail(responder, context, .routeNotFound(method: request.head.method, path: request.head.path))
        case .methodNotAllowed(let allowed):
            fail(responder, context, .methodNotAllowed(method: request.head.method, path: request.head.path, allowed: allowed))
        }
    }

    // MARK: Chat completions

    private func handleChat(_ request: HTTPRequest, _ responder: HTTPResponder, _ context: RequestContext) {
        if let contentType = request.head.headers["content-type"] {
            let mime = contentType.split(separator: ";").first.map { String($0).trimmingSpacesAndTabs().lowercased() } ?? ""
            if mime != "application/json" && !mime.hasSuffix("+json") {
                return fail(responder, context, .unsupportedMediaType(contentType))
            }
        }
        guard !request.body.isEmpty else {
            return fail(responder, context, .invalidRequest("The request body is empty; send a JSON object.", code: "empty_body"))
        }
        let json: JSON
        do { json = try JSONParser.parse(request.body) } catch {
            return fail(responder, context, .invalidJSON(error.description))
        }
        let chat: ChatCompletionRequest
        switch ChatRequestValidator.validate(json) {
        case .success(let valid): chat = valid
        case .failure(let error): return fail(responder, context, error)
        }
        let cacheControl = CacheControl(headerValues: request.head.headers.values("cache-control"))
        if chat.body["ultra"] != nil || router.ensemble(named: chat.model) != nil {
            return handleEnsemble(chat, cacheControl: cacheControl, responder, context)
        }
        guard let route = router.route(named: chat.model) else {
            return fail(responder, context, .modelNotFound(chat.model))
        }
        let merged = route.mergedBody(chat.body)
        let key = CacheKey.make(namespace: config.cache.namespace, route: route.cacheRoute, request: merged)
        let cacheStatus: String
        if let cache, cacheControl.allowsLookup {
            let lookupStart = Clock.nanos()
            if let hit = cache.lookup(key, now: Clock.wallNow(), maxAge: cacheControl.maxAge) {
                context.cacheNanos = Clock.nanos() - lookupStart
                if serveHit(hit, chat: chat, responder, context) { return }
            }
            context.cacheNanos = Clock.nanos() - lookupStart
            cacheStatus = "MISS"
        } else {
            cacheStatus = "BYPASS"
        }
        serveMiss(key: key, route: route, chat: chat, cacheControl: cacheControl, cacheStatus: cacheStatus, responder, context)
    }

    /// Answers from a cache entry; false when the entry cannot be used (then it is a miss).
    func serveHit(_ hit: CachedResponse, chat: ChatCompletionRequest, _ responder: HTTPResponder,
                          _ context: RequestContext) -> Bool {
        var headers = commonHeaders(context, cacheStatus: "HIT", model: hit.model)
        headers.append(HTTPHeaderField("Age", String(max(0, Int(Clock.wallNow() - hit.createdAt)))))
        if !chat.stream {
            headers.append(HTTPHeaderField("Content-Type", "application/json"))
            headers.append(serverTiming(context, upstreamNanos: nil))
            responder.respond(status: 200, headers: headers, body: hit.body)
            return true
        }
        guard let completion = try? JSONParser.parse(hit.body).objectValue else { return false }
        var bytes: [UInt8] = []
        for chunk in ChatCompletionReplayer.chunks(from: completion, includeUsage: chat.includeUsage) {
            bytes.append(contentsOf: SSEWriter.event(chunk))
        }
        bytes.append(contentsOf: SSEWriter.done)
        headers.append(contentsOf: Gateway.sseHeaders)
        headers.append(serverTiming(context, upstreamNanos: nil))
        responder.startStream(status: 200, headers: headers)
        responder.writeStreamChunk(bytes)
        responder.finishStream()
        return true
    }

    private func serveMiss(key: CacheKey, route: ModelRoute, chat: ChatCompletionRequest, cacheControl: CacheControl,
                           cacheStatus: String, _ responder: HTTPResponder, _ context: RequestContext) {
        let (flight, created) = flights.join(key, streaming: chat.stream)
        if created {
            let flights = self.flights
            flight.start(onAbandon: { flights.remove(key, flight) }) { [self] flight in
                await runFlight(flight, key: key, route: route, chat: chat, cacheControl: cacheControl, requestID: context.id)
            }
        }
        attachClient(to: flight, chat: chat, cacheStatus: cacheStatus, responder, context)
    }

    /// Connects one client to a flight: a streaming session, or one JSON response at the end.
    func attachClient(to flight: CompletionFlight, chat: ChatCompletionRequest, cacheStatus: String,
                      _ responder: HTTPResponder, _ context: RequestContext) {
        if chat.stream {
            let session = StreamingClientSession(gateway: self, responder: responder, context: context,
                                                 includeUsage: chat.includeUsage, cacheStatus: cacheStatus,
                                                 keepAliveInterval: config.streamKeepAliveInterval)
            session.attach(to: flight)
        } else {
            let id = flight.subscribe { [self] event in
                switch event {
                case .chunk: break
                case .finished(let result):
                    var headers = commonHeaders(context, cacheStatus: cacheStatus, model: result.outcome.route.name)
                    headers.append(HTTPHeaderField("Content-Type", "application/json"))
                    headers.append(serverTiming(context, upstreamNanos: UInt64(result.outcome.upstreamSeconds * 1e9)))
                    responder.respond(status: 200, headers: headers, body: result.body)
                case .failed(let error):
                    fail(responder, context, error)
                }
            }
            if let id { responder.onClientGone { flight.unsubscribe(id) } }
        }
    }

    /// The upstream work of one flight: call (with retries and fallbacks), store, then tell everyone.
    private func runFlight(_ flight: CompletionFlight, key: CacheKey, route: ModelRoute, chat: ChatCompletionRequest,
                           cacheControl: CacheControl, requestID: String) async {
        do {
            let outcome: CallOutcome
            if flight.streaming {
                outcome = try await orchestrator.stream(route, body: chat.body, requestID: requestID) { chunk in
                    flight.publish(.chunk(chunk))
                }
            } else {
                outcome = try await orchestrator.complete(route, body: chat.body, requestID: requestID)
            }
            let body = JSONWriter.serialize(.object(outcome.completion))
            if let cache, !cacheControl.noStore, !Task.isCancelled {
                // A fallback's answer belongs to the model that produced it, never to the one asked.
                let answeringKey = outcome.route.name == route.name
                    ? key
                    : CacheKey.make(namespace: config.cache.namespace, route: outcome.route.cacheRoute,
                                    request: outcome.route.mergedBody(chat.body))
                await cache.store(answeringKey, cachedResponse(outcome, body: body))
            }
            flights.remove(key, flight)
            flight.publish(.finished(FlightResult(outcome: outcome, body: body)))
        } catch {
            flights.remove(key, flight)
            flight.publish(.failed(error))
        }
    }

    func cachedResponse(_ outcome: CallOutcome, body: [UInt8]) -> CachedResponse {
        let now = Clock.wallNow()
        let ttl = outcome.route.ttl ?? config.cache.defaultTTL
        let usage = outcome.completion["usage"]
        let promptTokens: Int = usage?["prompt_tokens"]?.intValue ?? 0
        let completionTokens: Int = usage?["completion_tokens"]?.intValue ?? 0
        let cachedTokens: Int = usage?["prompt_tokens_details"]?["cached_tokens"]?.intValue ?? 0
        let expiresAt: Double = ttl > 0 ? now + ttl : .infinity
        return CachedResponse(
            createdAt: now, expiresAt: expiresAt, model: outcome.route.name,
            provider: outcome.route.providerName, promptTokens: promptTokens,
            completionTokens: completionTokens, cachedTokens: cachedTokens,
            upstreamLatencyMs: outcome.upstreamSeconds * 1000, body: body)
    }

    // MARK: Models

    private func listModels() -> JSON {
        .object(["object": "list", "data": .array(router.listed.map { modelJSON(id: $0.id, ownedBy: $0.ownedBy) })])
    }

    private func modelObject(_ id: String) -> JSON? {
        if let listed = router.listed.first(where: { $0.id == id }) { return modelJSON(id: listed.id, ownedBy: listed.ownedBy) }
        if let route = router.route(named: id) { return modelJSON(id: id, ownedBy: route.providerName) }
        return nil
    }

    private func modelJSON(id: String, ownedBy: String) -> JSON {
        .object(["id": .string(id), "object": "model", "created": .int(startedAt), "owned_by": .string(ownedBy)])
    }

    // MARK: Helpers

    static let sseHeaders = [
        HTTPHeaderField("Content-Type", "text/event-stream; charset=utf-8"),
        HTTPHeaderField("Cache-Control", "no-cache"),
        HTTPHeaderField("X-Accel-Buffering", "no"),
    ]

    func commonHeaders(_ context: RequestContext, cacheStatus: String?, model: String?) -> [HTTPHeaderField] {
        var headers = [HTTPHeaderField("X-Request-Id", context.id)]
        if let cacheStatus { headers.append(HTTPHeaderField("X-Cache", cacheStatus)) }
        if let model { headers.append(HTTPHeaderField("X-UltraGate-Model", model)) }
        return headers
    }

    func serverTiming(_ context: RequestContext, upstreamNanos: UInt64?) -> HTTPHeaderField {
        let total = Double(Clock.nanos() - context.startNanos) / 1e6
        var parts: [String] = []
        if let cache = context.cacheNanos { parts.append("cache;dur=\(Gateway.ms(Double(cache) / 1e6))") }
        if let upstreamNanos { parts.append("upstream;dur=\(Gateway.ms(Double(upstreamNanos) / 1e6))") }
        parts.append("total;dur=\(Gateway.ms(total))")
        return HTTPHeaderField("Server-Timing", parts.joined(separator: ", "))
    }

    static func ms(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        return String(rounded)
    }

    private func respondJSON(_ responder: HTTPResponder, _ context: RequestContext, _ json: JSON) {
        var headers = commonHeaders(context, cacheStatus: nil, model: nil)
        headers.append(HTTPHeaderField("Content-Type", "application/json"))
        responder.respond(status: 200, headers: headers, body: JSONWriter.serialize(json))
    }

    func fail(_ responder: HTTPResponder, _ context: RequestContext, _ error: GatewayError) {
        guard error.status != GatewayError.clientClosed.status else { return }
        responder.respond(error: error, headers: commonHeaders(context, cacheStatus: nil, model: nil))
    }
}

/// Per-request facts gathered along the way (touched by one request's code at a time).
final class RequestContext: @unchecked Sendable {
    let id: String
    let startNanos: UInt64
    var cacheNanos: UInt64?

    init(id: String, startNanos: UInt64) {
        self.id = id
        self.startNanos = startNanos
    }
}
