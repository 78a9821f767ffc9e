import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Hooks the orchestrator reports through (metrics, logs). All optional.
public struct OrchestratorEvents: Sendable {
    /// An upstream call begins: the first attempt, a retry, or a fallback's.
    public var attemptStarted: @Sendable (_ route: ModelRoute) -> Void = { _ in }
    /// A wait before a retry ended, having lasted `seconds`.
    public var retryWaited: @Sendable (_ route: ModelRoute, _ seconds: Double) -> Void = { _, _ in }
    public var attemptFailed: @Sendable (_ route: ModelRoute, _ error: ProviderError, _ willRetry: Bool) -> Void = { _, _, _ in }
    public var fallback: @Sendable (_ from: ModelRoute, _ to: ModelRoute) -> Void = { _, _ in }
    /// One attempt answered: its own duration, and for a stream its time to the first chunk with
    /// content (`OpenAIShapes.chunkCarriesContent`).
    public var upstreamFinished: @Sendable (_ route: ModelRoute, _ seconds: Double, _ ttft: Double?) -> Void = { _, _, _ in }
    public init() {}
}

/// The result of calling one model (after retries and fallbacks).
public struct CallOutcome: Sendable {
    /// The complete `chat.completion`, its `model` set to the name of the route that answered.
    public var completion: JSONObject
    /// The upstream's JSON text of `completion` as the provider sent it, when nothing but `model`
    /// differs: the gateway patches that one value instead of writing the object out again.
    public var upstreamText: [UInt8]? = nil
    public var route: ModelRoute
    /// From the first attempt's start to the answer's end: every attempt (retries and fallbacks)
    /// and the waits between them.
    public var upstreamSeconds: Double
    /// The answering attempt's time from its start to the first chunk with content (streams).
    public var timeToFirstToken: Double?
    /// Upstream calls made for this answer (1 when the first answered); 0 for an ensemble, whose
    /// members' calls are its own.
    public var attempts: Int
    /// Time spent waiting between attempts (backoff, `Retry-After`).
    public var retryWaitSeconds: Double = 0
    /// False when the upstream's answer was cut (no `finish_reason`): served as it came, never stored.
    public var upstreamFinished = true
}

/// Calls a model route: retries with backoff on retryable failures, then the route's fallbacks in
/// order. A stream is retried only while nothing of it has been passed on.
public struct Orchestrator: Sendable {
    public let router: ModelRouter
    public var events: OrchestratorEvents
    /// Whether retries may still be made: not once the gateway is shutting down, so a request
    /// gets its upstream's error at once instead of sleeping into the end of the grace period.
    public var retriesAllowed: @Sendable () -> Bool = { true }
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

    /// Calls a model route for a whole answer; one without `usage` gets the gateway's estimate.
    public func complete(_ route: ModelRoute, body: JSONObject, requestID: String) async throws(GatewayError) -> CallOutcome {
        try await withRetriesAndFallbacks(route, body: body, requestID: requestID) { candidate, request in
            events.attemptStarted(candidate)
            let t0 = Clock.nanos()
            var answer = try await candidate.provider.completeKeepingText(request)
            let seconds = Double(Clock.nanos() - t0) / 1e9
            events.upstreamFinished(candidate, seconds, nil)
            if !EstimatedUsage.isReported(in: answer.completion) {
                answer.completion["usage"] = EstimatedUsage.usage(request: request.body, completion: answer.completion)
                answer.text = nil
            }
            answer.completion["model"] = .string(candidate.name)
            return CallOutcome(completion: answer.completion, upstreamText: answer.text, route: candidate,
                               upstreamSeconds: seconds, timeToFirstToken: nil, attempts: 1)
        }
    }

