import Testing
@testable import UltraGateSupport

@Suite struct SaturatingIntTests {
    @Test func additionAndMultiplicationStopAtTheEnds() {
        #expect(Int.max.addingSaturated(1) == .max)
        #expect(Int.min.addingSaturated(-1) == .min)
        #expect(40.addingSaturated(2) == 42)
        #expect((Int.max / 2 + 1).multipliedSaturated(by: 2) == .max)
        #expect(Int.max.multipliedSaturated(by: -2) == .min)
        #expect(Int.min.multipliedSaturated(by: -1) == .max)
        #expect(6.multipliedSaturated(by: 7) == 42)
    }

    @Test func doublesConvertWithoutTrapping() {
        #expect(Int(saturating: 1e19) == .max)
        #expect(Int(saturating: 9_223_372_036_854_775_807.0) == .max, "2^63, one past Int.max")
        #expect(Int(saturating: -1e300) == .min)
        #expect(Int(saturating: .infinity) == .max && Int(saturating: -.infinity) == .min)
        #expect(Int(saturating: .nan) == 0)
        #expect(Int(saturating: -2.9) == -2 && Int(saturating: 41.99) == 41)
        #expect(Int(saturating: 9_007_199_254_740_992.0) == 9_007_199_254_740_992)
    }
}
