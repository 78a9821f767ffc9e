import UltraGate
import UltraGateBench
import UltraGateProviders
import UltraGateJSON
import UltraGateCache
import UltraGateHTTP
import UltraGateSupport
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT, SIGTERM and SIGHUP stop `ultragate serve` gracefully, whenever they arrive (SIGHUP, the
/// terminal going away, too: rather than killing requests in flight).
///
/// They are blocked before the process makes its first thread, so every thread inherits the mask
/// and none can take them: one that arrives during start-up (loading the config, opening the cache,
/// before or just after the port opens) stays pending instead of killing the process or being
/// dropped, and `wait()` takes it with `sigwait` once the server is up. No handler and no Dispatch
/// signal source is involved, so nothing can be freed early or replaced by `SIG_IGN` meanwhile
/// (which would discard a pending signal). Only a signal sent while the dynamic loader is still
/// mapping libraries, before `main` runs, keeps its default action: no program can act earlier.
enum StopSignals {
    static let numbers: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private static var set: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for number in numbers { sigaddset(&set, number) }
        return set
    }

    /// Blocks them in the calling thread and every thread it creates afterwards.
    static func block() {
        var set = set
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Gives them their usual effect again (commands other than `serve`).
    static func unblock() {
        var set = set
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Waits until one of them arrives (at once if one is pending) and returns its number. The
    /// signals must be blocked in every thread.
    static func wait() -> Int32 {
        var set = set
        var number: Int32 = 0
        while sigwait(&set, &number) != 0 {}
        return number
    }
}
