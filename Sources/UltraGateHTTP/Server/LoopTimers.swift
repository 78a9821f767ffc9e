import UltraGateSupport
/// A timer of one event loop: its work runs on the loop thread at or after its deadline, unless it
/// was cancelled first. Cheap enough to start and cancel once per request, which a `Task.sleep`
/// is not (that wakes Dispatch's timer thread, then a pool thread, then the loop).
package final class LoopTimer: @unchecked Sendable {
    /// Monotonic seconds (`EventLoop.monotonicNow()`).
    package let deadline: Double
    /// Loop-thread state: nil once fired or cancelled.
    package fileprivate(set) var work: (() -> Void)?

    package init(deadline: Double, work: @escaping () -> Void) {
        self.deadline = deadline
        self.work = work
    }

    package var isPending: Bool { work != nil }
}

/// The pending timers of one loop, as a binary min-heap on the deadline. Cancelled timers are
/// dropped lazily (when they reach the top, or in a compaction once they are most of the heap),
/// so cancelling costs no search. Loop-thread state: not synchronized.
package struct LoopTimers {
    private var heap: [LoopTimer] = []
    /// Cancelled timers still in the heap.
    private var cancelled = 0

    package var count: Int { heap.count }

    package mutating func add(_ timer: LoopTimer) {
        heap.append(timer)
        siftUp(heap.count - 1)
    }

    package mutating func cancel(_ timer: LoopTimer) {
        guard timer.isPending else { return }
        timer.work = nil
        cancelled += 1
        if heap.count > 1024 && cancelled * 2 > heap.count { compact() }
    }

    /// The earliest deadline of a pending timer, dropping cancelled ones on the way.
    package mutating func nextDeadline() -> Double? {
        while let top = heap.first, !top.isPending {
            removeTop()
            cancelled -= 1
        }
        return heap.first?.deadline
    }

    /// Removes and returns the work of every pending timer due at `now`, earliest first.
    package mutating func takeDue(now: Double) -> [() -> Void] {
        var due: [() -> Void] = []
        while let top = heap.first, top.deadline <= now || !top.isPending {
            removeTop()
            if let work = top.work {
                top.work = nil
                due.append(work)
            } else {
                cancelled -= 1
            }
        }
        return due
    }

    private mutating func compact() {
        heap.removeAll { !$0.isPending }
        cancelled = 0
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
    }

    private mutating func removeTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count, heap[left + 1].deadline < heap[left].deadline { smallest = left + 1 }
            guard heap[smallest].deadline < heap[parent].deadline else { return }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
