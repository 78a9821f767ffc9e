import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

/// Vectors follow WHATWG HTML §9.2.6 "Interpreting an event stream" and its examples.
@Suite struct SSEParserTests {
    func parse(_ bytes: [UInt8], split sizes: [Int] = []) -> [SSEEvent] {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for piece in ScriptedTransport.split(bytes, sizes: sizes) { events += parser.feed(piece) }
        return events + parser.finish()
    }

    func parse(_ text: String, split sizes: [Int] = []) -> [SSEEvent] { parse(Array(text.utf8), split: sizes) }

    @Test func specExampleWithMultiLineDataAndComment() {
        // The spec's example: a comment, then a two-line data field, then an event with id.
        let text = ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
        let events = parse(text)
        #expect(events == [
            SSEEvent(data: "first event", id: "1"),
            SSEEvent(data: "second event", id: ""),
            SSEEvent(data: " third event", id: ""),
        ])
    }

    @Test func dataLinesJoinWithNewlineAndEmptyDataFieldDispatches() {
        let events = parse("data: YHOO\ndata: +2\ndata: 10\n\ndata\n\ndata\ndata\n\ndata:\n")
        #expect(events.map(\.data) == ["YHOO\n+2\n10", "", "\n", ""])
    }

    @Test func eventTypeResetsAfterDispatchAndDefaultsToMessage() {
        let events = parse("event: add\ndata: 73857293\n\ndata: plain\n\nevent: x\n\ndata: after\n\n")
        #expect(events.map(\.event) == ["add", "message", "message"])
        #expect(events.map(\.data) == ["73857293", "plain", "after"])
    }

    @Test(arguments: ["\r\n", "\r", "\n"])
    func everyLineEndingWorks(_ eol: String) {
        let text = "event: a\(eol)data: 1\(eol)\(eol)data: 2\(eol)\(eol)"
        for sizes in awkwardSplits {
            #expect(parse(text, split: sizes) == [SSEEvent(event: "a", data: "1"), SSEEvent(data: "2")])
        }
    }

    /// Random streams with long and short lines and all three line endings give the same events
    /// fed whole (the eight-bytes-at-a-time line scan) as fed one byte at a time (its byte loop).
    @Test func wholeAndBytewiseFeedsAgree() {
        var rng = SplitMix64(seed: 3)
        let pieces = ["data: ", "event: e", "id: 7", ": note", "x", "0123456789abcdef", "{\"a\":1}", "é", "\r\n", "\r", "\n", "\n\n", "\r\n\r\n"]
        for _ in 0..<400 {
            let text = (0..<Int(rng.next() % 30)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            let bytes = Array(text.utf8)
            #expect(parse(bytes) == parse(bytes, split: Array(repeating: 1, count: bytes.count)), "\(text.debugDescription)")
        }
    }

    @Test func crlfSplitAcrossFeedsIsOneLineEnd() {
        var parser = SSEParser()
        var events = parser.feed(Array("data: x\r".utf8))
        events += parser.feed(Array("\n".utf8))  // must not count as a blank line
        #expect(events.isEmpty)
        events += parser.feed(Array("\r\n".utf8))
        #expect(events == [SSEEvent(data: "x")])
    }

    @Test func leadingBOMIsDroppedEvenWhenSplit() {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("data: hi\n\n".utf8)
        for sizes in awkwardSplits { #expect(parse(bytes, split: sizes) == [SSEEvent(data: "hi")]) }
        // Only at the start: a later BOM is data; a partial BOM prefix is content.
        #expect(parse(Array("data: a\n\n".utf8) + [0xEF, 0xBB, 0xBF] + Array("data: b\n\n".utf8)).map(\.data) == ["a"])
        #expect(parse([0xEF, 0xBB] + Array("\ndata: c\n\n".utf8)).map(\.data) == ["c"])
    }

    @Test func utf8SplitInsideASequenceDecodes() {
        let text = "data: héllo 日本語 😀\n\n"
        for sizes in [[1], [2], [3], [5, 1]] { #expect(parse(text, split: sizes).map(\.data) == ["héllo 日本語 😀"]) }
    }

    @Test func idAndRetryRules() {
        var parser = SSEParser()
        var events = parser.feed(Array("retry: 1500\nid: 7\ndata: a\n\nretry: 12x\nid: b\u{0}c\ndata: b\n\n".utf8))
        events += parser.finish()
        #expect(events.map(\.id) == ["7", "7"])  // the id persists; one containing NUL is ignored
        #expect(parser.reconnectionTime == 1500)   // "12x" is not all digits
    }

    @Test func fieldsWithoutColonAndUnknownFieldsAndSpaces() {
        let events = parse("data\nfoo: bar\ndata:no-space\ndata:  two\n\n")
        #expect(events.map(\.data) == ["\nno-space\n two"])
    }

    @Test func eventWithoutDataIsNotDispatched() {
        #expect(parse("event: ping\n\nid: 3\n\n: only a comment\n\n").isEmpty)
    }

    @Test func finishFlushesAnUnterminatedLastEvent() {
        var parser = SSEParser()
        #expect(parser.feed(Array("data: {\"a\":1}".utf8)).isEmpty)
        #expect(parser.finish() == [SSEEvent(data: "{\"a\":1}")])
    }

    // MARK: size bound

    @Test func aLineWithoutEndPastTheLimitStopsTheParserWithoutHoldingIt() {
        var parser = SSEParser(maxEventBytes: 1024)
        #expect(parser.feed(Array("data: ok\n\ndata: ".utf8)) == [SSEEvent(data: "ok")])
        for _ in 0..<3 { _ = parser.feed([UInt8](repeating: 0x78, count: 400)) }
        #expect(parser.eventTooLarge)
        // Nothing more is parsed, also not at the end.
        #expect(parser.feed(Array("\n\ndata: later\n\n".utf8)).isEmpty)
        #expect(parser.finish().isEmpty)
    }

    @Test func eventsBeforeTheOversizedOneInTheSameFeedStillCome() {
        var parser = SSEParser(maxEventBytes: 1024)
        let bytes = Array("data: a\n\ndata: b\n\n".utf8) + Array("data: ".utf8) + [UInt8](repeating: 0x79, count: 2000)
        #expect(parser.feed(bytes).map(\.data) == ["a", "b"])
        #expect(parser.eventTooLarge)
    }

    @Test func dataLinesOfOneEventCountTogether() {
        var parser = SSEParser(maxEventBytes: 1024)
        let line = "data: " + String(repeating: "z", count: 300) + "\n"
        _ = parser.feed(Array(String(repeating: line, count: 3).utf8))
        #expect(!parser.eventTooLarge)
        _ = parser.feed(Array(line.utf8))
        #expect(parser.eventTooLarge)
    }

    @Test func eventsUpToTheLimitPass() {
        var parser = SSEParser(maxEventBytes: 1024)
        let payload = String(repeating: "q", count: 1024 - "data: ".count)
        var events: [SSEEvent] = []
        for _ in 0..<5 { events += parser.feed(Array("data: \(payload)\n\n".utf8)) }
        #expect(!parser.eventTooLarge)
        #expect(events.count == 5 && events.allSatisfy { $0.data == payload })
    }

    /// The standard decodes data with replacement; each event says whether it needed any, so a
    /// gateway can refuse it. A multi-byte character split across reads is valid.
    @Test func eventsSayWhetherTheirDataWasUTF8() {
        let euro = Array("data: 1 \u{20AC}\n\n".utf8)
        for split in [[], [8], [9], [10]] {
            let events = parse(euro, split: split)
            #expect(events == [SSEEvent(data: "1 \u{20AC}")] && events.first?.dataWasValidUTF8 == true, "\(split)")
        }
        let broken = parse(Array("data: a".utf8) + [0xE2, 0x82] + Array("\n\ndata: b\n\n".utf8))
        #expect(broken.count == 2)
        #expect(broken.first?.data == "a\u{FFFD}" && broken.first?.dataWasValidUTF8 == false)
        #expect(broken.last?.dataWasValidUTF8 == true)
    }

    /// Whether an event's data is UTF-8 is decided only for data with a byte of 0x80 or more (the
    /// line scan notes those); against a direct check of every random line, split anywhere.
    @Test func utf8IsCheckedWheneverTheDataIsNotASCII() {
        var rng = SplitMix64(seed: 77)
        let alphabet: [UInt8] = Array(0x20...0x7E) + [0x80, 0xBF, 0xC2, 0xE2, 0x82, 0xAC, 0xED, 0xA0, 0xF0, 0x9F, 0x98, 0x80, 0xFF]
        for _ in 0..<3_000 {
            let lines = (0..<Int(rng.next() % 3 + 1)).map { _ in
                (0..<Int(rng.next() % 24)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            }
            var bytes: [UInt8] = []
            for line in lines { bytes += Array("data: ".utf8) + line + [0x0A] }
            bytes.append(0x0A)
            let expected = (lines.map { $0 }.joined(separator: [0x0A])).map { $0 }
            let splits = (0..<Int(rng.next() % 4)).map { _ in Int(rng.next() % UInt64(bytes.count + 1)) }.sorted()
            let events = parse(bytes, split: splits)
            #expect(events.count == 1)
            #expect(events.first?.dataWasValidUTF8 == (String(validating: expected, as: UTF8.self) != nil), "\(expected)")
        }
    }
}