    /// Streams a model route. `onChunk` receives each `chat.completion.chunk` (model set to the
    /// answering route's name) in order, the last one a usage chunk (`EstimatedUsage` when the
    /// upstream sent none); returns the assembled outcome when the stream ended well.
    /// `onRetryWait` is told when a wait before a retry begins (true) and ends (false).
    public func stream(_ route: ModelRoute, body: JSONObject, requestID: String,
                       onStart: @Sendable (ModelRoute) -> Void = { _ in },
                       onRetryWait: @Sendable (Bool) -> Void = { _ in },
                       onChunk: @Sendable (JSONObject) async -> Void) async throws(GatewayError) -> CallOutcome {
        try await withRetriesAndFallbacks(route, body: body, requestID: requestID, onRetryWait: onRetryWait) { candidate, request in
            events.attemptStarted(candidate)
            let t0 = Clock.nanos()
            var delivered = false
            var ttft: Double?
            var assembler = ChatStreamAssembler()
            do {
                let chunks = try await candidate.provider.stream(request)
                for try await var chunk in chunks {
                    // The first token, not the first chunk: a role chunk or Anthropic's
                    // `message_start` comes before the model has produced anything.
                    if ttft == nil, OpenAIShapes.chunkCarriesContent(chunk) { ttft = Double(Clock.nanos() - t0) / 1e9 }
                    chunk["model"] = .string(candidate.name)
                    if !delivered {
                        delivered = true
                        onStart(candidate)
                    }
                    assembler.add(chunk)
                    await onChunk(chunk)
                }
            } catch {
                throw streamFailure(error, on: candidate, delivered: delivered)
            }
            if Task.isCancelled { throw FinalFailure(error: .clientClosed) }
            let seconds = Double(Clock.nanos() - t0) / 1e9
            events.upstreamFinished(candidate, seconds, ttft)
            if delivered, assembler.usage == nil {
                // The upstream reported no usage (it ignored `include_usage`): the gateway's
                // estimate goes out as the usage chunk, for the client that asked and the metrics.
                let usage = EstimatedUsage.usage(request: request.body, completion: assembler.completion())
                let chunk = EstimatedUsage.chunk(usage, id: assembler.id ?? OpenAIShapes.completionID(),
                                                 created: assembler.created?.intValue ?? OpenAIShapes.now(), model: candidate.name)
                assembler.add(chunk)
                await onChunk(chunk)
            }
            var completion = assembler.completion()
            completion["model"] = .string(candidate.name)
            return CallOutcome(completion: completion, route: candidate, upstreamSeconds: seconds,
                               timeToFirstToken: ttft, attempts: 1)
        }
    }

    /// A failure that ends the call at once: no retry, no fallback.
    package struct FinalFailure: Error { let error: GatewayError }

    /// What a failed stream attempt throws: its error while nothing was `delivered` (retries and
    /// fallbacks may follow), else a final failure, since part of the answer already reached the
    /// client.
    package func streamFailure(_ error: any Error, on candidate: ModelRoute, delivered: Bool) -> any Error {
        guard delivered, !Task.isCancelled else { return error }
        let failure = Orchestrator.providerError(error, provider: candidate.providerName)
        events.attemptFailed(candidate, failure, false)
        return FinalFailure(error: failure.gatewayError)
    }

    /// Runs `attempt` on the route, then on each fallback, with the chat request each one is sent.
    package func withRetriesAndFallbacks(
        _ route: ModelRoute, body: JSONObject, requestID: String, onRetryWait: @Sendable (Bool) -> Void = { _ in },
        _ attempt: (ModelRoute, ProviderRequest) async throws -> CallOutcome
    ) async throws(GatewayError) -> CallOutcome {
        try await callWithRetries(route, onRetryWait: onRetryWait) { candidate in
            try await attempt(candidate, ProviderRequest(body: candidate.upstreamBody(body), requestID: requestID,
                                                         timeouts: candidate.timeouts))
        }
    }

    /// `withRetriesAndFallbacks` for attempts that each make a whole `CallOutcome` (a chat call, a
    /// Messages body passed through): the outcome's upstream time, attempt count and retry waits
    /// then cover every attempt.
    package func callWithRetries(
        _ route: ModelRoute, onRetryWait: @Sendable (Bool) -> Void = { _ in },
        _ attempt: (ModelRoute) async throws -> CallOutcome
    ) async throws(GatewayError) -> CallOutcome {
        let done = try await withRetriesAndFallbacks(route, onRetryWait: onRetryWait, attempt)
        var outcome = done.value
        outcome.upstreamSeconds = done.seconds
        outcome.attempts = done.attempts
        outcome.retryWaitSeconds = done.retryWaitSeconds
        return outcome
    }

