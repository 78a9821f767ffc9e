import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// An upstream answer that is not UTF-8 is refused alike whether it comes as one JSON body or as a
/// stream: a 502 `upstream_invalid_response` (an error event once a stream has started), never a
/// U+FFFD passed on to the client and never a cache entry.
@Suite(.serialized) struct UpstreamUTF8GatewayTests {
    let server: FakeUpstreamServer
    let transport: CurlTransport

    init() throws {
        server = try FakeUpstreamServer()
        transport = try CurlTransport()
    }

    func route() -> ModelRoute { UltraGateTesting.route("m", upstream: server, transport: transport) }

    /// A chunk whose content holds `raw` as is (invalid UTF-8 when it says so).
    static func chunk(_ raw: [UInt8], finish: String? = nil) -> FakeUpstreamPart {
        let head = #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-test","choices":[{"index":0,"delta":{"content":""#
        let tail = finish.map { #""},"finish_reason":""# + $0 + #""}]}"# } ?? #""},"finish_reason":null}]}"#
        return FakeUpstreamPart(Array(head.utf8) + raw + Array(tail.utf8) + Array("\n\n".utf8))
    }

    static let sseHead = [HTTPHeaderField("Content-Type", "text/event-stream")]
    static let invalid: [UInt8] = [0x62, 0x61, 0xFF, 0x64]  // "ba", a byte UTF-8 never has, "d"

    @Test func aStartedStreamEndsWithTheErrorEventAndIsNotCached() async throws {
        server.handler = { _ in
            .streamed(headers: Self.sseHead, parts: [Self.chunk(Array("Hello".utf8)), Self.chunk(Self.invalid),
                                                     Self.chunk([], finish: "stop"), FakeUpstreamPart("data: [DONE]\n\n")])
        }
        let h = try GatewayHarness(routes: [route()])
        let r = try await blocking { try h.chat("m", "utf8", stream: true) }
        #expect(r.status == 200)
        #expect(r.text.contains("Hello"))
        #expect(!r.text.contains("\u{FFFD}") && !r.text.contains("bad"), "the broken chunk is not passed on")
        let events = r.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.last == "data: [DONE]")
        let error = events.count >= 2 ? try? JSONParser.parse(Array(events[events.count - 2].dropFirst("data: ".count).utf8)) : nil
        #expect(error?["error"]?["code"]?.stringValue == "upstream_invalid_response")
        #expect(error?["error"]?["message"]?.stringValue?.contains("UTF-8") == true)
        let again = try await blocking { try h.chat("m", "utf8", stream: true) }
        #expect(again.header("X-Cache") != "HIT")
        #expect(server.requests.count == 2, "nothing was cached")
    }

    @Test func aStreamBrokenBeforeItsFirstChunkIs502LikeAJSONBody() async throws {
        server.handler = { _ in .streamed(headers: Self.sseHead, parts: [Self.chunk(Self.invalid)]) }
        let h = try GatewayHarness(routes: [route()])
        let streamed = try await blocking { try h.chat("m", "utf8 first", stream: true) }
        #expect(streamed.status == 502)
        #expect(streamed.json?["error"]?["code"]?.stringValue == "upstream_invalid_response")
        // The same answer as one JSON body gets the same status and code.
        let body = Array(#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":""#.utf8)
            + Self.invalid + Array(#""},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#.utf8)
        server.handler = { _ in .full(status: 200, headers: [HTTPHeaderField("Content-Type", "application/json")], body: body) }
        let plain = try await blocking { try h.chat("m", "utf8 json") }
        #expect(plain.status == 502)
        #expect(plain.json?["error"]?["code"]?.stringValue == "upstream_invalid_response")
    }
}
