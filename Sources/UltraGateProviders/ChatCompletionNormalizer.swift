import UltraGateJSON
/// Completes what an OpenAI-compatible server answered so that it satisfies OpenAI's schema
/// (`CreateChatCompletionResponse` and `CreateChatCompletionStreamResponse` of openai/openai-openapi).
/// The servers behind a self-hosted gateway (llama.cpp, vLLM, Ollama, LM Studio, TGI) each leave
/// out some member that OpenAI's typed clients require: `refusal`, `logprobs`, `created`, a
/// choice's `finish_reason` key. Only members that are missing are filled, each with its neutral
/// value; a value the upstream sent is never changed. Checking costs a few key lookups per choice
/// and copies nothing when nothing is missing, so a complete answer keeps its byte-stable
/// pass-through (`JSONTopLevelPatch`).
///
/// This is the chat-completions dialect's normalizer. Another dialect's front applies the same rule
/// with its own schema's required members; a missing `usage` is `EstimatedUsage`'s, in any dialect.
package enum ChatCompletionNormalizer {
    /// Members of a chunk that stay on the chunks the gateway adds (the role-only chunk, the usage chunk).
    package static let chunkHeaderKeys: Set<String> = ["id", "object", "created", "model", "system_fingerprint", "service_tier"]

    /// Fills the members `CreateChatCompletionResponse` requires and the upstream left out:
    /// - top level: `id` (a new `chatcmpl-…`), `object`, `created` (the gateway's clock), `model`;
    /// - each choice: `index` (its position; a value sent is kept, whatever it is), `message` with `role: "assistant"`, `content: null`,
    ///   `refusal: null`; `logprobs: null`; a `finish_reason` left out (absent or `""`) is read from
    ///   the message (`tool_calls`, `function_call`, else `stop`): the whole answer came, so the
    ///   upstream stopped. A `null` one is kept: it marks a cut answer, which is not cached;
    /// - `usage`, when it is there, its three counts (`fillUsage`).
    /// Returns whether anything was filled.
    @discardableResult
    package static func fill(_ completion: inout JSONObject, model: String, now: () -> Int = OpenAIShapes.now) -> Bool {
        var filled = fillHeader(&completion, object: "chat.completion", model: model, now: now)
        if case .array(var choices)? = completion["choices"], fillChoices(&choices) {
            completion["choices"] = .array(choices)
            filled = true
        }
        if case .object(var usage)? = completion["usage"], fillUsage(&usage) {
            completion["usage"] = .object(usage)
            filled = true
        }
        return filled
    }

    /// Fills `id`, `object`, `created` and `model` when missing (or not of their type), from the
    /// values given (a stream's first chunk; read only when needed) or new ones. Returns whether
    /// anything was filled.
    package static func fillHeader(_ object: inout JSONObject, object kind: JSON, id: @autoclosure () -> JSON? = nil,
                                   created: @autoclosure () -> JSON? = nil, model: String,
                                   now: () -> Int = OpenAIShapes.now) -> Bool {
        var filled = false
        if object["id"]?.stringValue == nil { object["id"] = id() ?? .string(OpenAIShapes.completionID()); filled = true }
        if object["object"] == nil { object["object"] = kind; filled = true }
        if object["created"]?.intValue == nil { object["created"] = created() ?? .int(now()); filled = true }
        if object["model"]?.stringValue == nil { object["model"] = .string(model); filled = true }
        return filled
    }

    /// The choices of a whole answer; true when one was changed.
    private static func fillChoices(_ choices: inout [JSON]) -> Bool {
        var changed = false
        for i in choices.indices {
            guard case .object(let choice) = choices[i] else { continue }
            let message = choice["message"]?.objectValue
            let needsFinish = isLeftOut(choice["finish_reason"])
            let complete = choice["index"] != nil && choice["logprobs"] != nil && !needsFinish
                && message.map { $0["role"] != nil && $0["content"] != nil && $0["refusal"] != nil } == true
            if complete { continue }
            var filled = choice
            if choice["index"] == nil { filled["index"] = .int(i) }
            var m = message ?? JSONObject()
            if m["role"] == nil { m["role"] = "assistant" }
            if m["content"] == nil { m["content"] = .null }
            if m["refusal"] == nil { m["refusal"] = .null }
            if message != m { filled["message"] = .object(m) }
            if choice["logprobs"] == nil { filled["logprobs"] = .null }
            if needsFinish { filled["finish_reason"] = .string(impliedFinishReason(m)) }
            choices[i] = .object(filled)
            changed = true
        }
        return changed
    }

    /// A `finish_reason` the upstream left out: absent, or `""` (Go servers' zero value).
    @inline(__always)
    private static func isLeftOut(_ finish: JSON?) -> Bool {
        guard let finish else { return true }
        if case .string(let reason) = finish { return reason.isEmpty }
        return false
    }

    /// Why a whole answer whose upstream did not say stopped: it called tools, or it ended.
    package static func impliedFinishReason(_ message: JSONObject) -> String {
        if let calls = message["tool_calls"]?.arrayValue, !calls.isEmpty { return "tool_calls" }
        if message["function_call"]?.objectValue != nil { return "function_call" }
        return "stop"
    }

    /// The choices of a stream chunk: `index` (its position), `delta` (`{}`) and `finish_reason`
    /// (`null`; also for `""`, Ollama's "not yet") are required; true when one was changed.
    package static func fillChunkChoices(_ choices: inout [JSON]) -> Bool {
        var changed = false
        for i in choices.indices {
            guard case .object(let choice) = choices[i] else { continue }
            let badFinish = isLeftOut(choice["finish_reason"])
            let noIndex = choice["index"] == nil
            let noDelta = choice["delta"]?.isNull ?? true
            guard badFinish || noIndex || noDelta else { continue }
            var filled = choice
            if noIndex { filled["index"] = .int(i) }
            if noDelta { filled["delta"] = .object(JSONObject()) }
            if badFinish { filled["finish_reason"] = .null }
            choices[i] = .object(filled)
            changed = true
        }
        return changed
    }

    /// Gives a `usage` object its three required counts, each filled from the others when missing
    /// (`total_tokens` = prompt + completion). Returns whether anything was filled.
    package static func fillUsage(_ usage: inout JSONObject) -> Bool {
        let prompt = usage["prompt_tokens"]?.tokenCount
        let completion = usage["completion_tokens"]?.tokenCount
        let total = usage["total_tokens"]?.tokenCount
        if prompt != nil, completion != nil, total != nil { return false }
        let p = prompt ?? max(0, (total ?? 0) - (completion ?? 0))
        let c = completion ?? max(0, (total ?? 0) - p)
        if prompt == nil { usage["prompt_tokens"] = .int(p) }
        if completion == nil { usage["completion_tokens"] = .int(c) }
        if total == nil { usage["total_tokens"] = .int(p + c) }
        return true
    }

    /// The role-only chunk OpenAI opens each choice with (`{"role":"assistant","content":""}`), for
    /// an upstream whose first chunk of choice `index` named no role; the header is `chunk`'s.
    package static func roleChunk(like chunk: JSONObject, index: Int) -> JSONObject {
        var out = JSONObject(chunk.pairs.filter { chunkHeaderKeys.contains($0.key) })
        out.append("choices", [[
            "index": .int(index), "delta": ["role": "assistant", "content": ""], "logprobs": .null, "finish_reason": .null,
        ]])
        return out
    }
}
