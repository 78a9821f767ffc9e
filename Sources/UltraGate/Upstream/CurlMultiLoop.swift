import CCurl
import Foundation

/// Owns a libcurl multi handle and the one dedicated thread that drives it with
/// `curl_multi_poll`. Tasks hand transfers in through a locked queue plus `curl_multi_wakeup`,
/// so any number of concurrent transfers costs no thread each.
///
/// Threading: `multi`, `active`, `idleHandles` and the deadline fields are touched only on the
/// loop thread. `pending` and `stopping` are guarded by `lock`. `curl_multi_wakeup` is the one
/// libcurl call made from other threads (libcurl documents it as thread-safe).
final class CurlMultiLoop: @unchecked Sendable {
    private enum Command {
        case start(CurlTransfer)
        case cancel(CurlTransfer)
    }

    private let multi: UnsafeMutableRawPointer
    private let options: CurlTransport.Options
    private let lock = NSLock()
    private var pending: [Command] = []
    private var stopping = false

    private var active: [ObjectIdentifier: CurlTransfer] = [:]
    private var idleHandles: [CurlEasyHandle] = []
    private let maxIdleHandles = 256
    /// The earliest first-byte/idle deadline among active transfers, possibly stale-early.
    private var nextDeadline: UInt64 = .max
    /// Transfers paused because their consumer's buffer is full; retried every few milliseconds
    /// (an AsyncThrowingStream cannot tell us when its consumer takes a chunk).
    private var paused: [CurlTransfer] = []
    private let pauseRetryMs: Int32 = 5

