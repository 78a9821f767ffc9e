import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// The OpenAI-compatible front: routes requests, answers chat completions from the cache when it
/// can, and otherwise through one shared upstream call per identical request (single flight).
public final class Gateway: HTTPHandler, @unchecked Sendable {
    public let config: GatewayConfig
    public let router: ModelRouter
    public let cache: ResponseCache?
    public let orchestrator: Orchestrator
    public let metrics: GatewayMetrics
    public let accessLog: AccessLog?
    package let flights = FlightTable()
    package let keyMemo = RequestKeyMemo()
    /// Authentication, per-key limits and budgets, and the tenant's cache scope.
    package let access: AccessGate
    /// The virtual keys (LMDB beside the cache); nil unless `auth.master_key` is set.
    package let keyStore: LMDBKeyStore?
    /// What `/v1/models` lists: configured names and the providers' own lists.
    package let catalog: ModelCatalog
    /// The last `/health?deep=1` result, reused for `config.healthCacheSeconds`.
    package let deepHealthResults = CoalescedValue<[ModelCheckResult]>()
    /// Responses kept for `/v1/responses/{id}` and `previous_response_id` (beside the cache in its
    /// LMDB environment; in memory when the gateway runs without a cache).
    package let responseStore: any ResponseStore
    package let startedAt = Int(Clock.wallNow())
    /// `startedAt` as RFC 3339 (Anthropic's model `created_at`).
    package var createdAt: String { ISO8601Timestamp.format(secondsSince1970: Double(startedAt)) }
    /// `/v1/embeddings`: the per-item cache, item flights and the batcher.
    package let embeddings: EmbeddingPipeline
    private let requestIDs = RequestIDGenerator()
    /// Set once shutdown begins: no more retries (see `beginShutdown`).
    private let shuttingDown = OnceFlag()

    public convenience init(config: GatewayConfig, router: ModelRouter, cache: ResponseCache?, orchestrator: Orchestrator? = nil,
                metrics: GatewayMetrics? = nil, accessLog: AccessLog? = nil) {
        self.init(config: config, router: router, cache: cache, orchestrator: orchestrator, metrics: metrics,
                  accessLog: accessLog, keyStore: nil)
    }

    /// `keyStore`: where virtual keys live (needed when `config.auth` has a master key);
    /// `accessClock`: the wall clock of budgets and expiry (tests shift it).
    package init(config: GatewayConfig, router: ModelRouter, cache: ResponseCache?, orchestrator: Orchestrator? = nil,
                 metrics: GatewayMetrics? = nil, accessLog: AccessLog? = nil, keyStore: (any KeyStore)?,
                 accessClock: AccessClock = .system) {
        self.config = config
        self.router = router
        self.catalog = ModelCatalog(router: router)
        self.cache = cache
        responseStore = cache.flatMap { try? LMDBResponseStore(cache: $0) }.map(BufferedResponseStore.init) ?? MemoryResponseStore()
        let metrics = metrics ?? GatewayMetrics(prices: Gateway.prices(config))
        self.metrics = metrics
        self.accessLog = accessLog
        self.keyStore = keyStore as? LMDBKeyStore
        self.access = AccessGate(settings: config.auth, store: keyStore,
                                 metrics: config.auth.isEnabled ? KeyMetrics(registry: metrics.registry) : nil,
                                 clock: accessClock)
        var orchestrator = orchestrator ?? Orchestrator(router: router)
        orchestrator.events = Gateway.events(metrics)
        let shuttingDown = self.shuttingDown
        orchestrator.retriesAllowed = { !shuttingDown.isRaised }
        self.orchestrator = orchestrator
        embeddings = EmbeddingPipeline(cache: cache?.embeddingItems, orchestrator: orchestrator, callEvents: orchestrator.events,
                                       requestEvents: Gateway.embeddingRequestEvents(metrics),
                                       windowSeconds: config.embeddings.batchWindowMs / 1000, defaultTTL: config.cache.defaultTTL)
        if let cache {
            metrics.setCacheStatsSource {
                let s = cache.stats()
                return CacheStatsSample(entries: s.entries, bytes: s.usedBytes, evictions: s.evictions, writeErrors: s.writeErrors,
                                        tooLarge: s.tooLarge)
            }
        }
    }

    package static func prices(_ config: GatewayConfig) -> [String: ModelPrice] {
        var prices: [String: ModelPrice] = [:]
        for model in config.models {
            guard let p = model.price else { continue }
            prices[model.name] = ModelPrice(inputPerMillion: p.input, outputPerMillion: p.output, cachedInputPerMillion: p.cachedInput)
        }
        return prices
    }

    /// What the orchestrator reports becomes upstream metrics.
    package static func events(_ metrics: GatewayMetrics) -> OrchestratorEvents {
        var events = OrchestratorEvents()
        events.upstreamFinished = { route, seconds, ttft in
            metrics.recordUpstream(provider: route.providerName, model: route.name, durationSeconds: seconds, ttftSeconds: ttft)
        }
        events.attemptFailed = { route, error, willRetry in
            metrics.recordUpstreamError(provider: route.providerName, model: route.name, kind: Gateway.errorKind(error))
            if willRetry { metrics.recordRetry(provider: route.providerName, model: route.name) }
        }
        events.fallback = { from, to in metrics.recordFallback(from: from.name, to: to.name) }
        events.attemptStarted = { route in metrics.recordAttempt(provider: route.providerName, model: route.name) }
        events.retryWaited = { route, seconds in
            metrics.recordRetryWait(provider: route.providerName, model: route.name, seconds: seconds)
        }
        return events
    }

