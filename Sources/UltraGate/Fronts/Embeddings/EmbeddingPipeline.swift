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

    /// A request's items keyed for one route and looked up in the cache: what `answered` gives at
    /// once when every item was there, and where an attempt that must fetch the rest starts.
    package struct Prepared: Sendable {
        package var route: ModelRoute
        package var template: EmbeddingCallTemplate
        package var optionsText: String
        /// Per distinct item: its key, its input, and what the cache had.
        package var keys: [CacheKey]
        package var distinct: [EmbeddingInput]
        package var vectors: [[Float]?]
        package var tokens: [Int]
        package var hit: [Bool]
        /// Per input item, its distinct item.
        package var itemOf: [Int]
        package var lookupSeconds: Double

        /// The outcome, when the cache held every item.
        package var answered: Outcome? {
            guard !vectors.contains(where: { $0 == nil }) else { return nil }
            return outcome(sent: [], upstreamSeconds: 0)
        }

        func outcome(sent: [Bool], upstreamSeconds: Double) -> Outcome {
            let hits = itemOf.reduce(0) { $0 + (hit[$1] ? 1 : 0) }
            let sentTokens = sent.indices.reduce(0) { $0 + (sent[$1] ? tokens[$1] : 0) }
            return Outcome(route: route, vectors: vectors.map { $0! }, tokens: tokens, itemOf: itemOf, hits: hits,
                           sentTokens: sentTokens, upstreamSeconds: upstreamSeconds, lookupSeconds: lookupSeconds,
                           attempts: 1, retryWaitSeconds: 0)
        }
    }

    /// Keys the request's items for `route` and looks them up, on the calling thread (an event
    /// loop: one read transaction, no suspension), so a request answered wholly from the cache
    /// needs no task at all.
    package func prepare(_ plan: Plan, route: ModelRoute, provider: any EmbeddingProvider) -> Prepared {
        let template = Self.template(plan.request, route: route, provider: provider, requestID: plan.requestID)
        let optionsText = template.options.isEmpty
            ? "" : String(decoding: JSONWriter.serialize(.object(template.options), canonical: true), as: UTF8.self)
        let prefix = EmbeddingKeyPrefix(namespace: plan.namespace, route: route.cacheRoute, upstreamModel: route.upstreamModel,
                                        dimensions: template.dimensions, options: optionsText)
        let inputs = plan.request.inputs
        var itemOf: [Int] = []
        itemOf.reserveCapacity(inputs.count)
        var keys: [CacheKey] = []
        var distinct: [EmbeddingInput] = []
        func key(_ input: EmbeddingInput) -> CacheKey {
            switch input {
            case .text(let text): return prefix.key(text: text)
            case .tokens(let ids): return prefix.key(tokens: ids)
            }
        }
        if inputs.count == 1 {
            keys = [key(inputs[0])]
            distinct = inputs
            itemOf = [0]
        } else {
            var firstOf: [CacheKey: Int] = [:]
            for input in inputs {
                let k = key(input)
                if let known = firstOf[k] {
                    itemOf.append(known)
                } else {
                    firstOf[k] = keys.count
                    itemOf.append(keys.count)
                    keys.append(k)
                    distinct.append(input)
                }
            }
        }
        var prepared = Prepared(route: route, template: template, optionsText: optionsText, keys: keys, distinct: distinct,
                                vectors: Array(repeating: nil, count: keys.count), tokens: Array(repeating: 0, count: keys.count),
                                hit: Array(repeating: false, count: keys.count), itemOf: itemOf, lookupSeconds: 0)
        if let cache, plan.cacheControl.allowsLookup {
            let start = Clock.nanos()
            for (u, found) in cache.lookup(keys, now: Clock.wallNow(), maxAge: plan.cacheControl.maxAge).enumerated() {
                guard let found else { continue }
                prepared.vectors[u] = found.vector
                prepared.tokens[u] = found.tokens
                prepared.hit[u] = true
            }
            prepared.lookupSeconds = Double(Clock.nanos() - start) / 1e9
        }
        return prepared
    }

    /// The answer for a request `prepared` for `route` found incomplete: its first attempt goes on
    /// from there, later ones (retries, fallbacks) look up again.
    package func run(_ plan: Plan, route: ModelRoute, prepared: Prepared? = nil) async throws(GatewayError) -> Outcome {
        var first = prepared
        let done = try await orchestrator.withRetriesAndFallbacks(route) { candidate in
            guard let provider = candidate.provider as? any EmbeddingProvider else {
                throw Orchestrator.FinalFailure(error: EmbeddingPipeline.noEmbeddings(candidate))
            }
            var start = first.flatMap { $0.route.name == candidate.name ? $0 : nil } ?? prepare(plan, route: candidate, provider: provider)
            first = nil
            if let answered = start.answered { return answered }
            return try await fetch(&start, plan)
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
        if !route.params.isEmpty {
            options.update(with: JSONObject(route.params.pairs.filter {
                !EmbeddingRequest.knownFields.contains($0.key) && request.options[$0.key] == nil
            }))
        }
        return EmbeddingCallTemplate(route: route, provider: provider,
                                     dimensions: request.dimensions ?? route.params["dimensions"]?.intValue,
                                     user: request.user ?? route.params["user"]?.stringValue, options: options,
                                     requestID: requestID)
    }

    /// Fetches the items the cache lacked: joins the flights of items already on their way, sends
    /// the rest as this attempt's group, and waits. Throws the `ProviderError` of a call that
    /// carried this request's items; a call another request made for a shared item and that failed
    /// with an error that request's own items may have caused is not this request's failure: the
    /// item is sent again, by this request.
    private func fetch(_ p: inout Prepared, _ plan: Plan) async throws -> Outcome {
        let owner = owners.add(1, ordering: .relaxed).newValue
        let route = p.route
        let ttl = route.ttl ?? defaultTTL
        let expiresAt: Double? = cache == nil || plan.cacheControl.noStore ? nil : (ttl > 0 ? Clock.wallNow() + ttl : .infinity)
        let batchKey = EmbeddingBatchKey(route: route.cacheRoute, dimensions: p.template.dimensions, user: p.template.user,
                                         options: p.optionsText, tokens: plan.request.inputs.first?.isTokens ?? false)
        var sent = [Bool](repeating: false, count: p.keys.count)
        var upstreamSeconds = 0.0
        var missing = (0..<p.keys.count).filter { p.vectors[$0] == nil }
        for round in 0..<2 where !missing.isEmpty {
            var group = EmbeddingBatchGroup(owner: owner, inputs: [], keys: [], flights: [], expiresAt: expiresAt)
            var waiting: [(item: Int, flight: EmbeddingItemFlight)] = []
            for u in missing {
                let (flight, created) = flights.join(p.keys[u])
                if created {
                    group.inputs.append(p.distinct[u])
                    group.keys.append(p.keys[u])
                    group.flights.append(flight)
                    sent[u] = true
                } else if case .embedded(let vector, let count, _)? = flight.outcome {
                    // Answered a moment ago and being stored: the cache hit it is about to be.
                    p.vectors[u] = vector
                    p.tokens[u] = count
                    p.hit[u] = true
                    continue
                }
                waiting.append((u, flight))
            }
            if !group.inputs.isEmpty { batcher.submit(group, key: batchKey, template: p.template, scheduler: plan.scheduler) }
            var again: [Int] = []
            var failure: ProviderError?
            for (k, outcome) in await EmbeddingItemFlight.outcomes(of: waiting.map(\.flight)).enumerated() {
                let u = waiting[k].item
                switch outcome {
                case .embedded(let vector, let count, let seconds):
                    p.vectors[u] = vector
                    p.tokens[u] = count
                    upstreamSeconds = max(upstreamSeconds, seconds)
                case .failed(let error, let by):
                    if by != owner, round == 0, EmbeddingBatcher.mayBeOneRequestsFault(error) {
                        again.append(u)
                        sent[u] = true
                    } else if failure == nil {
                        failure = error
                    }
                }
            }
            if let failure { throw failure }
            missing = again
        }
        return p.outcome(sent: sent, upstreamSeconds: upstreamSeconds)
    }

    /// The 400 for a model whose provider has no embeddings API.
    package static func noEmbeddings(_ route: ModelRoute) -> GatewayError {
        .invalidRequest("The model `\(route.name)` cannot create embeddings: its provider `\(route.providerName)` (type \(route.provider.type)) has no embeddings API.",
                        param: "model", code: "model_not_supported")
    }
}
