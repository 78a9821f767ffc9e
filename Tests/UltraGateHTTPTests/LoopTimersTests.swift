import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP

@Suite struct LoopTimersTests {
    @Test func dueTimersRunInDeadlineOrderAndOnlyOnce() {
        var timers = LoopTimers()
        var fired: [Int] = []
        var rng = SplitMix64(seed: 3)
        let deadlines = (0..<200).map { _ in Double(rng.next() % 1000) / 10 }
        for (i, d) in deadlines.enumerated() { timers.add(LoopTimer(deadline: d) { fired.append(i) }) }
        #expect(timers.nextDeadline() == deadlines.min())
        for work in timers.takeDue(now: 50) { work() }
        let early = deadlines.indices.filter { deadlines[$0] <= 50 }
        #expect(Set(fired) == Set(early) && fired.count == early.count)
        #expect(zip(fired, fired.dropFirst()).allSatisfy { deadlines[$0.0] <= deadlines[$0.1] }, "earliest first")
        for work in timers.takeDue(now: 1000) { work() }
        #expect(fired.count == 200)
        #expect(timers.count == 0 && timers.nextDeadline() == nil)
    }

    @Test func cancelledTimersNeverRunAndAreDropped() {
        var timers = LoopTimers()
        var fired: [Int] = []
        let all = (0..<3000).map { i in LoopTimer(deadline: Double(i)) { fired.append(i) } }
        for t in all { timers.add(t) }
        for (i, t) in all.enumerated() where i % 3 != 0 { timers.cancel(t) }
        #expect(timers.count < 3000, "compacted once most timers were cancelled")
        #expect(timers.nextDeadline() == 0)
        timers.cancel(all[0])
        #expect(timers.nextDeadline() == 3, "a cancelled head is skipped")
        for work in timers.takeDue(now: 10_000) { work() }
        #expect(fired == Array(stride(from: 3, to: 3000, by: 3)))
        timers.cancel(all[3])  // already fired: nothing happens
        #expect(timers.count == 0)
    }
}