    package static func errorKind(_ error: ProviderError) -> String {
        switch error.kind {
        case .http(let status): return "http_\(status)"
        case .transport(.timeout): return "timeout"
        case .transport(.connect): return "connect"
        case .transport(.broken): return "broken"
        case .transport(.responseTooLarge): return "too_large"
        case .transport(.cancelled): return "cancelled"
        case .transport(.tls): return "tls"
        case .transport: return "transport"
        case .invalidResponse: return "invalid_response"
        }
    }

    /// Shutdown begins: calls that fail from now on are not retried, so their clients get the
    /// upstream's error at once rather than waiting out backoffs into the grace period.
    public func beginShutdown() {
        shuttingDown.raise()
    }

    /// Every answer carries a request id, also those the server gives to requests it could not
    /// read (their own id, if any, was not read either).
    public func rejection(_ rejection: HTTPServerRejection) -> (headers: [HTTPHeaderField], body: [UInt8]) {
        let error = GatewayError(status: rejection.status, type: rejection.isServerSide ? "server_error" : "invalid_request_error",
                                 message: rejection.message, code: rejection.code)
        // In the shape of the API the refused request was for, when its path is known.
        let dialect = rejection.path.map(ErrorDialect.of(path:)) ?? .openAI
        return ([HTTPHeaderField("Content-Type", "application/json"), HTTPHeaderField("X-Request-Id", requestIDs.next())],
                dialect.body(error))
    }

    /// A stream the server ends at the end of the shutdown grace period gets an error event and
    /// `[DONE]`, as a failed stream does.
    public func streamEndingForShutdown() -> [UInt8] {
        SSEWriter.error(GatewayError(status: 503, type: "server_error",
                                     message: "The server is shutting down; the stream was ended early.",
                                     code: "server_shutting_down")) + SSEWriter.done
    }

    /// A request announcing its body with `Expect: 100-continue` is authenticated on its head
    /// first: one that would be refused (401, 403, 429) is refused before it uploads anything.
    public func answerBeforeBody(_ head: HTTPRequestHead, clientAddress: () -> String?) -> HTTPEarlyAnswer? {
        guard access.isEnabled else { return nil }
        let endpoint = Endpoint.match(method: head.method, path: head.path, query: head.query)
        let context = RequestContext(id: head.headers["x-request-id"].flatMap(RequestIDGenerator.sanitized) ?? requestIDs.next(),
                                     startNanos: Clock.nanos(), cacheNamespace: config.cache.namespace)
        guard let refusal = access.authenticate(head, endpoint: endpoint, into: context, clientAddress: clientAddress()) else {
            return nil
        }
        let body = ErrorDialect.of(endpoint, head).body(refusal)
        // Counted and logged as any refused request is (its body was never read).
        let seconds = Double(Clock.nanos() - context.startNanos) / 1e9
        metrics.recordRequest(route: endpoint.metricRoute, model: "", status: refusal.status, durationSeconds: seconds)
        if let accessLog, accessLog.isEnabled {
            var timing = context.timing
            timing.record(.total, seconds: seconds)
            accessLog.log(AccessLogEntry(
                requestID: context.id, method: head.method, route: endpoint.metricRoute, models: [], provider: nil, cache: nil,
                status: refusal.status, bytesIn: 0, bytesOut: body.count, timing: timing, promptTokens: nil,
                completionTokens: nil, cachedTokens: nil, costUSD: nil, errorKind: nil, key: nil, team: nil))
        }
        return HTTPEarlyAnswer(status: refusal.status,
                               headers: [HTTPHeaderField("Content-Type", "application/json")] + refusal.headers
                                   + commonHeaders(context, cacheStatus: nil, model: nil),
                               body: body)
    }

