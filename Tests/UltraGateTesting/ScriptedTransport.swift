import Foundation
@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench

/// An in-memory `UpstreamTransport`: records every request and answers with canned replies in order.
/// Streamed bodies arrive in the chunks given (split anywhere), then end, fail, or hang until cancelled.
package final class ScriptedTransport: UpstreamTransport, @unchecked Sendable {
    package struct Reply: Sendable {
        package var status = 200
        package var headers: [HTTPHeaderField] = []
        package var chunks: [[UInt8]] = []
        /// The body stream fails with this after the chunks.
        package var failure: UpstreamError?
        /// The body never ends on its own (for cancellation tests).
        package var hang = false
        /// The request fails before any response.
        package var sendError: UpstreamError?

        package static func body(_ text: String, status: Int = 200, headers: [HTTPHeaderField] = [],
                         split sizes: [Int] = []) -> Reply {
            Reply(status: status, headers: headers, chunks: ScriptedTransport.split(Array(text.utf8), sizes: sizes))
        }
    }

    // All state is guarded by `lock`; any thread may call in.
    private let lock = NSLock()
    private var replies: [Reply]
    private var recorded: [UpstreamRequest] = []
    private var terminations: [String] = []

    package init(_ replies: Reply...) { self.replies = replies }
    package init(replies: [Reply]) { self.replies = replies }

    package var requests: [UpstreamRequest] { lock.withLock { recorded } }
    /// How each streamed body ended, as seen by its producer ("finished" or "cancelled").
    package var bodyTerminations: [String] { lock.withLock { terminations } }

    private func next(_ request: UpstreamRequest) throws -> Reply {
        let reply: Reply = lock.withLock {
            recorded.append(request)
            return replies.isEmpty ? Reply(status: 500, chunks: [Array("no scripted reply".utf8)]) : replies.removeFirst()
        }
        if let e = reply.sendError { throw e }
        return reply
    }

    package func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        let reply = try next(request)
        if let failure = reply.failure { throw failure }
        return UpstreamResponse(head: UpstreamResponseHead(status: reply.status, headers: reply.headers),
                                body: reply.chunks.flatMap { $0 })
    }

    package func stream(_ request: UpstreamRequest) async throws -> UpstreamStreamingResponse {
        let reply = try next(request)
        let body = ChunkStream<[UInt8]> { continuation in
            continuation.onTermination = { [weak self] termination in
                guard let self else { return }
                let how: String
                switch termination {
                case .cancelled: how = "cancelled"
                case .finished: how = "finished"
                @unknown default: how = "other"
                }
                self.lock.withLock { self.terminations.append(how) }
            }
            for chunk in reply.chunks { continuation.yield(chunk) }
            if let failure = reply.failure {
                continuation.finish(throwing: failure)
            } else if !reply.hang {
                continuation.finish()
            }
        }
        return UpstreamStreamingResponse(head: UpstreamResponseHead(status: reply.status, headers: reply.headers), body: body)
    }

    /// Cuts `bytes` into pieces whose sizes cycle through `sizes` (one piece when empty).
    package static func split(_ bytes: [UInt8], sizes: [Int]) -> [[UInt8]] {
        guard !sizes.isEmpty else { return [bytes] }
        var out: [[UInt8]] = []
        var i = 0, n = 0
        while i < bytes.count {
            let size = max(1, sizes[n % sizes.count])
            out.append(Array(bytes[i..<min(bytes.count, i + size)]))
            i += size
            n += 1
        }
        return out
    }
}

/// Byte splits the stream tests run through: whole, one byte at a time, and an irregular pattern
/// that lands inside CRLFs, UTF-8 sequences and JSON tokens.
package let awkwardSplits: [[Int]] = [[], [1], [2, 3], [7, 1, 13, 2, 5], [64]]

/// Reads a chunk stream to its end, returning the chunks and the error it finished with.
package func collect(_ stream: ChunkStream<JSONObject>) async -> (chunks: [JSONObject], error: Error?) {
    var chunks: [JSONObject] = []
    do {
        for try await chunk in stream { chunks.append(chunk) }
        return (chunks, nil)
    } catch {
        return (chunks, error)
    }
}

/// The text a client would assemble from the chunks' `delta.content`, per choice 0.
package func streamedContent(_ chunks: [JSONObject]) -> String {
    chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
}

/// Chunks with `id` and `created` removed, to compare streams from different runs.
package func normalized(_ chunks: [JSONObject]) -> [JSONObject] {
    chunks.map { c in
        var c = c
        c.removeValue(forKey: "id")
        c.removeValue(forKey: "created")
        return c
    }
}

package func header(_ request: UpstreamRequest, _ name: String) -> String? {
    request.headers.first { $0.name.lowercased() == name.lowercased() }?.value
}

package func bodyJSON(_ request: UpstreamRequest) throws -> JSON { try JSONParser.parse(request.body) }
