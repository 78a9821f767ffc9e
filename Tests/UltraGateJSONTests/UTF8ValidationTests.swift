import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON

/// The hand-written UTF-8 check that replaced `String(validating:)` in the JSON parser.
@Suite struct UTF8ValidationTests {
    private func valid(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBufferPointer { UTF8Validation.isValid($0) } }

    /// Boundary cases in the manner of Markus Kuhn's UTF-8 decoder stress test and Unicode's
    /// Table 3-7 (well-formed byte sequences).
    @Test func publishedBoundaryCases() {
        let good: [[UInt8]] = [
            [], Array("plain ascii text".utf8),
            [0x00], [0x7F], [0xC2, 0x80], [0xDF, 0xBF],              // U+0000, U+007F, U+0080, U+07FF
            [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF],  // U+0800, U+D7FF, U+E000, U+FFFF
            [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],      // U+10000, U+10FFFF
            Array("héllo wörld 💡 日本語".utf8),
        ]
        let bad: [[UInt8]] = [
            [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF],                // lone continuation, overlong 2-byte
            [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],                    // overlong 3-byte
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],                    // surrogates
            [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],        // overlong 4-byte
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xFE],  // above U+10FFFF, invalid leads
            [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98],                  // truncated
            [0xC3, 0x28], [0xE2, 0x28, 0xA1], [0xF0, 0x9F, 0x28, 0x80],  // bad continuation
            Array("12345678".utf8) + [0xC3] + Array("12345678".utf8),  // after a skipped ASCII word
        ]
        for bytes in good { #expect(valid(bytes), "\(bytes)") }
        for bytes in bad { #expect(!valid(bytes), "\(bytes)") }
    }

    /// Random byte strings built from UTF-8-shaped pieces agree with the standard library.
    @Test func agreesWithTheStandardLibrary() {
        var rng = SplitMix64(seed: 5)
        let pieces: [[UInt8]] = [[0x61], [0x7F], Array("abcdefgh".utf8), [0xC2], [0xDF], [0xE0], [0xED], [0xEF], [0xF0], [0xF4], [0xF5],
                                 [0x80], [0x8F], [0x90], [0x9F], [0xA0], [0xBF], [0xC0], [0xFF], Array("é".utf8), Array("💡".utf8)]
        for _ in 0..<20_000 {
            let count = Int(rng.next() % 12)
            let bytes = (0..<count).flatMap { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }
            #expect(valid(bytes) == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
        }
    }
}
