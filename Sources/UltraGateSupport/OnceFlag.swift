import Synchronization

/// A flag that is raised once and then stays up, readable from any thread; a class so closures
/// can share it.
package final class OnceFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    package init() {}

    package var isRaised: Bool { raised.load(ordering: .acquiring) }

    package func raise() { raised.store(true, ordering: .releasing) }
}
