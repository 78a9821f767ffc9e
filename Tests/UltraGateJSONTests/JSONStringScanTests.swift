import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON

/// The eight-bytes-at-a-time scan that both the JSON writer and parser rely on, checked against a
/// byte-by-byte reference, and the writer and parser round trips that depend on it.
@Suite struct JSONStringScanTests {
    /// Every byte value in every lane of a word, and random buffers whose special bytes fall at
    /// every offset and after every kind of neighbour (borrows between lanes were the risk).
    @Test func agreesWithTheByteByByteReference() {
        func reference(_ bytes: [UInt8], _ start: Int) -> Int {
            bytes.indices.dropFirst(start).first { JSONStringScan.isSpecial(bytes[$0]) } ?? bytes.count
        }
        for value in 0...255 {
            for lane in 0..<11 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 11)
                bytes[lane] = UInt8(value)
                let found = bytes.withUnsafeBufferPointer { JSONStringScan.firstSpecial(in: $0, from: 0) }
                #expect(found == reference(bytes, 0), "byte \(value) at \(lane)")
            }
        }
        var rng = SplitMix64(seed: 11)
        let palette: [UInt8] = [0x00, 0x01, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7F, 0x80, 0x9F, 0xA2, 0xDC, 0xFF, 0x61]
        for _ in 0..<3000 {
            let count = Int(rng.next() % 40)
            let bytes = (0..<count).map { _ in
                rng.next() % 4 == 0 ? palette[Int(rng.next() % UInt64(palette.count))] : UInt8(0x20 + rng.next() % 0x60)
            }
            let start = count == 0 ? 0 : Int(rng.next() % UInt64(count + 1))
            var sawHighByte = false
            let found = bytes.withUnsafeBufferPointer { JSONStringScan.firstSpecial(in: $0, from: start, sawHighByte: &sawHighByte) }
            let expected = reference(bytes, start)
            #expect(found == expected, "\(bytes) from \(start)")
            #expect(sawHighByte == bytes[start..<expected].contains { $0 >= 0x80 }, "\(bytes) from \(start)")
        }
        #expect([UInt8]().withUnsafeBufferPointer { JSONStringScan.firstSpecial(in: $0, from: 0) } == 0)
    }

    /// Strings with escapes at every position of a word survive writer → parser unchanged, and
    /// the writer's output matches Foundation's reading of it.
    @Test func escapesAtEveryPositionRoundTrip() throws {
        let specials = ["\"", "\\", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{01}", "\u{1F}", "é", "💡", "/"]
        for special in specials {
            for prefix in 0..<17 {
                let text = String(repeating: "x", count: prefix) + special + String(repeating: "y", count: 17 - prefix) + special
                let written = JSONWriter.serialize(.array([.string(text)]))
                #expect(try JSONParser.parse(written) == .array([.string(text)]))
                let viaFoundation = try JSONSerialization.jsonObject(with: Data(written)) as? [String]
                #expect(viaFoundation == [text])
            }
        }
    }

    /// Control bytes inside a string are errors wherever they sit, and an unterminated string is
    /// reported as such whether or not it held escapes.
    @Test func rawControlBytesAndMissingQuotesAreErrors() {
        for position in 0..<20 {
            var bytes = Array("[\"\(String(repeating: "z", count: 20))\"]".utf8)
            bytes[2 + position] = 0x0A
            #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
        }
        #expect(throws: JSONParseError(reason: .unexpectedEnd, offset: 14)) { try JSONParser.parse(Array("\"abcdefghijklm".utf8)) }
        #expect(throws: JSONParseError(reason: .unexpectedEnd, offset: 16)) { try JSONParser.parse(Array("\"abc\\ndefghijklm".utf8)) }
        #expect(throws: JSONParseError(reason: .invalidUTF8, offset: 1)) { try JSONParser.parse([0x22, 0x61, 0xC3, 0x28, 0x22]) }
    }
}
