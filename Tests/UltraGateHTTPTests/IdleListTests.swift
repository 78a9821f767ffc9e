import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP

@Suite struct IdleListTests {
    final class Member: IdleListMember {
        let id: Int
        var idleLinks = IdleListLinks<Member>()
        init(_ id: Int) { self.id = id }
    }

    private func drain(_ list: inout IdleList<Member>) -> [Int] {
        var ids: [Int] = []
        while let m = list.removeOldest() { ids.append(m.id) }
        return ids
    }

    @Test func theLongestIdleComesOutFirst() {
        var list = IdleList<Member>()
        let members = (0..<5).map(Member.init)
        for m in members { list.append(m) }
        #expect(list.count == 5 && list.oldest === members[0])
        #expect(drain(&list) == [0, 1, 2, 3, 4])
        #expect(list.count == 0 && list.oldest == nil)
    }

    @Test func leavingAndComingBackMakesAMemberTheNewest() {
        var list = IdleList<Member>()
        let members = (0..<4).map(Member.init)
        for m in members { list.append(m) }
        // Member 0 got a request (leaves) and went idle again (rejoins): no longer the idlest.
        list.remove(members[0])
        list.append(members[0])
        // Appending a listed member keeps its place; removing an unlisted one changes nothing.
        list.append(members[1])
        list.remove(members[2])
        list.remove(members[2])
        #expect(list.count == 3 && !list.contains(members[2]))
        #expect(drain(&list) == [1, 3, 0])
    }

    @Test func removingFromTheMiddleAndTheEndsKeepsTheOrder() {
        var list = IdleList<Member>()
        let members = (0..<6).map(Member.init)
        for m in members { list.append(m) }
        list.remove(members[0])  // oldest
        list.remove(members[5])  // newest
        list.remove(members[3])  // middle
        #expect(drain(&list) == [1, 2, 4])
        for m in members { #expect(m.idleLinks.previous == nil && m.idleLinks.next == nil, "no links kept once unlisted") }
    }

    @Test func aLargeListAgreesWithASimpleModel() {
        var list = IdleList<Member>()
        var model: [Int] = []
        let members = (0..<64).map(Member.init)
        var rng = SplitMix64(seed: 12)
        for _ in 0..<20_000 {
            let m = members[Int(rng.next() % 64)]
            switch rng.next() % 3 {
            case 0:
                list.append(m)
                if !model.contains(m.id) { model.append(m.id) }
            case 1:
                list.remove(m)
                model.removeAll { $0 == m.id }
            default:
                let oldest = list.removeOldest()
                #expect(oldest?.id == model.first)
                if !model.isEmpty { model.removeFirst() }
            }
            #expect(list.count == model.count)
        }
        #expect(drain(&list) == model)
    }
}
