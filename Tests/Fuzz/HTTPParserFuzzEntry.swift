// libFuzzer entry point for HTTPRequestParser. Not part of Package.swift: scripts/fuzz-http-parser.sh
// compiles it together with the HTTP and JSON sources into one module with
// `swiftc -sanitize=fuzzer,address -parse-as-library`, so the types are used without an import.
//
// Input layout: byte 0 picks the limits (default or tiny), byte 1 seeds the split points, the
// rest is the byte stream. Each input is parsed whole, split at derived points, and (when short)
// byte by byte; any difference in the events other than `.continueExpected` is a bug and traps.

@_cdecl("LLVMFuzzerTestOneInput")
public func httpParserFuzzEntry(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let control = UnsafeBufferPointer(start: data, count: 2)
    let stream = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))
    let limits = control[0] & 1 == 0
        ? HTTPParserLimits()
        : HTTPParserLimits(maxRequestLineBytes: 40, maxHeaderBytes: 120, maxHeaderCount: 4,
                           maxBodyBytes: 20, maxTrailerBytes: 24, maxChunkSizeLineBytes: 12)

    let whole = fuzzEvents(stream, cuts: [], limits: limits)
    var cuts: [Int] = []
    if !stream.isEmpty {
        var x = Int(control[1]) &* 2_654_435_761 &+ stream.count
        for _ in 0..<(Int(control[1]) % 4 + 1) {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            cuts.append(Int(UInt(bitPattern: x >> 17) % UInt(stream.count + 1)))
        }
        cuts.sort()
    }
    let split = fuzzEvents(stream, cuts: cuts, limits: limits)
    if split != whole {
        fatalError("split at \(cuts) changed the events: \(split) vs \(whole)")
    }
    if stream.count <= 512 {
        let bytewise = fuzzEvents(stream, cuts: Array(0..<stream.count), limits: limits)
        if bytewise != whole { fatalError("byte-by-byte feeding changed the events: \(bytewise) vs \(whole)") }
    }
    for event in whole {
        if case .request(let request) = event, request.body.count > limits.maxBodyBytes {
            fatalError("body of \(request.body.count) bytes passed the limit")
        }
    }
    return 0
}

/// The events other than `.continueExpected`, up to the first error.
private func fuzzEvents(_ input: [UInt8], cuts: [Int], limits: HTTPParserLimits) -> [HTTPParserEvent] {
    var parser = HTTPRequestParser(limits: limits)
    var events: [HTTPParserEvent] = []
    var start = 0
    for cut in cuts + [input.count] where cut >= start {
        input[start..<cut].withUnsafeBytes { parser.append($0) }
        start = cut
        while true {
            let event = parser.next()
            switch event {
            case .needMoreData: break
            case .continueExpected: continue
            case .request: events.append(event); continue
            case .error: events.append(event); return events
            }
            break
        }
    }
    return events
}
