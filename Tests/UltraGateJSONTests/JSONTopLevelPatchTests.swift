import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON

@Suite struct JSONTopLevelPatchTests {
    func patch(_ text: String, key: String = "model", value: String = "m") -> String? {
        JSONTopLevelPatch.replacingString(key, with: value, in: Array(text.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func onlyTheTopLevelValueChangesAndEveryOtherByteStays() {
        let text = """
        { "id" : "c-1",\t"x":{"model":"inner","a":[1,{"model":2}]}, "note":"a \\"model\\": here",
          "model" :  "gpt-4o-2024" , "n":-1.5e3,"t":true,"z":null }
        """
        let expected = """
        { "id" : "c-1",\t"x":{"model":"inner","a":[1,{"model":2}]}, "note":"a \\"model\\": here",
          "model" :  "m" , "n":-1.5e3,"t":true,"z":null }
        """
        #expect(patch(text) == expected)
    }

    @Test func aValueOfAnyKindAnywhereIsReplaced() {
        let values = ["\"old\"", "\"with \\\" and \\\\ and \\u00e9\"", "12", "-0.5E+2", "true", "false", "null",
                      "{}", "[]", "{\"a\":[{\"b\":\"}\"}]}", "[1,\"]\",[2]]"]
        for value in values {
            #expect(patch(#"{"model":\#(value)}"#, value: "new/model \"q\"") == #"{"model":"new/model \"q\""}"#)
            #expect(patch(#"{"a":1,"model":\#(value),"b":[2]}"#) == #"{"a":1,"model":"m","b":[2]}"#)
            #expect(patch(#"{"a":{"model":0},"model":\#(value)}"#) == #"{"a":{"model":0},"model":"m"}"#)
        }
    }

    @Test func refusesWhenTheMemberIsNotCertain() {
        #expect(patch(#"{"id":"x"}"#) == nil)                       // missing
        #expect(patch(#"{}"#) == nil)
        #expect(patch(#"{"model":"a","model":"b"}"#) == nil)        // duplicated: which one counts?
        #expect(patch(#"{"mod\u0065l":"a"}"#) == nil)               // escaped key
        #expect(patch(#"{"x\n":"a","model":"b"}"#) == nil)          // any escaped key
        #expect(patch(#"["model","a"]"#) == nil)                    // not an object
        #expect(patch(#""model""#) == nil)
        #expect(patch(#"{"a":{"model":"inner"}}"#) == nil)          // only nested
    }

    @Test func anEmptyKeyIsAKeyLikeAnyOther() {
        #expect(patch(#"{"":1,"model":2}"#, key: "") == #"{"":"m","model":2}"#)
        #expect(patch(#"{"model":2}"#, key: "") == nil)
    }

    /// Differential: on random objects written with random spacing, patching the text and parsing it
    /// gives what parsing it and setting the member gives.
    @Test func agreesWithParsingAndSetting() throws {
        var rng = SplitMix64(seed: 0x5eed)
        for _ in 0..<500 {
            var pairs: [JSONObject.Element] = []
            for i in 0..<Int(rng.next() % 6) { pairs.append((key: "k\(i)", value: randomValue(&rng, depth: 0))) }
            pairs.insert((key: "model", value: randomValue(&rng, depth: 0)), at: Int(rng.next() % UInt64(pairs.count + 1)))
            let text = spaced(JSONWriter.serialize(.object(JSONObject(pairs))), &rng)
            var expected = try #require(try JSONParser.parse(text).objectValue)
            expected["model"] = "route/name"
            let patched = try #require(JSONTopLevelPatch.replacingString("model", with: "route/name", in: text))
            #expect(try JSONParser.parse(patched).objectValue == expected)
        }
    }

    private func randomValue(_ rng: inout SplitMix64, depth: Int) -> JSON {
        switch rng.next() % (depth > 2 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(rng.next() % 2 == 0)
        case 2: return .number(["0", "-1", "3.25", "1e9", "12345678901234567890"][Int(rng.next() % 5)])
        case 3, 4: return .string(["", "plain", "q\"uote", "back\\slash", "tab\tnl\n", "é世界", "}]{[,:"][Int(rng.next() % 7)])
        case 5: return .array((0..<Int(rng.next() % 4)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            return .object(JSONObject((0..<Int(rng.next() % 4)).map {
                (key: ["model", "a", "b\"", "c"][$0], value: randomValue(&rng, depth: depth + 1))
            }))
        }
    }

    /// Whitespace after structural bytes outside strings.
    private func spaced(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var out: [UInt8] = []
        var inString = false, escaped = false
        for b in bytes {
            out.append(b)
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            if b == UInt8(ascii: "\"") { inString = true; continue }
            if [UInt8(ascii: "{"), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "[")].contains(b), rng.next() % 2 == 0 {
                out.append(contentsOf: [[0x20], [0x0A, 0x20, 0x20], [0x09], [0x0D, 0x0A]][Int(rng.next() % 4)])
            }
        }
        return out
    }
}
