import UltraGateJSON
import UltraGateSupport
/// What one client thread observed; tallies of all threads are merged into the report.
public struct BenchTally: Sendable {
    /// Responses with a 2xx status.
    public var succeeded = 0
    /// Failed requests by kind: `connect`, `timeout`, `protocol` or `status NNN`.
    public var errors: [String: Int] = [:]
    public var latency = LatencyRecorder()
    public var timeToFirstToken = LatencyRecorder()
    public var interTokenLatency = LatencyRecorder()
    public var completionTokens = 0
    public var responsesWithUsage = 0
    public var cacheHits = 0
    public var cacheMisses = 0
    /// 2xx responses with an X-Cache header that is neither HIT nor MISS.
    public var cacheOther = 0
    public var bytesReceived = 0
    /// Nanoseconds (monotonic) of the first request start and the last completion.
    public var firstStart: UInt64 = .max
    public var lastEnd: UInt64 = 0
    /// Open loop only: requests that fell due, how many went out more than 1 ms after their due
    /// time, and the largest backlog of due requests waiting for a connection on one thread.
    public var scheduled = 0
    public var lateSends = 0
    public var maxQueueDepth = 0

    public init() {}

    public var errorCount: Int { errors.values.reduce(0, +) }
    public var finished: Int { succeeded + errorCount }

    @inline(__always) package mutating func fail(_ kind: String) { errors[kind, default: 0] += 1 }

    public mutating func merge(_ o: BenchTally) {
        succeeded += o.succeeded
        for (k, v) in o.errors { errors[k, default: 0] += v }
        latency.merge(o.latency)
        timeToFirstToken.merge(o.timeToFirstToken)
        interTokenLatency.merge(o.interTokenLatency)
        completionTokens += o.completionTokens
        responsesWithUsage += o.responsesWithUsage
        cacheHits += o.cacheHits
        cacheMisses += o.cacheMisses
        cacheOther += o.cacheOther
        bytesReceived += o.bytesReceived
        firstStart = min(firstStart, o.firstStart)
        lastEnd = max(lastEnd, o.lastEnd)
        scheduled += o.scheduled
        lateSends += o.lateSends
        maxQueueDepth = max(maxQueueDepth, o.maxQueueDepth)
    }
}
