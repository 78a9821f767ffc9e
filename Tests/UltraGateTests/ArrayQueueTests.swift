import Testing
@testable import UltraGate

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
