import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// OpenAI chat completions ⇄ Gemini `generateContent`, for non-streamed exchanges.
///
/// Reference: Gemini API reference (ai.google.dev/api/generate-content): `GenerateContentRequest`
/// (`contents`, `systemInstruction`, `tools[].functionDeclarations`, `toolConfig.functionCallingConfig`,
/// `generationConfig`), `Content`/`Part` (`text`, `inlineData`, `fileData`, `functionCall`,
/// `functionResponse`, `thought`, `thoughtSignature`), `GenerateContentResponse` (`candidates`,
/// `promptFeedback.blockReason`, `usageMetadata`, `modelVersion`) and `FinishReason`; types as in
/// googleapis/python-genai `types.py`. Thought signatures ride on tool calls as
/// `extra_content.google.thought_signature`, the form of Google's own OpenAI-compatible endpoint.
package struct GeminiTranslator: Sendable {
    package let provider: String

    // MARK: Request

    package func request(_ body: JSONObject) throws(ProviderError) -> JSONObject {
        var contents: [(role: String, parts: [JSON])] = []
        var systemParts: [JSON] = []
        var toolNames: [String: String] = [:]
        func append(_ role: String, _ parts: [JSON]) {
            guard !parts.isEmpty else { return }
            if let last = contents.indices.last, contents[last].role == role {
                contents[last].parts += parts
            } else {
                contents.append((role, parts))
            }
        }
        for (i, message) in (body["messages"]?.arrayValue ?? []).enumerated() {
            let role = message["role"]?.stringValue ?? ""
            switch role {
            case "system", "developer":
                for part in try parts(message["content"], at: i) {
                    guard part["text"] != nil else { throw unsupported("messages[\(i)]: only text is allowed in \(role) messages") }
                    systemParts.append(part)
                }
            case "user":
                append("user", try parts(message["content"], at: i))
            case "assistant":
                var out = try parts(message["content"], at: i)
                for call in message["tool_calls"]?.arrayValue ?? [] {
                    let name = call["function"]?["name"]?.stringValue ?? ""
                    if let id = call["id"]?.stringValue { toolNames[id] = name }
                    let arguments = call["function"]?["arguments"]?.stringValue ?? ""
                    var args: JSON = .object([:])
                    if !arguments.trimmingCharacters(in: .whitespaces).isEmpty {
                        guard let parsed = try? JSONParser.parse(arguments), parsed.objectValue != nil else {
                            throw unsupported("messages[\(i)].tool_calls: arguments must be a JSON object")
                        }
                        args = parsed
                    }
                    var part: JSONObject = ["functionCall": ["name": .string(name), "args": args]]
                    if let signature = call["extra_content"]?["google"]?["thought_signature"] { part["thoughtSignature"] = signature }
                    out.append(.object(part))
                }
                append("model", out)
            case "tool":
                let id = message["tool_call_id"]?.stringValue ?? ""
                guard let name = toolNames[id] else {
                    throw unsupported("messages[\(i)]: tool_call_id `\(id)` matches no earlier assistant tool call")
                }
                let text: String
                switch message["content"] {
                case .string(let s)?: text = s
                case .array(let items)?: text = items.compactMap { $0["text"]?.stringValue }.joined()
                default: text = ""
                }
                let response: JSON
                if let parsed = try? JSONParser.parse(text), parsed.objectValue != nil {
                    response = parsed
                } else {
                    response = ["content": .string(text)]
                }
                append("user", [["functionResponse": ["name": .string(name), "response": response]]])
            default:
                throw unsupported("messages[\(i)]: role `\(role)` is not supported by the Gemini adapter")
            }
        }
        var out: JSONObject = ["contents": .array(contents.map { ["role": .string($0.role), "parts": .array($0.parts)] })]
        if !systemParts.isEmpty { out["systemInstruction"] = ["parts": .array(systemParts)] }
        if let tools = body["tools"]?.arrayValue, !tools.isEmpty {
            var declarations: [JSON] = []
            for (i, tool) in tools.enumerated() {
                guard tool["type"] == "function", let f = tool["function"]?.objectValue else {
                    throw unsupported("tools[\(i)]: only function tools are supported")
                }
                var d: JSONObject = ["name": f["name"] ?? ""]
                if let desc = f["description"], !desc.isNull { d["description"] = desc }
                if let params = f["parameters"], params.objectValue != nil { d["parametersJsonSchema"] = Self.jsonSchema(params) }
                declarations.append(.object(d))
            }
            out["tools"] = [["functionDeclarations": .array(declarations)]]
        }
        switch body["tool_choice"] {
        case .string("auto")?: out["toolConfig"] = ["functionCallingConfig": ["mode": "AUTO"]]
        case .string("none")?: out["toolConfig"] = ["functionCallingConfig": ["mode": "NONE"]]
        case .string("required")?: out["toolConfig"] = ["functionCallingConfig": ["mode": "ANY"]]
        case .object(let o)?:
            guard let name = o["function"]?["name"]?.stringValue else { throw unsupported("tool_choice: unsupported form") }
            out["toolConfig"] = ["functionCallingConfig": ["mode": "ANY", "allowedFunctionNames": [.string(name)]]]
        default: break
        }
        var config = JSONObject()
        func copy(_ from: String, _ to: String) {
            if let v = body[from], !v.isNull { config[to] = v }
        }
        copy("temperature", "temperature")
        copy("top_p", "topP")
        copy("top_k", "topK")  // not an OpenAI field: the Messages front's translation sets it
        if let v = body["max_completion_tokens"], !v.isNull { config["maxOutputTokens"] = v } else { copy("max_tokens", "maxOutputTokens") }
        switch body["stop"] {
        case .string(let s)?: config["stopSequences"] = [.string(s)]
        case .array(let a)? where !a.isEmpty: config["stopSequences"] = .array(a)
        default: break
        }
        copy("n", "candidateCount")
        copy("seed", "seed")
        copy("presence_penalty", "presencePenalty")
        copy("frequency_penalty", "frequencyPenalty")
        switch body["response_format"]?["type"]?.stringValue {
        case "json_object":
            config["responseMimeType"] = "application/json"
        case "json_schema":
            config["responseMimeType"] = "application/json"
            if let schema = body["response_format"]?["json_schema"]?["schema"] { config["responseJsonSchema"] = Self.jsonSchema(schema) }
        default: break
        }
        if !config.isEmpty { out["generationConfig"] = .object(config) }
        return out
    }

    private func parts(_ content: JSON?, at i: Int) throws(ProviderError) -> [JSON] {
        switch content {
        case nil, .null?: return []
        case .string(let text)?: return text.isEmpty ? [] : [["text": .string(text)]]
        case .array(let items)?:
            var out: [JSON] = []
            for item in items {
                if let part = try part(item, at: i) { out.append(part) }
            }
            return out
        default:
            throw unsupported("messages[\(i)].content: expected a string or an array of parts")
        }
    }

    private func part(_ item: JSON, at i: Int) throws(ProviderError) -> JSON? {
        let type = item["type"]?.stringValue ?? ""
        switch type {
        case "text", "refusal":
            let text = item[type]?.stringValue ?? ""
            return text.isEmpty ? nil : ["text": .string(text)]
        case "image_url":
            let url = item["image_url"]?["url"]?.stringValue ?? item["image_url"]?.stringValue ?? ""
            return try media(url: url, fallbackType: "image/jpeg", at: i)
        case "input_audio":
            guard let data = item["input_audio"]?["data"]?.stringValue else { throw unsupported("messages[\(i)]: input_audio needs data") }
            let format = item["input_audio"]?["format"]?.stringValue ?? "wav"
            return ["inlineData": ["mimeType": .string("audio/\(format)"), "data": .string(data)]]
        case "file":
            let file = item["file"]
            let fallback = file?["filename"]?.stringValue.flatMap(Self.mimeType(forPath:)) ?? "application/pdf"
            if let data = file?["file_data"]?.stringValue { return try media(url: data, fallbackType: fallback, at: i) }
            if let id = file?["file_id"]?.stringValue { return try media(url: id, fallbackType: fallback, at: i) }
            throw unsupported("messages[\(i)]: file parts need file_data or a file URI")
        default:
            throw unsupported("messages[\(i)]: content part type `\(type)` is not supported by Gemini")
        }
    }

    /// A data URL → `inlineData`; an http(s)/gs URL → `fileData` (mime type from the extension).
    private func media(url: String, fallbackType: String, at i: Int) throws(ProviderError) -> JSON {
        if let data = DataURL(url) {
            return ["inlineData": ["mimeType": .string(data.mediaType), "data": .string(data.base64)]]
        }
        guard url.hasPrefix("https://") || url.hasPrefix("http://") || url.hasPrefix("gs://") else {
            throw unsupported("messages[\(i)]: media must be a data URL or an http(s)/gs URL")
        }
        return ["fileData": ["mimeType": .string(Self.mimeType(forPath: url) ?? fallbackType), "fileUri": .string(url)]]
    }

    package static func mimeType(forPath path: String) -> String? {
        let clean = path.split(separator: "?").first.map(String.init) ?? path
        guard let dot = clean.lastIndex(of: "."), !clean[dot...].contains("/") else { return nil }
        switch clean[clean.index(after: dot)...].lowercased() {
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "webp": return "image/webp"
        case "gif": return "image/gif"
        case "heic": return "image/heic"
        case "pdf": return "application/pdf"
        case "txt": return "text/plain"
        case "md": return "text/markdown"
        case "html": return "text/html"
        case "csv": return "text/csv"
        case "mp3": return "audio/mp3"
        case "wav": return "audio/wav"
        case "mp4": return "video/mp4"
        default: return nil
        }
    }

    /// OpenAI's tool parameters and response schemas are JSON Schema, so they go to the fields that
    /// take JSON Schema (`parametersJsonSchema`, `responseJsonSchema`), not to `parameters` /
    /// `responseSchema`, whose OpenAPI subset has no type unions (`["string","null"]`, which
    /// OpenAI's strict mode needs for optional fields), `$ref`/`$defs` or `additionalProperties`.
    /// Only the top-level `$schema` (a dialect marker, not a constraint) is left out.
    package static func jsonSchema(_ value: JSON) -> JSON {
        guard case .object(var schema) = value, schema["$schema"] != nil else { return value }
        schema["$schema"] = nil
        return .object(schema)
    }

    private func unsupported(_ message: String) -> ProviderError {
        ProviderError(kind: .http(status: 400), provider: provider, message: message, code: "unsupported_parameter")
    }

    // MARK: Response

    /// Secrets are scrubbed from an error that arrives inside a 2xx body (Google echoes bad keys).
    package func response(_ object: JSONObject, requestModel: String, redactor: SecretRedactor = SecretRedactor()) throws(ProviderError) -> JSONObject {
        if object["error"] != nil, object["candidates"] == nil {
            throw ProviderHTTP.embeddedError(.object(object), provider: provider, redactor: redactor)
        }
        let candidates = object["candidates"]?.arrayValue ?? []
        var choices: [JSON] = []
        if candidates.isEmpty {
            guard object["promptFeedback"]?["blockReason"] != nil else {
                throw ProviderError(kind: .invalidResponse, provider: provider, message: "response has no candidates")
            }
            choices.append(OpenAIShapes.choice(index: 0, content: "", toolCalls: [], finishReason: "content_filter"))
        }
        for (position, candidate) in candidates.enumerated() {
            let (text, calls) = Self.contentAndCalls(candidate)
            // "If empty, the model has not stopped generating tokens": in a whole answer that means a
            // cut or malformed one, which must not pass (or be cached) as finished.
            guard let reason = Self.finishReason(candidate["finishReason"]?.stringValue, hasToolCalls: !calls.isEmpty) else {
                throw ProviderError(kind: .invalidResponse, provider: provider,
                                    message: "candidate \(position) has no `finishReason`: the answer is incomplete")
            }
            choices.append(OpenAIShapes.choice(index: candidate["index"]?.intValue ?? position,
                                               content: text.isEmpty && !calls.isEmpty ? nil : text,
                                               toolCalls: calls, finishReason: reason))
        }
        return OpenAIShapes.completion(id: OpenAIShapes.completionID(), created: OpenAIShapes.now(),
                                       model: object["modelVersion"]?.stringValue ?? requestModel,
                                       choices: choices, usage: object["usageMetadata"].map(Self.usage))
    }

    /// The joined text (thought summaries left out) and the function calls of one candidate.
    package static func contentAndCalls(_ candidate: JSON) -> (String, [JSON]) {
        var text = ""
        var calls: [JSON] = []
        for part in candidate["content"]?["parts"]?.arrayValue ?? [] {
            if let call = part["functionCall"] {
                guard case .object(var toolCall) = OpenAIShapes.toolCall(
                    id: call["id"]?.stringValue ?? OpenAIShapes.toolCallID(), name: call["name"]?.stringValue ?? "",
                    arguments: (call["args"] ?? .object([:])).serializedString) else { continue }
                if let signature = part["thoughtSignature"] {
                    toolCall["extra_content"] = ["google": ["thought_signature": signature]]
                }
                calls.append(.object(toolCall))
            } else if let t = part["text"]?.stringValue, part["thought"] != .bool(true) {
                text += t
            }
        }
        return (text, calls)
    }

    /// `FinishReason` → OpenAI `finish_reason`. Gemini says STOP after function calls too.
    package static func finishReason(_ reason: String?, hasToolCalls: Bool) -> String? {
        switch reason {
        case nil: return nil
        case "MAX_TOKENS": return "length"
        case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE":
            return "content_filter"
        default: return hasToolCalls ? "tool_calls" : "stop"
        }
    }

    /// `UsageMetadata` → `CompletionUsage`. Thinking tokens count as completion tokens, as in OpenAI's
    /// reasoning models, and are also reported as `reasoning_tokens`.
    package static func usage(_ metadata: JSON) -> JSON {
        let prompt = metadata["promptTokenCount"]?.tokenCount ?? 0
        let thoughts = metadata["thoughtsTokenCount"]?.tokenCount
        let completion = (metadata["candidatesTokenCount"]?.tokenCount ?? 0) + (thoughts ?? 0)
        return OpenAIShapes.usage(prompt: prompt, completion: completion,
                                  total: metadata["totalTokenCount"]?.tokenCount ?? prompt + completion,
                                  cached: metadata["cachedContentTokenCount"]?.tokenCount, reasoning: thoughts)
    }
}
