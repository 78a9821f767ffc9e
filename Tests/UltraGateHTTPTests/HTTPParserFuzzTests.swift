import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP

/// SplitMix64: a tiny seeded generator, so every run mutates the same way.

@Suite struct HTTPParserFuzzTests {
    static let seeds: [String] = [
        "GET /v1/models HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\nHost: h:8080\r\nContent-Type: application/json\r\nAuthorization: Bearer sk-x\r\n"
            + "Content-Length: 27\r\n\r\n{\"model\":\"m\",\"stream\":true}",
        "POST /u?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
            + "4;ext=\"v\"\r\nabcd\r\n2\r\nef\r\n0\r\nTrailer-A: 1\r\n\r\n",
        "\r\nGET http://h/p?q HTTP/1.0\nConnection: keep-alive\n\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\nz"
            + "GET /second HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
    ]

    /// Fragments that tend to matter to an HTTP parser.
    static let interesting: [[UInt8]] = [
        "\r", "\n", "\r\n", "\r\n\r\n", " ", "\t", ":", ",", ";", "\"", "\0", "\u{7F}", "\u{FF}", "0", "f", "9",
        "chunked", "Content-Length: ", "Transfer-Encoding: chunked\r\n", "Host: x\r\n", "HTTP/1.1", "?", "/",
        "99999999999999999999", "FFFFFFFFFFFFFFFFFF",
    ].map { Array($0.utf8) }

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where !bytes.isEmpty:  // flip bits
                bytes[at] ^= UInt8.random(in: 1...255, using: &rng)
            case 1 where !bytes.isEmpty:  // set an arbitrary byte
                bytes[at] = UInt8.random(in: 0...255, using: &rng)
            case 2:  // insert an interesting fragment
                bytes.insert(contentsOf: interesting.randomElement(using: &rng)!, at: at)
            case 3 where !bytes.isEmpty:  // delete a run
                bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &rng)))
            case 4:  // truncate
                bytes.removeSubrange(at...)
            default:  // duplicate a run
                let run = Array(bytes[at..<min(bytes.count, at + Int.random(in: 1...32, using: &rng))])
                bytes.insert(contentsOf: run, at: Int.random(in: 0...bytes.count, using: &rng))
            }
        }
        return bytes
    }

    /// Feeds `input` in the given pieces, stopping at the first error like the server does.
    static func events(_ input: [UInt8], cuts: [Int], limits: HTTPParserLimits) -> [HTTPParserEvent] {
        var parser = HTTPRequestParser(limits: limits)
        var events: [HTTPParserEvent] = []
        var start = 0
        for cut in cuts + [input.count] where cut >= start {
            input[start..<cut].withUnsafeBytes { parser.append($0) }
            start = cut
            while true {
                let event = parser.next()
                if case .needMoreData = event { break }
                events.append(event)
                if case .error = event { return events }
                #expect(parser.bufferedByteCount >= 0 && parser.bufferedByteCount <= input.count)
            }
        }
        return events
    }

    /// `.continueExpected` depends, by design, on whether the body had arrived; everything else
    /// must not depend on how the bytes were split.
    static func comparable(_ events: [HTTPParserEvent]) -> [HTTPParserEvent] {
        events.filter { if case .continueExpected = $0 { return false } else { return true } }
    }

    @Test func splittingNeverChangesTheEvents() {
        var rng = SplitMix64(seed: 0x5EED_1234)
        let seeds = Self.seeds.map { Array($0.utf8) }
        let small = HTTPParserLimits(maxRequestLineBytes: 40, maxHeaderBytes: 120, maxHeaderCount: 4,
                                     maxBodyBytes: 20, maxTrailerBytes: 24, maxChunkSizeLineBytes: 12)
        var outcomes: [Int: Int] = [:]
        for round in 0..<3000 {
            let input = Self.mutate(seeds[round % seeds.count], &rng)
            let limits = round % 4 == 3 ? small : HTTPParserLimits()
            let whole = Self.comparable(Self.events(input, cuts: [], limits: limits))
            let cutCount = Int.random(in: 1...5, using: &rng)
            let cuts = (0..<cutCount).map { _ in Int.random(in: 0...input.count, using: &rng) }.sorted()
            let split = Self.comparable(Self.events(input, cuts: cuts, limits: limits))
            #expect(split == whole, "input \(input) cut at \(cuts)")
            if round % 10 == 0 {
                let bytewise = Self.comparable(Self.events(input, cuts: Array(0..<input.count), limits: limits))
                #expect(bytewise == whole, "input \(input) byte by byte")
            }
            for event in whole {
                switch event {
                case .request(let request):
                    outcomes[200, default: 0] += 1
                    #expect(request.body.count <= limits.maxBodyBytes)
                    #expect(request.head.versionMinor == 0 || request.head.versionMinor == 1)
                case .error(let error):
                    outcomes[error.status, default: 0] += 1
                    #expect([400, 413, 414, 417, 431, 501, 505].contains(error.status))
                default:
                    break
                }
            }
        }
        // The mutations must reach both sides: accepted requests and several kinds of rejection.
        #expect(outcomes[200, default: 0] > 100)
        #expect(outcomes[400, default: 0] > 100)
        #expect(outcomes.keys.count >= 5, "outcomes \(outcomes)")
    }

    @Test func randomBytesNeverCrash() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<500 {
            let input = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let whole = Self.events(input, cuts: [], limits: HTTPParserLimits())
            let half = Self.events(input, cuts: [input.count / 2], limits: HTTPParserLimits())
            #expect(Self.comparable(whole) == Self.comparable(half))
        }
    }
}
