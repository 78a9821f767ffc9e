import UltraGateProviders
import UltraGateJSON

/// How a streaming client's events are written: the one thing a front's stream session does
/// differently from another's (chat completions: `data:` chunks ending in `[DONE]`; Messages:
/// named Anthropic events ending in `message_stop`). `StreamingClientSession` does the rest
/// (head, keep-alives, flushing, trailers, failures) the same way for every front.
package protocol ClientStreamEncoding: Sendable {
    /// The bytes of one flight chunk; nil when this client gets nothing for it.
    func encode(_ chunk: JSONObject) -> [UInt8]?
    /// Whether the chunk carries output (the first one is flushed at once).
    func carriesContent(_ chunk: JSONObject) -> Bool
    /// The model a chunk names, for the head of a stream it starts.
    func model(of chunk: JSONObject) -> String?
    /// What ends a finished stream; with `replay`, no chunk came (the call ran without streaming)
    /// and the whole answer is sent first.
    func end(_ result: FlightResult, replay: Bool) -> [UInt8]
    /// A failure once the stream has started, as an event of the dialect.
    func failure(_ error: GatewayError) -> [UInt8]
}

/// OpenAI chat-completion streams: `data: <chunk>` events, usage only with `include_usage`,
/// `data: [DONE]` at the end.
package struct ChatStreamEncoding: ClientStreamEncoding {
    package let includeUsage: Bool

    package init(includeUsage: Bool) { self.includeUsage = includeUsage }

    /// The chunk as the client asked for it: without usage unless `include_usage` was set.
    package func encode(_ chunk: JSONObject) -> [UInt8]? {
        if includeUsage { return SSEWriter.event(chunk) }
        // The usage-only chunk goes, unless it carries an ensemble's `ultra` detail.
        if chunk["choices"]?.arrayValue?.isEmpty == true && chunk["ultra"] == nil { return nil }
        var trimmed = chunk
        if trimmed["usage"] != nil { trimmed["usage"] = nil }
        return SSEWriter.event(trimmed)
    }

    package func carriesContent(_ chunk: JSONObject) -> Bool { OpenAIShapes.chunkCarriesContent(chunk) }

    package func model(of chunk: JSONObject) -> String? { chunk["model"]?.stringValue }

    package func end(_ result: FlightResult, replay: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        if replay {
            for chunk in ChatCompletionReplayer.chunks(from: result.outcome.completion, includeUsage: includeUsage) {
                bytes.append(contentsOf: SSEWriter.event(chunk))
            }
        }
        bytes.append(contentsOf: SSEWriter.done)
        return bytes
    }

    package func failure(_ error: GatewayError) -> [UInt8] { SSEWriter.error(error) + SSEWriter.done }
}
