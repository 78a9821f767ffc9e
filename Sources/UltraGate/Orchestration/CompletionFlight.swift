import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// What a finished flight produced.
public struct FlightResult: Sendable {
    public var outcome: CallOutcome
    /// The completion serialized once, as stored in the cache.
    public var body: [UInt8]
    /// The completion's token counts, read once for the metrics, the cache entry and every client.
    package let usage: Usage
    /// The shape of `body` (and of `outcome.completion`): a Messages flight's answer is a Message.
    package var format: CachedResponse.Format = .chatCompletion

    package init(outcome: CallOutcome, body: [UInt8]) {
        self.outcome = outcome
        self.body = body
        usage = Usage(outcome.completion)
    }

    /// An answer of another `format`, whose token counts the caller read.
    package init(outcome: CallOutcome, body: [UInt8], usage: Usage, format: CachedResponse.Format) {
        self.outcome = outcome
        self.body = body
        self.usage = usage
        self.format = format
    }
}

/// One upstream call shared by every identical request that arrives while it runs (single
/// flight). Subscribers get the chunks seen so far, then each new one as it arrives, then the end.
/// A chunk is one piece of the stream in the flight's dialect: a `chat.completion.chunk` on chat
/// flights, an Anthropic stream event on Messages flights (their keys differ, so no client ever
/// joins a flight of another dialect).
/// The upstream work is cancelled only when every subscriber has gone.
public final class CompletionFlight: @unchecked Sendable {
    public enum Event: Sendable {
        case chunk(JSONObject)
        case finished(FlightResult)
        case failed(GatewayError)
    }

    public let streaming: Bool
    private let lock = NSRecursiveLock()
    /// The chunks so far, replayed to clients that join later; dropped (and joining stopped) past
    /// `maxReplayChunks`, so a very long stream does not keep every chunk in memory.
    private var history: [JSONObject] = []
    private var replayable = true
    /// More chunks than a joiner is worth keeping for: 4096 is far beyond a usual answer's chunk
    /// count, and a stream that long is better called anew than replayed.
    public static let maxReplayChunks = 4096
    private var end: Event?
    private var subscribers: [Int: @Sendable (Event) -> Void] = [:]
    private var nextID = 0
    private var everSubscribed = false
    private var task: Task<Void, Never>?
    private var onAbandon: (@Sendable () -> Void)?
    private var abandoned = false
    /// Requests that joined (through the table) but have not subscribed yet: while there are any,
    /// the flight is not abandoned, so a newcomer never attaches to cancelled work.
    private var reservations = 0

    /// The work is waiting before retrying a failed upstream call (guarded by `lock`).
    private var waitingToRetry = false
    /// When the last wait before a retry ended, that is when the attempt under way began
    /// (monotonic nanoseconds; 0: no retry yet). Guarded by `lock`.
    private var retryStartedNanos: UInt64 = 0

    package func setWaitingToRetry(_ waiting: Bool) {
        lock.lock()
        waitingToRetry = waiting
        if !waiting { retryStartedNanos = Clock.nanos() }
        lock.unlock()
    }

    /// Whether the work waits before retrying a failed upstream call, and when the retry under
    /// way began (0: none). A stream not started yet holds back its keep-alives while it waits,
    /// and gives a retry a whole keep-alive interval, as it gave the first attempt, before it
    /// commits to a 200: a final failure can then still go out as an HTTP status.
    package var retryState: (waiting: Bool, retryStartedNanos: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        return (waitingToRetry, retryStartedNanos)
    }

