import UltraGateJSON
import UltraGateSupport

/// Writes a `CreateEmbeddingResponse` straight into bytes: `{"object":"list","data":[{"object":
/// "embedding","index":i,"embedding":…}],"model":…,"usage":{"prompt_tokens":n,"total_tokens":n}}`,
/// items in input order. A vector is base64 of its little-endian float32 bytes, or JSON numbers
/// in the shortest text that reads back as the same float32, so both formats decode to the same
/// vector. No `JSON` tree is built: a hit's answer is mostly vector bytes, written once.
package enum EmbeddingResponseWriter {
    package static func body(model: String, vectors: [[Float]], itemOf: [Int], encoding: EmbeddingEncoding,
                             promptTokens: Int) -> [UInt8] {
        let dimensions = vectors.first?.count ?? 0
        let perItem = encoding == .base64 ? Base64.encodedCount(4 * dimensions) : 12 * dimensions
        var w = JSONWriter(capacity: 96 + model.utf8.count + itemOf.count * (48 + perItem))
        w.appendASCII(#"{"object":"list","data":["#)
        for (index, item) in itemOf.enumerated() {
            if index > 0 { w.bytes.append(UInt8(ascii: ",")) }
            w.appendASCII(#"{"object":"embedding","index":"#)
            w.appendASCII(String(index))
            w.appendASCII(#","embedding":"#)
            let vector = vectors[item]
            switch encoding {
            case .base64:
                w.bytes.append(UInt8(ascii: "\""))
                LittleEndianFloats.appendBase64(vector, to: &w.bytes)
                w.bytes.append(UInt8(ascii: "\""))
            case .float:
                w.bytes.append(UInt8(ascii: "["))
                for (k, value) in vector.enumerated() {
                    if k > 0 { w.bytes.append(UInt8(ascii: ",")) }
                    // Shortest round-trip text; JSON has no NaN or infinity (a provider never
                    // sends them, and the cache keeps what it was given).
                    w.appendASCII(value.isFinite ? value.description : "0")
                }
                w.bytes.append(UInt8(ascii: "]"))
            }
            w.bytes.append(UInt8(ascii: "}"))
        }
        w.appendASCII(#"],"model":"#)
        w.writeString(model)
        w.appendASCII(#","usage":{"prompt_tokens":"#)
        w.appendASCII(String(promptTokens))
        w.appendASCII(#","total_tokens":"#)
        w.appendASCII(String(promptTokens))
        w.appendASCII("}}")
        return w.bytes
    }
}
