#if canImport(Glibc)
import Glibc
#endif

/// Cheap clock readings without Foundation.
public enum Clock {
    /// Seconds since the Unix epoch.
    @inline(__always) public static func wallNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Monotonic nanoseconds, for durations.
    @inline(__always) public static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
