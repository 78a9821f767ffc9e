import UltraGateHTTP
import UltraGateSupport
import CCurl
import Foundation

/// Drives a `CurlMultiCore` from one dedicated thread with `curl_multi_poll`. Tasks hand
/// transfers in through a locked queue plus `curl_multi_wakeup`, so any number of concurrent
/// transfers costs no thread each. Used off the event loops (tests, the check command); a call
/// made on an event-loop thread uses that loop's `CurlLoopDriver` instead.
///
/// Threading: `core` is touched only on the loop thread. `pending` and `stopping` are guarded by
/// `lock`. `curl_multi_wakeup` is the one libcurl call made from other threads (libcurl documents
/// it as thread-safe).
package final class CurlMultiLoop: @unchecked Sendable {
    private enum Command {
        case start(CurlTransfer)
        case cancel(CurlTransfer)
    }

    private let core: CurlMultiCore
    private var multi: UnsafeMutableRawPointer { core.multi }
    private let lock = NSLock()
    private var pending: [Command] = []
    private var stopping = false

    package init?(options: CurlTransport.Options) {
        guard let core = CurlMultiCore(options: options) else { return nil }
        self.core = core
        let thread = Thread { [self] in self.run() }
        thread.name = "ultragate-curl"
        thread.stackSize = 1 << 20
        thread.start()
    }

    // MARK: any thread

    package func submit(_ transfer: CurlTransfer) {
        lock.lock()
        if stopping {
            lock.unlock()
            transfer.complete(.failure(.cancelled))
            return
        }
        enqueueLocked(.start(transfer))
    }

    package func cancel(_ transfer: CurlTransfer) {
        guard transfer.markCancelRequested() else { return }
        lock.lock()
        if stopping { lock.unlock(); return }
        enqueueLocked(.cancel(transfer))
    }

    /// Stops the thread: transfers still running end with `.cancelled`. Does not wait.
    package func shutdown() {
        lock.lock()
        let wasStopping = stopping
        stopping = true
        if !wasStopping { curl_multi_wakeup(multi) }
        lock.unlock()
    }

    /// Expects `lock` held; releases it. A wake-up is only needed when the queue was empty: a
    /// non-empty queue already has one on its way that the loop has not answered yet. It happens
    /// under the lock so it can never race `curl_multi_cleanup` in `tearDown`.
    private func enqueueLocked(_ command: Command) {
        if pending.isEmpty { curl_multi_wakeup(multi) }
        pending.append(command)
        lock.unlock()
    }

    // MARK: loop thread

    private func run() {
        var commands: [Command] = []
        var running: Int32 = 0
        while true {
            lock.lock()
            swap(&commands, &pending)
            let stop = stopping
            lock.unlock()
            for command in commands {
                switch command {
                case .start(let transfer): core.start(transfer)
                case .cancel(let transfer): core.cancel(transfer)
                }
            }
            commands.removeAll(keepingCapacity: true)
            if stop { break }

            curl_multi_perform(multi, &running)
            core.collectFinished()
            let now = curlMonotonicNanos()
            core.enforceDeadlinesIfDue(now: now)
            let hadPaused = core.hasPausedTransfers
            curl_multi_poll(multi, nil, 0, core.pollTimeoutMs(now: now), nil)
            if hadPaused { core.resumePaused() }
        }
        tearDown()
    }

    private func tearDown() {
        core.cancelAll()
        lock.lock()
        let leftovers = pending
        pending = []
        core.tearDown()
        lock.unlock()
        for case .start(let transfer) in leftovers { transfer.complete(.failure(.cancelled)) }
    }
}