    /// What `withRetriesAndFallbacks` produced: the answering attempt's value, and what it took.
    package struct Attempted<Value> {
        package var value: Value
        /// The route whose attempt answered (the asked one or a fallback).
        package var route: ModelRoute
        /// Attempts made, the answering one included.
        package var attempts: Int
        /// Time spent waiting between attempts (backoff, `Retry-After`).
        package var retryWaitSeconds: Double
        /// From the first attempt's start to the answer.
        package var seconds: Double
    }

    /// Runs `attempt` on the route, then on each fallback, retrying each as its policy allows:
    /// the retry and fallback policy of every kind of call (chat, streams, embeddings), generic
    /// over what an attempt produces. `attempt` reports its own upstream calls to `events` (an
    /// attempt may make none, or share one with other requests); failures, retries, waits and
    /// fallbacks are reported here. A `FinalFailure` ends it at once.
    package func withRetriesAndFallbacks<Value>(
        _ route: ModelRoute, onRetryWait: @Sendable (Bool) -> Void = { _ in },
        _ attempt: (ModelRoute) async throws -> Value
    ) async throws(GatewayError) -> Attempted<Value> {
        var failures: [(ModelRoute, ProviderError)] = []
        let routes = chain(for: route)
        let firstStart = Clock.nanos()
        var attempts = 0
        var waited: UInt64 = 0
        for (index, candidate) in routes.enumerated() {
            if index > 0 { events.fallback(routes[index - 1], candidate) }
            let policy = RetryPolicy(candidate.retry)
            let started = Clock.nanos()
            var number = 0
            while true {
                number += 1
                if Task.isCancelled { throw GatewayError.clientClosed }
                attempts += 1
                do {
                    let value = try await attempt(candidate)
                    return Attempted(value: value, route: candidate, attempts: attempts, retryWaitSeconds: Double(waited) / 1e9,
                                     seconds: Double(Clock.nanos() - firstStart) / 1e9)
                } catch let final as FinalFailure {
                    throw final.error
                } catch {
                    if Task.isCancelled { throw GatewayError.clientClosed }
                    let failure = Orchestrator.providerError(error, provider: candidate.providerName)
                    let elapsed = Double(Clock.nanos() - started) / 1e9
                    let wait = retriesAllowed() ? policy.delay(after: number, error: failure, elapsed: elapsed) : nil
                    events.attemptFailed(candidate, failure, wait != nil)
                    guard let wait else {
                        failures.append((candidate, failure))
                        break
                    }
                    onRetryWait(true)
                    defer { onRetryWait(false) }
                    let waitStart = Clock.nanos()
                    do { try await sleep(wait) } catch { throw GatewayError.clientClosed }
                    let slept = Clock.nanos() - waitStart
                    waited += slept
                    events.retryWaited(candidate, Double(slept) / 1e9)
                }
            }
        }
        throw Orchestrator.combinedError(failures)
    }

    package static func providerError(_ error: Error, provider: String) -> ProviderError {
        if let e = error as? ProviderError { return e }
        if let e = error as? UpstreamError { return ProviderError(kind: .transport(e), provider: provider, message: e.description) }
        if error is CancellationError { return ProviderError(kind: .transport(.cancelled), provider: provider, message: "cancelled") }
        return ProviderError(kind: .invalidResponse, provider: provider, message: String(describing: error))
    }

    /// The last failure decides the status (a 429 stays a 429 with its Retry-After); the message
    /// names every model that was tried.
    package static func combinedError(_ failures: [(ModelRoute, ProviderError)]) -> GatewayError {
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
    package static let clientClosed = GatewayError(status: 499, type: "client_closed_request", message: "client closed the request",
                                           code: "ultragate_client_closed")

    /// The gateway's own "nobody is waiting any more" marker (never an upstream 499).
    package var isClientClosed: Bool { type == "client_closed_request" && code == "ultragate_client_closed" }
}