    /// The connection's `CredentialMemo` (made on its first request).
    private func credentialMemo(_ responder: HTTPResponder) -> CredentialMemo {
        if let memo = responder.connectionMemo as? CredentialMemo { return memo }
        let memo = CredentialMemo()
        responder.connectionMemo = memo
        return memo
    }

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let context = RequestContext(id: request.head.headers["x-request-id"].flatMap(RequestIDGenerator.sanitized) ?? requestIDs.next(),
                                     startNanos: Clock.nanos(), cacheNamespace: config.cache.namespace)
        let endpoint = Endpoint.match(method: request.head.method, path: request.head.path, query: request.head.query)
        context.route = endpoint.metricRoute
        context.errorDialect = ErrorDialect.of(endpoint, request.head)
        metrics.requestStarted()
        let metrics = self.metrics
        let accessLog = self.accessLog
        let method = request.head.method
        let bytesIn = request.body.count
        let access = self.access
        responder.onComplete = { status, bytesOut, clientGone in
            metrics.requestFinished()
            if clientGone { Gateway.chargeAbandonedCall(context, metrics: metrics) }
            access.finished(context)
            let seconds = Double(Clock.nanos() - context.startNanos) / 1e9
            let recordedStatus = clientGone ? 499 : status
            metrics.recordRequest(route: context.route, model: context.model ?? "", status: recordedStatus, durationSeconds: seconds)
            metrics.recordOverhead(seconds: max(0, seconds - context.upstreamSeconds))
            if let accessLog, accessLog.isEnabled {
                var timing = context.timing
                timing.record(.total, seconds: seconds)
                accessLog.log(AccessLogEntry(
                    requestID: context.id, method: method, route: context.route, models: context.model.map { [$0] } ?? [],
                    provider: context.provider, cache: context.cacheResult, status: recordedStatus, bytesIn: bytesIn,
                    bytesOut: bytesOut, timing: timing, promptTokens: context.promptTokens,
                    completionTokens: context.completionTokens, cachedTokens: context.cachedTokens,
                    costUSD: context.costUSD, errorKind: clientGone ? "client_closed" : nil,
                    key: context.caller.logName, team: context.caller.team))
            }
        }
        if let refusal = access.authenticate(request.head, endpoint: endpoint, memo: access.isEnabled ? credentialMemo(responder) : nil,
                                             into: context, clientAddress: responder.clientAddress) {
            return fail(responder, context, refusal)
        }
        if let namespace = context.withKeyGrant({ $0.cacheNamespace(base: config.cache.namespace) }) {
            context.cacheNamespace = namespace
        }
        switch endpoint {
        case .chatCompletions: handleChat(request, responder, context)
        case .embeddings: handleEmbeddings(request, responder, context)
        case .responses: handleCreateResponse(request, responder, context)
        case .response(let id): handleStoredResponse(id, method: request.head.method, responder, context)
        case .responseInputItems(let id): handleInputItems(id, query: request.head.query, responder, context)
        case .messages: handleMessages(request, responder, context)
        case .countTokens: handleCountTokens(request, responder, context)
        case .listModels:
            let anthropic = AnthropicModelList.wanted(request.head)
            let query = request.head.query
            withModelCatalog { [self] snapshot in
                respondJSON(responder, context, anthropic
                    ? AnthropicModelList.page(visibleModels(snapshot, to: context.caller).map(\.id), query: query, createdAt: createdAt)
                    : listModels(snapshot, for: context.caller))
            }
        case .model(let id):
            let anthropic = AnthropicModelList.wanted(request.head)
            withModelCatalog { [self] snapshot in
                if let entry = catalog.find(id, in: snapshot), context.caller.virtualKey?.allows(model: entry.id) ?? true {
                    respondJSON(responder, context, anthropic ? AnthropicModelList.model(entry.id, createdAt: createdAt) : modelJSON(entry))
                } else {
                    fail(responder, context, .modelNotFound(id, suggestions: suggestions(for: context)))
                }
            }
        case .health: respondJSON(responder, context, ["status": "ok"])
        case .deepHealth: handleDeepHealth(responder, context)
        case .metrics:
            var headers = commonHeaders(context, cacheStatus: nil, model: nil)
            headers.append(HTTPHeaderField("Content-Type", "text/plain; version=0.0.4; charset=utf-8"))
            responder.respond(status: 200, headers: headers, body: Array(metrics.prometheusText().utf8))
        case .stats:
            var stats = metrics.statsJSON()
            if case .object(var o) = stats, let cache {
                let s = cache.stats()
                var c: JSONObject = ["entries": .int(s.entries), "embedding_items": .int(s.embeddingItems),
                                     "used_bytes": .int(s.usedBytes), "map_size": .int(s.mapSize),
                                     "evictions": .int(s.evictions), "write_errors": .int(s.writeErrors),
                                     "too_large": .int(s.tooLarge)]
                if let last = s.lastWriteError { c["last_write_error"] = .string(last) }
                o["cache"] = .object(c)
                stats = .object(o)
            }
            if case .object(var o) = stats, let keys = access.metrics {
                o["keys"] = .object(keys.statsJSON)
                stats = .object(o)
            }
            respondJSON(responder, context, stats)
        case .adminKeys, .adminKey, .adminKeyUsage: handleAdmin(endpoint, request, responder, context)
        case .notFound:
            fail(responder, context, .routeNotFound(method: request.head.method, path: request.head.path))
        case .methodNotAllowed(let allowed):
            fail(responder, context, .methodNotAllowed(method: request.head.method, path: request.head.path, allowed: allowed))
        }
    }

    // MARK: Chat completions

    /// Whether a `Content-Type` value names JSON: `application/json` or any `…+json` type, in any
    /// case, with or without parameters (`; charset=utf-8`). Compares bytes: it runs on every request.
    package static func isJSONMediaType(_ contentType: String) -> Bool {
        var text = contentType
        return text.withUTF8 { all in
            var end = all.firstIndex(of: UInt8(ascii: ";")) ?? all.count
            var start = 0
            while start < end, all[start] == 0x20 || all[start] == 0x09 { start += 1 }
            while end > start, all[end - 1] == 0x20 || all[end - 1] == 0x09 { end -= 1 }
            let value = UnsafeBufferPointer(rebasing: all[start..<end])
            func hasSuffix(_ suffix: StaticString) -> Bool {
                let n = suffix.utf8CodeUnitCount
                guard value.count >= n else { return false }
                let expected = UnsafeBufferPointer(start: suffix.utf8Start, count: n)
                let offset = value.count - n
                for i in 0..<n {
                    let b = value[offset + i]
                    if (b >= 0x41 && b <= 0x5A ? b | 0x20 : b) != expected[i] { return false }
                }
                return true
            }
            return (value.count == 16 && hasSuffix("application/json")) || hasSuffix("+json")
        }
    }

    /// What every JSON front refuses before parsing: a media type other than JSON, a coded body,
    /// an empty one.
    package static func bodyProblem(_ request: HTTPRequest) -> GatewayError? {
        if let contentType = request.head.headers["content-type"], !Gateway.isJSONMediaType(contentType) {
            return .unsupportedMediaType(contentType)
        }
        // The body is parsed as it arrived: a coded one (gzip …) would otherwise be misread as bad
        // JSON, or as JSON it does not hold. The parser has read the whole body, so the connection
        // stays usable for the next request.
        if request.head.headers.containsToken("content-encoding", otherThan: "identity") {
            let codings = request.head.headers.values("content-encoding").joined(separator: ", ")
            return .unsupportedContentEncoding(codings)
        }
        guard !request.body.isEmpty else {
            return .invalidRequest("The request body is empty; send a JSON object.", code: "empty_body")
        }
        return nil
    }

    private func handleChat(_ request: HTTPRequest, _ responder: HTTPResponder, _ context: RequestContext) {
        if let problem = Gateway.bodyProblem(request) { return fail(responder, context, problem) }
        let cacheControl = CacheControl(headerValues: request.head.headers.values("cache-control"))
        // Fast path: these exact bytes were seen before; answer from the cache without parsing.
        let digest = cache == nil ? nil : RequestKeyMemo.Digest(namespace: context.cacheNamespace, body: request.body)
        let remembered = answerRemembered(digest, cacheControl: cacheControl, responder, context) { hit, known in
            serveHit(hit, stream: known.stream, includeUsage: known.includeUsage, responder, context)
        }
        if remembered.answered { return }
        /// The key already looked up (and missed) on the fast path: not looked up a second time.
        let missedKey = remembered.missedKey
        let json: JSON
        do { json = try JSONParser.parse(request.body) } catch {
            return fail(responder, context, .invalidJSON(error))
        }
        let chat: ChatCompletionRequest
        switch ChatRequestValidator.validate(json) {
        case .success(let valid): chat = valid
        case .failure(let error): return fail(responder, context, error)
        }
        if let refusal = admit(context, model: chat.model, estimatedTokens: chat.estimatedTokens) {
            return fail(responder, context, refusal)
        }
        if answeredAsEnsemble(model: chat.model, ultra: chat.body["ultra"], responder, context, run: {
            handleEnsemble(chat, cacheControl: cacheControl, responder, context)
        }) { return }
        // A name that routes nowhere is not recorded as a model: metric labels and /v1/stats
        // entries are made only for names that resolve, so clients cannot mint them at will.
        guard let route = router.route(named: chat.model) else {
            return fail(responder, context, .modelNotFound(chat.model, suggestions: suggestions(for: context)))
        }
        if route.kind == .embedding { return fail(responder, context, .wrongModelKind(chat.model, kind: .embedding)) }
        context.model = chat.model
        context.provider = route.providerName
        let merged = route.mergedBody(chat.body)
        let key = CacheKey.make(namespace: context.cacheNamespace, route: route.cacheRoute, request: merged,
                                sizeHint: request.body.count)
        if let digest {
            keyMemo.remember(.init(key: key, model: chat.model, stream: chat.stream, includeUsage: chat.includeUsage), for: digest)
        }
        let cacheStatus: String
        if let cache, cacheControl.allowsLookup {
            let lookupStart = Clock.nanos()
            let hit = cachedOrCommitting(cache, key, maxAge: cacheControl.maxAge, lookedUp: key == missedKey)
            if key != missedKey || hit != nil { context.timing.record(.cache, seconds: Double(Clock.nanos() - lookupStart) / 1e9) }
            if let hit, serveHit(answer(hit, asked: chat.model), chat: chat, responder, context) {
                noteHit(hit, model: chat.model, context: context)
                return
            }
            cacheStatus = "MISS"
            context.cacheResult = .miss
        } else {
            cacheStatus = "BYPASS"
            context.cacheResult = .bypass
        }
        metrics.recordCacheLookup(context.cacheResult ?? .bypass, model: chat.model)
        serveMiss(key: key, route: route, chat: chat, cacheControl: cacheControl, cacheStatus: cacheStatus, responder, context)
    }

    /// The fast path of every front: the key these exact bytes resolved to before is looked up,
    /// and a hit answered by `serve` (as asked: under the name the bytes asked for) once the access
    /// gate admits the model. `answered`: the request is done (served, or refused). `missedKey`:
    /// the key looked up without a usable hit, not to be looked up a second time.
    package func answerRemembered(_ digest: RequestKeyMemo.Digest?, cacheControl: CacheControl, _ responder: HTTPResponder,
                                  _ context: RequestContext,
                                  serve: (CachedResponse, RequestKeyMemo.Entry) -> Bool) -> (answered: Bool, missedKey: CacheKey?) {
        guard let digest, let cache, cacheControl.allowsLookup, let known = keyMemo.entry(for: digest) else { return (false, nil) }
        let lookupStart = Clock.nanos()
        // A call answered a moment ago whose entry is being committed is newer than what is stored.
        let hit = committingHit(known.key) ?? cache.lookup(known.key, now: Clock.wallNow(), maxAge: cacheControl.maxAge)
        context.timing.record(.cache, seconds: Double(Clock.nanos() - lookupStart) / 1e9)
        guard let hit else { return (false, known.key) }
        if let refusal = admit(context, model: known.model, estimatedTokens: 0) {
            fail(responder, context, refusal)
            return (true, known.key)
        }
        context.model = known.model
        guard serve(answer(hit, asked: known.model), known) else { return (false, known.key) }
        noteHit(hit, model: known.model, context: context)
        return (true, known.key)
    }

    /// A call for `key` answered a moment ago and its entry is being committed: its result, as
    /// the cache entry it is about to be.
    package func committingHit(_ key: CacheKey) -> CachedResponse? {
        flights.finishedResult(for: key).map { cachedResponse($0.outcome, body: $0.body, usage: $0.usage, format: $0.format) }
    }

    /// The result of a call whose entry is being committed (it is newer than any stored entry: a
    /// `no-cache` or `max-age` refresh replaces one), else the cache entry for `key` (unless the
    /// caller already `lookedUp` and missed). The table is read once more after a second flight
    /// check: that commit may have ended, and the flight left, in between.
    package func cachedOrCommitting(_ cache: ResponseCache, _ key: CacheKey, maxAge: Double?, lookedUp: Bool = false) -> CachedResponse? {
        if let committing = committingHit(key) { return committing }
        if !lookedUp, let hit = cache.lookup(key, now: Clock.wallNow(), maxAge: maxAge) { return hit }
        return committingHit(key) ?? cache.lookup(key, now: Clock.wallNow(), maxAge: maxAge)
    }

    package func noteHit(_ hit: CachedResponse, model: String, context: RequestContext) {
        metrics.recordCacheLookup(.hit, model: model)
        // `bookHit` (keyed requests) looked the model up already: no second lookup.
        let handles = context.hitModelMetrics.flatMap { $0.name == hit.model ? $0 : nil } ?? metrics.model(hit.model)
        handles.recordCacheSavings(prompt: hit.promptTokens, completion: hit.completionTokens, cached: hit.cachedTokens)
    }

    /// A single-model hit as answered to a request for `asked`: aliases of one upstream model share
    /// entries, and each is answered under its own name, as on a miss. An entry that another model
    /// produced (a fallback's answer joined while it commits) keeps that model's name.
    package func answer(_ hit: CachedResponse, asked: String) -> CachedResponse {
        guard hit.model != asked, let route = router.route(named: asked), let stored = router.route(named: hit.model),
            route.cacheRoute == stored.cacheRoute
        else { return hit }
        return hit.named(asked)
    }

    /// Books a cache hit on a keyed request before it is answered: it costs the key nothing and
    /// saves what the stored answer cost. Every front calls it on a hit.
    package func bookHit(_ hit: CachedResponse, _ context: RequestContext) {
        guard context.isKeyed else { return }
        let handles = metrics.model(hit.model)
        context.hitModelMetrics = handles
        context.savedUSD = handles.price?.cost(prompt: hit.promptTokens, completion: hit.completionTokens, cached: hit.cachedTokens) ?? 0
        access.book(context)
    }

    /// `Age` (RFC 9111 §5.1) of an answer from the cache: whole seconds since the entry was stored.
    package static func ageField(of hit: CachedResponse) -> HTTPHeaderField {
        HTTPHeaderField("Age", DecimalText.string(max(0, Int(saturating: Clock.wallNow() - hit.createdAt))))
    }

    /// Answers from a cache entry; false when the entry cannot be used (then it is a miss).
    package func serveHit(_ hit: CachedResponse, chat: ChatCompletionRequest, _ responder: HTTPResponder,
                  _ context: RequestContext) -> Bool {
        serveHit(hit, stream: chat.stream, includeUsage: chat.includeUsage, responder, context)
    }

    package func serveHit(_ hit: CachedResponse, stream: Bool, includeUsage: Bool, _ responder: HTTPResponder,
                  _ context: RequestContext) -> Bool {
        guard hit.format == .chatCompletion else { return false }
        var headers = commonHeaders(context, cacheStatus: "HIT", model: hit.model)
        headers.append(Gateway.ageField(of: hit))
        var completion: JSONObject?
        if stream {
            completion = try? JSONParser.parse(hit.body).objectValue
            if completion == nil { return false }
        }
        // Noted before answering: the access log entry is made when the answer is done, which
        // may be inside `respond`.
        context.cacheResult = .hit
        context.provider = hit.provider
        bookHit(hit, context)
        guard let completion else {
            headers.append(HTTPHeaderField("Content-Type", "application/json"))
            headers.append(serverTiming(context))
            responder.respond(status: 200, headers: headers, body: hit.body)
            return true
        }
        var bytes: [UInt8] = []
        for chunk in ChatCompletionReplayer.chunks(from: completion, includeUsage: includeUsage) {
            bytes.append(contentsOf: SSEWriter.event(chunk))
        }
        bytes.append(contentsOf: SSEWriter.done)
        respondStream(bytes, headers: headers, responder, context)
        return true
    }

    /// A whole stream in one go (a cache hit replayed): the SSE head with what `Server-Timing`
    /// knows, the events, the trailer.
    package func respondStream(_ bytes: [UInt8], headers: [HTTPHeaderField], _ responder: HTTPResponder, _ context: RequestContext) {
        var headers = headers
        headers.append(contentsOf: Gateway.sseHeaders)
        let headersSeconds = Double(Clock.nanos() - context.startNanos) / 1e9
        headers.append(Gateway.streamHeadTiming(cacheSeconds: context.timing[.cache], headersSeconds: headersSeconds))
        context.timing.record(.headers, seconds: headersSeconds)
        responder.startStream(status: 200, headers: headers)
        responder.writeStreamChunk(bytes)
        responder.finishStream(trailers: [serverTimingTrailer(context)])
    }

    private func serveMiss(key: CacheKey, route: ModelRoute, chat: ChatCompletionRequest, cacheControl: CacheControl,
                           cacheStatus: String, _ responder: HTTPResponder, _ context: RequestContext) {
        let (flight, created) = flights.join(key, streaming: chat.stream)
        if created {
            let flights = self.flights
            flight.start(executor: responder.taskExecutor, onAbandon: { flights.remove(key, flight) }) { [self] flight in
                await runFlight(flight, key: key, route: route, chat: chat, cacheControl: cacheControl, requestID: context.id,
                                namespace: context.cacheNamespace)
            }
        }
        attachClient(to: flight, joined: !created, chat: chat, cacheStatus: cacheStatus,
                     knownModel: route.fallbacks.isEmpty ? route.name : nil, responder, context)
    }

    /// Connects one chat client to a flight.
    package func attachClient(to flight: CompletionFlight, joined: Bool, chat: ChatCompletionRequest, cacheStatus: String,
                      knownModel: String? = nil,
                      _ responder: HTTPResponder, _ context: RequestContext) {
        attachClient(to: flight, joined: joined, stream: chat.stream ? ChatStreamEncoding(includeUsage: chat.includeUsage) : nil,
                     cacheStatus: cacheStatus, knownModel: knownModel, responder, context)
    }

    /// Connects one client to a flight: a streaming session writing `stream`'s encoding, or
    /// (without one) one JSON response at the end.
    package func attachClient(to flight: CompletionFlight, joined: Bool, stream: (any ClientStreamEncoding)?, cacheStatus: String,
                      knownModel: String? = nil,
                      _ responder: HTTPResponder, _ context: RequestContext) {
        if let stream {
            let session = StreamingClientSession(gateway: self, responder: responder, context: context,
                                                 encoding: stream, cacheStatus: cacheStatus,
                                                 keepAliveInterval: config.streamKeepAliveInterval, joined: joined,
                                                 knownModel: knownModel)
            session.attach(to: flight)
        } else {
            let id = flight.subscribe { [self] event in
                switch event {
                case .chunk: break
                case .finished(let result):
                    noteFinished(result, context: context, joined: joined)
                    var headers = commonHeaders(context, cacheStatus: cacheStatus, model: result.outcome.route.name)
                    headers.append(HTTPHeaderField("Content-Type", "application/json"))
                    headers.append(serverTiming(context))
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
                           cacheControl: CacheControl, requestID: String, namespace: String) async {
        do {
            let outcome: CallOutcome
            if flight.streaming {
                outcome = try await orchestrator.stream(route, body: chat.body, requestID: requestID,
                                                        onRetryWait: { flight.setWaitingToRetry($0) }) { chunk in
                    flight.publish(.chunk(chunk))
                }
            } else {
                outcome = try await orchestrator.complete(route, body: chat.body, requestID: requestID)
            }
            let body = outcome.upstreamText.flatMap {
                JSONTopLevelPatch.replacingString("model", with: outcome.route.name, in: $0)
            } ?? JSONWriter.serialize(.object(outcome.completion))
            let result = FlightResult(outcome: outcome, body: body)
            let usage = result.usage
            metrics.recordTokens(model: outcome.route.name, prompt: usage.prompt, completion: usage.completion, cached: usage.cached,
                                 estimated: usage.estimated)
            var entry: (key: CacheKey, value: CachedResponse)?
            if cache != nil, !cacheControl.noStore, !Task.isCancelled, Gateway.isFinished(outcome.completion) {
                // A fallback's answer belongs to the model that produced it, never to the one asked.
                let answeringKey = outcome.route.name == route.name
                    ? key
                    : CacheKey.make(namespace: namespace, route: outcome.route.cacheRoute,
                                    request: outcome.route.mergedBody(chat.body))
                entry = (answeringKey, cachedResponse(outcome, body: body, usage: usage))
            }
            await finish(flight, key: key, result: result, storing: entry)
        } catch {
            flights.remove(key, flight)
            flight.publish(.failed(error))
        }
    }

    /// Answers a flight's clients and stores its entry. By default the answer goes out first: the
    /// commit then overlaps the client's next round trip. Until the entry is committed the finished
    /// flight stays in the table, and identical requests arriving meanwhile get its result as the
    /// cache hit it is about to be, so none of them goes upstream. Any other finished call leaves
    /// the table before it answers: a result that is not stored (`no-store`, a degraded ensemble)
    /// or is stored under another key (a fallback's answer belongs to the model that produced it)
    /// must not reach later requests. With `cache.commit_before_answer` the entry is committed
    /// first, so any answered request survives `kill -9`.
    ///
    /// Answered first while other calls are in flight (load), the entry goes to the cache writer's
    /// next group commit and the writer takes the flight out of the table: one commit for many
    /// entries, off the event loop. Measured at 64 connections: every entry had been committed
    /// inline, one write transaction and ~8 system calls each on the loop thread. Alone, the entry
    /// is committed inline: a hand-off to the writer thread would cost more than the commit.
    package func finish(_ flight: CompletionFlight, key: CacheKey, result: FlightResult,
                storing entry: (key: CacheKey, value: CachedResponse)?) async {
        let commitFirst = config.cache.commitBeforeAnswer
        // An answer too large to store leaves the table at once, like one that is not stored: it
        // must not reach later requests as the hit it will never be.
        guard let cache, let entry, entry.key == key, !commitFirst, cache.fits(entry.value) else {
            // An entry going under another key (a fallback's answer, stored under the model that
            // gave it) is committed before the answer: no flight holds it under that key, so a
            // request for that model sent on reading the answer must find it stored.
            let storeFirst = commitFirst || entry.map { $0.key != key } == true
            if let cache, let entry, storeFirst { await cache.store(entry.key, entry.value) }
            flights.remove(key, flight)
            flight.publish(.finished(result))
            if let cache, let entry, !storeFirst { await cache.store(entry.key, entry.value) }
            return
        }
        flight.publish(.finished(result))
        if flights.count > 1 {
            let flights = self.flights
            cache.storeLater(entry.key, entry.value) { flights.remove(key, flight) }
            return
        }
        await cache.store(entry.key, entry.value)
        flights.remove(key, flight)
    }

    /// Whether every choice says why it ended. An upstream stream that reached `[DONE]` without a
    /// `finish_reason` (or a whole answer with a null one) was cut: passed on as it came, but not
    /// stored to be served again as if complete.
    package static func isFinished(_ completion: JSONObject) -> Bool {
        guard let choices = completion["choices"]?.arrayValue, !choices.isEmpty else { return false }
        return choices.allSatisfy { $0["finish_reason"]?.stringValue != nil }
    }

    package func cachedResponse(_ outcome: CallOutcome, body: [UInt8], usage: Usage? = nil,
                                format: CachedResponse.Format = .chatCompletion) -> CachedResponse {
        let now = Clock.wallNow()
        let ttl = outcome.route.ttl ?? config.cache.defaultTTL
        let usage = usage ?? Usage(outcome.completion)
        let expiresAt: Double = ttl > 0 ? now + ttl : .infinity
        return CachedResponse(
            createdAt: now, expiresAt: expiresAt, model: outcome.route.name,
            provider: outcome.route.providerName, promptTokens: usage.prompt,
            completionTokens: usage.completion, cachedTokens: usage.cached,
            upstreamLatencyMs: outcome.upstreamSeconds * 1000, body: body, format: format)
    }

    /// `GET /health?deep=1`: every model asked a tiny prompt; 200 when all answer, else 503. It
    /// calls upstreams, so one check runs at a time (concurrent callers share it) and its result
    /// is reused for `server.health_cache_seconds`. An access rule for it belongs here.
    private func handleDeepHealth(_ responder: HTTPResponder, _ context: RequestContext) {
        let respond = { [self] (results: [ModelCheckResult]) in
            let healthy = results.allSatisfy(\.available)
            var headers = commonHeaders(context, cacheStatus: nil, model: nil)
            headers.append(HTTPHeaderField("Content-Type", "application/json"))
            let body: JSON = .object(["status": .string(healthy ? "ok" : "degraded"), "models": .array(results.map(\.json))])
            responder.respond(status: healthy ? 200 : 503, headers: headers, body: JSONWriter.serialize(body))
        }
        if let results = deepHealthResults.fresh() { return respond(results) }
        let check = ModelHealthCheck(router: router)
        let lifetime = config.healthCacheSeconds
        let results = deepHealthResults
        Task {
            respond(await results.get { (await check.run(), lifetime) })
        }
    }

    // MARK: Access

    /// Asks the access gate whether this request's caller may call `model` now (see
    /// `AccessGate.admit`). Every front calls it once it knows the model, before the cache: a key
    /// must not read cached answers of a model it may not call. `estimatedTokens` is evaluated only
    /// when the key has a token limit: a cache hit passes 0 (it calls no upstream).
    package func admit(_ context: RequestContext, model: String, estimatedTokens: @autoclosure () -> Int) -> GatewayError? {
        guard context.isKeyed else { return nil }
        return access.admit(context, model: model, estimatedTokens: estimatedTokens())
    }

    /// A keyed request whose client left before its upstream call was booked (a stream cut short
    /// on purpose, say) is charged its whole token reservation, at the model's output price:
    /// otherwise leaving just before the end would read an answer for free.
    package static func chargeAbandonedCall(_ context: RequestContext, metrics: GatewayMetrics) {
        guard context.isKeyed, !context.booked, context.cacheResult == .miss,
              let admission = context.admission, let model = context.model else { return }
        context.promptTokens = 0
        context.completionTokens = admission.reservedTokens
        context.costUSD = metrics.model(model).price?.cost(prompt: 0, completion: admission.reservedTokens, cached: 0)
    }

    /// What an ensemble's calls cost, from its `ultra` detail: each member that called upstream
    /// (not answered from the cache) at its own model's price, and the rest of the total usage
    /// (synthesis, critique, judging) at the synthesizer's. Nil for an answer that is no ensemble's.
    package func ensembleCost(_ completion: JSONObject, usage: Usage) -> Double? {
        guard let ultra = completion["ultra"]?.objectValue else { return nil }
        var cost = 0.0
        var prompt = 0, output = 0, cached = 0
        for member in ultra["members"]?.arrayValue ?? [] {
            guard let model = member["model"]?.stringValue, let used = member["usage"]?.objectValue,
                  (member["latency_ms"]?.doubleValue ?? 0) > 0 else { continue }
            let u = Usage(["usage": .object(used)])
            prompt += u.prompt
            output += u.completion
            cached += u.cached
            cost += metrics.model(model).price?.cost(prompt: u.prompt, completion: u.completion, cached: u.cached) ?? 0
        }
        if let synthesizer = ultra["synthesizer"]?.stringValue, let price = metrics.model(synthesizer).price {
            cost += price.cost(prompt: max(0, usage.prompt - prompt), completion: max(0, usage.completion - output),
                               cached: max(0, usage.cached - cached))
        }
        return cost
    }

    /// Model names offered in a "does not exist" error: a key with a model list hears only of
    /// models it may use.
    package func suggestions(for context: RequestContext, from names: [String]? = nil) -> [String] {
        let names = names ?? router.suggestions
        guard let key = context.caller.virtualKey, key.models != nil else { return names }
        return names.filter { key.allows(model: $0) }
    }

    // MARK: Models

    /// Runs `body` with the model catalog: at once when it is fresh, else once it has been
    /// fetched, on a task (the providers' lists are asked over the network).
    private func withModelCatalog(_ body: @escaping @Sendable (ModelCatalog.Snapshot) -> Void) {
        if let snapshot = catalog.freshSnapshot() { return body(snapshot) }
        let catalog = self.catalog
        Task { body(await catalog.snapshot()) }
    }

    /// The catalog entries `caller` may see: a virtual key with a model list sees only the models
    /// it may use.
    private func visibleModels(_ snapshot: ModelCatalog.Snapshot, to caller: Caller) -> [ModelCatalog.Entry] {
        guard let key = caller.virtualKey, key.models != nil else { return snapshot.entries }
        return snapshot.entries.filter { key.allows(model: $0.id) }
    }

    private func listModels(_ snapshot: ModelCatalog.Snapshot, for caller: Caller) -> JSON {
        .object(["object": "list", "data": .array(visibleModels(snapshot, to: caller).map(modelJSON))])
    }

    private func modelJSON(_ entry: ModelCatalog.Entry) -> JSON {
        .object(["id": .string(entry.id), "object": "model", "created": .int(startedAt), "owned_by": .string(entry.ownedBy)])
    }

    // MARK: Helpers

    package static let upstreamCancelled = GatewayError(status: 503, type: "server_error",
                                                message: "The upstream call was cancelled; please retry.",
                                                code: "upstream_cancelled")

    /// A stream's head fields. `Trailer` announces the `Server-Timing` trailer field sent after the
    /// last chunk (the server drops both when the response is not chunked, e.g. to HTTP/1.0).
    package static let sseHeaders = [
        HTTPHeaderField("Content-Type", "text/event-stream; charset=utf-8"),
        HTTPHeaderField("Cache-Control", "no-cache"),
        HTTPHeaderField("X-Accel-Buffering", "no"),
        HTTPHeaderField("Trailer", "Server-Timing"),
    ]

    package func commonHeaders(_ context: RequestContext, cacheStatus: String?, model: String?) -> [HTTPHeaderField] {
        var headers = [HTTPHeaderField("X-Request-Id", context.id)]
        if let cacheStatus { headers.append(HTTPHeaderField("X-Cache", cacheStatus)) }
        if let model { headers.append(HTTPHeaderField("X-UltraGate-Model", model)) }
        if !context.rateLimitHeaders.isEmpty { headers.append(contentsOf: context.rateLimitHeaders) }
        return headers
    }

    /// `Server-Timing` for what happened so far, `total` being now.
    package func serverTiming(_ context: RequestContext) -> HTTPHeaderField {
        var timing = context.timing
        timing.record(.total, seconds: Double(Clock.nanos() - context.startNanos) / 1e9)
        return HTTPHeaderField("Server-Timing", timing.headerValue)
    }

    /// A stream's `Server-Timing` head field: what is known as the head goes out, the cache
    /// lookup and `headers` (the time to the head). The rest follows in the trailer.
    package static func streamHeadTiming(cacheSeconds: Double?, headersSeconds: Double) -> HTTPHeaderField {
        var timing = ServerTiming()
        if let cacheSeconds { timing.record(.cache, seconds: cacheSeconds) }
        timing.record(.headers, seconds: headersSeconds)
        return HTTPHeaderField("Server-Timing", timing.headerValue)
    }

    /// A stream's `Server-Timing` trailer field: everything the head did not tell (time to first
    /// token, upstream, retries, attempts, synthesis), `total` being now.
    package func serverTimingTrailer(_ context: RequestContext) -> HTTPHeaderField {
        var timing = context.timing.trailerPart
        timing.record(.total, seconds: Double(Clock.nanos() - context.startNanos) / 1e9)
        return HTTPHeaderField("Server-Timing", timing.headerValue)
    }

    /// Books a finished flight on this request: upstream time and tokens, or (for a request that
    /// joined another's flight) the cost the shared call saved.
    package func noteFinished(_ result: FlightResult, context: RequestContext, joined: Bool) {
        let usage = result.usage
        let outcome = result.outcome
        context.upstreamSeconds = outcome.upstreamSeconds
        context.timing.record(.upstream, seconds: outcome.upstreamSeconds)
        if let ttft = outcome.timeToFirstToken { context.timing.record(.ttft, seconds: ttft) }
        if outcome.attempts > 1 { context.timing.record(.retry, seconds: outcome.retryWaitSeconds) }
        context.timing.attempts = outcome.attempts
        if let synthesisMs = result.outcome.completion["ultra"]?["synthesis_latency_ms"]?.doubleValue {
            context.timing.record(.synth, seconds: synthesisMs / 1000)
        }
        context.provider = result.outcome.route.providerName
        context.promptTokens = usage.prompt
        context.completionTokens = usage.completion
        context.cachedTokens = usage.cached
        if !joined {
            context.costUSD = metrics.model(result.outcome.route.name).price?.cost(
                prompt: usage.prompt, completion: usage.completion, cached: usage.cached)
                ?? ensembleCost(result.outcome.completion, usage: usage)
        } else {
            metrics.recordCacheSavings(model: result.outcome.route.name, prompt: usage.prompt, completion: usage.completion,
                                       cached: usage.cached)
            context.savedUSD = metrics.model(result.outcome.route.name).price?.cost(
                prompt: usage.prompt, completion: usage.completion, cached: usage.cached) ?? 0
        }
        access.book(context)
    }

    private func respondJSON(_ responder: HTTPResponder, _ context: RequestContext, _ json: JSON) {
        var headers = commonHeaders(context, cacheStatus: nil, model: nil)
        headers.append(HTTPHeaderField("Content-Type", "application/json"))
        responder.respond(status: 200, headers: headers, body: JSONWriter.serialize(json))
    }

    package func fail(_ responder: HTTPResponder, _ context: RequestContext, _ error: GatewayError) {
        if error.isClientClosed {
            // The shared call was abandoned by everyone else; this client is still here.
            guard !responder.isClientGone else { return }
            return fail(responder, context, Gateway.upstreamCancelled)
        }
        responder.respond(error: error, headers: commonHeaders(context, cacheStatus: nil, model: nil), dialect: context.errorDialect)
    }
}

/// Token counts of a `chat.completion`'s `usage`.
package struct Usage {
    package var prompt = 0
    package var completion = 0
    package var cached = 0
    /// The counts are the gateway's estimate (`EstimatedUsage`): the upstream reported none.
    package var estimated = false

    package init(_ completion: JSONObject) {
        guard let usage = completion["usage"] else { return }
        prompt = usage["prompt_tokens"]?.tokenCount ?? 0
        self.completion = usage["completion_tokens"]?.tokenCount ?? 0
        cached = usage["prompt_tokens_details"]?["cached_tokens"]?.tokenCount ?? 0
        estimated = EstimatedUsage.isEstimate(usage)
    }
}

extension Endpoint {
    /// The `route` label of request metrics: a fixed set, never the raw path.
    package var metricRoute: String {
        switch self {
        case .chatCompletions: return "/v1/chat/completions"
        case .responses: return "/v1/responses"
        case .response: return "/v1/responses/{id}"
        case .responseInputItems: return "/v1/responses/{id}/input_items"
        case .messages: return "/v1/messages"
        case .countTokens: return "/v1/messages/count_tokens"
        case .embeddings: return "/v1/embeddings"
        case .listModels: return "/v1/models"
        case .model: return "/v1/models/{id}"
        case .health: return "/health"
        case .deepHealth: return "/health?deep=1"
        case .metrics: return "/metrics"
        case .stats: return "/v1/stats"
        case .adminKeys: return "/admin/keys"
        case .adminKey: return "/admin/keys/{name}"
        case .adminKeyUsage: return "/admin/keys/{name}/usage"
        case .notFound: return "unknown"
        case .methodNotAllowed: return "method_not_allowed"
        }
    }
}
