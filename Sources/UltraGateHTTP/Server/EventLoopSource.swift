import UltraGateSupport
/// Something besides client connections that an `EventLoop` drives from its epoll set: it
/// registers its own descriptors with `EventLoop.sourceToken(slot:fd:)`. Called on the loop
/// thread only.
package protocol EventLoopSource: AnyObject {
    /// One epoll event for a descriptor this source registered.
    func handleEvent(fd: Int32, events: UInt32)
    /// How long the loop may sleep before `afterEvents` must run (milliseconds).
    func timeoutMs() -> Int32
    /// Runs once per loop iteration, after the events were handled.
    func afterEvents()
    /// The loop dropped the source (owner gone, or the loop exits): release everything.
    func loopDetached()
}
