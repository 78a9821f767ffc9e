import UltraGateProviders
import UltraGateJSON

/// Anthropic's stream framing: each event as `event: <type>` and `data: <json>` lines, ended by
/// `message_stop` (no `[DONE]`), a failure after the start as an `error` event.
package enum MessagesSSE {
    /// One event named by its `type` (a name with a line break in it, which only a broken
    /// upstream could send, has the break replaced so it cannot end the event early).
    package static func event(_ event: JSONObject) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.appendASCII("event: ")
        for b in (event["type"]?.stringValue ?? "message").utf8 { writer.bytes.append(b == 0x0A || b == 0x0D ? 0x20 : b) }
        writer.appendASCII("\ndata: ")
        writer.write(.object(event))
        writer.appendASCII("\n\n")
        return writer.bytes
    }

    package static func events(_ events: [JSONObject]) -> [UInt8] {
        var bytes: [UInt8] = []
        for e in events { bytes += event(e) }
        return bytes
    }

    /// `{"type":"error","error":{"type","message"}}` as an `error` event.
    package static func error(_ error: GatewayError) -> [UInt8] {
        var object = JSONObject()
        object["type"] = "error"
        object["error"] = ["type": .string(ErrorDialect.anthropicType(error)), "message": .string(error.message)]
        return event(object)
    }
}

/// A Messages client's stream: the flight's chunks are Anthropic events already (passed through
/// or encoded once per call by `MessagesStreamEncoder`), written as they are.
package struct MessagesStreamEncoding: ClientStreamEncoding {
    package init() {}

    package func encode(_ chunk: JSONObject) -> [UInt8]? { MessagesSSE.event(chunk) }

    package func carriesContent(_ chunk: JSONObject) -> Bool { AnthropicWire.eventCarriesContent(chunk) }

    package func model(of chunk: JSONObject) -> String? { chunk["message"]?["model"]?.stringValue }

    /// A call that ran without streaming is replayed from its Message; a streamed one already sent
    /// `message_stop`.
    package func end(_ result: FlightResult, replay: Bool) -> [UInt8] {
        replay ? MessagesSSE.events(MessagesReplayer.events(result.outcome.completion)) : []
    }

    package func failure(_ error: GatewayError) -> [UInt8] { MessagesSSE.error(error) }
}
