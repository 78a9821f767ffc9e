import Foundation

/// Hooks the orchestrator reports through (metrics, logs). All optional.
public struct OrchestratorEvents: Sendable {
    public var attemptFailed: @Sendable (_ route: ModelRoute, _ error: ProviderError, _ willRetry: Bool) -> Void = { _, _, _ in }
    public var fallback: @Sendable (_ from: ModelRoute, _ to: ModelRoute) -> Void = { _, _ in }
    public var upstreamFinished: @Sendable (_ route: ModelRoute, _ seconds: Double, _ ttft: Double?) -> Void = { _, _, _ in }
    public init() {}
}

/// The result of calling one model (after retries and fallbacks).
public struct CallOutcome: Sendable {
    /// The complete `chat.completion`, its `model` set to the name of the route that answered.
    public var completion: JSONObject
    public var route: ModelRoute
    public var upstreamSeconds: Double
    public var timeToFirstToken: Double?
    public var attempts: Int
}

/// Calls a model route: retries with backoff on retryable failures, then the route's fallbacks in
/// order. A stream is retried only while nothing of it has been passed on.
public struct Orchestrator: Sendable {
    public let router: ModelRouter
    public var events: OrchestratorEvents
    /// Sleeps between retries (injectable so tests need not wait).
    public var sleep: @Sendable (Double) async throws -> Void = { seconds in
        try await Task.sleep(nanoseconds: Seconds.nanoseconds(seconds))
    }

    public init(router: ModelRouter, events: OrchestratorEvents = OrchestratorEvents()) {
        self.router = router
        self.events = events
    }

    /// The route itself, then each of its fallbacks that resolves.
    public func chain(for route: ModelRoute) -> [ModelRoute] {
        [route] + route.fallbacks.compactMap { router.route(named: $0) }.filter { $0.name != route.name }
    }

    public func complete(_ route: ModelRoute, body: JSONObject, requestID: String) async throws(GatewayError) -> CallOutcome {
        var failures: [(ModelRoute, ProviderError)] = []
        let routes = chain(for: route)
        for (index, candidate) in routes.enumerated() {
            if index > 0 { events.fallback(routes[index - 1], candidate) }
            let request = ProviderRequest(body: candidate.upstreamBody(body), requestID: requestID, timeouts: candidate.timeouts)
            let policy = RetryPolicy(candidate.retry)
            let started = Date().timeIntervalSince1970
            var attempt = 0
            while true {
                attempt += 1
                if Task.isCancelled { throw GatewayError.clientClosed }
                let t0 = DispatchTime.now().uptimeNanoseconds
                do {
                    var completion = try await candidate.provider.complete(request)
                    let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                    events.upstreamFinished(candidate, seconds, nil)
                    completion["model"] = .string(candidate.name)
                    return CallOutcome(completion: completion, route: candidate, upstreamSeconds: seconds,
                                       timeToFirstToken: nil, attempts: attempt)
                } catch {
                    if Task.isCancelled { throw GatewayError.clientClosed }
                    let failure = Orchestrator.providerError(error, provider: candidate.providerName)
                    let wait = policy.delay(after: attempt, error: failure, elapsed: Date().timeIntervalSince1970 - started)
                    events.attemptFailed(candidate, failure, wait != nil)
                    guard let wait else {
                        failures.append((candidate, failure))
                        break
                    }
                    do { try await sleep(wait) } catch { throw GatewayError.clientClosed }
                }
            }
        }
        throw Orchestrator.combinedError(failures)
    }

    /// Streams a model route. `onChunk` receives each `chat.completion.chunk` (model set to the
    /// answering route's name) in order; returns the assembled outcome when the stream ended well.
    public func stream(_ route: ModelRoute, body: JSONObject, requestID: String,
                       onStart: @Sendable (ModelRoute) -> Void = { _ in },
                       onChunk: @Sendable (JSONObject) async -> Void) async throws(GatewayError) -> CallOutcome {
        var failures: [(ModelRoute, ProviderError)] = []
        let routes = chain(for: route)
        for (index, candidate) in routes.enumerated() {
            if index > 0 { events.fallback(routes[index - 1], candidate) }
            let request = ProviderRequest(body: candidate.upstreamBody(body), requestID: requestID, timeouts: candidate.timeouts)
            let policy = RetryPolicy(candidate.retry)
            let started = Date().timeIntervalSince1970
            var attempt = 0
            while true {
                attempt += 1
                if Task.isCancelled { throw GatewayError.clientClosed }
                let t0 = DispatchTime.now().uptimeNanoseconds
                var delivered = false
                var ttft: Double?
                var assembler = ChatStreamAssembler()
                do {
                    let chunks = try await candidate.provider.stream(request)
                    for try await var chunk in chunks {
                        if ttft == nil { ttft = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }
                        chunk["model"] = .string(candidate.name)
                        if !delivered {
                            delivered = true
                            onStart(candidate)
                        }
                        assembler.add(chunk)
                        await onChunk(chunk)
                    }
                    if Task.isCancelled { throw GatewayError.clientClosed }
                    let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                    events.upstreamFinished(candidate, seconds, ttft)
                    var completion = assembler.completion()
                    completion["model"] = .string(candidate.name)
                    return CallOutcome(completion: completion, route: candidate, upstreamSeconds: seconds,
                                       timeToFirstToken: ttft, attempts: attempt)
                } catch {
                    if Task.isCancelled { throw GatewayError.clientClosed }
                    let failure = Orchestrator.providerError(error, provider: candidate.providerName)
                    if delivered {
                        // Part of the answer already reached the client: no retry, no fallback.
                        events.attemptFailed(candidate, failure, false)
                        throw failure.gatewayError
                    }
                    let wait = policy.delay(after: attempt, error: failure, elapsed: Date().timeIntervalSince1970 - started)
                    events.attemptFailed(candidate, failure, wait != nil)
                    guard let wait else {
                        failures.append((candidate, failure))
                        break
                    }
                    do { try await sleep(wait) } catch { throw GatewayError.clientClosed }
                }
            }
        }
        throw Orchestrator.combinedError(failures)
    }

    static func providerError(_ error: Error, provider: String) -> ProviderError {
        if let e = error as? ProviderError { return e }
        if let e = error as? UpstreamError { return ProviderError(kind: .transport(e), provider: provider, message: e.description) }
        if error is CancellationError { return ProviderError(kind: .transport(.cancelled), provider: provider, message: "cancelled") }
        return ProviderError(kind: .invalidResponse, provider: provider, message: String(describing: error))
    }

    /// The last failure decides the status (a 429 stays a 429 with its Retry-After); the message
    /// names every model that was tried.
    static func combinedError(_ failures: [(ModelRoute, ProviderError)]) -> GatewayError {
        guard let last = failures.last else { return .serverError("no model could be tried") }
        var error = last.1.gatewayError
        if failures.count > 1 {
            error.message = "All models failed. " + failures.map { "\($0.0.name): \($0.1.message)" }.joined(separator: "; ")
        }
        return error
    }
}

extension GatewayError {
    /// The client went away; nothing will be written.
    static let clientClosed = GatewayError(status: 499, type: "client_closed_request", message: "client closed the request",
                                           code: "ultragate_client_closed")

    /// The gateway's own "nobody is waiting any more" marker (never an upstream 499).
    var isClientClosed: Bool { type == "client_closed_request" && code == "ultragate_client_closed" }
}
