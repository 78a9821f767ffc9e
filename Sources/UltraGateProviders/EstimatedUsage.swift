import UltraGateJSON
/// Token counts the gateway makes up when an upstream reports none (llama.cpp ignores
/// `stream_options.include_usage`; some servers never send `usage`), so that a client that asked
/// for usage gets it and the metrics, costs and key budgets count the call instead of zero.
///
/// Counted with `MockTokenEstimator` (about four characters a token, punctuation one each): the
/// prompt as the request's messages and tools, the completion as every choice's message text
/// (content, refusal, tool-call names and arguments, reasoning). The object says it is an
/// estimate with one extra member, `"estimated": true`, which OpenAI's schema allows and typed
/// clients ignore; `Usage.estimated` reads it back for the metrics.
package enum EstimatedUsage {
    /// The member that marks an estimate inside a `usage` object.
    package static let marker = "estimated"

    /// Whether `completion` (or a usage chunk) carries a usage object of its own.
    package static func isReported(in object: JSONObject) -> Bool {
        if case .object? = object["usage"] { return true }
        return false
    }

    /// Whether a `usage` object is the gateway's estimate.
    package static func isEstimate(_ usage: JSON?) -> Bool {
        usage?[marker]?.boolValue == true
    }

    /// The estimated `usage` of answering `request` (an OpenAI chat request body) with `completion`.
    package static func usage(request: JSONObject, completion: JSONObject) -> JSON {
        let prompt = MockTokenEstimator.promptTokens(messages: request["messages"]?.arrayValue ?? [], tools: request["tools"])
        var output = 0
        for choice in completion["choices"]?.arrayValue ?? [] {
            if case .object(let message)? = choice["message"] { output += completionTokens(message) }
        }
        return [
            "prompt_tokens": .int(prompt),
            "completion_tokens": .int(output),
            "total_tokens": .int(prompt + output),
            "estimated": true,
        ]
    }

    /// The `include_usage` chunk for a stream whose upstream sent none: `choices: []`, the header
    /// of the stream's chunks.
    package static func chunk(_ usage: JSON, id: String, created: Int, model: String) -> JSONObject {
        OpenAIShapes.chunk(id: id, created: created, model: model, choices: [], usage: usage)
    }

    /// Tokens of an answer's message: every string member but `role` (content, refusal,
    /// `reasoning_content` …), text parts of an array `content`, and tool calls' names and arguments.
    package static func completionTokens(_ message: JSONObject) -> Int {
        var total = 0
        for (key, value) in message where key != "role" {
            switch value {
            case .string(let text):
                total += MockTokenEstimator.count(text)
            case .array(let items) where key == "tool_calls" || key == "content":
                for item in items {
                    if let text = item["text"]?.stringValue { total += MockTokenEstimator.count(text) }
                    total += functionTokens(item["function"])
                }
            case .object where key == "function_call":
                total += functionTokens(value)
            default:
                continue
            }
        }
        return total
    }

    private static func functionTokens(_ function: JSON?) -> Int {
        guard case .object(let f)? = function else { return 0 }
        return MockTokenEstimator.count(f["name"]?.stringValue ?? "") + MockTokenEstimator.count(f["arguments"]?.stringValue ?? "")
    }
}
