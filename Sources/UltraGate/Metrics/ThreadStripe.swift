import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Gives each OS thread a small, stable stripe number so hot-path metric writes from different
/// threads land on different cache lines. Numbers are handed out round-robin on a thread's first
/// use and kept in a pthread key (a `pthread_getspecific` is a few ns; `Thread.current` is not).
/// Two threads sharing a stripe stay correct, they just contend on one cache line.
package enum ThreadStripe {
    /// Power of two: the next one at or above the core count, clamped to 2…16.
    package static let count: Int = {
        let cores = max(2, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        var n = 2
        while n < cores && n < 16 { n <<= 1 }
        return n
    }()
    package static let mask: Int = count - 1

    /// Read once per metric at creation: a `static let` read on the hot path costs a
    /// `swift_once` call each time (measured: two of them tripled the cost of an increment).
    package static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()
    private static let nextIndex = Atomic<Int>(0)

    /// This thread's stripe, in 0..<count.
    package static var current: Int { index(key: key, mask: mask) }

    /// This thread's stripe given `key` and `mask` (a power of two minus one) held by the caller.
    @inline(__always) package static func index(key: pthread_key_t, mask: Int) -> Int {
        if let stored = pthread_getspecific(key) {
            return (Int(bitPattern: stored) &- 1) & mask
        }
        return assignCurrent(key: key) & mask
    }

    @inline(never) private static func assignCurrent(key: pthread_key_t) -> Int {
        let index = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
        // Stored as index + 1 so that "never assigned" (nil) stays distinct from stripe 0.
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: index + 1))
        return index
    }
}
