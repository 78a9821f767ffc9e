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

/// A stream piece written with `flushNow` leaves at once; other pieces wait for the end of the
/// loop iteration and leave together. The handler blocks its loop after the first piece until the
/// client says it got it, so only bytes already sent can reach the client.
private final class FirstPieceHandler: HTTPHandler, @unchecked Sendable {
    let clientGotFirst = DispatchSemaphore(value: 0)
    let firstArrivedAlone = LockedBox<Bool?>(nil)

    func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let early = request.head.path == "/early"
        responder.startStream(headers: [HTTPHeaderField("Content-Type", "text/event-stream")])
        responder.writeStreamChunk(Array("data: first\n\n".utf8), flushNow: early)
        let got = clientGotFirst.wait(timeout: .now() + (early ? 10 : 0.3)) == .success
        firstArrivedAlone.update { $0 = got }
        responder.writeStreamChunk(Array("data: rest\n\n".utf8))
        responder.finishStream()
    }
}

@Suite struct StreamFlushTests {
    @Test(arguments: [("/early", true), ("/late", false)])
    func flushNowSendsThePieceBeforeTheIterationEnds(path: String, alone: Bool) async throws {
        let handler = FirstPieceHandler()
        let server = try startOneLoopServer(handler)
        defer { server.shutdown() }
        let port = server.boundPort
        let body = try await blocking { () -> String in
            let client = try TestHTTPClient(port: port)
            client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
            var first = true
            let response = try client.readResponse { _ in
                if first { handler.clientGotFirst.signal() }
                first = false
            }
            return String(decoding: response.body, as: UTF8.self)
        }
        #expect(body == "data: first\n\ndata: rest\n\n")
        #expect(handler.firstArrivedAlone.value == alone)
    }

    @Test func tokensAreTextRefusalsOrToolCallsNotTheRoleAlone() throws {
        func carries(_ text: String) throws -> Bool {
            try OpenAIShapes.chunkCarriesContent(#require(JSONParser.parse(text).objectValue))
        }
        #expect(try !carries(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#))
        #expect(try !carries(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}"#))
        #expect(try !carries(#"{"choices":[],"usage":{"total_tokens":3}}"#))
        #expect(try carries(#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#))
        #expect(try carries(#"{"choices":[{"index":0,"delta":{"refusal":"No"}}]}"#))
        #expect(try carries(#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f"}}]}}]}"#))
        #expect(try carries(#"{"choices":[{"index":1,"delta":{}},{"index":0,"delta":{"content":"x"}}]}"#))
        // Reasoning is output too; an OpenAI role chunk's nulls and a finish chunk are not.
        #expect(try carries(#"{"choices":[{"index":0,"delta":{"reasoning_content":"Let me think"}}]}"#))
        #expect(try carries(#"{"choices":[{"index":0,"delta":{"reasoning":"hm"}}]}"#))
        #expect(try !carries(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null,"reasoning_content":null}}]}"#))
        #expect(try !carries(#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#))
        #expect(try !carries(#"{"choices":[{"index":0,"delta":{"tool_calls":[]}}]}"#))
        // A tool call counts once it names its function or sends argument text.
        #expect(try !carries(#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":""}}]}}]}"#))
        #expect(try carries(#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a"}}]}}]}"#))
        #expect(try carries(#"{"choices":[{"index":0,"delta":{"function_call":{"name":"f"}}}]}"#))
        // Anthropic's message_start as translated: the role chunk alone.
        var builder = OpenAIChunkBuilder(model: "claude")
        #expect(!OpenAIShapes.chunkCarriesContent(builder.start()))
        #expect(OpenAIShapes.chunkCarriesContent(builder.delta(["content": "Hi"])))
    }
}
