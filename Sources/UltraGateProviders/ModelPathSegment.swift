import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// A provider model name placed in the upstream URL's path: Gemini's `/v1beta/models/{model}:…`,
/// Azure OpenAI's `/openai/deployments/{deployment}/…`. The name comes from the client
/// (`gemini/<anything>`) or the config and must stay exactly one path segment: a `/`, `..`, `?`,
/// `#`, `%` or `:` in it would send the request, with the operator's key, to another path, query
/// or method of the provider's host. Such names are refused; whatever else is not unreserved
/// (RFC 3986 §2.3: letters, digits, `-._~`) is percent-encoded.
package enum ModelPathSegment {
    /// Why `name` cannot be sent as one path segment, or nil when it can.
    package static func problem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name == "." { return "is `.`" }
        if name.contains("..") { return "contains `..`" }
        for byte in name.utf8 {
            if byte < 0x20 || byte == 0x7F { return "contains a control character" }
            switch byte {
            case UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: "%"),
                 UInt8(ascii: ":"):
                return "contains `\(Character(Unicode.Scalar(byte)))`"
            default: continue
            }
        }
        return nil
    }

    /// `name` percent-encoded as one path segment. A refused name throws a 400 naming `model`.
    package static func encoded(_ name: String, provider: String) throws(ProviderError) -> String {
        if let problem = problem(name) {
            throw ProviderError(kind: .http(status: 400), provider: provider,
                                message: "the model name cannot be used in this provider's URL: it \(problem)",
                                code: "invalid_model", param: "model")
        }
        guard !name.utf8.allSatisfy(isUnreserved) else { return name }
        var out = ""
        for byte in name.utf8 {
            if isUnreserved(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
