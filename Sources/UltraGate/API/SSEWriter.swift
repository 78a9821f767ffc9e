import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Server-sent-event framing for streamed chat completions, in OpenAI's wire format:
/// `data: <json>\n\n` per chunk, `data: [DONE]\n\n` at the end, comment lines as keep-alives,
/// and a failure after the stream started as `data: {"error":{…}}\n\n` (the status line is
/// already sent by then, so the error travels as an event).
public enum SSEWriter {
    public static let done: [UInt8] = Array("data: [DONE]\n\n".utf8)

    /// One `data:` event holding `json` serialized compactly (compact JSON has no newlines, so a
    /// single `data:` line is always enough).
    public static func event(_ json: JSON) -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        writer.appendASCII("data: ")
        writer.write(json)
        writer.appendASCII("\n\n")
        return writer.bytes
    }

    public static func event(_ object: JSONObject) -> [UInt8] { event(.object(object)) }

    /// A comment line (`: text`), ignored by clients; keeps idle connections and proxies alive.
    /// Line breaks in `text` are replaced so the comment cannot end the event early.
    public static func comment(_ text: String = "keep-alive") -> [UInt8] {
        var bytes: [UInt8] = Array(": ".utf8)
        for b in text.utf8 { bytes.append(b == 0x0A || b == 0x0D ? 0x20 : b) }
        bytes.append(contentsOf: [0x0A, 0x0A])
        return bytes
    }

    /// A mid-stream error event: `data: {"error":{"message","type","param","code"}}`.
    public static func error(_ error: GatewayError) -> [UInt8] { event(error.json) }
}