    /// Claims a place for a request about to subscribe; false once the flight was abandoned.
    package func reserve() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !abandoned, replayable else { return false }
        reservations += 1
        return true
    }


    public init(streaming: Bool) { self.streaming = streaming }

    /// Starts the work; `onAbandon` runs if every subscriber leaves before it ends. The work begins
    /// at once on the calling thread (an event loop), up to its first suspension: a miss reaches the
    /// upstream without first waiting for a thread of the cooperative pool to wake up.
    public func start(executor: (any TaskExecutor)? = nil, onAbandon: @escaping @Sendable () -> Void,
                      _ work: @escaping @Sendable (CompletionFlight) async -> Void) {
        lock.lock()
        self.onAbandon = onAbandon
        lock.unlock()
        let task = Task.immediate(executorPreference: executor) { await work(self) }
        lock.lock()
        let cancelNow = abandoned
        // A flight that already ended (or was abandoned) released its work: keep no new cycle.
        if end == nil && !abandoned { self.task = task }
        lock.unlock()
        if cancelNow { task.cancel() }
    }

    /// Replays what happened so far, then delivers live events. Returns nil when the flight had
    /// already ended (the caller then gets the end event synchronously and needs no id).
    @discardableResult
    public func subscribe(_ handler: @escaping @Sendable (Event) -> Void) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        if reservations > 0 { reservations -= 1 }
        everSubscribed = true
        for chunk in history { handler(.chunk(chunk)) }
        if let end {
            handler(end)
            return nil
        }
        nextID += 1
        subscribers[nextID] = handler
        return nextID
    }

    public func unsubscribe(_ id: Int) {
        lock.lock()
        subscribers[id] = nil
        let abandon = subscribers.isEmpty && reservations == 0 && end == nil && everSubscribed && !abandoned
        if abandon { abandoned = true }
        let task = abandon ? self.task : nil
        let onAbandon = abandon ? self.onAbandon : nil
        if abandon { releaseWork() }
        lock.unlock()
        if abandon {
            task?.cancel()
            onAbandon?()
        }
    }

    /// The result, once the flight has finished well.
    public var finishedResult: FlightResult? {
        lock.lock()
        defer { lock.unlock() }
        if case .finished(let result)? = end { return result }
        return nil
    }

    public func publish(_ event: Event) {
        lock.lock()
        defer { lock.unlock() }
        guard end == nil else { return }
        switch event {
        case .chunk(let chunk) where replayable:
            history.append(chunk)
            // Not while a joiner is between `reserve` and `subscribe`: it needs the whole replay.
            if history.count > Self.maxReplayChunks && reservations == 0 {
                replayable = false
                history = []
            }
        case .chunk:
            break
        case .finished, .failed:
            end = event
            // A flight can end before its first client subscribes: one started with
            // `Task.immediate` runs synchronously while its upstream's chunks are already buffered.
            // That client still gets the stream as it came, not only the end.
            if everSubscribed { history = [] }
        }
        for handler in subscribers.values { handler(event) }
        if end != nil {
            subscribers = [:]
            releaseWork()
        }
    }

    /// Drops the task and the abandon callback once they can no longer be needed. Both refer back
    /// to this flight (the task's closure and the table-removing callback capture it), so keeping
    /// them past the end would leave every finished flight, with its result, alive for ever.
    /// Called with `lock` held.
    private func releaseWork() {
        task = nil
        onAbandon = nil
    }
}

/// The flights in progress, by cache key.
public final class FlightTable: @unchecked Sendable {
    private let lock = NSLock()
    private var flights: [CacheKey: CompletionFlight] = [:]

    public init() {}

    /// The flight for `key`, and whether the caller created it (and so must start it).
    public func join(_ key: CacheKey, streaming: Bool) -> (CompletionFlight, created: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if let existing = flights[key], existing.reserve() { return (existing, false) }
        let flight = CompletionFlight(streaming: streaming)
        _ = flight.reserve()
        flights[key] = flight
        return (flight, true)
    }

    /// The result of the flight for `key` if it has finished (it is then in the table only while
    /// its entry is being committed).
    public func finishedResult(for key: CacheKey) -> FlightResult? {
        lock.lock()
        let flight = flights[key]
        lock.unlock()
        return flight?.finishedResult
    }

    /// Flights in progress (including finished ones whose entry is still being stored).
    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return flights.count
    }

    public func remove(_ key: CacheKey, _ flight: CompletionFlight) {
        lock.lock()
        if flights[key] === flight { flights[key] = nil }
        lock.unlock()
    }

}
