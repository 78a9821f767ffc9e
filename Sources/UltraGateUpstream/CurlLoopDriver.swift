import UltraGateHTTP
import UltraGateSupport
import CCurl
import CUltraGateShims
import Foundation

/// Drives a `CurlMultiCore` from an `EventLoop`'s own epoll set with `curl_multi_socket_action`,
/// so a cache miss started on a loop thread never hands off to another thread: libcurl's sockets
/// sit in the loop's epoll set and its timer shortens the loop's `epoll_wait`.
///
/// Threading: created, used and torn down only on its loop's thread; `@unchecked Sendable` only
/// so that work hopping onto the loop (`EventLoop.submit`) can carry it.
package final class CurlLoopDriver: EventLoopSource, @unchecked Sendable {
    package let core: CurlMultiCore
    private unowned let loop: EventLoop
    private let slot: UInt32
    /// Descriptors currently in the loop's epoll set for libcurl.
    private var registered: Set<Int32> = []
    /// libcurl's timer, in `curlMonotonicNanos` time; `.max` when none is set.
    private var timerDeadline: UInt64 = .max
    /// Set when libcurl did work since the last `curl_multi_info_read`.
    private var needsCollect = false

    package init?(loop: EventLoop, slot: UInt32, options: CurlTransport.Options) {
        guard let core = CurlMultiCore(options: options) else { return nil }
        self.core = core
        self.loop = loop
        self.slot = slot
        let context = Unmanaged.passUnretained(self).toOpaque()
        _ = ug_multi_setopt_socket_callback(core.multi, curlLoopSocketCallback)
        _ = ug_multi_setopt_pointer(core.multi, CURLMOPT_SOCKETDATA, context)
        _ = ug_multi_setopt_timer_callback(core.multi, curlLoopTimerCallback)
        _ = ug_multi_setopt_pointer(core.multi, CURLMOPT_TIMERDATA, context)
    }

    package func start(_ transfer: CurlTransfer) {
        core.start(transfer)
        needsCollect = true
    }

    package func cancel(_ transfer: CurlTransfer) {
        core.cancel(transfer)
    }

    // MARK: libcurl callbacks

    fileprivate func updateSocket(_ fd: Int32, what: Int32) {
        if what == CURL_POLL_REMOVE {
            if registered.remove(fd) != nil { _ = ug_epoll_ctl(loop.epollFD, UG_EPOLL_CTL_DEL, fd, 0, 0) }
            return
        }
        var mask: UInt32 = 0
        if what == CURL_POLL_IN || what == CURL_POLL_INOUT { mask |= UG_EPOLLIN }
        if what == CURL_POLL_OUT || what == CURL_POLL_INOUT { mask |= UG_EPOLLOUT }
        let token = EventLoop.sourceToken(slot: slot, fd: fd)
        if registered.insert(fd).inserted {
            if ug_epoll_ctl(loop.epollFD, UG_EPOLL_CTL_ADD, fd, mask, token) != 0 {
                _ = ug_epoll_ctl(loop.epollFD, UG_EPOLL_CTL_MOD, fd, mask, token)
            }
        } else {
            _ = ug_epoll_ctl(loop.epollFD, UG_EPOLL_CTL_MOD, fd, mask, token)
        }
    }

    fileprivate func setTimer(ms: Int) {
        timerDeadline = ms < 0 ? .max : curlMonotonicNanos() &+ UInt64(ms) * 1_000_000
    }

    // MARK: EventLoopSource

    package func handleEvent(fd: Int32, events: UInt32) {
        var mask: Int32 = 0
        if events & UG_EPOLLIN != 0 { mask |= CURL_CSELECT_IN }
        if events & UG_EPOLLOUT != 0 { mask |= CURL_CSELECT_OUT }
        if events & (UG_EPOLLERR | UG_EPOLLHUP) != 0 { mask |= CURL_CSELECT_ERR }
        var running: Int32 = 0
        curl_multi_socket_action(core.multi, fd, mask, &running)
        needsCollect = true
    }

    package func timeoutMs() -> Int32 {
        let now = curlMonotonicNanos()
        var timeout = core.hasActiveTransfers ? core.pollTimeoutMs(now: now) : 1000
        if timerDeadline != .max {
            let curlMs = timerDeadline <= now ? 0 : Int32(min(1000, (timerDeadline - now + 999_999) / 1_000_000))
            timeout = min(timeout, curlMs)
        }
        if needsCollect { timeout = 0 }
        return timeout
    }

    package func afterEvents() {
        var now = curlMonotonicNanos()
        if timerDeadline <= now {
            timerDeadline = .max
            var running: Int32 = 0
            curl_multi_socket_action(core.multi, CURL_SOCKET_TIMEOUT, 0, &running)
            needsCollect = true
        }
        if core.hasPausedTransfers {
            core.resumePaused()
            needsCollect = true
        }
        if needsCollect {
            needsCollect = false
            core.collectFinished()
            now = curlMonotonicNanos()
        }
        core.enforceDeadlinesIfDue(now: now)
    }

    package func loopDetached() {
        core.tearDown()
        for fd in registered { _ = ug_epoll_ctl(loop.epollFD, UG_EPOLL_CTL_DEL, fd, 0, 0) }
        registered.removeAll()
    }
}

/// CURLMOPT_SOCKETFUNCTION: `userp` is the `CurlLoopDriver` (CURLMOPT_SOCKETDATA).
private let curlLoopSocketCallback: ug_socket_callback = { _, fd, what, userp, _ in
    Unmanaged<CurlLoopDriver>.fromOpaque(userp!).takeUnretainedValue().updateSocket(fd, what: what)
    return 0
}

/// CURLMOPT_TIMERFUNCTION: `userp` is the `CurlLoopDriver` (CURLMOPT_TIMERDATA).
private let curlLoopTimerCallback: ug_timer_callback = { _, timeoutMs, userp in
    Unmanaged<CurlLoopDriver>.fromOpaque(userp!).takeUnretainedValue().setTimer(ms: timeoutMs)
    return 0
}
