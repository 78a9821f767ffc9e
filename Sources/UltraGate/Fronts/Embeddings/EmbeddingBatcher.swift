import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateJSON
import UltraGateSupport
import Foundation

/// One request attempt's items that missed the cache and that it sends itself (it created their
/// flights), with what their cache entries need.
package struct EmbeddingBatchGroup: Sendable {
    /// The attempt that sent them (`EmbeddingItemFlight.Outcome.failed` names it).
    package var owner: UInt64
    package var inputs: [EmbeddingInput]
    package var keys: [CacheKey]
    package var flights: [EmbeddingItemFlight]
    /// When their cache entries expire (`.infinity`: never); nil: they are not stored.
    package var expiresAt: Double?
}

/// What must be equal for items to share one upstream call: the provider model, the call's
/// fields, and the kind of input (OpenAI's `input` is all texts or all token arrays).
package struct EmbeddingBatchKey: Hashable, Sendable {
    package var route: String
    package var dimensions: Int?
    package var user: String?
    /// The canonical JSON of the options passed on.
    package var options: String
    package var tokens: Bool
}

/// The call items of one batch key are sent in: the route and provider, and the call's fields.
package struct EmbeddingCallTemplate: Sendable {
    package var route: ModelRoute
    package var provider: any EmbeddingProvider
    package var dimensions: Int?
    package var user: String?
    package var options: JSONObject
    package var requestID: String
}

/// How the batcher waits and where its calls run, given by the request that opens a batch: a
/// timer of that request's event loop (no thread sleeps, nothing spins) and the loop's executor.
package struct EmbeddingScheduler: Sendable {
    package var after: @Sendable (_ seconds: Double, _ work: @escaping @Sendable () -> Void) -> Void
    package var executor: (any TaskExecutor)?

    package init(after: @escaping @Sendable (Double, @escaping @Sendable () -> Void) -> Void, executor: (any TaskExecutor)?) {
        self.after = after
        self.executor = executor
    }
}

