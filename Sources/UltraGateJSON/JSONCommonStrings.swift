import UltraGateSupport
#if canImport(Glibc)
import Glibc
#endif

/// The keys and values that make up most of the strings in OpenAI, Anthropic and Gemini chat
/// traffic ("choices", "delta", "content", "assistant", "chat.completion.chunk", …). The parser
/// hands out these literals instead of building a new `String` from the bytes, which validated
/// and copied them: ~250 instructions a string where the lookup costs a length switch and a
/// compare or two. A stream chunk has ten or more such strings.
package enum JSONCommonStrings {
    package static let maxLength = 32

    private static let all: [String] = [
        // OpenAI chat completions (request, response, chunk, usage, tools, errors)
        "id", "object", "created", "model", "choices", "index", "delta", "message", "messages", "role",
        "content", "finish_reason", "logprobs", "usage", "prompt_tokens", "completion_tokens",
        "total_tokens", "prompt_tokens_details", "completion_tokens_details", "cached_tokens",
        "audio_tokens", "reasoning_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens",
        "system_fingerprint", "service_tier", "refusal", "annotations", "tool_calls", "function",
        "name", "arguments", "type", "text", "stream", "stream_options", "include_usage", "temperature",
        "max_tokens", "max_completion_tokens", "top_p", "stop", "tools", "tool_choice", "user", "seed",
        "n", "error", "code", "param", "image_url", "url", "detail", "tool_call_id", "parameters",
        "description", "properties", "required", "parallel_tool_calls", "response_format",
        "presence_penalty", "frequency_penalty", "reasoning_effort",
        "assistant", "system", "tool", "developer", "chat.completion", "chat.completion.chunk",
        "length", "content_filter", "default", "auto", "none", "string", "integer", "number", "boolean",
        "array", "json_schema", "json_object",
        // Anthropic Messages
        "content_block_delta", "content_block_start", "content_block_stop", "message_start",
        "message_delta", "message_stop", "text_delta", "input_json_delta", "partial_json", "ping",
        "stop_reason", "stop_sequence", "input_tokens", "output_tokens", "cache_read_input_tokens",
        "cache_creation_input_tokens", "end_turn", "tool_use", "tool_result", "input", "cache_control",
        "ephemeral",
        // Gemini generateContent
        "candidates", "parts", "finishReason", "usageMetadata", "promptTokenCount",
        "candidatesTokenCount", "totalTokenCount", "cachedContentTokenCount", "thoughtsTokenCount",
        "STOP", "MAX_TOKENS", "SAFETY", "modelVersion", "responseId", "functionCall", "args",
    ]

    /// Every entry's bytes back to back, ordered by length; `start[n] ..< start[n + 1]` are the
    /// entries of length `n`, `offset[e]` is where entry `e`'s bytes begin. A parse fetches the
    /// table once (`shared`), not on every string.
    package struct Table: @unchecked Sendable {
        fileprivate let bytes: UnsafeMutablePointer<UInt8>
        fileprivate let offset: UnsafeMutablePointer<Int32>
        fileprivate let start: UnsafeMutablePointer<Int32>
        fileprivate let strings: [String]

        /// The common string whose UTF-8 is exactly `run`, if there is one.
        @inline(__always)
        package func lookup(_ run: UnsafeBufferPointer<UInt8>) -> String? {
            let n = run.count
            guard n > 0, n <= JSONCommonStrings.maxLength, let p = run.baseAddress else { return nil }
            var e = Int(start[n])
            let end = Int(start[n + 1])
            let first = p[0], last = p[n - 1]
            while e < end {
                let q = bytes + Int(offset[e])
                if q[0] == first, q[n - 1] == last, n <= 2 || memcmp(p + 1, q + 1, n - 2) == 0 { return strings[e] }
                e += 1
            }
            return nil
        }
    }

    package static let shared: Table = {
        let strings = Array(Set(all)).filter { $0.utf8.count <= maxLength }
            .sorted { ($0.utf8.count, $0) < ($1.utf8.count, $1) }
        let total = strings.reduce(0) { $0 + $1.utf8.count }
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
        let offset = UnsafeMutablePointer<Int32>.allocate(capacity: max(strings.count, 1))
        let start = UnsafeMutablePointer<Int32>.allocate(capacity: maxLength + 2)
        var at = 0
        var length = 0
        for (e, s) in strings.enumerated() {
            let n = s.utf8.count
            while length <= n { start[length] = Int32(e); length += 1 }
            offset[e] = Int32(at)
            for b in s.utf8 { bytes[at] = b; at += 1 }
        }
        while length <= maxLength + 1 { start[length] = Int32(strings.count); length += 1 }
        return Table(bytes: bytes, offset: offset, start: start, strings: strings)
    }()

    package static var entries: [String] { shared.strings }
}
