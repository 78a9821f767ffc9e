import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateBench

/// `ultragate bench --embeddings N [--fresh K]`: requests to `/v1/embeddings` whose K fresh items
/// differ in every request and whose others repeat.
@Suite struct BenchEmbeddingsTests {
    @Test func embeddingsRequestsHaveFreshAndRepeatingItems() throws {
        let o = try BenchOptions.parse(["--url", "http://h:1/v1", "--model", "emb", "--embeddings", "5", "--fresh", "2",
                                        "--encoding-format", "float"], environment: [:])
        #expect(o.target.path == "/v1/embeddings" && o.embeddingItems == 5 && o.freshItems == 2)
        let p = try PromptSource(lines: nil, options: o, runID: "r")
        let first = try JSONParser.parse(p.body(0)), second = try JSONParser.parse(p.body(1))
        #expect(first["model"] == "emb" && first["encoding_format"] == "float" && first["messages"] == nil)
        let a = try #require(first["input"]?.arrayValue), b = try #require(second["input"]?.arrayValue)
        #expect(a.count == 5 && Set(a).count == 5)
        #expect(Array(a[..<3]) == Array(b[..<3]), "the first three repeat")
        #expect(a[3] != b[3] && a[4] != b[4], "the last two are new in every request")
        #expect(a[4].stringValue?.contains("r-0") == true && b[4].stringValue?.contains("r-1") == true)
        var request: [UInt8] = []
        p.request(1, into: &request)
        let text = String(decoding: request, as: UTF8.self)
        #expect(text.hasPrefix("POST /v1/embeddings HTTP/1.1\r\n") && text.contains("Content-Length: \(p.body(1).count)\r\n\r\n"))

        let hit = try BenchOptions.parse(["--url", "http://h:1/v1/embeddings", "--embeddings", "3"], environment: [:])
        let source = try PromptSource(lines: nil, options: hit, runID: "r")
        #expect(hit.target.path == "/v1/embeddings" && source.body(0) == source.body(7), "hit mode: no fresh items")
        let miss = try BenchOptions.parse(["--url", "http://h:1/v1", "--embeddings", "3", "--mode", "miss"], environment: [:])
        let all = try JSONParser.parse(try PromptSource(lines: nil, options: miss, runID: "r").body(0))["input"]?.arrayValue
        #expect(all?.allSatisfy { $0.stringValue?.contains("r-0") == true } == true, "miss mode: every item fresh")
    }

    @Test func refusesEmbeddingsOptionsThatDoNotFit() {
        for args in [["--embeddings", "0"], ["--embeddings", "4", "--fresh", "5"], ["--fresh", "1"], ["--embeddings", "2", "--stream"],
                     ["--embeddings", "2", "--encoding-format", "int8"], ["--embeddings", "3000"]] {
            #expect(throws: UsageError.self, "\(args)") { try BenchOptions.parse(["--url", "http://h/v1"] + args, environment: [:]) }
        }
    }
}
