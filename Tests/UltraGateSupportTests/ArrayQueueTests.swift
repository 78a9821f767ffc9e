import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting

@Suite struct ArrayQueueTests {
    /// Against a plain array used as a queue, through long mixed runs that cross the compaction
    /// threshold many times.
    @Test func behavesLikeAnArrayUsedAsAQueue() {
        var rng = SplitMix64(seed: 9)
        var queue = ArrayQueue<Int>(compactAfter: 8)
        var model: [Int] = []
        var next = 0
        for _ in 0..<20_000 {
            if rng.next() % 5 < 3 {
                queue.append(next)
                model.append(next)
                next += 1
            } else {
                #expect(queue.popFirst() == (model.isEmpty ? nil : model.removeFirst()))
            }
            #expect(queue.count == model.count)
            #expect(queue.isEmpty == model.isEmpty)
        }
        queue.removeAll()
        #expect(queue.isEmpty && queue.popFirst() == nil)
    }
}

@Suite struct ArrayQueueOwnershipTests {
    private final class Box {}

    /// A popped element is moved out, not copied: the queue keeps no reference to it, so the
    /// consumer's first edit of a copy-on-write value does not copy it.
    @Test func aPoppedElementIsNotKeptBehind() {
        var queue = ArrayQueue<Box>()
        for _ in 0..<10 { queue.append(Box()) }
        for _ in 0..<9 {
            var element = queue.popFirst()!
            #expect(isKnownUniquelyReferenced(&element))
        }
        #expect(queue.count == 1)
    }
}
