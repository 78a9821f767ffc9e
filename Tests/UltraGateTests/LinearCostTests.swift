import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// Steps on the request and response paths that were superlinear in their input (a repeated step
/// with a linear one inside), each now linear: measured against a baseline of the same size with a
/// generous ratio, or by what it produces. The quadratic versions' ratios were in the hundreds.
@Suite struct LinearCostTests {
    // MARK: Streamed answers folded for the cache

    static func logprobsChunk(_ i: Int) -> JSONObject {
        ["choices": [["index": 0, "delta": ["content": .string("w\(i) ")],
                      "logprobs": ["content": [["token": .string("w\(i)"), "logprob": -0.5]]]]]]
    }

    /// Each chunk's logprobs entries were added as `(list ?? []) + items`, copying the whole list
    /// every chunk.
    @Test func logprobsOfALongStreamFoldInLinearTime() async throws {
        let (count, ratio) = try await RelativeCost.offPool { () -> (Int?, Double) in
            let chunks = (0..<20_000).map(Self.logprobsChunk)
            let plain = (0..<20_000).map { i -> JSONObject in ["choices": [["index": 0, "delta": ["content": .string("w\(i) ")]]]] }
            var folded = ChatStreamAssembler()
            for chunk in chunks { folded.add(chunk) }
            let message = folded.completion()["choices"]?.arrayValue?.first
            let ratio = RelativeCost.ratio({
                var a = ChatStreamAssembler()
                for chunk in chunks { a.add(chunk) }
            }, to: {
                var a = ChatStreamAssembler()
                for chunk in plain { a.add(chunk) }
            })
            return (message?["logprobs"]?["content"]?.arrayValue?.count, ratio)
        }
        #expect(count == 20_000)
        #expect(ratio < 20, "with logprobs: \(ratio)× the stream without")
    }

    /// Non-standard delta fields were kept in a `JSONObject` set per chunk: a stream naming
    /// 10k different fields scanned all those before at each.
    @Test func manyDifferentExtraFieldsFoldInLinearTime() {
        var folded = ChatStreamAssembler()
        for i in 0..<3 { folded.add(["choices": [["index": 0, "delta": ["x\(i)": "v"]]]]) }
        folded.add(["choices": [["index": 0, "delta": ["x1": .null, "x2": "w", "x3": .null]]]])
        folded.add(["choices": [["index": 0, "delta": ["x3": 5]]]])
        let message = folded.completion()["choices"]?.arrayValue?.first?["message"]?.objectValue
        #expect(message?.keys.filter { $0.hasPrefix("x") } == ["x0", "x1", "x2", "x3"])
        #expect(message?["x1"] == "v" && message?["x2"] == "vw" && message?["x3"] == 5)
    }

    @Test func manyDifferentExtraFieldsCostWhatOneFieldDoes() async throws {
        let ratio = try await RelativeCost.offPool { () -> Double in
            let distinct = (0..<10_000).map { i -> JSONObject in ["choices": [["index": 0, "delta": ["x\(i)": "v"]]]] }
            let same = (0..<10_000).map { _ -> JSONObject in ["choices": [["index": 0, "delta": ["reasoning_content": "v"]]]] }
            return RelativeCost.ratio({
                var a = ChatStreamAssembler()
                for chunk in distinct { a.add(chunk) }
            }, to: {
                var a = ChatStreamAssembler()
                for chunk in same { a.add(chunk) }
            })
        }
        #expect(ratio < 20, "distinct fields: \(ratio)× one field")
    }

    // MARK: Merging objects

    @Test func updateSetsEachMemberAsTheSetterWould() {
        var object = JSONObject([(key: "a", value: 1), (key: "b", value: 2), (key: "a", value: 3), (key: "c", value: 4)])
        object.update(with: ["c": 40, "a": 10, "d": .null, "e": 5]) { !$0.isNull }
        #expect(JSON.object(object).serializedString == #"{"a":10,"b":2,"c":40,"e":5}"#)
        var bySetter = JSONObject([(key: "a", value: 1), (key: "b", value: 2), (key: "a", value: 3), (key: "c", value: 4)])
        let extra: JSONObject = ["c": 40, "a": 10, "e": 5]
        for (key, value) in extra { bySetter[key] = value }
        #expect(object == bySetter)
    }