    init?(options: CurlTransport.Options) {
        guard CurlGlobal.ensureInitialized(), let multi = curl_multi_init() else { return nil }
        self.multi = multi
        self.options = options
        let perHost = max(1, options.maxConnectionsPerHost)
        // The connection cache must hold at least the per-host limit, otherwise libcurl closes
        // and reopens connections under load; room for a few hosts on top.
        _ = ug_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, perHost * 4)
        _ = ug_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, perHost)
        _ = ug_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        let thread = Thread { [self] in self.run() }
        thread.name = "ultragate-curl"
        thread.stackSize = 1 << 20
        thread.start()
    }

    // MARK: any thread

    func submit(_ transfer: CurlTransfer) {
        lock.lock()
        if stopping {
            lock.unlock()
            transfer.complete(.failure(.cancelled))
            return
        }
        enqueueLocked(.start(transfer))
    }

    func cancel(_ transfer: CurlTransfer) {
        guard transfer.markCancelRequested() else { return }
        lock.lock()
        if stopping { lock.unlock(); return }
        enqueueLocked(.cancel(transfer))
    }

    /// Stops the thread: transfers still running end with `.cancelled`. Does not wait.
    func shutdown() {
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
                case .start(let transfer): start(transfer)
                case .cancel(let transfer): if active[ObjectIdentifier(transfer)] != nil { finish(transfer, .failure(.cancelled)) }
                }
            }
            commands.removeAll(keepingCapacity: true)
            if stop { break }

            curl_multi_perform(multi, &running)
            collectFinished()
            let now = curlMonotonicNanos()
            if now >= nextDeadline { enforceDeadlines(now: now) }
            var timeout = pollTimeoutMs(now: now)
            if !paused.isEmpty { timeout = min(timeout, pauseRetryMs) }
            curl_multi_poll(multi, nil, 0, timeout, nil)
            if !paused.isEmpty { resumePaused() }
        }
        tearDown()
    }

    private func start(_ transfer: CurlTransfer) {
        if transfer.isCancelRequested {
            transfer.complete(.failure(.cancelled))
            return
        }
        guard let easy = idleHandles.popLast() ?? CurlEasyHandle() else {
            transfer.complete(.failure(.transport("could not create a libcurl handle")))
            return
        }
        // Balanced in `finish`: libcurl's callbacks and CURLINFO_PRIVATE hold this reference.
        let context = Unmanaged.passRetained(transfer).toOpaque()
        do {
            transfer.headerList = try easy.configure(for: transfer.request, options: options, context: context)
        } catch {
            Unmanaged<CurlTransfer>.fromOpaque(context).release()
            recycle(easy)
            transfer.complete(.failure(error))
            return
        }
        transfer.easy = easy
        transfer.startedAt = curlMonotonicNanos()
        transfer.lastActivity = transfer.startedAt
        transfer.loop = self
        let added = curl_multi_add_handle(multi, easy.raw)
        guard added == CURLM_OK else {
            transfer.loop = nil
            transfer.easy = nil
            curl_slist_free_all(transfer.headerList)
            transfer.headerList = nil
            Unmanaged<CurlTransfer>.fromOpaque(context).release()
            recycle(easy)
            transfer.complete(.failure(.transport(String(cString: curl_multi_strerror(added)))))
            return
        }
        active[ObjectIdentifier(transfer)] = transfer
        let deadline = transfer.deadline.at
        if deadline < nextDeadline { nextDeadline = deadline }
    }

    /// Called by a transfer from a libcurl callback on this thread.
    func transferDeadlineMoved(to deadline: UInt64) {
        if deadline < nextDeadline { nextDeadline = deadline }
    }

    /// Called by a transfer from a libcurl callback on this thread.
    func transferPaused(_ transfer: CurlTransfer) {
        paused.append(transfer)
    }

    /// Unpausing makes libcurl hand the held bytes to the write callback again at once, which
    /// may pause the transfer again (and append it to `paused` anew).
    private func resumePaused() {
        let waiting = paused
        paused.removeAll(keepingCapacity: true)
        for transfer in waiting {
            guard transfer.isPaused, let easy = transfer.easy else { continue }
            transfer.isPaused = false
            curl_easy_pause(easy.raw, Int32(CURLPAUSE_CONT))
        }
    }

    private func collectFinished() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            var context: UnsafeMutableRawPointer?
            guard ug_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &context) == CURLE_OK, let context else { continue }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            if code == CURLE_OK {
                finish(transfer, .success(()))
            } else if transfer.isCancelRequested {
                finish(transfer, .failure(.cancelled))
            } else {
                let elapsed = Double(curlMonotonicNanos() &- transfer.startedAt) / 1e9
                let error = CurlErrorMapping.error(code: code, detail: transfer.easy?.errorDetail ?? "",
                                                   headStarted: transfer.headStarted, elapsed: elapsed,
                                                   timeouts: transfer.request.timeouts)
                finish(transfer, .failure(error))
            }
        }
    }

    /// Removes the transfer from libcurl, frees its resources and delivers the outcome.
    private func finish(_ transfer: CurlTransfer, _ outcome: Result<Void, UpstreamError>) {
        guard let easy = transfer.easy else { return }
        var status = 0
        _ = ug_easy_getinfo_long(easy.raw, CURLINFO_RESPONSE_CODE, &status)
        // Removing a handle mid-transfer closes its HTTP/1.1 connection (RST_STREAM on HTTP/2).
        curl_multi_remove_handle(multi, easy.raw)
        active.removeValue(forKey: ObjectIdentifier(transfer))
        transfer.easy = nil
        curl_slist_free_all(transfer.headerList)
        transfer.headerList = nil
        recycle(easy)
        Unmanaged.passUnretained(transfer).release()
        transfer.complete(outcome, status: status)
    }

    private func recycle(_ easy: CurlEasyHandle) {
        guard idleHandles.count < maxIdleHandles else { return }
        easy.reset()
        idleHandles.append(easy)
    }

    private func enforceDeadlines(now: UInt64) {
        var nearest = UInt64.max
        var expired: [(CurlTransfer, UpstreamError.TimeoutPhase)] = []
        for transfer in active.values {
            let deadline = transfer.deadline
            if deadline.at <= now {
                expired.append((transfer, deadline.phase))
            } else if deadline.at < nearest {
                nearest = deadline.at
            }
        }
        nextDeadline = nearest
        for (transfer, phase) in expired { finish(transfer, .failure(.timeout(phase))) }
    }

    /// Sleep until the nearest deadline (rounded up, so we never wake just before it), at most
    /// one second; libcurl shortens this further for its own timers.
    private func pollTimeoutMs(now: UInt64) -> Int32 {
        guard nextDeadline != .max else { return 1000 }
        guard nextDeadline > now else { return 0 }
        return Int32(min(1000, (nextDeadline - now + 999_999) / 1_000_000))
    }

    private func tearDown() {
        for transfer in Array(active.values) { finish(transfer, .failure(.cancelled)) }
        lock.lock()
        let leftovers = pending
        pending = []
        idleHandles.removeAll()
        curl_multi_cleanup(multi)
        lock.unlock()
        for case .start(let transfer) in leftovers { transfer.complete(.failure(.cancelled)) }
    }
}
