import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting

@Suite struct DecimalTextTests {
    /// The same text as `String(value)`: every power of ten and its neighbours, both signs, the
    /// extremes, and a long run of random values.
    @Test func writesWhatStringWrites() {
        var values: [Int] = [0, 1, -1, 9, 10, 11, Int.max, Int.min, Int.max - 1, Int.min + 1]
        var power = 1
        while power <= Int.max / 10 {
            power *= 10
            values += [power - 1, power, power + 1, -power + 1, -power, -power - 1]
        }
        var rng = SplitMix64(seed: 21)
        for _ in 0..<20_000 {
            let raw = Int(bitPattern: UInt(rng.next()))
            values += [raw, raw >> Int(rng.next() % 63)]
        }
        for value in values {
            #expect(DecimalText.string(value) == String(value), "\(value)")
        }
    }
}
