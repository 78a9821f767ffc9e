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
@testable import UltraGateBench

/// The transport's size limits: a body past `maxResponseBytes` (counted after decoding) aborts
/// the transfer with `.responseTooLarge`; an error status's body is cut at
/// `UpstreamLimits.errorBodyBytes`; a head past `UpstreamLimits.maxHeadBytes` aborts too.
@Suite(.serialized) struct UpstreamSizeLimitTests {
    let server: FakeUpstreamServer
    let transport: CurlTransport

    init() throws {
        server = try FakeUpstreamServer()
        transport = try CurlTransport()
    }

    func request(_ path: String, limit: Int) -> UpstreamRequest {
        UpstreamRequest(url: server.url(path), body: Array("{}".utf8), maxResponseBytes: limit)
    }

    static func isTooLarge(_ error: Error?) -> Bool {
        if case .responseTooLarge? = error as? UpstreamError { return true }
        return false
    }

    /// Sends and returns the error thrown, nil when it succeeded.
    func sendError(_ request: UpstreamRequest) async -> Error? {
        do {
            _ = try await transport.send(request)
            return nil
        } catch {
            return error
        }
    }

    /// Streams and returns the bytes received and how the body ended.
    func streamed(_ request: UpstreamRequest) async throws -> (bytes: [UInt8], error: Error?) {
        let response = try await transport.stream(request)
        var bytes: [UInt8] = []
        do {
            for try await chunk in response.body { bytes += chunk }
            return (bytes, nil)
        } catch {
            return (bytes, error)
        }
    }

    static func chunked(parts: Int, size: Int, delayMs: Int = 0) -> FakeUpstreamResponse {
        .streamed(parts: (0..<parts).map { _ in FakeUpstreamPart(delayMs: delayMs, [UInt8](repeating: 0x61, count: size)) })
    }

    @Test func bodyPastTheLimitAbortsTheTransferAtOnce() async throws {
        // 200 parts of 16 KB, 5 ms apart: without a limit all 3.2 MB would be read.
        server.handler = { _ in Self.chunked(parts: 200, size: 16 << 10, delayMs: 5) }
        let error = await sendError(request("/big", limit: 64 << 10))
        #expect(Self.isTooLarge(error))
        #expect(error.map { "\($0)" }?.contains("max_response_bytes (65536 bytes") == true)
        // The connection was dropped where the limit was passed, not read to its end.
        #expect(await server.waitUntil { $0.abortedResponseCount == 1 })
        #expect(server.streamedPartsSent < 100)
    }

    @Test func bodyAtTheLimitIsTaken() async throws {
        server.handler = { _ in Self.chunked(parts: 4, size: 16 << 10) }
        let response = try await transport.send(request("/exact", limit: 64 << 10))
        #expect(response.body.count == 64 << 10)
        let streamed = try await streamed(request("/exact", limit: 64 << 10))
        #expect(streamed.error == nil && streamed.bytes.count == 64 << 10)
    }

    @Test func declaredLengthPastTheLimitFailsBeforeTheBody() async throws {
        server.handler = { _ in .full(status: 200, body: [UInt8](repeating: 0x62, count: 300 << 10)) }
        #expect(Self.isTooLarge(await sendError(request("/declared", limit: 64 << 10))))
        // A stream fails before its head is handed out.
        await #expect(throws: UpstreamError.self) { _ = try await transport.stream(request("/declared", limit: 64 << 10)) }
    }

    @Test func gzipBodiesAreCountedAfterDecoding() async throws {
        let bomb = GzipBomb.make(decodedBytes: 4 << 20)
        #expect(bomb.count < 64 << 10)  // far below the limit on the wire
        server.handler = { _ in
            .full(status: 200, headers: [HTTPHeaderField("Content-Encoding", "gzip")], body: bomb)
        }
        #expect(Self.isTooLarge(await sendError(request("/bomb", limit: 1 << 20))))
        let streamed = try await streamed(request("/bomb", limit: 1 << 20))
        #expect(Self.isTooLarge(streamed.error))
        #expect(streamed.bytes.count <= 1 << 20)
        // Under a larger limit the same body decodes whole: the test's bomb is a real gzip body.
        let whole = try await transport.send(request("/bomb", limit: 8 << 20))
        #expect(whole.body.count == 4 << 20 && whole.body.allSatisfy { $0 == 0 })
    }

    @Test func streamedBodyPastTheLimitEndsWithTooLargeAfterWhatFit() async throws {
        server.handler = { _ in Self.chunked(parts: 100, size: 16 << 10, delayMs: 2) }
        let streamed = try await streamed(request("/stream", limit: 100 << 10))
        #expect(Self.isTooLarge(streamed.error))
        #expect(streamed.bytes.count > 0 && streamed.bytes.count <= 100 << 10)
        #expect(await server.waitUntil { $0.abortedResponseCount == 1 })
    }

    @Test(arguments: [500, 429, 302])
    func errorBodiesAreCutAtTheErrorBodyLimit(status: Int) async throws {
        let huge = [UInt8](repeating: 0x63, count: 2 << 20)
        server.handler = { _ in .full(status: status, body: huge) }
        let response = try await transport.send(request("/error", limit: 8 << 20))
        #expect(response.head.status == status)
        #expect(response.body.count == UpstreamLimits.errorBodyBytes)
        let stream = try await transport.stream(request("/error", limit: 8 << 20))
        #expect(stream.head.status == status)
        var bytes: [UInt8] = []
        for try await chunk in stream.body { bytes += chunk }
        #expect(bytes.count == UpstreamLimits.errorBodyBytes)
    }

    @Test func errorBodiesUnderTheLimitArriveWhole() async throws {
        server.handler = { _ in .json(status: 500, ["error": ["message": "boom"]]) }
        let response = try await transport.send(request("/error", limit: 1024))
        #expect(response.head.status == 500)
        #expect(try JSONParser.parse(response.body)["error"]?["message"] == "boom")
    }

    @Test func headPastItsLimitAbortsTheTransfer() async throws {
        let filler = String(repeating: "h", count: 1000)
        let fields = (0..<(UpstreamLimits.maxHeadBytes / 1000 + 10)).map { HTTPHeaderField("X-Filler-\($0)", filler) }
        server.handler = { _ in .full(status: 200, headers: fields, body: Array("{}".utf8)) }
        #expect(Self.isTooLarge(await sendError(request("/head", limit: 1 << 20))))
        // A head just under the limit is fine.
        let fewer = Array(fields.prefix(UpstreamLimits.maxHeadBytes / 1000 - 20))
        server.handler = { _ in .full(status: 200, headers: fewer, body: Array("{}".utf8)) }
        let response = try await transport.send(request("/head", limit: 1 << 20))
        #expect(response.head.status == 200 && response.body == Array("{}".utf8))
    }

    @Test func tooLargeIsNotRetryableAndNamesItsCode() {
        let error = UpstreamError.responseTooLarge("x")
        #expect(!error.isRetryable)
        let providerError = ProviderError(kind: .transport(error), provider: "p", message: error.description)
        #expect(!providerError.isRetryable)
        #expect(providerError.gatewayError.status == 502)
        #expect(providerError.gatewayError.code == "upstream_response_too_large")
    }
}
