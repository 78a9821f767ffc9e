#if canImport(Glibc)
import Glibc
#endif

/// A timerfd that wakes a bench worker's epoll loop at an exact CLOCK_MONOTONIC time, so an
/// open-loop run sends on schedule (well under a millisecond of error) without spinning:
/// epoll_wait's millisecond timeout is too coarse for 5k+ requests/s. Swift's Glibc module does
/// not import <sys/timerfd.h> and our shim has no wrapper, so the two calls are looked up with
/// dlsym; `make()` returns nil when that fails and the worker falls back to a short spin.
/// Owned and touched only by the worker thread that made it.
final class BenchTimer {
    let fd: Int32
    private var armedAt: UInt64?

    private struct Calls: @unchecked Sendable {
        typealias Create = @convention(c) (Int32, Int32) -> Int32
        typealias SetTime = @convention(c) (Int32, Int32, UnsafePointer<itimerspec>?, UnsafeMutablePointer<itimerspec>?) -> Int32
        let create: Create
        let setTime: SetTime
    }

    private static let calls: Calls? = {
        guard let libc = dlopen(nil, RTLD_NOW),
              let create = dlsym(libc, "timerfd_create"),
              let setTime = dlsym(libc, "timerfd_settime") else { return nil }
        return Calls(create: unsafeBitCast(create, to: Calls.Create.self), setTime: unsafeBitCast(setTime, to: Calls.SetTime.self))
    }()

    /// TFD_TIMER_ABSTIME from <sys/timerfd.h>.
    private static let absoluteTime: Int32 = 1

    private init(fd: Int32) { self.fd = fd }

    static func make() -> BenchTimer? {
        guard let calls else { return nil }
        // TFD_NONBLOCK and TFD_CLOEXEC are defined as O_NONBLOCK and O_CLOEXEC.
        let fd = calls.create(CLOCK_MONOTONIC, O_NONBLOCK | O_CLOEXEC)
        return fd >= 0 ? BenchTimer(fd: fd) : nil
    }

    deinit { close(fd) }

    /// Fires once at `nanos` (monotonic); re-arming for the same time is free.
    func arm(at nanos: UInt64) {
        guard armedAt != nanos, let calls = Self.calls else { return }
        armedAt = nanos
        var spec = itimerspec(it_interval: timespec(),
                              it_value: timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000)))
        _ = calls.setTime(fd, Self.absoluteTime, &spec, nil)
    }

    /// Clears the readiness after it fired.
    func acknowledge() {
        var expirations: UInt64 = 0
        _ = read(fd, &expirations, 8)
        armedAt = nil
    }
}
