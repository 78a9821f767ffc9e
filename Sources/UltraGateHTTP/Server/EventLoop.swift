import UltraGateSupport
import CUltraGateShims
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One event-loop thread: an epoll set holding the shared listening socket and this loop's
/// connections. Everything about a connection happens on its loop's thread; other threads hand
/// work in through `execute`, which queues it and wakes the loop through an eventfd.
package final class EventLoop: @unchecked Sendable {
    package static let listenToken: UInt64 = .max
    package static let wakeToken: UInt64 = .max - 1

    /// The loop whose thread this is, if any: upstream transfers started here run on this loop.
    package static var current: EventLoop? {
        guard let pointer = pthread_getspecific(currentKey) else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(pointer).takeUnretainedValue()
    }

    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Loop-thread state: extra descriptor sources (libcurl multis) keyed by slot. Their epoll
    /// tokens are `slot << 32 | fd`, slot ≥ 1, which no client fd (< 2^32) or listen/wake token
    /// can equal.
    private var sources: [UInt32: any EventLoopSource] = [:]
    private var sourceSlots: [UInt64: UInt32] = [:]
    private var nextSourceSlot: UInt32 = 1
    /// Loop-thread state: task jobs enqueued from this very thread (an upstream answer resuming
    /// its task), run before the loop next sleeps; no eventfd round trip needed.
    private var localJobs: [UnownedJob] = []
    private var acceptsLocalJobs = false
    /// Loop-thread state.
    private var timers = LoopTimers()

    package let index: Int
    package let server: HTTPServer
    package let epollFD: Int32
    package let wakeFD: Int32
    /// Loop-thread state.
    package var connections: [Int32: HTTPConnection] = [:]
    /// Loop-thread state: keep-alive connections waiting between requests, the longest waiting
    /// first (closed first at the connection cap). Changed only through `setKeepAliveIdle`,
    /// `takeIdlest` and `connectionClosed`, which publish its size in `idleCount`.
    private var idleConnections = IdleList<HTTPConnection>()
    /// `idleConnections.count`, readable by other loops (a loop at the cap with none idle of its
    /// own hands a new client to a loop that has some).
    package let idleCount = Atomic<Int>(0)
    /// Loop-thread state: refused clients' sockets waiting to be closed (see `refuse`).
    package var refusedSockets = Set<Int32>()
    package var now: Double = EventLoop.monotonicNow()
    package var dateHeader: String = ""
    package var dateSecond: Int = -1
    package var draining = false
    private var threadID: pthread_t?
    private let readBuffer: UnsafeMutableRawBufferPointer

    private let lock = NSLock()
    private var pending: [() -> Void] = []
    private var wakePending = false
    private var stopRequested = false
    /// Set when the loop thread has exited: work handed in afterwards runs elsewhere.
    private var exited = false
    private let finished = DispatchSemaphore(value: 0)

    package init(index: Int, server: HTTPServer) throws {
        self.index = index
        self.server = server
        epollFD = ug_epoll_create()
        wakeFD = ug_eventfd()
        guard epollFD >= 0, wakeFD >= 0 else { throw HTTPServerError.system("epoll/eventfd", errno) }
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
        _ = ug_epoll_ctl(epollFD, UG_EPOLL_CTL_ADD, wakeFD, UG_EPOLLIN, EventLoop.wakeToken)
    }

    deinit {
        readBuffer.deallocate()
        close(epollFD)
        close(wakeFD)
    }

    package static func monotonicNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    package var inLoopThread: Bool {
        guard let threadID else { return false }
        return pthread_equal(threadID, pthread_self()) != 0
    }

    /// Runs `work` on the loop thread (inline when already there).
    package func execute(_ work: @escaping () -> Void) {
        if inLoopThread {
            work()
            return
        }
        lock.lock()
        pending.append(work)
        let needsWake = !wakePending
        wakePending = true
        lock.unlock()
        if needsWake { _ = ug_eventfd_signal(wakeFD) }
    }

    /// Runs `work` on the loop thread after `delay` seconds (millisecond resolution), unless
    /// `cancel` comes first. Callable from any thread.
    package func schedule(after delay: Double, _ work: @escaping () -> Void) -> LoopTimer {
        let timer = LoopTimer(deadline: EventLoop.monotonicNow() + max(delay, 0), work: work)
        execute { [self] in timers.add(timer) }
        return timer
    }

    /// Callable from any thread; a timer that already fired is left alone.
    package func cancel(_ timer: LoopTimer) {
        execute { [self] in timers.cancel(timer) }
    }

    /// Queues `work` for the loop thread (never inline), waking the loop. After the loop exited,
    /// `work` runs on a global queue so nothing handed in is ever lost.
    package func submit(_ work: @escaping () -> Void) {
        lock.lock()
        if exited {
            lock.unlock()
            nonisolated(unsafe) let work = work
            DispatchQueue.global().async { work() }
            return
        }
        pending.append(work)
        let needsWake = !wakePending
        wakePending = true
        lock.unlock()
        if needsWake { _ = ug_eventfd_signal(wakeFD) }
    }

    package func start(listenFD: Int32) {
        _ = ug_epoll_ctl(epollFD, UG_EPOLL_CTL_ADD, listenFD, UG_EPOLLIN | UG_EPOLLEXCLUSIVE, EventLoop.listenToken)
        let thread = Thread { [self] in
            self.threadID = pthread_self()
            pthread_setspecific(EventLoop.currentKey, Unmanaged.passUnretained(self).toOpaque())
            self.run(listenFD: listenFD)
            self.finished.signal()
        }
        thread.name = "ultragate-loop-\(index)"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Asks the loop to stop accepting and to close idle connections; it exits once the last
    /// connection is done or the grace period is over.
    package func beginShutdown(listenFD: Int32) {
        execute { [self] in
            guard !draining else { return }
            draining = true
            _ = ug_epoll_ctl(epollFD, UG_EPOLL_CTL_DEL, listenFD, 0, 0)
            for connection in Array(connections.values) where connection.isIdle {
                connection.close()
            }
        }
    }

    package func forceStop() {
        lock.lock()
        stopRequested = true
        lock.unlock()
        _ = ug_eventfd_signal(wakeFD)
    }

    package func waitUntilFinished() { finished.wait() }

    private func run(listenFD: Int32) {
        var events = [ug_event](repeating: ug_event(), count: 256)
        var lastSweep = now
        updateDate()
        acceptsLocalJobs = true
        while true {
            var timeout: Int32 = acceptPausedUntil == nil ? 250 : 20
            if !sources.isEmpty {
                for source in sources.values { timeout = min(timeout, source.timeoutMs()) }
            }
            if let deadline = timers.nextDeadline() {
                // Rounded up: waking a little late is fine, waking early would spin.
                timeout = min(timeout, Int32(max(0, ((deadline - EventLoop.monotonicNow()) * 1000).rounded(.up))))
            }
            if !localJobs.isEmpty { timeout = 0 }
            let n = events.withUnsafeMutableBufferPointer { ug_epoll_wait(epollFD, $0.baseAddress, 256, timeout) }
            now = EventLoop.monotonicNow()
            resumeAcceptingIfDue(listenFD)
            if n > 0 {
                for i in 0..<Int(n) {
                    let event = events[i]
                    switch event.data {
                    case EventLoop.listenToken: acceptConnections(listenFD)
                    case EventLoop.wakeToken: runPending()
                    case let token where token >> 32 != 0:
                        sources[UInt32(truncatingIfNeeded: token >> 32)]?
                            .handleEvent(fd: Int32(truncatingIfNeeded: token), events: event.events)
                    default:
                        if let connection = connections[Int32(truncatingIfNeeded: event.data)] {
                            connection.handleEvents(event.events)
                        }
                    }
                }
            }
            if !sources.isEmpty {
                for source in Array(sources.values) { source.afterEvents() }
            }
            if timers.count > 0 {
                for work in timers.takeDue(now: now) { work() }
            }
            if !localJobs.isEmpty { runLocalJobs() }
            flushQueued()
            if now - lastSweep >= 0.5 {
                lastSweep = now
                updateDate()
                sweepTimeouts()
            }
            lock.lock()
            let stop = stopRequested
            lock.unlock()
            if stop || (draining && connections.isEmpty) { break }
        }
        draining = true  // work still queued must not register connections on a loop that is gone
        acceptsLocalJobs = false
        runLocalJobs()
        flushQueued()
        for connection in Array(connections.values) { connection.close() }
        runPending()
        for fd in refusedSockets { close(fd) }
        refusedSockets = []
        for slot in Array(sources.keys) { removeSource(slot: slot) }
        pthread_setspecific(EventLoop.currentKey, nil)
        lock.lock()
        exited = true
        let leftover = pending
        pending = []
        lock.unlock()
        for item in leftover { item() }
    }

    /// Runs the jobs queued from this thread; a few rounds at most, so tasks that keep
    /// re-enqueueing themselves cannot starve the sockets (the loop then polls without sleeping).
    private func runLocalJobs() {
        var rounds = 0
        while !localJobs.isEmpty && rounds < 4 {
            let batch = localJobs
            localJobs.removeAll(keepingCapacity: true)
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            rounds += 1
        }
    }

    private func runPending() {
        _ = ug_eventfd_drain(wakeFD)
        lock.lock()
        let work = pending
        pending.removeAll(keepingCapacity: true)
        wakePending = false
        lock.unlock()
        for item in work { item() }
    }

    package func updateDate() {
        let second = time(nil)
        if second != dateSecond {
            dateSecond = second
            dateHeader = HTTPDate.format(epochSeconds: second)
        }
    }

    private func acceptConnections(_ listenFD: Int32) {
        while !draining {
            let fd = ug_accept_nonblocking(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                    // Out of descriptors: the listening socket stays readable, so waiting for the
                    // next event would spin. Stop listening here for a moment instead.
                    pauseAccepting(listenFD)
                }
                return
            }
            admit(fd, mayHandOver: true)
        }
    }

    /// Registers `fd`, which holds a slot of the server's connection limiter, as a connection.
    package func register(_ fd: Int32) {
        _ = ug_set_int_sockopt(fd, UG_IPPROTO_TCP, UG_TCP_NODELAY, 1)
        let connection = HTTPConnection(fd: fd, loop: self)
        connections[fd] = connection
        _ = ug_epoll_ctl(epollFD, UG_EPOLL_CTL_ADD, fd, UG_EPOLLIN | UG_EPOLLRDHUP, UInt64(UInt32(bitPattern: fd)))
        server.connectionOpened()
    }

    /// A connection of this loop starts or stops waiting between requests (keep-alive idle).
    package func setKeepAliveIdle(_ connection: HTTPConnection, _ idle: Bool) {
        guard idle != idleConnections.contains(connection) else { return }
        if idle { idleConnections.append(connection) } else { idleConnections.remove(connection) }
        idleCount.store(idleConnections.count, ordering: .relaxed)
    }

    /// Removes and returns the keep-alive connection of this loop idle the longest.
    package func takeIdlest() -> HTTPConnection? {
        guard let idlest = idleConnections.removeOldest() else { return nil }
        idleCount.store(idleConnections.count, ordering: .relaxed)
        return idlest
    }

    private var acceptPausedUntil: Double?
    /// Connections with stream output to send at the end of this iteration.
    private var flushQueue: [HTTPConnection] = []

    package func flushLater(_ connection: HTTPConnection) { flushQueue.append(connection) }

    private func flushQueued() {
        while !flushQueue.isEmpty {
            let batch = flushQueue
            flushQueue.removeAll(keepingCapacity: true)
            for connection in batch { connection.flushScheduledOutput() }
        }
    }

    private func pauseAccepting(_ listenFD: Int32) {
        guard acceptPausedUntil == nil else { return }
        acceptPausedUntil = now + 0.1
        _ = ug_epoll_ctl(epollFD, UG_EPOLL_CTL_DEL, listenFD, 0, 0)
    }

    private func resumeAcceptingIfDue(_ listenFD: Int32) {
        guard let until = acceptPausedUntil, now >= until else { return }
        acceptPausedUntil = nil
        if !draining {
            _ = ug_epoll_ctl(epollFD, UG_EPOLL_CTL_ADD, listenFD, UG_EPOLLIN | UG_EPOLLEXCLUSIVE, EventLoop.listenToken)
        }
    }

    private func sweepTimeouts() {
        let config = server.config
        for connection in Array(connections.values) {
            connection.checkTimeouts(now: now, config: config, draining: draining,
                                     shutdownDeadline: server.shutdownDeadline)
        }
    }

    // MARK: Socket helpers used by connections

    /// Reads everything available; returns the bytes read into `scratch` via the callback.
    package func withReadBuffer<T>(_ body: (UnsafeMutableRawBufferPointer) -> T) -> T { body(readBuffer) }

    package func setInterest(fd: Int32, read: Bool, write: Bool) {
        // Level-triggered: after the peer's FIN, RDHUP would be reported again and again, so it
        // is only asked for while we still read.
        var mask: UInt32 = 0
        if read { mask |= UG_EPOLLIN | UG_EPOLLRDHUP }
        if write { mask |= UG_EPOLLOUT }
        _ = ug_epoll_ctl(epollFD, UG_EPOLL_CTL_MOD, fd, mask, UInt64(UInt32(bitPattern: fd)))
    }

    // MARK: Extra descriptor sources (loop thread)

    /// The source registered under `key`, created by `make(slot)` on first use.
    package func source(forKey key: UInt64, make: (UInt32) -> (any EventLoopSource)?) -> (any EventLoopSource)? {
        if let slot = sourceSlots[key] { return sources[slot] }
        let slot = nextSourceSlot
        guard let source = make(slot) else { return nil }
        nextSourceSlot += 1
        sources[slot] = source
        sourceSlots[key] = slot
        return source
    }

    package func removeSource(forKey key: UInt64) {
        if let slot = sourceSlots[key] { removeSource(slot: slot) }
    }

    private func removeSource(slot: UInt32) {
        guard let source = sources.removeValue(forKey: slot) else { return }
        sourceSlots = sourceSlots.filter { $0.value != slot }
        source.loopDetached()
    }

    package static func sourceToken(slot: UInt32, fd: Int32) -> UInt64 {
        UInt64(slot) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    package func connectionClosed(_ connection: HTTPConnection) {
        if connections[connection.fd] === connection { connections[connection.fd] = nil }
        setKeepAliveIdle(connection, false)
        server.connectionClosed()
    }
}

package enum HTTPServerError: Error, CustomStringConvertible {
    case system(String, Int32)
    case invalidAddress(String)

    package var description: String {
        switch self {
        case .system(let what, let code): return "\(what) failed: \(String(cString: strerror(code)))"
        case .invalidAddress(let host): return "invalid listen address \(host)"
        }
    }
}

/// Swift tasks that prefer this loop as their executor run their jobs on the loop thread: a cache
/// miss started here comes back here when its upstream answer arrives, and is answered without
/// another thread hand-off.
extension EventLoop: TaskExecutor {
    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if inLoopThread && acceptsLocalJobs {
            localJobs.append(job)
            return
        }
        submit { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
