import UltraGateJSON
import UltraGateSupport
import CUltraGateShims
#if canImport(Glibc)
import Glibc
#endif

/// One client thread: an epoll loop driving many non-blocking keep-alive connections, each with
/// one request in flight at a time. Closed loop: a connection sends its next request as soon as
/// its answer arrives. Open loop (`rate` set): requests fall due on an `OpenLoopSchedule` and go
/// out on whichever connection is idle, waiting in its FIFO when none is. Everything here is
/// touched only by the worker's own thread between `run()` starting and returning, except
/// `progress`, which is locked.
package final class BenchWorker: @unchecked Sendable {
    package struct Plan: Sendable {
        package var connections: Int
        /// Requests to issue; nil means until `deadline`.
        package var quota: Int?
        package var deadline: UInt64?
        package var sequenceBase: Int
        package var sequenceStride: Int
        package var sequenceOffset: Int
        package var timeoutNanos: UInt64
        /// Open loop: requests per second of the whole run (all threads), due from `scheduleStart`.
        package var rate: Double? = nil
        package var scheduleStart: UInt64 = 0
    }

    /// The epoll tag of the open-loop timerfd (connections are tagged with their index).
    private static let timerTag = UInt64.max
    /// The timer fires this long before a due time and the loop polls (epoll timeout 0) for the
    /// rest: a timerfd wake-up alone lands ~40-80 µs late (the kernel's default timer slack is
    /// 50 µs), and every microsecond of it would be counted as latency of the target. Measured
    /// on 2 shared cores: send lag p50 ~40 µs without the lead, ~1 µs with it, at similar CPU.
    private static let spinNanos: UInt64 = 60_000

    private let plan: Plan
    private let address: BenchAddress
    private let prompts: PromptSource
    private let progress: BenchProgress?
    package private(set) var tally = BenchTally()
    private var connections: [BenchConnection] = []
    private var epfd: Int32 = -1
    private var issued = 0
    private var open = 0
    private var stopping = false
    /// Connections whose request failed, restarted from the loop rather than from inside the
    /// failure (a refused connect can fail synchronously, again and again).
    private var pending: [BenchConnection] = []
    private var buffer = [UInt8](repeating: 0, count: 65536)
    /// Open loop only: the arrival schedule and the connections free to take a due request.
    private var schedule: OpenLoopSchedule?
    private var idle: [BenchConnection] = []

    package init(plan: Plan, address: BenchAddress, prompts: PromptSource, progress: BenchProgress?) {
        self.plan = plan
        self.address = address
        self.prompts = prompts
        self.progress = progress
        let expected = plan.quota ?? 100_000
        tally.latency = LatencyRecorder(capacity: min(expected, 4_000_000))
    }

    package func run() {
        epfd = ug_epoll_create()
        defer { close(epfd) }
        let count = plan.quota.map { min($0, plan.connections) } ?? plan.connections
        connections = (0..<count).map { BenchConnection(index: $0) }
        open = count
        if let rate = plan.rate {
            runOpenLoop(rate: rate)
            return
        }
        var now = Clock.nanos()
        for c in connections { startNext(c, now: now) }
        var events = [ug_event](repeating: ug_event(), count: 256)
        var lastSweep = now
        var lastPublish = now
        while open > 0 {
            let wait: Int32 = pending.isEmpty ? 5 : 0
            let n = events.withUnsafeMutableBufferPointer { ug_epoll_wait(epfd, $0.baseAddress, 256, wait) }
            if n < 0 && errno != EINTR { break }
            for i in 0..<Int(max(n, 0)) {
                let c = connections[Int(events[i].data)]
                handle(c, events[i].events)
            }
            now = Clock.nanos()
            if !pending.isEmpty {
                let restart = pending
                pending.removeAll(keepingCapacity: true)
                for c in restart { startNext(c, now: now) }
            }
            if let deadline = plan.deadline, now >= deadline {
                stopping = true
                for c in connections where c.state != .idle || pending.contains(where: { $0 === c }) { retire(c) }
                break
            }
            if now &- lastSweep > 5_000_000 {
                lastSweep = now
                for c in connections where c.state != .idle && now &- c.startedAt > plan.timeoutNanos {
                    fail(c, "timeout", now: now)
                }
            }
            if let progress, now &- lastPublish > 100_000_000 {
                lastPublish = now
                progress.publish(worker: plan.sequenceOffset, succeeded: tally.succeeded, errors: tally.errorCount)
            }
        }
        progress?.publish(worker: plan.sequenceOffset, succeeded: tally.succeeded, errors: tally.errorCount)
    }

    /// The `--rate` loop: each round releases the requests that fell due, hands them to idle
    /// connections oldest first, then waits for socket events or the next due time, whichever
    /// comes first (a timerfd armed `spinNanos` before the due time, then polling; without a
    /// timerfd, epoll_wait's millisecond timeout rounded down, polling in the last millisecond).
    private func runOpenLoop(rate: Double) {
        var schedule = OpenLoopSchedule(start: plan.scheduleStart, rate: rate, stride: plan.sequenceStride,
                                        offset: plan.sequenceOffset, limit: plan.quota, end: plan.deadline)
        let timer = BenchTimer.make()
        if let timer { _ = ug_epoll_ctl(epfd, UG_EPOLL_CTL_ADD, timer.fd, UG_EPOLLIN, Self.timerTag) }
        idle = connections.reversed()
        var events = [ug_event](repeating: ug_event(), count: 256)
        var now = Clock.nanos()
        var lastSweep = now
        var lastPublish = now
        while true {
            now = Clock.nanos()
            if let deadline = plan.deadline, now >= deadline {
                stopping = true
                for c in connections where c.state != .idle { closeSocket(c) }
                break
            }
            schedule.release(upTo: now)
            while schedule.queued > 0, let c = idle.popLast() {
                let sendAt = Clock.nanos()
                guard let due = schedule.take(now: sendAt) else { break }
                begin(c, scheduledAt: due, now: sendAt)
            }
            schedule.noteBacklog()
            if schedule.isDrained && idle.count == connections.count { break }
            now = Clock.nanos()
            if now &- lastSweep > 5_000_000 {
                lastSweep = now
                for c in connections where c.state != .idle && now > c.startedAt && now - c.startedAt > plan.timeoutNanos {
                    fail(c, "timeout", now: now)
                }
            }
            if let progress, now &- lastPublish > 100_000_000 {
                lastPublish = now
                progress.publish(worker: plan.sequenceOffset, succeeded: tally.succeeded, errors: tally.errorCount)
            }
            var wait: Int32 = 5
            if let timer {
                if let due = schedule.nextDue {
                    if due <= now + Self.spinNanos { wait = 0 } else { timer.arm(at: due - Self.spinNanos) }
                }
            } else {
                wait = schedule.pollTimeoutMillis(now: now, cap: wait)
            }
            if schedule.queued > 0 && !idle.isEmpty { wait = 0 }
            let n = events.withUnsafeMutableBufferPointer { ug_epoll_wait(epfd, $0.baseAddress, 256, wait) }
            if n < 0 && errno != EINTR { break }
            for i in 0..<Int(max(n, 0)) {
                if events[i].data == Self.timerTag {
                    timer?.acknowledge()
                    continue
                }
                handle(connections[Int(events[i].data)], events[i].events)
            }
        }
        tally.lateSends = schedule.lateSends
        tally.maxQueueDepth = schedule.maxQueueDepth
        tally.scheduled = schedule.released
        progress?.publish(worker: plan.sequenceOffset, succeeded: tally.succeeded, errors: tally.errorCount)
    }

    private func handle(_ c: BenchConnection, _ flags: UInt32) {
        switch c.state {
        case .idle: return
        case .connecting:
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 || flags & (UG_EPOLLERR | UG_EPOLLHUP) != 0 {
                fail(c, "connect", now: Clock.nanos())
                return
            }
            c.state = .sending
            send(c)
        case .sending:
            if flags & UG_EPOLLOUT != 0 { send(c) }
            if c.state == .awaiting && flags & UG_EPOLLIN != 0 { receive(c) }
        case .awaiting:
            receive(c)
        }
    }

    /// Starts the connection's next request, or retires it when the plan is used up.
    private func startNext(_ c: BenchConnection, now: UInt64) {
        if stopping || plan.quota.map({ issued >= $0 }) == true || plan.deadline.map({ now >= $0 }) == true {
            retire(c)
            return
        }
        begin(c, scheduledAt: now, now: now)
    }

    /// Puts the next request of this thread on `c` and sends it.
    private func begin(_ c: BenchConnection, scheduledAt due: UInt64, now: UInt64) {
        c.sequence = plan.sequenceBase + plan.sequenceOffset + issued * plan.sequenceStride
        issued += 1
        c.retried = false
        c.out.removeAll(keepingCapacity: true)
        prompts.request(c.sequence, into: &c.out)
        c.startedAt = now
        c.scheduledAt = due
        if due < tally.firstStart { tally.firstStart = due }
        dispatch(c)
    }

    /// Sends `c.out` on the open socket, or opens one first.
    private func dispatch(_ c: BenchConnection) {
        c.sent = 0
        c.parser.reset()
        if c.fd >= 0 {
            c.state = .sending
            send(c)
            return
        }
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { fail(c, "connect", now: Clock.nanos()); return }
        _ = ug_set_nonblocking(fd)
        _ = ug_set_int_sockopt(fd, UG_IPPROTO_TCP, UG_TCP_NODELAY, 1)
        c.fd = fd
        c.servedOnSocket = 0
        let rc = address.withSockaddr { connect(fd, $0, $1) }
        if rc != 0 && errno != EINPROGRESS {
            fail(c, "connect", now: Clock.nanos())
            return
        }
        c.state = .connecting
        c.wantsWrite = true
        _ = ug_epoll_ctl(epfd, UG_EPOLL_CTL_ADD, fd, UG_EPOLLIN | UG_EPOLLOUT, UInt64(c.index))
    }

    private func send(_ c: BenchConnection) {
        while c.sent < c.out.count {
            let n = c.out.withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress! + c.sent, $0.count - c.sent, UG_MSG_NOSIGNAL) }
            if n > 0 { c.sent += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                setWantsWrite(c, true)
                return
            }
            if n < 0 && errno == EINTR { continue }
            socketEnded(c, now: Clock.nanos())
            return
        }
        c.state = .awaiting
        setWantsWrite(c, false)
    }

    private func setWantsWrite(_ c: BenchConnection, _ on: Bool) {
        guard c.wantsWrite != on else { return }
        c.wantsWrite = on
        _ = ug_epoll_ctl(epfd, UG_EPOLL_CTL_MOD, c.fd, on ? UG_EPOLLIN | UG_EPOLLOUT : UG_EPOLLIN, UInt64(c.index))
    }

    private func receive(_ c: BenchConnection) {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            let now = Clock.nanos()
            if n > 0 {
                tally.bytesReceived += n
                let done: Bool
                do { done = try buffer.withUnsafeBytes { raw throws(BenchProtocolError) in try c.parser.feed(UnsafeRawBufferPointer(rebasing: raw[0..<n]), now: now) } } catch {
                    fail(c, "protocol", now: now)
                    return
                }
                if done {
                    complete(c, now: now)
                    return
                }
                if n < buffer.count { return }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            if n < 0 && errno == EINTR { continue }
            socketEnded(c, now: now)
            return
        }
    }

    /// The peer closed or reset the socket while a request was in flight.
    private func socketEnded(_ c: BenchConnection, now: UInt64) {
        if !c.parser.receivedAny && c.servedOnSocket > 0 && !c.retried {
            closeSocket(c)
            c.retried = true
            dispatch(c)
            return
        }
        do {
            if try c.parser.endOfInput(now: now) { complete(c, now: now); return }
        } catch {}
        fail(c, "protocol", now: now)
    }

    private func complete(_ c: BenchConnection, now: UInt64) {
        let p = c.parser
        if (200...299).contains(p.status) {
            tally.succeeded += 1
            tally.latency.record(OpenLoopSchedule.latency(scheduled: c.scheduledAt, now: now))
            let s = p.scanner
            if s.isEventStream, let first = s.firstTokenAt ?? s.firstEventAt {
                tally.timeToFirstToken.record(OpenLoopSchedule.latency(scheduled: c.scheduledAt, now: first))
                for g in s.gaps { tally.interTokenLatency.record(g) }
            }
            if let tokens = s.completionTokens {
                tally.completionTokens += tokens
                tally.responsesWithUsage += 1
            }
            switch p.cache {
            case .hit: tally.cacheHits += 1
            case .miss: tally.cacheMisses += 1
            case .other: tally.cacheOther += 1
            case .none: break
            }
        } else {
            tally.fail(Self.statusKind(p.status))
        }
        if now > tally.lastEnd { tally.lastEnd = now }
        c.servedOnSocket += 1
        if !p.keepAlive { closeSocket(c) }
        c.state = .idle
        if plan.rate != nil {
            idle.append(c)
        } else {
            startNext(c, now: now)
        }
    }

    private func fail(_ c: BenchConnection, _ kind: String, now: UInt64) {
        tally.fail(kind)
        if now > tally.lastEnd { tally.lastEnd = now }
        closeSocket(c)
        c.state = .idle
        if plan.rate != nil {
            idle.append(c)
        } else {
            pending.append(c)
        }
    }

    private func retire(_ c: BenchConnection) {
        closeSocket(c)
        c.state = .idle
        open -= 1
    }

    private func closeSocket(_ c: BenchConnection) {
        guard c.fd >= 0 else { return }
        _ = ug_epoll_ctl(epfd, UG_EPOLL_CTL_DEL, c.fd, 0, 0)
        close(c.fd)
        c.fd = -1
        c.wantsWrite = false
    }

    private static let statusKinds: [String] = (0...999).map { "status \($0)" }
    package static func statusKind(_ status: Int) -> String { (0...999).contains(status) ? statusKinds[status] : "status \(status)" }
}
