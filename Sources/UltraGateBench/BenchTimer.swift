import UltraGateJSON
import UltraGateSupport
import CUltraGateShims
#if canImport(Glibc)
import Glibc
#endif

/// A timerfd that wakes a bench worker's epoll loop at an exact CLOCK_MONOTONIC time, so an
/// open-loop run sends on schedule (well under a millisecond of error) without spinning:
/// epoll_wait's millisecond timeout is too coarse for 5k+ requests/s. `make()` returns nil when
/// the kernel refuses one and the worker falls back to a short spin.
/// Owned and touched only by the worker thread that made it.
package final class BenchTimer {
    package let fd: Int32
    private var armedAt: UInt64?

    private init(fd: Int32) { self.fd = fd }

    package static func make() -> BenchTimer? {
        let fd = ug_timerfd_create()
        return fd >= 0 ? BenchTimer(fd: fd) : nil
    }

    deinit { close(fd) }

    /// Fires once at `nanos` (monotonic); re-arming for the same time is free.
    package func arm(at nanos: UInt64) {
        guard armedAt != nanos else { return }
        armedAt = nanos
        _ = ug_timerfd_arm_absolute(fd, nanos)
    }

    /// Clears the readiness after it fired.
    package func acknowledge() {
        _ = ug_eventfd_drain(fd)  // a timerfd reads as an 8-byte expiration count, like an eventfd
        armedAt = nil
    }
}
