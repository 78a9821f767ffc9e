/// One keep-alive connection of the bench client and the request it has in flight. Owned and
/// touched only by the `BenchWorker` thread that created it.
final class BenchConnection {
    enum State { case idle, connecting, sending, awaiting }

    let index: Int
    var fd: Int32 = -1
    var state = State.idle
    var parser = BenchResponseParser()
    var out: [UInt8] = []
    var sent = 0
    var sequence = 0
    /// When the request was actually sent (timeouts count from here).
    var startedAt: UInt64 = 0
    /// When it was due: latency counts from here. Equal to `startedAt` in closed-loop runs; the
    /// open-loop due time, which may be earlier, with `--rate`.
    var scheduledAt: UInt64 = 0
    /// Responses completed on the current socket: a reused socket closed by the server before any
    /// byte of the answer is retried once on a fresh socket (the usual keep-alive race).
    var servedOnSocket = 0
    var retried = false
    var wantsWrite = false

    init(index: Int) {
        self.index = index
        out.reserveCapacity(4096)
    }
}
