import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

@Suite struct MockProviderTests {
    /// A strict-mode schema as the SDK's pydantic helpers send it: `$defs`/`$ref`, a nullable
    /// union, a literal, a list, and a recursive model.
    static let schema = ##"""
    {"type":"object","$defs":{"Step":{"type":"object","properties":{"output":{"type":"string"}},"required":["output"]},
      "Tree":{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#/$defs/Tree"}}}}},
     "properties":{"steps":{"type":"array","items":{"$ref":"#/$defs/Step"}},"check":{"$ref":"#/$defs/Step"},
      "note":{"anyOf":[{"type":"null"},{"type":"string"}]},"score":{"type":["number","null"]},
      "kind":{"const":"exact"},"tree":{"$ref":"#/$defs/Tree"}},
     "required":["steps","check","note","score","kind","tree"],"additionalProperties":false}
    """##

    @Test func jsonSchemaAnswerIsAValueOfTheSchema() throws {
        let format: JSON = ["type": "json_schema", "json_schema": ["name": "s", "schema": try JSONParser.parse(Self.schema)]]
        let text = MockProvider.answerText(format, seed: 42)
        #expect(MockProvider.answerText(format, seed: 42) == text)  // deterministic
        let answer = try #require(try JSONParser.parse(text).objectValue)
        #expect(answer["steps"]?.arrayValue?.first?["output"]?.stringValue != nil)
        #expect(answer["check"]?["output"]?.stringValue != nil)
        #expect(answer["note"]?.stringValue != nil)
        #expect(answer["score"]?.doubleValue != nil)
        #expect(answer["kind"] == "exact")
        // The recursive model ends after `maxDepth` levels instead of recursing forever.
        var depth = 0
        var node = answer["tree"]
        while let child = node?["children"]?.arrayValue?.first { depth += 1; node = child }
        #expect(depth > 0 && depth < MockText.maxDepth)
    }

    @Test func jsonObjectAnswerIsAnObjectAndProseOtherwise() throws {
        let object = try JSONParser.parse(MockProvider.answerText(["type": "json_object"], seed: 7))
        #expect(object["answer"]?.stringValue?.isEmpty == false)
        #expect((try? JSONParser.parse(MockProvider.answerText(["type": "text"], seed: 7))) == nil)
        #expect(MockProvider.answerText(nil, seed: 7) == MockText.paragraph(seed: 7))
    }
}
