import Testing
@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench

/// A completion must satisfy `CreateChatCompletionResponse` of the OpenAPI document.
package func expectValidCompletion(_ completion: JSONObject, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let spec = try #require(OpenAPISchema.shared, "OpenAPI document not readable at \(OpenAPISchema.path)")
    let problems = spec.problems(completion, against: "CreateChatCompletionResponse")
    #expect(problems.isEmpty, "\(problems)", sourceLocation: sourceLocation)
    #expect(completion["object"] == "chat.completion", sourceLocation: sourceLocation)
    #expect(completion["id"]?.stringValue?.hasPrefix("chatcmpl-") == true, sourceLocation: sourceLocation)
}

/// Every chunk satisfies `CreateChatCompletionStreamResponse`; all share one id; the first names the
/// assistant role; a usage chunk (a non-null `usage`), when present, is last and has `choices: []`.
package func expectValidStream(_ chunks: [JSONObject], expectUsage: Bool = true,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
    let spec = try #require(OpenAPISchema.shared, "OpenAPI document not readable at \(OpenAPISchema.path)")
    #expect(!chunks.isEmpty, sourceLocation: sourceLocation)
    for chunk in chunks {
        let problems = spec.problems(chunk, against: "CreateChatCompletionStreamResponse")
        #expect(problems.isEmpty, "\(problems)", sourceLocation: sourceLocation)
        #expect(chunk["object"] == "chat.completion.chunk", sourceLocation: sourceLocation)
    }
    #expect(Set(chunks.compactMap { $0["id"]?.stringValue }).count == 1, sourceLocation: sourceLocation)
    #expect(chunks.first?["choices"]?.arrayValue?.first?["delta"]?["role"] == "assistant", sourceLocation: sourceLocation)
    // OpenAI sends `usage: null` on every chunk but the last when usage is asked for.
    let usageChunks = chunks.enumerated().filter { $0.element["usage"].map { !$0.isNull } == true }
    if expectUsage {
        #expect(usageChunks.map(\.offset) == [chunks.count - 1], sourceLocation: sourceLocation)
        #expect(chunks.last?["choices"] == .array([]), sourceLocation: sourceLocation)
    } else {
        #expect(usageChunks.isEmpty, sourceLocation: sourceLocation)
    }
}

/// The finish reasons of choice 0 across a stream.
package func finishReasons(_ chunks: [JSONObject]) -> [String] {
    chunks.compactMap { $0["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue }
}
