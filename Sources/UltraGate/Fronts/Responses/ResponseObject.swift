import UltraGateProviders
import UltraGateCache
import UltraGateJSON
import UltraGateSupport
import Foundation

/// The `Response` object (OpenAPI `Response`) as the gateway builds it: ids, the request's echoed
/// settings in the order OpenAI writes them, and the finished form with status, output and usage.
package enum ResponseObject {
    /// `resp_` and 48 hex digits, as OpenAI's ids look.
    package static func newID() -> String { "resp_" + hexToken(24) }

    /// The id of output item `index` of response `responseID`, derived rather than drawn, so the
    /// streamed events and the finished object name the same items without sharing state.
    package static func itemID(_ prefix: String, responseID: String, index: Int) -> String {
        "\(prefix)_\(responseID.dropFirst(5))\(String(index, radix: 16))"
    }

    /// An id for an input item the client sent without one (stored input items all have ids).
    package static func inputItemID(_ prefix: String, responseID: String, index: Int) -> String {
        "\(prefix)_in\(responseID.dropFirst(5))\(String(index, radix: 16))"
    }

    /// `bytes` random bytes in lowercase hex: one `getrandom` for all of them (drawn one by one,
    /// each byte was a system call and two `String(radix:)`, on every Responses request).
    package static func hexToken(_ bytes: Int) -> String {
        SHA256.hex(SecureRandom.bytes(bytes))
    }

    /// The response in progress: echoed settings, no output yet (`response.created`).
    package static func shell(request body: JSONObject, id: String, createdAt: Int, model: String) -> JSONObject {
        var o: JSONObject = [:]
        o["id"] = .string(id)
        o["object"] = "response"
        o["created_at"] = .int(createdAt)
        o["status"] = "in_progress"
        o["background"] = false
        o["completed_at"] = .null
        o["error"] = .null
        o["incomplete_details"] = .null
        o["instructions"] = body["instructions"] ?? .null
        o["max_output_tokens"] = body["max_output_tokens"] ?? .null
        o["max_tool_calls"] = body["max_tool_calls"] ?? .null
        o["model"] = .string(model)
        o["output"] = []
        o["parallel_tool_calls"] = body["parallel_tool_calls"].flatMap { $0.isNull ? nil : $0 } ?? true
        o["previous_response_id"] = body["previous_response_id"] ?? .null
        var reasoning: JSONObject = ["effort": .null, "summary": .null]
        if case .object(let asked)? = body["reasoning"] {
            for (key, value) in asked { reasoning[key] = value }
        }
        o["reasoning"] = .object(reasoning)
        o["safety_identifier"] = body["safety_identifier"] ?? .null
        o["service_tier"] = "default"
        o["store"] = body["store"].flatMap { $0.isNull ? nil : $0 } ?? true
        o["temperature"] = body["temperature"].flatMap { $0.isNull ? nil : $0 } ?? .int(1)
        var text: JSONObject = ["format": ["type": "text"]]
        if case .object(let asked)? = body["text"] {
            for (key, value) in asked { text[key] = value }
        }
        o["text"] = .object(text)
        o["tool_choice"] = body["tool_choice"].flatMap { $0.isNull ? nil : $0 } ?? "auto"
        o["tools"] = .array((body["tools"]?.arrayValue ?? []).map(echoedTool))
        o["top_p"] = body["top_p"].flatMap { $0.isNull ? nil : $0 } ?? .int(1)
        o["truncation"] = body["truncation"].flatMap { $0.isNull ? nil : $0 } ?? "disabled"
        // `usage` is left out until there is one (the schema has no null for it), as is `user`.
        // `user` is a string or absent (the schema has no null for it).
        if let user = body["user"]?.stringValue { o["user"] = .string(user) }
        o["metadata"] = body["metadata"].flatMap { $0.isNull ? nil : $0 } ?? .object([:])
        return o
    }

    /// A tool as the response echoes it: a function tool with its optional fields spelled out
    /// (`strict`, `description` as null when not given), as OpenAI echoes them.
    package static func echoedTool(_ tool: JSON) -> JSON {
        guard case .object(var o) = tool, o["type"]?.stringValue == "function" else { return tool }
        if o["strict"] == nil { o["strict"] = .null }
        if o["description"] == nil { o["description"] = .null }
        if o["parameters"] == nil { o["parameters"] = .null }
        return .object(o)
    }

    /// Why a response ended, from a chat `finish_reason`: `length` is OpenAI's
    /// `incomplete` with reason `max_output_tokens`, a content filter `content_filter`.
    package static func status(finishReason: String?) -> (status: String, incompleteReason: String?) {
        switch finishReason {
        case "length": return ("incomplete", "max_output_tokens")
        case "content_filter": return ("incomplete", "content_filter")
        default: return ("completed", nil)
        }
    }

    /// The finished response: `shell` with its status, output and usage.
    package static func finished(_ shell: JSONObject, output: [JSON], usage: JSON, finishReason: String?,
                                 completedAt: Int) -> JSONObject {
        var o = shell
        let (status, reason) = self.status(finishReason: finishReason)
        o["status"] = .string(status)
        o["completed_at"] = status == "completed" ? .int(completedAt) : .null
        if let reason { o["incomplete_details"] = .object(["reason": .string(reason)]) }
        o["output"] = .array(output)
        o["usage"] = usage
        return o
    }

    /// A failed response (`response.failed`): the error in the `ResponseError` shape.
    package static func failed(_ shell: JSONObject, output: [JSON], error: GatewayError) -> JSONObject {
        var o = shell
        o["status"] = "failed"
        o["output"] = .array(output)
        o["error"] = .object(["code": .string(errorCode(error)), "message": .string(error.message)])
        return o
    }

    /// `ResponseError.code` takes a fixed list: a rate limit says so, everything else is a server error.
    package static func errorCode(_ error: GatewayError) -> String {
        error.status == 429 ? "rate_limit_exceeded" : "server_error"
    }

    /// `ResponseUsage` from a chat `CompletionUsage` (zeros when the provider reported none).
    package static func usage(fromChat usage: JSON?) -> JSON {
        let input = usage?["prompt_tokens"]?.tokenCount ?? 0
        let output = usage?["completion_tokens"]?.tokenCount ?? 0
        return .object([
            "input_tokens": .int(input),
            "input_tokens_details": .object([
                "cached_tokens": .int(usage?["prompt_tokens_details"]?["cached_tokens"]?.tokenCount ?? 0),
                "cache_write_tokens": .int(usage?["prompt_tokens_details"]?["cache_write_tokens"]?.tokenCount ?? 0)]),
            "output_tokens": .int(output),
            "output_tokens_details": .object([
                "reasoning_tokens": .int(usage?["completion_tokens_details"]?["reasoning_tokens"]?.tokenCount ?? 0)]),
            "total_tokens": .int(usage?["total_tokens"]?.tokenCount ?? input + output),
        ])
    }

    /// Token counts of a `Response`'s `usage`, for metrics, costs and the key's budget.
    package static func tokens(_ response: JSONObject) -> (prompt: Int, completion: Int, cached: Int) {
        let usage = response["usage"]
        return (usage?["input_tokens"]?.tokenCount ?? 0, usage?["output_tokens"]?.tokenCount ?? 0,
                usage?["input_tokens_details"]?["cached_tokens"]?.tokenCount ?? 0)
    }

    /// The same answer handed to another client: its own id and creation time, and its own echoed
    /// delivery settings (`store`, `metadata`, `user`, `safety_identifier`, `previous_response_id`
    /// are outside the cache key, so a shared or cached answer carries the asker's).
    package static func personalized(_ response: JSONObject, id: String, createdAt: Int?, request body: JSONObject) -> JSONObject {
        var o = response
        // Output item ids the gateway derived from the stored response's id are derived again from
        // this one: a hit shares nothing with the response it came from (another tenant's, in a
        // team or shared cache scope). Ids an upstream gave (pass-through) are its own and kept.
        if let stored = response["id"]?.stringValue, stored != id, case .array(var items)? = response["output"] {
            for (index, item) in items.enumerated() {
                guard case .object(var fields) = item, let itemID = fields["id"]?.stringValue,
                      let prefix = itemID.split(separator: "_", maxSplits: 1).first,
                      itemID == Self.itemID(String(prefix), responseID: stored, index: index) else { continue }
                fields["id"] = .string(Self.itemID(String(prefix), responseID: id, index: index))
                items[index] = .object(fields)
            }
            o["output"] = .array(items)
        }
        o["id"] = .string(id)
        if let createdAt {
            o["created_at"] = .int(createdAt)
            if o["completed_at"]?.isNull == false { o["completed_at"] = .int(createdAt) }
        }
        o["store"] = body["store"].flatMap { $0.isNull ? nil : $0 } ?? true
        o["metadata"] = body["metadata"].flatMap { $0.isNull ? nil : $0 } ?? .object([:])
        o["user"] = body["user"]?.stringValue.map(JSON.string)
        o["safety_identifier"] = body["safety_identifier"] ?? .null
        o["previous_response_id"] = body["previous_response_id"] ?? .null
        return o
    }
}
