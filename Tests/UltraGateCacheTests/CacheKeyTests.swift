import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench

@Suite struct CacheKeyTests {
    static let baseText = """
        {"model": "gpt-4o", "messages": [{"role": "system", "content": "Be brief."},
         {"role": "user", "content": "Hello \\"world\\"\\n"}], "temperature": 0.7, "max_tokens": 100,
         "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}
        """

    static func object(_ text: String) -> JSONObject {
        (try? JSONParser.parse(text))?.objectValue ?? JSONObject()
    }

    static func key(_ text: String, namespace: String = "team-a", route: String = "openai/gpt-4o", variant: String? = nil) -> CacheKey {
        CacheKey.make(namespace: namespace, route: route, request: object(text), variant: variant)
    }

    static func key(_ request: JSONObject, namespace: String = "team-a", route: String = "openai/gpt-4o", variant: String? = nil) -> CacheKey {
        CacheKey.make(namespace: namespace, route: route, request: request, variant: variant)
    }

    @Test func keyIs32BytesWith64HexDigits() {
        let k = Self.key(Self.baseText)
        #expect(k.bytes.count == 32)
        #expect(k.hex.count == 64)
        #expect(k.hex == SHA256.hex(k.bytes))
        #expect(Self.key(Self.baseText) == k)
    }

    @Test func keyOrderWhitespaceAndNumberSpellingDoNotMatter() {
        let base = Self.key(Self.baseText)
        let reordered = """
            {"tools":[{"function":{"parameters":{"type":"object"},"name":"f"},"type":"function"}],
            "max_tokens":100.0,"temperature":7e-1,
            "messages":[{"content":"Hello \\"world\\"\\n","role":"system"}],"model":"gpt-4o"}
            """
        // Same request but the system message lost: must differ (guards against a vacuous match).
        #expect(Self.key(reordered) != base)
        let equivalent = """
               {  "max_tokens" : 1.00e2 , "temperature":0.70,"tools":[{"function":{"parameters":{"type":"object"},
            "name":"f"},"type":"function"}], "messages":[ {"content":"Be brief.","role":"system"},
            {"content":"Hello \\u0022world\\u0022\\u000a", "role":"user"}],"model":"gpt-4o"}
            """
        #expect(Self.key(equivalent) == base)
    }

    @Test func ignoredFieldsDoNotChangeTheKey() {
        let base = Self.key(Self.baseText)
        let extras: [(String, JSON)] = [
            ("model", "gpt-4o-mini"), ("stream", true), ("stream_options", ["include_usage": true]),
            ("user", "u-123"), ("metadata", ["trace": "x"]), ("store", false),
            ("safety_identifier", "s-1"), ("prompt_cache_key", "pk"), ("service_tier", "flex"),
        ]
        for (name, value) in extras {
            var request = Self.object(Self.baseText)
            request[name] = value
            #expect(Self.key(request) == base, "\(name) changed the key")
        }
    }

    @Test func contentChangesTheKey() {
        let base = Self.key(Self.baseText)
        let changes: [(String, JSON)] = [
            ("messages", [["role": "user", "content": "Hello"]]),
            ("temperature", 0.8),
            ("tools", []),
            ("seed", 42),
            ("n", 2),
            ("response_format", ["type": "json_object"]),
            ("x_unknown_field", "anything"),
        ]
        var seen: Set<CacheKey> = [base]
        for (name, value) in changes {
            var request = Self.object(Self.baseText)
            request[name] = value
            let k = Self.key(request)
            #expect(k != base, "\(name) did not change the key")
            seen.insert(k)
        }
        #expect(seen.count == changes.count + 1)
        // Ignored names only count at the top level: nested, they are content.
        var nested = Self.object(Self.baseText)
        nested["messages"] = [["role": "user", "content": "Hello", "user": "x"]]
        var plain = Self.object(Self.baseText)
        plain["messages"] = [["role": "user", "content": "Hello"]]
        #expect(Self.key(nested) != Self.key(plain))
    }

    @Test func namespaceRouteAndVariantChangeTheKey() {
        let base = Self.key(Self.baseText)
        let others = [
            Self.key(Self.baseText, namespace: "team-b"),
            Self.key(Self.baseText, route: "anthropic/claude"),
            Self.key(Self.baseText, variant: "sample-1"),
            Self.key(Self.baseText, variant: "sample-2"),
            Self.key(Self.baseText, variant: ""),
        ]
        #expect(Set(others + [base]).count == others.count + 1)
        // Length prefixes keep field boundaries: moving a character between fields changes the key.
        #expect(Self.key(Self.baseText, namespace: "ab", route: "c") != Self.key(Self.baseText, namespace: "a", route: "bc"))
    }

    @Test func duplicateKeysKeepTheLastValue() {
        #expect(Self.key(#"{"messages":[],"temperature":1,"temperature":0.5}"#)
            == Self.key(#"{"messages":[],"temperature":0.5}"#))
    }

    /// The specialised writer must produce exactly what the reference canonical `JSONWriter` does.
    @Test func canonicalWriterMatchesJSONWriter() throws {
        let documents = [
            Self.baseText,
            #"{"b":1,"a":[{"z":null,"y":false,"x":true}],"a":"dup","é":"x","e":1.5e3,"n":-0,"big":12345678901234567890}"#,
            #"{}"#, #"[]"#, #"{"k":[[],{},[{}]],"s":"\u0001\t\\/"}"#,
        ]
        for text in documents {
            let value = try JSONParser.parse(text)
            var fast = CanonicalJSONWriter()
            fast.write(value)
            #expect(fast.bytes == JSONWriter.serialize(value, canonical: true), "\(text)")
        }
    }
}
