import UltraGateHTTP
import UltraGateSupport
import CCurl
import Foundation

/// A libcurl multi handle and the transfers running on it: starting, finishing, deadlines,
/// pause/resume and handle reuse. Shared by the two drivers: `CurlMultiLoop` (its own thread,
/// `curl_multi_poll`) and `CurlLoopDriver` (an `EventLoop`'s epoll, `curl_multi_socket_action`).
///
/// Threading: everything here is touched only on the one thread that drives this multi.
package final class CurlMultiCore {
    package let multi: UnsafeMutableRawPointer
    package let options: CurlTransport.Options

    private var active: [ObjectIdentifier: CurlTransfer] = [:]
    private var idleHandles: [CurlEasyHandle] = []
    private let maxIdleHandles = 256
    /// The earliest first-byte/idle deadline among active transfers, possibly stale-early.
    package private(set) var nextDeadline: UInt64 = .max
    /// Transfers paused because their consumer's buffer is full; retried every few milliseconds
    /// (the body stream does not tell us when its consumer takes a chunk).
    private var paused: [CurlTransfer] = []
    package let pauseRetryMs: Int32 = 5
    package private(set) var isTornDown = false

    package init?(options: CurlTransport.Options) {
        guard CurlGlobal.ensureInitialized(), let multi = curl_multi_init() else { return nil }
        self.multi = multi
        self.options = options
        let perHost = max(1, options.maxConnectionsPerHost)
        // The connection cache must hold at least the per-host limit, otherwise libcurl closes
        // and reopens connections under load; room for a few hosts on top.
        _ = ug_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, perHost * 4)
        _ = ug_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, perHost)
        _ = ug_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
    }

    package var hasActiveTransfers: Bool { !active.isEmpty }
    package var activeCount: Int { active.count }
    package var hasPausedTransfers: Bool { !paused.isEmpty }

    package func start(_ transfer: CurlTransfer) {
        if transfer.isCancelRequested || isTornDown {
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
        transfer.core = self
        active[ObjectIdentifier(transfer)] = transfer
        let deadline = transfer.deadline.at
        if deadline < nextDeadline { nextDeadline = deadline }
        let added = curl_multi_add_handle(multi, easy.raw)
        guard added == CURLM_OK else {
            active.removeValue(forKey: ObjectIdentifier(transfer))
            transfer.core = nil
            transfer.easy = nil
            curl_slist_free_all(transfer.headerList)
            transfer.headerList = nil
            Unmanaged<CurlTransfer>.fromOpaque(context).release()
            recycle(easy)
            transfer.complete(.failure(.transport(String(cString: curl_multi_strerror(added)))))
            return
        }
    }

    /// Ends the transfer with `.cancelled` if it is still running here.
    package func cancel(_ transfer: CurlTransfer) {
        if active[ObjectIdentifier(transfer)] != nil { finish(transfer, .failure(.cancelled)) }
    }

    /// Called by a transfer from a libcurl callback on this thread.
    package func transferDeadlineMoved(to deadline: UInt64) {
        if deadline < nextDeadline { nextDeadline = deadline }
    }

    /// Called by a transfer from a libcurl callback on this thread.
    package func transferPaused(_ transfer: CurlTransfer) {
        paused.append(transfer)
    }

    /// Unpausing makes libcurl hand the held bytes to the write callback again at once, which
    /// may pause the transfer again (and append it to `paused` anew).
    package func resumePaused() {
        guard !paused.isEmpty else { return }
        let waiting = paused
        paused.removeAll(keepingCapacity: true)
        for transfer in waiting {
            guard transfer.isPaused, let easy = transfer.easy else { continue }
            transfer.isPaused = false
            curl_easy_pause(easy.raw, Int32(CURLPAUSE_CONT))
        }
    }

    package func collectFinished() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            var context: UnsafeMutableRawPointer?
            guard ug_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &context) == CURLE_OK, let context else { continue }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            if code == CURLE_OK {
                finish(transfer, .success(()))
            } else if let outcome = transfer.abortOutcome {
                // A callback stopped it on purpose (a size limit): libcurl's error is our short count.
                finish(transfer, outcome)
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
        easy.park()
        idleHandles.append(easy)
    }

    /// Times out the transfers whose first-byte/idle deadline has passed.
    package func enforceDeadlinesIfDue(now: UInt64) {
        guard now >= nextDeadline else { return }
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
    /// one second, shorter while transfers wait to be unpaused.
    package func pollTimeoutMs(now: UInt64) -> Int32 {
        var timeout: Int32
        if nextDeadline == .max {
            timeout = 1000
        } else if nextDeadline <= now {
            timeout = 0
        } else {
            timeout = Int32(min(1000, (nextDeadline - now + 999_999) / 1_000_000))
        }
        if !paused.isEmpty { timeout = min(timeout, pauseRetryMs) }
        return timeout
    }

    /// Ends every running transfer with `.cancelled`.
    package func cancelAll() {
        for transfer in Array(active.values) { finish(transfer, .failure(.cancelled)) }
    }

    /// Ends every transfer with `.cancelled` and frees the multi handle; later starts fail.
    package func tearDown() {
        guard !isTornDown else { return }
        cancelAll()
        isTornDown = true
        paused.removeAll()
        idleHandles.removeAll()
        curl_multi_cleanup(multi)
    }
}
