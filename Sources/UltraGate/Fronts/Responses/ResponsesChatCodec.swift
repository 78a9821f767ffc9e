import UltraGateProviders
import UltraGateJSON
import UltraGateSupport

/// Translates between the Responses dialect and the hub (OpenAI chat completions JSON), for
/// routes whose provider does not speak Responses itself. Pure: JSON in, JSON out.
///
/// Request: `instructions` → a system message; message items (`input_text`, `input_image`,
/// `input_file`, an assistant's `output_text`/`refusal`) → chat messages and parts;
/// `function_call` items → an assistant message's `tool_calls` (consecutive calls share one
/// message); `function_call_output` → a `tool` message; `reasoning` items are dropped (no chat
/// equivalent); function tools → chat tools; `text.format` → `response_format`;
/// `max_output_tokens` → `max_tokens`; `reasoning.effort` → `reasoning_effort`. Anything that
/// cannot be carried (built-in tools, item references, a file by id) is a 400 naming it.
/// Answer: see `output(fromChat:responseID:)`.
package enum ResponsesChatCodec {
    /// The chat body for a Responses request whose whole input (chain resolved) is `items`.
    package static func chatBody(_ body: JSONObject, items: [JSON]) throws(GatewayError) -> JSONObject {
        var chat: JSONObject = [:]
        chat["model"] = body["model"]
        chat["messages"] = .array(try messages(instructions: body["instructions"]?.stringValue, items: items))
        if case .array(let tools)? = body["tools"], !tools.isEmpty {
            chat["tools"] = .array(try tools.enumerated().map { (i, tool) throws(GatewayError) in try chatTool(tool, index: i) })
            if let parallel = body["parallel_tool_calls"], !parallel.isNull { chat["parallel_tool_calls"] = parallel }
        }
        if let choice = body["tool_choice"], !choice.isNull {
            chat["tool_choice"] = try chatToolChoice(choice)
            // A function named in `tool_choice` must be one of `tools`, as OpenAI checks.
            if choice["type"]?.stringValue == "function", let name = choice["name"]?.stringValue,
               !(body["tools"]?.arrayValue ?? []).contains(where: { $0["type"]?.stringValue == "function" && $0["name"]?.stringValue == name }) {
                throw GatewayError.invalidRequest("Tool choice 'function' with name '\(name)' not found in 'tools' parameter.",
                                                  param: "tool_choice", code: "invalid_value")
            }
        }
        if case .object(let text)? = body["text"], let format = text["format"], !format.isNull {
            if let responseFormat = try responseFormat(format) { chat["response_format"] = responseFormat }
        }
        if let max = body["max_output_tokens"], !max.isNull { chat["max_tokens"] = max }
        for field in ["temperature", "top_p", "user", "safety_identifier", "prompt_cache_key", "top_logprobs"] {
            if let value = body[field], !value.isNull { chat[field] = value }
        }
        if body["top_logprobs"] != nil, body["top_logprobs"]?.isNull == false { chat["logprobs"] = true }
        if let effort = body["reasoning"]?["effort"], !effort.isNull { chat["reasoning_effort"] = effort }
        return chat
    }

    // MARK: Input

    package static func messages(instructions: String?, items: [JSON]) throws(GatewayError) -> [JSON] {
        var out: [JSON] = []
        out.reserveCapacity(items.count + 1)
        if let instructions { out.append(.object(["role": "system", "content": .string(instructions)])) }
        for (i, item) in items.enumerated() {
            let param = "input[\(i)]"
            let type = item["type"]?.stringValue ?? (item["role"] != nil ? "message" : nil)
            switch type {
            case "message":
                out.append(try message(item, param: param))
            case "function_call":
                guard let callID = item["call_id"]?.stringValue, let name = item["name"]?.stringValue else {
                    throw GatewayError.invalidRequest("`\(param)` (function_call) needs `call_id` and `name`.", param: param,
                                                      code: "missing_required_parameter")
                }
                let call: JSON = .object(["id": .string(callID), "type": "function", "function": .object([
                    "name": .string(name), "arguments": .string(item["arguments"]?.stringValue ?? "{}")])])
                // Consecutive calls (parallel tool calls) belong to one assistant turn, as does the
                // text the assistant said just before them.
                if case .object(var last)? = out.last, last["role"]?.stringValue == "assistant" {
                    var calls = last["tool_calls"]?.arrayValue ?? []
                    calls.append(call)
                    last["tool_calls"] = .array(calls)
                    out[out.count - 1] = .object(last)
                } else {
                    out.append(.object(["role": "assistant", "content": .null, "tool_calls": [call]]))
                }
            case "function_call_output":
                guard let callID = item["call_id"]?.stringValue else {
                    throw GatewayError.invalidRequest("`\(param)` (function_call_output) needs `call_id`.", param: param,
                                                      code: "missing_required_parameter")
                }
                let content: JSON
                switch item["output"] {
                case .string(let s)?: content = .string(s)
                case .array(let parts)?:
                    content = .array(try parts.enumerated().map { (j, part) throws(GatewayError) in
                        try chatPart(part, param: "\(param).output[\(j)]") })
                default:
                    throw GatewayError.invalidRequest("`\(param).output` must be a string or an array of parts.",
                                                      param: "\(param).output", code: "invalid_type")
                }
                out.append(.object(["role": "tool", "tool_call_id": .string(callID), "content": content]))
            case "reasoning":
                continue  // the model's own reasoning: chat has no field to send it back in
            case let other:
                throw GatewayError.invalidRequest(
                    "Input items of type `\(other ?? "(none)")` are not supported by this model's provider (only messages, function_call, function_call_output and reasoning items are translated).",
                    param: "\(param).type", code: "unsupported_parameter")
            }
        }
        return out
    }

    private static func message(_ item: JSON, param: String) throws(GatewayError) -> JSON {
        guard let role = item["role"]?.stringValue, ["user", "assistant", "system", "developer"].contains(role) else {
            throw GatewayError.invalidRequest("`\(param).role` must be one of user, assistant, system, developer.",
                                              param: "\(param).role", code: "invalid_value")
        }
        // `developer` is OpenAI's newer name for the system role; every provider takes `system`.
        let chatRole = role == "developer" ? "system" : role
        switch item["content"] {
        case .string(let text)?:
            return .object(["role": .string(chatRole), "content": .string(text)])
        case .array(let parts)?:
            if chatRole != "user" {
                // System and assistant turns carry text only in chat: their parts are joined.
                var text = ""
                for (j, part) in parts.enumerated() {
                    let type = part["type"]?.stringValue
                    guard type == "input_text" || type == "output_text" || type == "text" || type == "refusal",
                          let piece = part["text"]?.stringValue ?? part["refusal"]?.stringValue else {
                        throw GatewayError.invalidRequest("`\(param).content[\(j)]` of a \(role) message must be text.",
                                                          param: "\(param).content[\(j)]", code: "unsupported_parameter")
                    }
                    text += piece
                }
                return .object(["role": .string(chatRole), "content": .string(text)])
            }
            return .object(["role": "user", "content": .array(try parts.enumerated().map { (j, part) throws(GatewayError) in
                try chatPart(part, param: "\(param).content[\(j)]") })])
        default:
            throw GatewayError.invalidRequest("`\(param).content` must be a string or an array of content parts.",
                                              param: "\(param).content", code: "invalid_type")
        }
    }

    /// One input content part as a chat content part.
    private static func chatPart(_ part: JSON, param: String) throws(GatewayError) -> JSON {
        switch part["type"]?.stringValue {
        case "input_text", "output_text":
            guard let text = part["text"]?.stringValue else {
                throw GatewayError.invalidRequest("`\(param).text` must be a string.", param: "\(param).text", code: "invalid_type")
            }
            return .object(["type": "text", "text": .string(text)])
        case "input_image":
            guard let url = part["image_url"]?.stringValue else {
                throw GatewayError.invalidRequest("`\(param)`: images by `file_id` are not supported; send `image_url` (a URL or a data URL).",
                                                  param: "\(param).file_id", code: "unsupported_parameter")
            }
            var image: JSONObject = ["url": .string(url)]
            if let detail = part["detail"]?.stringValue { image["detail"] = .string(detail) }
            return .object(["type": "image_url", "image_url": .object(image)])
        case "input_file":
            var file: JSONObject = [:]
            if let data = part["file_data"]?.stringValue { file["file_data"] = .string(data) }
            if let id = part["file_id"]?.stringValue { file["file_id"] = .string(id) }
            if let name = part["filename"]?.stringValue { file["filename"] = .string(name) }
            guard file["file_data"] != nil || file["file_id"] != nil else {
                throw GatewayError.invalidRequest("`\(param)`: send the file as `file_data` (or `file_id`); `file_url` is not supported.",
                                                  param: param, code: "unsupported_parameter")
            }
            return .object(["type": "file", "file": .object(file)])
        case let other:
            throw GatewayError.invalidRequest("Content parts of type `\(other ?? "(none)")` are not supported here.",
                                              param: "\(param).type", code: "unsupported_parameter")
        }
    }

    // MARK: Tools and formats

    private static func chatTool(_ tool: JSON, index: Int) throws(GatewayError) -> JSON {
        if tool["type"]?.stringValue == "function", tool["name"]?.stringValue == nil {
            throw GatewayError.invalidRequest("Missing required parameter: 'tools[\(index)].name'.", param: "tools[\(index)].name",
                                              code: "missing_required_parameter")
        }
        guard tool["type"]?.stringValue == "function", let name = tool["name"]?.stringValue else {
            let type = tool["type"]?.stringValue ?? "(none)"
            throw GatewayError.invalidRequest(
                "Tools of type `\(type)` are served only by OpenAI's own Responses API; this model's provider takes function tools only.",
                param: "tools[\(index)].type", code: "unsupported_parameter")
        }
        var function: JSONObject = ["name": .string(name)]
        if let description = tool["description"], !description.isNull { function["description"] = description }
        function["parameters"] = tool["parameters"].flatMap { $0.isNull ? nil : $0 } ?? .object(["type": "object", "properties": [:]])
        if let strict = tool["strict"], !strict.isNull { function["strict"] = strict }
        return .object(["type": "function", "function": .object(function)])
    }

    private static func chatToolChoice(_ choice: JSON) throws(GatewayError) -> JSON {
        if case .string(let mode) = choice, ["auto", "none", "required"].contains(mode) { return choice }
        if choice["type"]?.stringValue == "function", let name = choice["name"]?.stringValue {
            return .object(["type": "function", "function": .object(["name": .string(name)])])
        }
        throw GatewayError.invalidRequest("This `tool_choice` is not supported for this model's provider: use auto, none, required or a function.",
                                          param: "tool_choice", code: "unsupported_parameter")
    }

    private static func responseFormat(_ format: JSON) throws(GatewayError) -> JSON? {
        switch format["type"]?.stringValue {
        case "text": return nil
        case "json_object": return .object(["type": "json_object"])
        case "json_schema":
            guard let name = format["name"]?.stringValue, let schema = format["schema"] else {
                throw GatewayError.invalidRequest("`text.format` of type json_schema needs `name` and `schema`.",
                                                  param: "text.format", code: "missing_required_parameter")
            }
            var spec: JSONObject = ["name": .string(name), "schema": schema]
            if let strict = format["strict"], !strict.isNull { spec["strict"] = strict }
            if let description = format["description"], !description.isNull { spec["description"] = description }
            return .object(["type": "json_schema", "json_schema": .object(spec)])
        default:
            throw GatewayError.invalidRequest("`text.format.type` must be text, json_object or json_schema.",
                                              param: "text.format.type", code: "invalid_value")
        }
    }

    // MARK: Output

    /// The output items of a chat answer's first choice, in the order a stream produces them:
    /// reasoning (`reasoning_content` or `reasoning`, where the provider gives it), then the
    /// message (text and refusal), then one `function_call` per tool call.
    package static func output(fromChat completion: JSONObject, responseID: String) -> [JSON] {
        let choice = completion["choices"]?.arrayValue?.first
        let message = choice?["message"]
        var items: [JSON] = []
        if let reasoning = message?["reasoning_content"]?.stringValue ?? message?["reasoning"]?.stringValue, !reasoning.isEmpty {
            items.append(reasoningItem(id: ResponseObject.itemID("rs", responseID: responseID, index: items.count), text: reasoning))
        }
        var parts: [JSON] = []
        if let text = message?["content"]?.stringValue, !text.isEmpty { parts.append(textPart(text)) }
        if let refusal = message?["refusal"]?.stringValue, !refusal.isEmpty { parts.append(refusalPart(refusal)) }
        let calls = message?["tool_calls"]?.arrayValue ?? []
        if !parts.isEmpty || calls.isEmpty {
            if parts.isEmpty { parts.append(textPart("")) }
            items.append(messageItem(id: ResponseObject.itemID("msg", responseID: responseID, index: items.count), parts: parts,
                                     status: "completed"))
        }
        for call in calls {
            items.append(functionCallItem(id: ResponseObject.itemID("fc", responseID: responseID, index: items.count),
                                          callID: call["id"]?.stringValue ?? OpenAIShapes.toolCallID(),
                                          name: call["function"]?["name"]?.stringValue ?? "",
                                          arguments: call["function"]?["arguments"]?.stringValue ?? "", status: "completed"))
        }
        return items
    }

    /// The whole `Response` for a chat answer.
    package static func response(fromChat completion: JSONObject, shell: JSONObject, completedAt: Int) -> JSONObject {
        let id = shell["id"]?.stringValue ?? ""
        let finish = completion["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue
        var items = output(fromChat: completion, responseID: id)
        if ResponseObject.status(finishReason: finish).status == "incomplete" {
            // What a stream would still have open when the output stopped short: the function
            // calls, or the message when there are none.
            let cut = items.contains { $0["type"]?.stringValue == "function_call" } ? "function_call" : "message"
            for (index, item) in items.enumerated() where item["type"]?.stringValue == cut {
                guard case .object(var fields) = item else { continue }
                fields["status"] = "incomplete"
                items[index] = .object(fields)
            }
        }
        return ResponseObject.finished(shell, output: items,
                                       usage: ResponseObject.usage(fromChat: completion["usage"]), finishReason: finish,
                                       completedAt: completedAt)
    }

    package static func textPart(_ text: String) -> JSON {
        .object(["type": "output_text", "text": .string(text), "annotations": [], "logprobs": []])
    }

    package static func refusalPart(_ refusal: String) -> JSON {
        .object(["type": "refusal", "refusal": .string(refusal)])
    }

    package static func reasoningPart(_ text: String) -> JSON {
        .object(["type": "reasoning_text", "text": .string(text)])
    }

    package static func messageItem(id: String, parts: [JSON], status: String) -> JSON {
        .object(["id": .string(id), "type": "message", "status": .string(status), "content": .array(parts), "role": "assistant"])
    }

    package static func reasoningItem(id: String, text: String?) -> JSON {
        .object(["id": .string(id), "type": "reasoning", "summary": [],
                 "content": .array(text.map { [reasoningPart($0)] } ?? [])])
    }

    package static func functionCallItem(id: String, callID: String, name: String, arguments: String, status: String) -> JSON {
        .object(["id": .string(id), "type": "function_call", "status": .string(status), "arguments": .string(arguments),
                 "call_id": .string(callID), "name": .string(name)])
    }
}
