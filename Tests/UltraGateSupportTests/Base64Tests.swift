import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting

@Suite struct Base64Tests {
    @Test func encodesAsFoundationDoesAndDecodesBack() {
        var rng = SplitMix64(seed: 7)
        for length in [0, 1, 2, 3, 4, 5, 6, 7, 63, 64, 65, 1000, 6144] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let encoded = Base64.encode(bytes)
            #expect(encoded == Data(bytes).base64EncodedString())
            #expect(Base64.decode(encoded.utf8) == bytes)
            #expect(Base64.decode(encoded.utf8.filter { $0 != UInt8(ascii: "=") }) == bytes, "unpadded")
        }
    }

    @Test func refusesWhatIsNotBase64() {
        for text in ["A", "AB=C", "AAAA=AAA", "AA AA", "AAA*", "====", "A==="] {
            #expect(Base64.decode(text.utf8) == nil, "\(text)")
        }
        #expect(Base64.decode("".utf8) == [])
    }
}
