import UltraGateHTTP
import UltraGateSupport
import Foundation

/// One transport's `CurlLoopDriver`s, one per event loop it was used on. The drivers live in
/// their loops (as `EventLoopSource`s); this remembers which loops have one so that shutting the
/// transport down can detach them, each on its own loop thread.
///
/// Threading: `loops` and `isShut` are guarded by `lock`; `driver(on:)` runs on `loop`'s thread.
package final class LoopDriverRegistry: @unchecked Sendable {
    private static let lock = NSLock()
    private nonisolated(unsafe) static var nextKey: UInt64 = 1

    /// This transport's key in every loop's source table (unique for the process lifetime).
    private let key: UInt64
    private let lock = NSLock()
    private var loops: [EventLoop] = []
    private var isShut = false

    package init() {
        Self.lock.lock()
        key = Self.nextKey
        Self.nextKey += 1
        Self.lock.unlock()
    }

    /// The driver on `loop` (the current thread's loop), created on first use; nil after shutdown.
    package func driver(on loop: EventLoop, options: CurlTransport.Options) -> CurlLoopDriver? {
        let source = loop.source(forKey: key) { slot -> (any EventLoopSource)? in
            lock.lock()
            defer { lock.unlock() }
            guard !isShut, let driver = CurlLoopDriver(loop: loop, slot: slot, options: options) else { return nil }
            loops.append(loop)
            return driver
        }
        return source as? CurlLoopDriver
    }

    /// How many loops have a driver (tests: proof that calls took the loop path).
    package var loopCount: Int { lock.withLock { loops.count } }

    /// Detaches every driver (transfers in flight end with `.cancelled`); later calls get nil.
    package func shutdown() {
        lock.lock()
        let loops = self.loops
        self.loops = []
        isShut = true
        lock.unlock()
        let key = self.key
        for loop in loops { loop.submit { loop.removeSource(forKey: key) } }
    }
}
