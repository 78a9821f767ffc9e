import UltraGateJSON
import UltraGateSupport
/// One keep-alive connection of the bench client and the request it has in flight. Owned and
/// touched only by the `BenchWorker` thread that created it.
package final class BenchConnection {
    package enum State { case idle, connecting, sending, awaiting }

    package let index: Int
    package var fd: Int32 = -1
    package var state = State.idle
    package var parser = BenchResponseParser()
    package var out: [UInt8] = []
    package var sent = 0
    package var sequence = 0
    /// When the request was actually sent (timeouts count from here).
    package var startedAt: UInt64 = 0
    /// When it was due: latency counts from here. Equal to `startedAt` in closed-loop runs; the
    /// open-loop due time, which may be earlier, with `--rate`.
    package var scheduledAt: UInt64 = 0
    /// Responses completed on the current socket: a reused socket closed by the server before any
    /// byte of the answer is retried once on a fresh socket (the usual keep-alive race).
    package var servedOnSocket = 0
    package var retried = false
    package var wantsWrite = false

    package init(index: Int) {
        self.index = index
        out.reserveCapacity(4096)
    }
}
