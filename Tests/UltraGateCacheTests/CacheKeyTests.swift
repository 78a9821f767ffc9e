import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateCache

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

    /// The parser refuses duplicate keys; objects built in code may still have them, and the key
    /// keeps the last value, in small objects and in those past the insertion-sort size alike.
    @Test func duplicateKeysKeepTheLastValue() {
        let duplicated = JSONObject([(key: "messages", value: []), (key: "temperature", value: 1), (key: "temperature", value: 0.5)])
        #expect(Self.key(duplicated) == Self.key(#"{"messages":[],"temperature":0.5}"#))
        var large = JSONObject()
        var clean = JSONObject()
        for i in (0..<100).reversed() {
            large.append("k\(i % 40)", .int(i))
            large.append("k\(i % 40)", .int(-i))
        }
        for (key, value) in large { clean[key] = value }  // the setter keeps one value: the last
        #expect(clean.count == 40)
        #expect(Self.key(large) == Self.key(clean))
    }

    /// The specialised writer must produce exactly what the reference canonical `JSONWriter` does.
    @Test func canonicalWriterMatchesJSONWriter() throws {
        let documents = [
            Self.baseText,
            #"{"b":1,"a":[{"z":null,"y":false,"x":true}],"é":"x","e":1.5e3,"n":-0,"big":12345678901234567890}"#,
            #"{}"#, #"[]"#, #"{"k":[[],{},[{}]],"s":"\u0001\t\\/"}"#,
        ]
        var values = try documents.map { try JSONParser.parse($0) }
        // Built in code: duplicate keys (refused by the parser), and objects past the insertion
        // sort's size whose keys share prefixes, differ in length, repeat and are not ASCII.
        values.append(.object(JSONObject([(key: "b", value: 1), (key: "a", value: [1]), (key: "a", value: "dup")])))
        var generator = SplitMix64(seed: 7)
        for size in [17, 33, 100, 1000] {
            var object = JSONObject()
            for _ in 0..<size {
                let n = Int(generator.next() % UInt64(size))
                let key = ["k\(n)", "k\(n)x", "é\(n)", "\(n)", "kk\(n % 7)"][Int(generator.next() % 5)]
                object.append(key, .int(Int(generator.next() % 1000)))
            }
            values.append(.object(object))
        }
        for value in values {
            var fast = CanonicalJSONWriter()
            fast.write(value)
            #expect(fast.bytes == JSONWriter.serialize(value, canonical: true), "\(value.serializedString)")
        }
    }
}