    /// Anthropic's cumulative `usage` is merged field by field; one setter per field scanned all
    /// fields before it.
    @Test func aLargeUsageObjectMergesInLinearTime() async throws {
        let (same, ratio) = try await RelativeCost.offPool { () -> (Bool, Double) in
            let fields = JSONObject((0..<50_000).map { (key: "f\($0)", value: JSON.int($0)) })
            var merged = JSONObject()
            merged.update(with: fields)
            let ratio = RelativeCost.ratio({
                var target = JSONObject()
                target.update(with: fields)
            }, to: {
                var copy = JSONObject()
                for (key, value) in fields { copy.append(key, value) }
                _ = Set(copy.keys)  // a hash of every key, as the merge takes
            })
            return (merged == fields, ratio)
        }
        #expect(same)
        #expect(ratio < 15, "merging: \(ratio)× copying")
    }

    /// Anthropic's `message_delta` usage went through one setter per field; the baseline event
    /// has the same fields outside `usage`, so it parses alike but merges nothing.
    @Test func anthropicUsageWithManyFieldsMergesInLinearTime() async throws {
        let (usage, ratio) = try await RelativeCost.offPool { () -> (JSON?, Double) in
            let fields = (0..<25_000).map { #""u\#($0)":1"# }.joined(separator: ",")
            let start = SSEEvent(event: "message_start", data: #"{"type":"message_start","message":{"id":"m","model":"m","usage":{"input_tokens":3}}}"#)
            let large = SSEEvent(event: "message_delta", data: #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{\#(fields),"output_tokens":2}}"#)
            let small = SSEEvent(event: "message_delta", data: #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"x":{\#(fields)},"usage":{"output_tokens":2}}"#)
            func translate(_ delta: SSEEvent) throws -> JSONObject? {
                var translator = AnthropicStreamTranslator(provider: "a", model: "m", redactor: SecretRedactor())
                for event in [start, delta, SSEEvent(event: "message_stop", data: #"{"type":"message_stop"}"#)] {
                    _ = try translator.translate(event)
                }
                return try translator.finish().last
            }
            let usage = try translate(large)?["usage"]
            return (usage, RelativeCost.ratio({ _ = try? translate(large) }, to: { _ = try? translate(small) }))
        }
        #expect(usage?["prompt_tokens"] == 3 && usage?["completion_tokens"] == 2)
        #expect(ratio < 30, "usage of 25k fields: \(ratio)× the same fields elsewhere")
    }

    // MARK: Ensemble text handling

    /// `removeFirst` one character at a time over leading punctuation moved the rest each time.
    @Test func voteNormalizationIsLinear() async throws {
        #expect(VoteNormalizer.normalize("...**Paris**!") == "paris")
        #expect(VoteNormalizer.normalize("?!.").isEmpty)
        // The trim alone: in a debug build the rest of `normalize` is slow enough to hide it.
        let (trimmed, ratio) = try await RelativeCost.offPool { () -> (String, Double) in
            let dots = String(repeating: ".", count: 200_000)
            let leading = dots + "x", trailing = "x" + dots
            return (VoteNormalizer.trimmingPunctuation(leading),
                    RelativeCost.ratio({ _ = VoteNormalizer.trimmingPunctuation(leading) },
                                       to: { _ = VoteNormalizer.trimmingPunctuation(trailing) }))
        }
        #expect(trimmed == "x")
        #expect(ratio < 5, "leading punctuation: \(ratio)× trailing")
    }

    /// Foundation's `range(of:)` on a substring copied the rest of the text for every label found.
    @Test func findingManyLabelsIsLinear() async throws {
        let (found, ratio) = try await RelativeCost.offPool { () -> (Int, Double) in
            let few = String(repeating: "Response A and ", count: 5_000)
            let many = String(repeating: "Response A and ", count: 40_000)
            return (RankingParser.labels(in: Substring(few)).count,
                    RelativeCost.ratio({ _ = RankingParser.labels(in: Substring(many)) },
                                       to: { _ = RankingParser.labels(in: Substring(few)) }))
        }
        #expect(found == 5_000)
        #expect(ratio < 20, "8× the labels: \(ratio)× the time")
    }

    /// Placeholders in what is filled in stay as written: an answer repeating `{rankings}` made
    /// the prompt hold every review once per repeat (answers × reviews in size).
    @Test func textFilledIntoAPromptIsNotFilledAgain() throws {
        let prompts = try EnsemblePrompts(overrides: ["critique_synthesize": "A: {answers} R: {rankings} {count} {unknown} {labels}"])
        let answers = String(repeating: "{rankings}{answers}", count: 1000)
        let rendered = prompts.render("critique_synthesize", answers: answers, count: 2, labels: "L", rankings: "RANKINGS")
        #expect(rendered == "A: \(answers) R: RANKINGS 2 {unknown} L")
        #expect(prompts.render("critique_synthesize", answers: "", count: 0) == "A:  R:  0 {unknown} ")
    }

    // MARK: Errors from upstream

    /// Trailing punctuation was peeled off one character at a time, each prepended to a new string
    /// (and stepping back over a `Substring`'s characters was itself quadratic): measured against
    /// a word as long without punctuation, 30k dots cost ~2700×, now a few times.
    @Test func redactingAWordWithLongTrailingPunctuationIsLinear() async throws {
        let redactor = SecretRedactor(secrets: ["sk-proj-ABCDEFGH1234567890wxyz"])
        #expect(redactor.redact("key sk-proj-****wxyz...") == "key [redacted]...")
        let (redacted, ratio) = try await RelativeCost.offPool { () -> (Bool, Double) in
            let punctuated = "key sk-proj-****wxyz" + String(repeating: ".", count: 20_000)
            let plain = "key sk-proj-****wxyz" + String(repeating: "x", count: 20_000)
            return (redactor.redact(punctuated) == "key [redacted]" + String(repeating: ".", count: 20_000),
                    RelativeCost.ratio(runs: 5, { _ = redactor.redact(punctuated) },
                                       to: { _ = redactor.redact(plain) }))
        }
        #expect(redacted)
        #expect(ratio < 40, "trailing punctuation: \(ratio)× a plain word")
    }

    // MARK: The mock provider's made-up values

    /// Properties that each `$ref` their own definition made width^4 values within the depth
    /// limit (24 properties: 330k values from 900 bytes of schema; 64: 16M). The work and the
    /// answer are now bounded by the schema's size.
    @Test func selfReferencingSchemasMakeABoundedAnswer() throws {
        let width = 24
        let properties = (0..<width).map { ##""p\##($0)":{"$ref":"#/$defs/X"}"## }.joined(separator: ",")
        let schema = try JSONParser.parse(##"{"$defs":{"X":{"type":"object","properties":{\##(properties)}}},"$ref":"#/$defs/X"}"##)
        var rng = MockText.Generator(seed: 1)
        let value = MockText.value(for: schema, root: schema, &rng)
        #expect(value.objectValue?.count == width)
        // The budget (about 101k here), and the null properties of the objects under way when it
        // ran out; without it, 1.2M.
        #expect(MockText.workBudget(schema) < 102_000)
        #expect(MockText.weight(value) <= 110_000)
        // An ordinary schema still gets a complete answer.
        let plain = try JSONParser.parse(#"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"array","items":{"enum":["x","y"]}}}}"#)
        let answer = MockText.value(for: plain, root: plain, &rng)
        #expect(answer["a"]?.intValue != nil && answer["b"]?.arrayValue?.count == 1)
    }
}
