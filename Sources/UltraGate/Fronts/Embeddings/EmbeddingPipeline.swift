import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateJSON
import UltraGateSupport
import Foundation
import Synchronization

/// The work behind `/v1/embeddings` once a request is valid and routed: for the route (then each
/// fallback, as the retry policy says), key every item, answer what the per-item cache holds,
/// share the flights of items other requests are already fetching, and hand the rest to the
/// batcher as this request's group; then put the answer together in input order.
///
/// Every step is linear in the items (keys, one dictionary for duplicates, one read transaction
/// for all lookups, one flight-table operation per missing item).
package final class EmbeddingPipeline: @unchecked Sendable {
    package let cache: EmbeddingItemCache?
    package let flights: EmbeddingFlightTable
    package let batcher: EmbeddingBatcher
    private let orchestrator: Orchestrator
    /// Per request: retries, their waits and fallbacks (the batcher reports each upstream call).
    private let requestEvents: OrchestratorEvents
    private let defaultTTL: Double
    private let owners = Atomic<UInt64>(0)

    package init(cache: EmbeddingItemCache?, orchestrator: Orchestrator, callEvents: OrchestratorEvents,
                 requestEvents: OrchestratorEvents, windowSeconds: Double, defaultTTL: Double) {
        self.cache = cache
        let flights = EmbeddingFlightTable()
        self.flights = flights
        batcher = EmbeddingBatcher(window: windowSeconds, flights: flights, cache: cache, events: callEvents)
        var orchestrator = orchestrator
        orchestrator.events = requestEvents
        self.orchestrator = orchestrator
        self.requestEvents = requestEvents
        self.defaultTTL = defaultTTL
    }

    /// What a request asks, whichever route answers it.
    package struct Plan: Sendable {
        package var request: EmbeddingRequest
        /// The tenant's cache namespace (`RequestContext.cacheNamespace`).
        package var namespace: String
        package var cacheControl: CacheControl
        package var requestID: String
        package var scheduler: EmbeddingScheduler
    }

    /// The answer: per input item its vector and tokens, and where they came from.
    package struct Outcome: Sendable {
        /// The route that answered (the asked one, or a fallback).
        package var route: ModelRoute
        /// Per distinct item.
        package var vectors: [[Float]]
        package var tokens: [Int]
        /// Per input item, its distinct item.
        package var itemOf: [Int]
        /// Input items answered from the cache (or from a call whose items were being stored).
        package var hits: Int
        /// Tokens of the items this request's own calls carried (what it cost).
        package var sentTokens: Int
        /// The longest upstream call the items waited for.
        package var upstreamSeconds: Double
        package var lookupSeconds: Double
        package var attempts: Int
        package var retryWaitSeconds: Double

        /// Tokens of every input item, as the client would be charged without the cache.
        package var promptTokens: Int { itemOf.reduce(0) { $0 + tokens[$1] } }
    }

    package func run(_ plan: Plan, route: ModelRoute) async throws(GatewayError) -> Outcome {
        let done = try await orchestrator.withRetriesAndFallbacks(route) { candidate in
            try await attempt(plan, candidate)
        }
        var outcome = done.value
        outcome.attempts = done.attempts
        outcome.retryWaitSeconds = done.retryWaitSeconds
        return outcome
    }

    /// The call fields for `route`: its params fill what the request leaves out (a default
    /// `dimensions`, options); the request's values win.
    package static func template(_ request: EmbeddingRequest, route: ModelRoute, provider: any EmbeddingProvider,
                                 requestID: String) -> EmbeddingCallTemplate {
        var options = request.options
        options.update(with: JSONObject(route.params.pairs.filter {
            !EmbeddingRequest.knownFields.contains($0.key) && request.options[$0.key] == nil
        }))
        return EmbeddingCallTemplate(route: route, provider: provider,
                                     dimensions: request.dimensions ?? route.params["dimensions"]?.intValue,
                                     user: request.user ?? route.params["user"]?.stringValue, options: options,
                                     requestID: requestID)
    }

    /// One attempt on `route`. Throws the `ProviderError` of a call that carried this request's
    /// items; a call another request made for a shared item and that failed with an error that
    /// request's own items may have caused is not this request's failure: the item is sent again,
    /// by this request.
    private func attempt(_ plan: Plan, _ route: ModelRoute) async throws -> Outcome {
        guard let provider = route.provider as? any EmbeddingProvider else {
            throw Orchestrator.FinalFailure(error: EmbeddingPipeline.noEmbeddings(route))
        }
        let owner = owners.add(1, ordering: .relaxed).newValue
        let template = Self.template(plan.request, route: route, provider: provider, requestID: plan.requestID)
        let optionsText = template.options.isEmpty
            ? "" : String(decoding: JSONWriter.serialize(.object(template.options), canonical: true), as: UTF8.self)
        let prefix = EmbeddingKeyPrefix(namespace: plan.namespace, route: route.cacheRoute, upstreamModel: route.upstreamModel,
                                        dimensions: template.dimensions, options: optionsText)
        let inputs = plan.request.inputs
        var itemOf: [Int] = []
        itemOf.reserveCapacity(inputs.count)
        var firstOf: [CacheKey: Int] = [:]
        var keys: [CacheKey] = []
        var distinct: [EmbeddingInput] = []
        for input in inputs {
            let key: CacheKey
            switch input {
            case .text(let text): key = prefix.key(text: text)
            case .tokens(let ids): key = prefix.key(tokens: ids)
            }
            if let known = firstOf[key] {
                itemOf.append(known)
            } else {
                firstOf[key] = keys.count
                itemOf.append(keys.count)
                keys.append(key)
                distinct.append(input)
            }
        }

        var vectors = [[Float]?](repeating: nil, count: keys.count)
        var tokens = [Int](repeating: 0, count: keys.count)
        var hit = [Bool](repeating: false, count: keys.count)
        var lookupSeconds = 0.0
        if let cache, plan.cacheControl.allowsLookup {
            let start = Clock.nanos()
            for (u, found) in cache.lookup(keys, now: Clock.wallNow(), maxAge: plan.cacheControl.maxAge).enumerated() {
                guard let found else { continue }
                vectors[u] = found.vector
                tokens[u] = found.tokens
                hit[u] = true
            }
            lookupSeconds = Double(Clock.nanos() - start) / 1e9
        }

        let ttl = route.ttl ?? defaultTTL
        let expiresAt: Double? = cache == nil || plan.cacheControl.noStore ? nil : (ttl > 0 ? Clock.wallNow() + ttl : .infinity)
        let batchKey = EmbeddingBatchKey(route: route.cacheRoute, dimensions: template.dimensions, user: template.user,
                                         options: optionsText, tokens: inputs.first?.isTokens ?? false)
        var sent = [Bool](repeating: false, count: keys.count)
        var upstreamSeconds = 0.0
        var missing = (0..<keys.count).filter { vectors[$0] == nil }
        for round in 0..<2 where !missing.isEmpty {
            var group = EmbeddingBatchGroup(owner: owner, inputs: [], keys: [], flights: [], expiresAt: expiresAt)
            var waiting: [(item: Int, flight: EmbeddingItemFlight)] = []
            for u in missing {
                let (flight, created) = flights.join(keys[u])
                if created {
                    group.inputs.append(distinct[u])
                    group.keys.append(keys[u])
                    group.flights.append(flight)
                    sent[u] = true
                } else if case .embedded(let vector, let count, _)? = flight.outcome {
                    // Answered a moment ago and being stored: the cache hit it is about to be.
                    vectors[u] = vector
                    tokens[u] = count
                    hit[u] = true
                    continue
                }
                waiting.append((u, flight))
            }
            if !group.inputs.isEmpty { batcher.submit(group, key: batchKey, template: template, scheduler: plan.scheduler) }
            var again: [Int] = []
            var failure: ProviderError?
            for (k, outcome) in await EmbeddingItemFlight.outcomes(of: waiting.map(\.flight)).enumerated() {
                let u = waiting[k].item
                switch outcome {
                case .embedded(let vector, let count, let seconds):
                    vectors[u] = vector
                    tokens[u] = count
                    upstreamSeconds = max(upstreamSeconds, seconds)
                case .failed(let error, let by):
                    if by != owner, round == 0, EmbeddingBatcher.mayBeOneRequestsFault(error) {
                        again.append(u)
                    } else if failure == nil {
                        failure = error
                    }
                }
            }
            if let failure { throw failure }
            missing = again
        }
        guard !missing.isEmpty else {
            let hits = itemOf.reduce(0) { $0 + (hit[$1] ? 1 : 0) }
            let sentTokens = (0..<keys.count).reduce(0) { $0 + (sent[$1] ? tokens[$1] : 0) }
            return Outcome(route: route, vectors: vectors.map { $0! }, tokens: tokens, itemOf: itemOf, hits: hits,
                           sentTokens: sentTokens, upstreamSeconds: upstreamSeconds, lookupSeconds: lookupSeconds,
                           attempts: 1, retryWaitSeconds: 0)
        }
        throw ProviderError(kind: .invalidResponse, provider: route.providerName, message: "an item could not be embedded")
    }

    /// The 400 for a model whose provider has no embeddings API.
    package static func noEmbeddings(_ route: ModelRoute) -> GatewayError {
        .invalidRequest("The model `\(route.name)` cannot create embeddings: its provider `\(route.providerName)` (type \(route.provider.type)) has no embeddings API.",
                        param: "model", code: "model_not_supported")
    }
}
