import Foundation

/// Provider answers kept as files in `Tests/Fixtures/<provider>/`, shared with
/// Tests/e2e/test_fakes_match_sdks.py, which checks every one of them against the official
/// `anthropic` and `google-genai` SDKs' types: what the adapters are tested with is what the SDKs read.
package enum ProviderFixture {
    package static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// The file's text; SSE files are stored with `\n` line ends, `crlf` turns them into `\r\n`.
    package static func text(_ name: String, crlf: Bool = false) -> String {
        let path = directory.appendingPathComponent(name).path
        guard let data = FileManager.default.contents(atPath: path) else {
            preconditionFailure("missing test fixture \(path)")
        }
        let text = String(decoding: data, as: UTF8.self)
        return crlf ? text.replacingOccurrences(of: "\n", with: "\r\n") : text
    }
}
