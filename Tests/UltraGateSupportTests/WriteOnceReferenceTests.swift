import Foundation
import Testing
@testable import UltraGateSupport

@Suite struct WriteOnceReferenceTests {
    final class Box: Sendable {
        let value: Int
        init(_ value: Int) { self.value = value }
    }

    final class Holder: Sendable {
        let slot = WriteOnceReference<Box>()
    }

    @Test func theFirstValueStoredStaysAndIsFreedWithTheSlot() {
        weak var first: Box?
        weak var second: Box?
        do {
            let holder = Holder()
            #expect(holder.slot.withValue { $0.value } == nil)
            do {
                let a = Box(1), b = Box(2)
                first = a
                second = b
                #expect(holder.slot.storeIfUnset(a) { $0.value } == 1)
                #expect(holder.slot.storeIfUnset(b) { $0.value } == 1, "a second value does not replace the first")
            }
            #expect(second == nil, "the value that lost is not kept")
            #expect(first != nil && holder.slot.withValue { $0.value } == 1)
        }
        #expect(first == nil, "the slot lets go of its value when it goes")
    }

    @Test func racingStoresAgreeOnOneValue() async {
        for _ in 0..<50 {
            let holder = Holder()
            let seen = await withTaskGroup(of: Int.self) { group in
                for i in 0..<8 {
                    group.addTask { holder.slot.storeIfUnset(Box(i)) { $0.value } }
                }
                var all: [Int] = []
                for await value in group { all.append(value) }
                return all
            }
            #expect(Set(seen).count == 1 && seen.count == 8)
            #expect(holder.slot.withValue { $0.value } == seen.first)
        }
    }
}
