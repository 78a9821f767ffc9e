import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON

@Suite struct JSONTests {
    @Test func roundTripsKeepingOrderAndNumberText() throws {
        let text = #"{"z":1,"a":[true,false,null,1.50,-0,12345678901234567890],"s":"h\u00e9\n\"\\"}"#
        let v = try JSONParser.parse(text)
        #expect(v.serializedString == #"{"z":1,"a":[true,false,null,1.50,-0,12345678901234567890],"s":"hé\n\"\\"}"#)
    }

    @Test func canonicalFormSortsKeysAndNormalizesNumbers() throws {
        let a = try JSONParser.parse(#"{"b": 1.0, "a": {"y": 2e0, "x": "é"}}"#)
        let b = try JSONParser.parse(#"{"a":{"x":"\u00e9","y":2},"b":1}"#)
        #expect(JSONWriter.serialize(a, canonical: true) == JSONWriter.serialize(b, canonical: true))
        #expect(String(decoding: JSONWriter.serialize(a, canonical: true), as: UTF8.self) == #"{"a":{"x":"é","y":2},"b":1}"#)
        #expect(JSONWriter.canonicalNumber("0.10") == "0.1")
        #expect(JSONWriter.canonicalNumber("-0") == "0")
        #expect(JSONWriter.canonicalNumber("12345678901234567890") == "12345678901234567890")
    }

    @Test func surrogatePairsDecode() throws {
        let v = try JSONParser.parse(#""\ud83d\ude00""#)
        #expect(v == .string("😀"))
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1", "NaN", "tru", "nul",
        "\"abc", "\"a\u{01}b\"", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "[1 2]", "{\"a\" 1}", "{1:2}",
        "1 2", "'a'", "[1]x",
    ])
    func rejectsInvalidDocuments(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        #expect(throws: JSONParseError(reason: .tooDeep, offset: 128)) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect((try? JSONParser.parse(ok)) != nil)
    }

    @Test func objectSetterReplacesAndRemovesDuplicates() throws {
        // Built in code: the parser refuses duplicate keys.
        var o = JSONObject([(key: "a", value: 1), (key: "b", value: 2), (key: "a", value: 3)])
        #expect(o["a"] == 3)
        o["a"] = 9
        #expect(JSON.object(o).serializedString == #"{"a":9,"b":2}"#)
        o["a"] = nil
        #expect(o.keys == ["b"])
    }
}
