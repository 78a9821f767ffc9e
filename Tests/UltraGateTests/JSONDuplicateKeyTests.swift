import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// A key repeated in one object is refused wherever JSON is read (request bodies, config files,
/// upstream answers): the body is forwarded as sent, and an upstream keeping the first value would
/// answer another request than the one validated and cached under the last.
@Suite struct JSONDuplicateKeyTests {
    func duplicate(_ text: String) -> JSONParseError? {
        do {
            _ = try JSONParser.parse(text)
            return nil
        } catch {
            return error.reason == .duplicateKey ? error : nil
        }
    }

    @Test func aRepeatedKeyIsRefusedNamingItAndWhereItIs() throws {
        let top = try #require(duplicate(#"{"model":"a","model":"b"}"#))
        #expect(top.key == "model")
        #expect(top.path == "model")
        #expect(top.offset == 13)
        #expect(top.description.contains("duplicate key `model`"))

        let deep = try #require(duplicate(#"{"a":{"b":[{"c":1},{"c":1,"d":{},"c":2}]}}"#))
        #expect(deep.key == "c")
        #expect(deep.path == "a.b[1].c")
        #expect(deep.description.contains("duplicate key `c` at 'a.b[1].c'"))

        #expect(duplicate(#"[{"x":1,"x":2}]"#)?.path == "[0].x")
        #expect(duplicate(#"{"a":[[{"k":1}],[{"k":1,"k":2}]]}"#)?.path == "a[1][0].k")
        #expect(duplicate(#"{"":1,"":2}"#)?.key == "")
        // Found again from the start past strings holding brackets, escaped keys, spacing and
        // empty containers.
        let spaced = #" { "x" : "a}]\"{[" , "e" : {} , "l" : [ 1 , { "s\u0041" : [ ] } , [] , { "k" : 1 , "k\u0041" : 2 , "k" : 3 } ] } "#
        #expect(duplicate(spaced)?.path == "l[3].k")
        #expect(duplicate(#"{"a":{"b\n":{"c":1,"c":2}}}"#)?.path == "a.b\n.c")
        // The same key in different objects, or as a value, is no duplicate.
        #expect(throws: Never.self) { try JSONParser.parse(#"{"a":{"a":"a"},"b":[{"a":1},{"a":2}],"c":"a"}"#) }
    }

    /// Keys compare after unescaping, by their bytes: `\u0061` is `a`, but `é` and `e` with a
    /// combining accent are two keys (as for the canonical writer and for upstream parsers).
    @Test func keysCompareByTheirUnescapedBytes() throws {
        #expect(duplicate(#"{"a":1,"\u0061":2}"#)?.key == "a")
        #expect(duplicate(#"{"\ud83d\ude00":1,"😀":2}"#)?.key == "😀")
        let distinct = try JSONParser.parse(#"{"é":1,"e\u0301":2}"#)
        #expect(distinct.objectValue?.count == 2)
        // The same in an object large enough for the hash set.
        let filler = (0..<40).map { #""f\#($0)":0"# }.joined(separator: ",")
        #expect(try JSONParser.parse(#"{\#(filler),"é":1,"e\u0301":2}"#).objectValue?.count == 42)
        #expect(duplicate(#"{\#(filler),"a":1,"\u0061":2}"#)?.key == "a")
    }

    /// Small objects compare each key with the earlier ones, large ones use a hash set: both find
    /// a repeat wherever it is, across the boundary too.
    @Test func repeatsAreFoundInObjectsOfAnySize() throws {
        for size in [2, 15, 16, 17, 18, 40, 1000] {
            let keys = (0..<size).map { "key\($0)" }
            let members = keys.map { #""\#($0)":1"# }
            #expect(throws: Never.self) { try JSONParser.parse("{" + members.joined(separator: ",") + "}") }
            for (early, late) in [(0, size - 1), (size - 2, size - 1), (0, 1), (size / 2, size - 1)] where early < late {
                var repeated = members
                repeated[late] = #""\#(keys[early])":2"#
                let error = duplicate("{" + repeated.joined(separator: ",") + "}")
                #expect(error?.key == keys[early], "size \(size): key \(early) repeated at \(late)")
            }
        }
    }

    /// Detection is a hash set past a few members, so an object of 100k keys costs what parsing
    /// the same 100k strings as an array does, within a generous factor (a scan of the earlier
    /// keys at every member would be 5 billion comparisons).
    @Test func detectionStaysLinearInTheObjectsSize() async throws {
        let (parsed, ratio) = try await RelativeCost.offPool { () -> (Int?, Double) in
            let count = 100_000
            let keys = (0..<count).map { #""k\#(count - $0)""# }
            let object = Array(("{" + keys.map { $0 + ":0" }.joined(separator: ",") + "}").utf8)
            let array = Array(("[" + keys.map { $0 + ",0" }.joined(separator: ",") + "]").utf8)
            return ((try? JSONParser.parse(object))?.objectValue?.count,
                    RelativeCost.ratio(runs: 2, { _ = try? JSONParser.parse(object) }, to: { _ = try? JSONParser.parse(array) }))
        }
        #expect(parsed == 100_000)
        #expect(ratio < 30, "an object of 100k keys cost \(ratio)× the array of its strings")
    }

    /// A config file with a repeated setting is refused, naming it, rather than one of the two
    /// values silently winning.
    @Test func aConfigFileWithARepeatedKeyIsRefused() throws {
        let path = NSTemporaryDirectory() + "ultragate-dup-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"{"server":{"port":8080,"port":9090}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try ConfigLoader(environment: [:]).load(path: path)
            Issue.record("a config with a repeated key was accepted")
        } catch let error as ConfigError {
            #expect(error.message.contains("duplicate key `port` at 'server.port'"), "\(error.message)")
        }
    }

    /// Through the gateway: a 400 in OpenAI's shape naming the key, `param` its path, and nothing
    /// goes upstream.
    @Test func aRequestBodyWithARepeatedKeyIsA400NamingIt() throws {
        let transport = ScriptedTransport(.body(#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#))
        let provider = OpenAICompatibleProvider(name: "up", baseURL: "http://upstream.invalid/v1", apiKey: "sk-1",
                                                transport: transport)
        let route = ModelRoute(name: "gpt-x", providerName: "up", provider: provider, upstreamModel: "gpt-4o",
                               fallbacks: [], retry: RetrySettings())
        let h = try GatewayHarness(routes: [route])
        let bodies = [
            (#"{"model":"gpt-x","messages":[{"role":"user","content":"hi"}],"temperature":0,"temperature":2}"#, "temperature", "temperature"),
            (#"{"model":"gpt-x","messages":[{"role":"user","content":"hi","content":"bye"}]}"#, "content", "messages[0].content"),
            (#"{"model":"gpt-x","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","type":"string"}}}]}"#,
             "type", "tools[0].function.parameters.type"),
        ]
        for (body, key, param) in bodies {
            let c = try h.client()
            c.post("/v1/chat/completions", json: body)
            let response = try c.readResponse()
            #expect(response.status == 400)
            let error = response.json?["error"]
            #expect(error?["type"] == "invalid_request_error")
            #expect(error?["code"] == "invalid_json")
            #expect(error?["param"] == .string(param))
            #expect(error?["message"]?.stringValue?.contains("duplicate key `\(key)`") == true, "\(response.text)")
        }
        #expect(transport.requests.isEmpty)
        // The same body without the repeat is answered.
        #expect(try h.chat("gpt-x", "hi").status == 200)
    }
}
