import Synchronization

/// A flag that is raised once and then stays up, readable from any thread; a class so closures
/// can share it.
final class OnceFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    var isRaised: Bool { raised.load(ordering: .acquiring) }

    func raise() { raised.store(true, ordering: .releasing) }
}
