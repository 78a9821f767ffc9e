import UltraGateProviders
import UltraGateJSON
import UltraGateSupport

/// A validated `POST /v1/responses` body (OpenAPI `CreateResponse`). `body` is the client's object
/// as sent (forwarded as written on pass-through routes); the typed fields are those the gateway
/// itself acts on. `previous_response_id` is resolved later, against the store.
package struct ResponsesRequest: Sendable {
    package var body: JSONObject
    package var model: String
    package var stream: Bool
    /// `store` (default true): keep the response for `GET /v1/responses/{id}` and continuations.
    package var store: Bool
    package var previousResponseID: String?
    /// This request's own input as a list of items (a string input is one user message).
    package var input: [JSON]

    /// Fields of `CreateResponse` the gateway does not serve: a 400 naming the field rather than
    /// silently ignoring it. `background: false` and a null value are accepted.
    package static let refusedFields = ["background", "conversation", "prompt"]

    /// Checks the fields the gateway reads; the rest is the translator's or the upstream's business.
    package static func validate(_ json: JSON) -> Result<ResponsesRequest, GatewayError> {
        guard case .object(let body) = json else {
            return .failure(.invalidRequest("The request body must be a JSON object.", code: "invalid_type"))
        }
        guard case .string(let model)? = body["model"], !model.isEmpty else {
            return .failure(.invalidRequest("Missing required parameter: 'model'.", param: "model", code: "missing_required_parameter"))
        }
        for field in refusedFields {
            switch body[field] {
            case nil, .null?, .bool(false)?: continue
            default:
                return .failure(.invalidRequest("`\(field)` is not supported by this gateway's Responses API.", param: field,
                                                code: "unsupported_parameter"))
            }
        }
        func flag(_ name: String, default value: Bool) -> Result<Bool, GatewayError> {
            switch body[name] {
            case nil, .null?: return .success(value)
            case .bool(let b)?: return .success(b)
            default: return .failure(.invalidRequest("Invalid type for '\(name)': expected a boolean.", param: name, code: "invalid_type"))
            }
        }
        let stream: Bool
        let store: Bool
        switch (flag("stream", default: false), flag("store", default: true)) {
        case (.success(let s), .success(let t)): (stream, store) = (s, t)
        case (.failure(let e), _), (_, .failure(let e)): return .failure(e)
        }
        var previous: String?
        switch body["previous_response_id"] {
        case nil, .null?: break
        case .string(let id)? where !id.isEmpty: previous = id
        default:
            return .failure(.invalidRequest("Invalid type for 'previous_response_id': expected a string.",
                                            param: "previous_response_id", code: "invalid_type"))
        }
        let input: [JSON]
        switch body["input"] {
        case .string(let text)?: input = [.object(["type": "message", "role": "user", "content": .string(text)])]
        case .array(let items)?: input = items
        case nil, .null?:
            guard previous != nil else {
                return .failure(.invalidRequest("Missing required parameter: 'input'.", param: "input", code: "missing_required_parameter"))
            }
            input = []
        default:
            return .failure(.invalidRequest("Invalid type for 'input': expected a string or an array of input items.",
                                            param: "input", code: "invalid_type"))
        }
        for (i, item) in input.enumerated() {
            guard case .object = item else {
                return .failure(.invalidRequest("Invalid type for 'input[\(i)]': expected an object.", param: "input[\(i)]",
                                                code: "invalid_type"))
            }
        }
        if let instructions = body["instructions"], !instructions.isNull, instructions.stringValue == nil {
            return .failure(.invalidRequest("Invalid type for 'instructions': expected a string.", param: "instructions",
                                            code: "invalid_type"))
        }
        if let tools = body["tools"], !tools.isNull, tools.arrayValue == nil {
            return .failure(.invalidRequest("Invalid type for 'tools': expected an array.", param: "tools", code: "invalid_type"))
        }
        if let max = body["max_output_tokens"], !max.isNull, (max.intValue ?? 0) < 1 {
            return .failure(.invalidRequest("Invalid 'max_output_tokens': expected an integer of at least 1.",
                                            param: "max_output_tokens", code: "invalid_value"))
        }
        if let metadata = body["metadata"], !metadata.isNull, metadata.objectValue == nil {
            return .failure(.invalidRequest("Invalid type for 'metadata': expected an object.", param: "metadata", code: "invalid_type"))
        }
        // The sampling ranges of OpenAI's reference, checked as on chat completions.
        do throws(GatewayError) {
            _ = try ChatRequestValidator.number(body["temperature"], "temperature", min: 0, max: 2)
            _ = try ChatRequestValidator.number(body["top_p"], "top_p", min: 0, max: 1)
        } catch {
            return .failure(error)
        }
        return .success(ResponsesRequest(body: body, model: model, stream: stream, store: store, previousResponseID: previous,
                                         input: input))
    }

    /// Tokens reserved against a key's limit before the call: the input by the mock's estimator
    /// (the translated chat body) plus `max_output_tokens` or the default reservation.
    package static func estimatedTokens(chat: JSONObject, body: JSONObject) -> Int {
        let prompt = MockTokenEstimator.promptTokens(messages: chat["messages"]?.arrayValue ?? [], tools: chat["tools"])
        return prompt.addingSaturated(max(0, body["max_output_tokens"]?.intValue ?? ChatCompletionRequest.defaultOutputReservation))
    }
}