/// Gathers the items that concurrent requests to the same provider model send upstream into
/// shared calls: the first group of a batch opens it and sets a timer of `window` seconds; groups
/// arriving meanwhile join; when the timer fires (or the batch reaches the provider's limit) it
/// goes, split into calls of at most `embeddingBatchLimit` items. Each item's flight gets its own
/// vector back. With a window of 0 every group goes at once on its own.
///
/// Failures stay with the request that caused them: when a call holding several requests' items
/// fails with an error that one item can cause (a 4xx other than 408, 409 and 429: an input too
/// long, one the provider refuses), each request's items are sent again alone, so only the
/// faulty request fails. Other failures (5xx, timeouts, 429) fail every item of the call, and each
/// request's own retry policy decides what next.
///
/// Calls are not cancelled when clients leave: an embeddings call is short, and its items are
/// stored for the request that will likely come again.
package final class EmbeddingBatcher: @unchecked Sendable {
    package let window: Double
    private let flights: EmbeddingFlightTable
    private let cache: EmbeddingItemCache?
    /// Reports every upstream call: its start, its end, its failure.
    private let events: OrchestratorEvents
    private let now: @Sendable () -> Double

    private final class Pending: @unchecked Sendable {
        let template: EmbeddingCallTemplate
        var groups: [EmbeddingBatchGroup] = []
        var items = 0
        init(template: EmbeddingCallTemplate) { self.template = template }
    }

    private let lock = NSLock()
    /// Batches gathering, by key (guarded by `lock`).
    private var pending: [EmbeddingBatchKey: Pending] = [:]

    package init(window: Double, flights: EmbeddingFlightTable, cache: EmbeddingItemCache?, events: OrchestratorEvents,
                 now: @escaping @Sendable () -> Double = { Clock.wallNow() }) {
        self.window = window
        self.flights = flights
        self.cache = cache
        self.events = events
        self.now = now
    }

    /// Hands `group` over to be sent; its flights end when its call does.
    package func submit(_ group: EmbeddingBatchGroup, key: EmbeddingBatchKey, template: EmbeddingCallTemplate,
                        scheduler: EmbeddingScheduler) {
        let limit = max(1, template.provider.embeddingBatchLimit)
        guard window > 0 else {
            return dispatch(template, [group], executor: scheduler.executor)
        }
        lock.lock()
        if let batch = pending[key] {
            batch.groups.append(group)
            batch.items += group.inputs.count
            let full = batch.items >= limit
            if full { pending[key] = nil }
            lock.unlock()
            // A full batch left the table: nobody else touches it any more.
            if full { dispatch(batch.template, batch.groups, executor: scheduler.executor) }
            return
        }
        guard group.inputs.count < limit else {
            lock.unlock()
            return dispatch(template, [group], executor: scheduler.executor)
        }
        let batch = Pending(template: template)
        batch.groups = [group]
        batch.items = group.inputs.count
        pending[key] = batch
        lock.unlock()
        scheduler.after(window) { [self] in
            lock.lock()
            let due = pending[key] === batch
            if due { pending[key] = nil }
            lock.unlock()
            if due { dispatch(batch.template, batch.groups, executor: scheduler.executor) }
        }
    }

    /// Batches still gathering (for tests and shutdown).
    package var gathering: Int {
        lock.lock()
        defer { lock.unlock() }
        return pending.count
    }

    // MARK: Calls

    /// A run of one group's items inside a call.
    private struct Slice {
        var group: EmbeddingBatchGroup
        var range: Range<Int>
    }

    private func dispatch(_ template: EmbeddingCallTemplate, _ groups: [EmbeddingBatchGroup], executor: (any TaskExecutor)?) {
        let calls = Self.calls(groups, limit: max(1, template.provider.embeddingBatchLimit))
        Task.immediate(executorPreference: executor) { [self] in
            if calls.count == 1 { return await send(template, calls[0], isolating: true) }
            await withTaskGroup(of: Void.self) { group in
                for call in calls { group.addTask(executorPreference: executor) { await self.send(template, call, isolating: true) } }
            }
        }
    }

    /// The groups' items cut into calls of at most `limit` items, in order. O(items).
    private static func calls(_ groups: [EmbeddingBatchGroup], limit: Int) -> [[Slice]] {
        var calls: [[Slice]] = []
        var current: [Slice] = []
        var room = limit
        for group in groups {
            var start = 0
            while start < group.inputs.count {
                let take = min(room, group.inputs.count - start)
                current.append(Slice(group: group, range: start..<(start + take)))
                start += take
                room -= take
                if room == 0 {
                    calls.append(current)
                    current = []
                    room = limit
                }
            }
        }
        if !current.isEmpty { calls.append(current) }
        return calls
    }

    private func send(_ template: EmbeddingCallTemplate, _ slices: [Slice], isolating: Bool) async {
        let route = template.route
        var inputs: [EmbeddingInput] = []
        inputs.reserveCapacity(slices.reduce(0) { $0 + $1.range.count })
        for slice in slices { inputs.append(contentsOf: slice.group.inputs[slice.range]) }
        let call = EmbeddingCall(model: route.upstreamModel, inputs: inputs, dimensions: template.dimensions, user: template.user,
                                 options: template.options, requestID: template.requestID, timeouts: route.timeouts)
        events.attemptStarted(route)
        let start = Clock.nanos()
        do {
            let answer = try await template.provider.embed(call)
            guard answer.vectors.count == inputs.count, answer.tokens.count == inputs.count else {
                throw ProviderError(kind: .invalidResponse, provider: route.providerName,
                                    message: "the provider answered \(answer.vectors.count) embeddings for \(inputs.count) inputs")
            }
            if let problem = answer.problem(dimensions: call.dimensions) {
                throw ProviderError(kind: .invalidResponse, provider: route.providerName, message: problem)
            }
            let seconds = Double(Clock.nanos() - start) / 1e9
            events.upstreamFinished(route, seconds, nil)
            // Stored at once, inline when small: yielding first so that the waiting requests
            // answer before the commit measured slower (the task came back later, elsewhere).
            store(deliver(answer, to: slices, seconds: seconds))
        } catch {
            let failure = Orchestrator.providerError(error, provider: route.providerName)
            events.attemptFailed(route, failure, false)
            let owners = Set(slices.map(\.group.owner))
            if isolating, owners.count > 1, Self.mayBeOneRequestsFault(failure) {
                // Each request's items alone: only the one that caused the failure fails again.
                var byOwner: [UInt64: [Slice]] = [:]
                var order: [UInt64] = []
                for slice in slices {
                    if byOwner[slice.group.owner] == nil { order.append(slice.group.owner) }
                    byOwner[slice.group.owner, default: []].append(slice)
                }
                await withTaskGroup(of: Void.self) { group in
                    for owner in order {
                        let own = byOwner[owner]!
                        group.addTask { await self.send(template, own, isolating: false) }
                    }
                }
                return
            }
            for slice in slices {
                for i in slice.range {
                    flights.remove(slice.group.keys[i], slice.group.flights[i])
                    slice.group.flights[i].finish(.failed(failure, owner: slice.group.owner))
                }
            }
        }
    }

    /// Items to store, and the flights that leave the table once they are committed.
    private typealias Storing = (entries: [(key: CacheKey, value: CachedEmbedding)], flights: [(CacheKey, EmbeddingItemFlight)])

    /// Ends the slices' flights with their vectors; returns the items to store (their flights stay
    /// in the table until then, so a request arriving meanwhile is answered from the flight).
    private func deliver(_ answer: EmbeddingAnswer, to slices: [Slice], seconds: Double) -> Storing {
        var offset = 0
        var entries: [(key: CacheKey, value: CachedEmbedding)] = []
        var stored: [(CacheKey, EmbeddingItemFlight)] = []
        let createdAt = now()
        for slice in slices {
            for i in slice.range {
                let vector = answer.vectors[offset], tokens = answer.tokens[offset]
                offset += 1
                let flight = slice.group.flights[i], key = slice.group.keys[i]
                flight.finish(.embedded(vector: vector, tokens: tokens, upstreamSeconds: seconds))
                if cache != nil, let expiresAt = slice.group.expiresAt {
                    entries.append((key, CachedEmbedding(createdAt: createdAt, expiresAt: expiresAt, tokens: tokens, vector: vector)))
                    stored.append((key, flight))
                } else {
                    flights.remove(key, flight)
                }
            }
        }
        return (entries, stored)
    }

    private func store(_ storing: Storing) {
        guard let cache, !storing.entries.isEmpty else { return }
        let table = flights
        let committing = storing.flights
        cache.storeLater(storing.entries) {
            for (key, flight) in committing { table.remove(key, flight) }
        }
    }

    /// Whether a call's failure may come from one of its items rather than from the provider: a
    /// client error other than a timeout, a conflict or a rate limit.
    package static func mayBeOneRequestsFault(_ error: ProviderError) -> Bool {
        guard case .http(let status) = error.kind else { return false }
        return (400..<500).contains(status) && ![408, 409, 429].contains(status)
    }
}
