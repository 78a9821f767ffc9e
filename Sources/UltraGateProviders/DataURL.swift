import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// An RFC 2397 `data:` URL split into its media type and base64 payload, which is what both
/// Anthropic (`source.type: base64`) and Gemini (`inlineData`) want.
package struct DataURL: Sendable, Equatable {
    package var mediaType: String
    /// The payload, base64-encoded (percent-encoded payloads are re-encoded).
    package var base64: String

    package init(mediaType: String, base64: String) {
        self.mediaType = mediaType
        self.base64 = base64
    }

    /// `nil` when `url` is not a data URL.
    package init?(_ url: String) {
        guard url.utf8.count > 5, url.prefix(5).lowercased() == "data:", let comma = url.firstIndex(of: ",") else { return nil }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma]
        let payload = String(url[url.index(after: comma)...])
        var params = header.split(separator: ";", omittingEmptySubsequences: false).map { String($0) }
        let isBase64 = params.last?.lowercased() == "base64"
        if isBase64 { params.removeLast() }
        let type = params.first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        mediaType = type.isEmpty ? "text/plain" : type
        if isBase64 {
            base64 = payload
        } else {
            base64 = Data((payload.removingPercentEncoding ?? payload).utf8).base64EncodedString()
        }
    }

    /// The payload decoded as UTF-8 text (for text documents), `nil` when it is not valid base64.
    package var text: String? {
        guard let data = Data(base64Encoded: base64, options: .ignoreUnknownCharacters) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
