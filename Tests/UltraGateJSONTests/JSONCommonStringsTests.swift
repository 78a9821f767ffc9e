import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON

@Suite struct JSONCommonStringsTests {
    /// Each common string parses to itself, as a key and as a value; a string of the same length
    /// and the same first and last byte that differs inside is not taken for it.
    @Test func commonStringsAndTheirNearMissesParseToThemselves() throws {
        #expect(JSONCommonStrings.entries.count > 100)
        for entry in JSONCommonStrings.entries {
            let parsed = try JSONParser.parse(#"{"\#(entry)":"\#(entry)"}"#)
            #expect(parsed.objectValue?.pairs.first?.key == entry)
            #expect(parsed.objectValue?.pairs.first?.value == .string(entry))
            var bytes = Array(entry.utf8)
            guard bytes.count >= 3 else { continue }
            bytes[bytes.count / 2] = bytes[bytes.count / 2] == UInt8(ascii: "#") ? UInt8(ascii: "%") : UInt8(ascii: "#")
            let nearMiss = String(decoding: bytes, as: UTF8.self)
            #expect(try JSONParser.parse(#""\#(nearMiss)""#) == .string(nearMiss))
        }
    }

    @Test func lookupIsExact() {
        func find(_ text: String) -> String? {
            Array(text.utf8).withUnsafeBufferPointer { JSONCommonStrings.shared.lookup($0) }
        }
        #expect(find("choices") == "choices")
        #expect(find("chat.completion.chunk") == "chat.completion.chunk")
        #expect(find("choice") == nil)
        #expect(find("Choices") == nil)
        #expect(find("") == nil)
        #expect(find(String(repeating: "x", count: 40)) == nil)
        #expect(find(" tok12") == nil)
    }
}
