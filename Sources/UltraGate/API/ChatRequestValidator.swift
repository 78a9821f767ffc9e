import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Checks a chat-completions body the way OpenAI does, so clients get the same 400s (message,
/// `param`, `code`) from the gateway as from OpenAI itself, and providers never see a body
/// OpenAI would have refused. Only the shape is checked; unknown fields pass through untouched.
///
/// Wording follows OpenAI's published errors, e.g.
/// `Invalid 'n': integer above maximum value. Expected a value <= 128, but got 130 instead.`
/// (`integer_above_max_value`), `Invalid type for 'temperature': expected a decimal, but got a
/// string instead.` (`invalid_type`), `Missing required parameter: 'messages'.`
/// (`missing_required_parameter`), `Invalid 'messages': empty array. …` (`empty_array`).
public enum ChatRequestValidator {
    public static let roles = ["system", "assistant", "user", "function", "tool", "developer"]
    public static let maxStopSequences = 4
    public static let maxTools = 128
    /// `Metadata`: at most 16 pairs, keys up to 64 characters, values up to 512.
    public static let maxMetadataPairs = 16
    public static let maxMetadataKeyLength = 64
    public static let maxMetadataValueLength = 512

    public static func validate(_ json: JSON) -> Result<ChatCompletionRequest, GatewayError> {
        do { return .success(try check(json)) } catch { return .failure(error) }
    }

    package static func check(_ json: JSON) throws(GatewayError) -> ChatCompletionRequest {
        guard case .object(let body) = json else {
            throw .invalidRequest("Invalid type for request body: expected an object, but got \(describe(json)) instead.",
                                  code: "invalid_type")
        }
        guard let modelValue = body["model"] else { throw missing("model") }
        let model = try string(modelValue, "model")
        if model.isEmpty { throw emptyString("model") }
        let messages = try checkMessages(body["messages"])

        try number(body["temperature"], "temperature", min: 0, max: 2)
        try number(body["top_p"], "top_p", min: 0, max: 1)
        try number(body["presence_penalty"], "presence_penalty", min: -2, max: 2)
        try number(body["frequency_penalty"], "frequency_penalty", min: -2, max: 2)
        let n = try integer(body["n"], "n", min: 1, max: 128) ?? 1
        try integer(body["max_tokens"], "max_tokens", min: 1)
        try integer(body["max_completion_tokens"], "max_completion_tokens", min: 1)
        try integer(body["seed"], "seed")
        let logprobs = try boolean(body["logprobs"], "logprobs") ?? false
        if try integer(body["top_logprobs"], "top_logprobs", min: 0, max: 20) != nil, !logprobs {
            throw .invalidRequest("The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled.",
                                  param: "top_logprobs")
        }
        try checkLogitBias(body["logit_bias"])
        try checkStop(body["stop"])

        let stream = try boolean(body["stream"], "stream") ?? false
        var includeUsage = false
        if let options = body["stream_options"], !options.isNull {
            let object = try self.object(options, "stream_options")
            guard stream else {
                throw .invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                                      param: "stream_options")
            }
            includeUsage = try boolean(object["include_usage"], "stream_options.include_usage") ?? false
            try boolean(object["include_obfuscation"], "stream_options.include_obfuscation")
        }

        try checkResponseFormat(body["response_format"])
        let hasTools = try checkTools(body["tools"])
        try checkToolChoice(body["tool_choice"], hasTools: hasTools)
        if let v = body["parallel_tool_calls"] { try boolean(v, "parallel_tool_calls", nullable: false) }
        if let v = body["user"] { _ = try string(v, "user") }
        try checkLegacyFunctions(body["functions"], body["function_call"])
        try checkFieldsOutsideTheCacheKey(body)
        try checkOutputOptions(body)

        return ChatCompletionRequest(body: body, model: model, messages: messages, stream: stream,
                                     includeUsage: includeUsage, n: n)
    }

    // MARK: Messages

    package static func checkMessages(_ value: JSON?) throws(GatewayError) -> [JSON] {
        guard let value else { throw missing("messages") }
        let messages = try array(value, "messages")
        if messages.isEmpty { throw emptyArray("messages") }
        for (i, message) in messages.enumerated() {
            try checkMessage(message, "messages[\(i)]")
        }
        return messages
    }

    package static func checkMessage(_ value: JSON, _ path: @autoclosure () -> String) throws(GatewayError) {
        let message = try object(value, path())
        guard let roleValue = message["role"] else { throw missing("\(path()).role") }
        let role = try string(roleValue, "\(path()).role")
        guard roles.contains(role) else { throw unsupported(role, roles, param: "\(path()).role") }
        if let name = message["name"] { _ = try string(name, "\(path()).name") }

        switch role {
        case "system", "developer", "tool":
            try checkContent(message["content"], path(), parts: ["text"])
            if role == "tool" {
                guard let id = message["tool_call_id"] else {
                    throw .invalidRequest("Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'.",
                                          param: "\(path()).tool_call_id")
                }
                _ = try string(id, "\(path()).tool_call_id")
            }
        case "user":
            try checkContent(message["content"], path(), parts: ["text", "image_url", "input_audio", "file"])
        case "assistant":
            let hasToolCalls = try checkToolCalls(message["tool_calls"], "\(path()).tool_calls")
            var hasFunctionCall = false
            if let call = message["function_call"], !call.isNull {
                let object = try self.object(call, "\(path()).function_call")
                try requiredString(object, "name", "\(path()).function_call")
                try requiredString(object, "arguments", "\(path()).function_call")
                hasFunctionCall = true
            }
            var hasRefusal = false
            if let refusal = message["refusal"], !refusal.isNull {
                _ = try string(refusal, "\(path()).refusal")
                hasRefusal = true
            }
            // A turn that answered in audio refers to it by id (OpenAI's audio guide) and has no text.
            var hasAudio = false
            if let audio = message["audio"], !audio.isNull {
                try requiredString(try self.object(audio, "\(path()).audio"), "id", "\(path()).audio")
                hasAudio = true
            }
            let content = message["content"]
            if content == nil || content == .null {
                // An assistant turn that only called tools (or refused, or spoke) has no text.
                if hasToolCalls || hasFunctionCall || hasRefusal || hasAudio { break }
                if content == nil { throw missing("\(path()).content") }
            }
            try checkContent(content, path(), parts: ["text", "refusal"])
        default:  // "function"
            guard let name = message["name"] else { throw missing("\(path()).name") }
            _ = try string(name, "\(path()).name")
            guard let content = message["content"] else { throw missing("\(path()).content") }
            if !content.isNull { _ = try string(content, "\(path()).content") }
        }
    }

    package static func checkContent(_ value: JSON?, _ path: @autoclosure () -> String, parts allowed: [String]) throws(GatewayError) {
        func param() -> String { "\(path()).content" }
        guard let value else { throw missing(param()) }
        switch value {
        case .string: return
        case .null:
            throw .invalidRequest("Invalid value for 'content': expected a string, got null.", param: param())
        case .array(let parts):
            if parts.isEmpty { throw emptyArray(param()) }
            for (j, part) in parts.enumerated() {
                try checkContentPart(part, "\(param())[\(j)]", allowed: allowed)
            }
        default:
            throw invalidType(param(), expected: "one of a string or array of objects", got: value)
        }
    }

    package static func checkContentPart(_ value: JSON, _ path: @autoclosure () -> String, allowed: [String]) throws(GatewayError) {
        let part = try object(value, path())
        guard let typeValue = part["type"] else { throw missing("\(path()).type") }
        let type = try string(typeValue, "\(path()).type")
        guard allowed.contains(type) else { throw unsupported(type, allowed, param: "\(path()).type") }
        switch type {
        case "text":
            try requiredString(part, "text", path())
        case "refusal":
            try requiredString(part, "refusal", path())
        case "image_url":
            guard let image = part["image_url"] else { throw missing("\(path()).image_url") }
            let object = try self.object(image, "\(path()).image_url")
            try requiredString(object, "url", "\(path()).image_url")
            if let detail = object["detail"] {
                try enumString(detail, ["auto", "low", "high"], "\(path()).image_url.detail")
            }
        case "input_audio":
            guard let audio = part["input_audio"] else { throw missing("\(path()).input_audio") }
            let object = try self.object(audio, "\(path()).input_audio")
            try requiredString(object, "data", "\(path()).input_audio")
            guard let format = object["format"] else { throw missing("\(path()).input_audio.format") }
            try enumString(format, ["wav", "mp3"], "\(path()).input_audio.format")
        default:  // "file"
            guard let file = part["file"] else { throw missing("\(path()).file") }
            let object = try self.object(file, "\(path()).file")
            for key in ["file_id", "file_data", "filename"] {
                if let v = object[key] { _ = try string(v, "\(path()).file.\(key)") }
            }
            if object["file_id"] == nil && object["file_data"] == nil {
                throw .invalidRequest("Missing required parameter: '\(path()).file.file_id' or '\(path()).file.file_data'.",
                                      param: "\(path()).file", code: "missing_required_parameter")
            }
        }
    }

    /// Returns whether the message carries at least one tool call.
    package static func checkToolCalls(_ value: JSON?, _ path: @autoclosure () -> String) throws(GatewayError) -> Bool {
        guard let value, !value.isNull else { return false }
        let calls = try array(value, path())
        if calls.isEmpty { throw emptyArray(path()) }
        for (k, call) in calls.enumerated() {
            func callPath() -> String { "\(path())[\(k)]" }
            let object = try self.object(call, callPath())
            try requiredString(object, "id", callPath())
            let (type, innerObject) = try namedFunction(object, callPath())
            try requiredString(innerObject, type == "function" ? "arguments" : "input", "\(callPath()).\(type)")
        }
        return true
    }

    // MARK: Other parameters

    /// The fields the cache key leaves out (README "The response cache"). A cache hit never
    /// reaches an upstream that would refuse them, so this is the only check they get: without
    /// it an invalid value would be answered 200 whenever its valid twin is cached.
    package static func checkFieldsOutsideTheCacheKey(_ body: JSONObject) throws(GatewayError) {
        try checkMetadata(body["metadata"])
        try boolean(body["store"], "store")
        // A string, not OpenAI's enum: OpenAI-compatible servers add their own tiers (Groq's
        // `on_demand`), and the upstream judges the value.
        if let v = nonNull(body["service_tier"]) { _ = try string(v, "service_tier") }
        if let v = nonNull(body["prompt_cache_key"]) { _ = try string(v, "prompt_cache_key") }
        if let v = nonNull(body["safety_identifier"]) { _ = try string(v, "safety_identifier") }
    }

    /// An object of strings, within the `maxMetadata…` limits.
    package static func checkMetadata(_ value: JSON?) throws(GatewayError) {
        guard let value = nonNull(value) else { return }
        let metadata = try object(value, "metadata")
        if metadata.count > maxMetadataPairs {
            throw .invalidRequest("Invalid 'metadata': too many properties. Expected an object with at most \(maxMetadataPairs) properties, but got an object with \(metadata.count) properties instead.",
                                  param: "metadata", code: "object_above_max_properties")
        }
        for (key, entry) in metadata {
            let keyLength = key.unicodeScalars.count
            if keyLength > maxMetadataKeyLength {
                // The key is left out of the message and `param`: it is what is too long.
                throw .invalidRequest("Invalid property name in 'metadata': string too long. Expected a string with maximum length \(maxMetadataKeyLength), but got a string with length \(keyLength) instead.",
                                      param: "metadata", code: "property_name_above_max_length")
            }
            try maxLength(try string(entry, "metadata.\(key)"), maxMetadataValueLength, "metadata.\(key)")
        }
    }

    /// What the answer should look like: modalities, audio output, predicted output, reasoning,
    /// verbosity, web search. Only the shape is checked; which models support what is the upstream's call.
    package static func checkOutputOptions(_ body: JSONObject) throws(GatewayError) {
        if let v = nonNull(body["modalities"]) {
            for (i, item) in try array(v, "modalities").enumerated() {
                try enumString(item, ["text", "audio"], "modalities[\(i)]")
            }
        }
        if let v = nonNull(body["audio"]) {
            let audio = try object(v, "audio")
            guard let voice = audio["voice"] else { throw missing("audio.voice") }
            switch voice {
            case .string: break
            case .object(let custom): try requiredString(custom, "id", "audio.voice")
            default: throw invalidType("audio.voice", expected: "one of a string or object", got: voice)
            }
            guard let format = audio["format"] else { throw missing("audio.format") }
            try enumString(format, ["wav", "aac", "mp3", "flac", "opus", "pcm16"], "audio.format")
        }
        if let v = nonNull(body["prediction"]) {
            let prediction = try object(v, "prediction")
            guard let type = prediction["type"] else { throw missing("prediction.type") }
            try enumString(type, ["content"], "prediction.type")
            try checkContent(prediction["content"], "prediction", parts: ["text"])
        }
        // A string, not OpenAI's enum, for the same reason as `service_tier` (Groq accepts `default`).
        if let v = nonNull(body["reasoning_effort"]) { _ = try string(v, "reasoning_effort") }
        if let v = nonNull(body["verbosity"]) { try enumString(v, ["low", "medium", "high"], "verbosity") }
        try checkWebSearchOptions(body["web_search_options"])
    }

    /// Not nullable in the spec, unlike most options.
    package static func checkWebSearchOptions(_ value: JSON?) throws(GatewayError) {
        guard let value else { return }
        let options = try object(value, "web_search_options")
        if let size = options["search_context_size"] {
            try enumString(size, ["low", "medium", "high"], "web_search_options.search_context_size")
        }
        guard let location = nonNull(options["user_location"]) else { return }
        let param = "web_search_options.user_location"
        let object = try self.object(location, param)
        guard let type = object["type"] else { throw missing("\(param).type") }
        try enumString(type, ["approximate"], "\(param).type")
        guard let approximate = object["approximate"] else { throw missing("\(param).approximate") }
        let fields = try self.object(approximate, "\(param).approximate")
        for key in ["country", "region", "city", "timezone"] {
            if let v = fields[key] { _ = try string(v, "\(param).approximate.\(key)") }
        }
    }

    package static func checkLogitBias(_ value: JSON?) throws(GatewayError) {
        guard let value, !value.isNull else { return }
        let bias = try object(value, "logit_bias")
        for (key, weight) in bias {
            guard !key.isEmpty, key.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw .invalidRequest("Invalid key in 'logit_bias': '\(key)'. Keys must be token IDs (integers).",
                                      param: "logit_bias", code: "invalid_value")
            }
            try number(weight, "logit_bias.\(key)", min: -100, max: 100, nullable: false)
        }
    }

    package static func checkStop(_ value: JSON?) throws(GatewayError) {
        guard let value else { return }
        switch value {
        case .null, .string: return
        case .array(let items):
            if items.isEmpty { throw emptyArray("stop") }
            if items.count > maxStopSequences { throw arrayTooLong("stop", max: maxStopSequences, count: items.count) }
            for (i, item) in items.enumerated() { _ = try string(item, "stop[\(i)]") }
        default:
            throw invalidType("stop", expected: "one of a string or array of strings", got: value)
        }
    }

    package static func checkResponseFormat(_ value: JSON?) throws(GatewayError) {
        guard let value else { return }
        let format = try object(value, "response_format")
        guard let typeValue = format["type"] else { throw missing("response_format.type") }
        let type = try enumString(typeValue, ["text", "json_object", "json_schema"], "response_format.type")
        guard type == "json_schema" else { return }
        guard let schemaValue = format["json_schema"] else { throw missing("response_format.json_schema") }
        let schema = try object(schemaValue, "response_format.json_schema")
        guard let name = schema["name"] else { throw missing("response_format.json_schema.name") }
        try functionName(name, "response_format.json_schema.name")
        if let v = schema["description"] { _ = try string(v, "response_format.json_schema.description") }
        if let v = schema["schema"] { _ = try object(v, "response_format.json_schema.schema") }
        try boolean(schema["strict"], "response_format.json_schema.strict")
    }

    /// Returns whether any tools were given.
    package static func checkTools(_ value: JSON?) throws(GatewayError) -> Bool {
        guard let value else { return false }
        let tools = try array(value, "tools")
        if tools.isEmpty { throw emptyArray("tools") }
        if tools.count > maxTools { throw arrayTooLong("tools", max: maxTools, count: tools.count) }
        for (i, tool) in tools.enumerated() {
            func path() -> String { "tools[\(i)]" }
            let object = try self.object(tool, path())
            let (type, inner) = try namedFunction(object, path())
            if let v = inner["description"] { _ = try string(v, "\(path()).\(type).description") }
            if type == "function" {
                if let v = inner["parameters"] { _ = try self.object(v, "\(path()).function.parameters") }
                try boolean(inner["strict"], "\(path()).function.strict")
            }
        }
        return true
    }

    /// A tool definition or a tool call: `type` is "function" or "custom", and the member named
    /// after it is an object with a valid `name`. Returns the type and that object.
    package static func namedFunction(_ object: JSONObject, _ path: @autoclosure () -> String)
        throws(GatewayError) -> (type: String, inner: JSONObject) {
        guard let typeValue = object["type"] else { throw missing("\(path()).type") }
        let type = try enumString(typeValue, ["function", "custom"], "\(path()).type")
        guard let innerValue = object[type] else { throw missing("\(path()).\(type)") }
        let inner = try self.object(innerValue, "\(path()).\(type)")
        guard let name = inner["name"] else { throw missing("\(path()).\(type).name") }
        try functionName(name, "\(path()).\(type).name")
        return (type, inner)
    }

    package static func checkToolChoice(_ value: JSON?, hasTools: Bool) throws(GatewayError) {
        guard let value else { return }
        switch value {
        case .string(let choice):
            try enumString(value, ["none", "auto", "required"], "tool_choice")
            if choice == "none" { return }
        case .object(let object):
            guard let typeValue = object["type"] else { throw missing("tool_choice.type") }
            let type = try enumString(typeValue, ["function", "allowed_tools", "custom"], "tool_choice.type")
            guard let innerValue = object[type] else { throw missing("tool_choice.\(type)") }
            let inner = try self.object(innerValue, "tool_choice.\(type)")
            if type == "allowed_tools" {
                guard let mode = inner["mode"] else { throw missing("tool_choice.allowed_tools.mode") }
                try enumString(mode, ["auto", "required"], "tool_choice.allowed_tools.mode")
                guard let tools = inner["tools"] else { throw missing("tool_choice.allowed_tools.tools") }
                _ = try array(tools, "tool_choice.allowed_tools.tools")
            } else {
                try requiredString(inner, "name", "tool_choice.\(type)")
            }
        default:
            throw invalidType("tool_choice", expected: "one of a string or object", got: value)
        }
        if !hasTools {
            throw .invalidRequest("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                                  param: "tool_choice")
        }
    }

    /// The deprecated `functions` / `function_call` pair, still accepted by OpenAI.
    package static func checkLegacyFunctions(_ functions: JSON?, _ functionCall: JSON?) throws(GatewayError) {
        if let functions {
            let list = try array(functions, "functions")
            if list.isEmpty { throw emptyArray("functions") }
            if list.count > maxTools { throw arrayTooLong("functions", max: maxTools, count: list.count) }
            for (i, function) in list.enumerated() {
                let object = try self.object(function, "functions[\(i)]")
                guard let name = object["name"] else { throw missing("functions[\(i)].name") }
                try functionName(name, "functions[\(i)].name")
                if let v = object["parameters"] { _ = try self.object(v, "functions[\(i)].parameters") }
            }
        }
        if let functionCall {
            switch functionCall {
            case .string: try enumString(functionCall, ["none", "auto"], "function_call")
            case .object(let object): try requiredString(object, "name", "function_call")
            default: throw invalidType("function_call", expected: "one of a string or object", got: functionCall)
            }
        }
    }

    // MARK: Typed accessors

    package static func object(_ value: JSON, _ param: @autoclosure () -> String) throws(GatewayError) -> JSONObject {
        guard case .object(let o) = value else { throw invalidType(param(), expected: "an object", got: value) }
        return o
    }

    package static func array(_ value: JSON, _ param: @autoclosure () -> String) throws(GatewayError) -> [JSON] {
        guard case .array(let a) = value else { throw invalidType(param(), expected: "an array", got: value) }
        return a
    }

    package static func string(_ value: JSON, _ param: @autoclosure () -> String) throws(GatewayError) -> String {
        guard case .string(let s) = value else { throw invalidType(param(), expected: "a string", got: value) }
        return s
    }

    /// The value unless absent or null: most fields are nullable in OpenAI's spec.
    package static func nonNull(_ value: JSON?) -> JSON? {
        guard let value, !value.isNull else { return nil }
        return value
    }

    package static func requiredString(_ object: JSONObject, _ key: String, _ path: @autoclosure () -> String) throws(GatewayError) {
        guard let value = object[key] else { throw missing("\(path()).\(key)") }
        _ = try string(value, "\(path()).\(key)")
    }

    @discardableResult
    package static func enumString(_ value: JSON, _ allowed: [String], _ param: @autoclosure () -> String) throws(GatewayError) -> String {
        let s = try string(value, param())
        guard allowed.contains(s) else { throw unsupported(s, allowed, param: param()) }
        return s
    }

    /// Tool, function and schema names: `^[a-zA-Z0-9_-]{1,64}$`.
    package static func functionName(_ value: JSON, _ param: @autoclosure () -> String) throws(GatewayError) {
        let name = try string(value, param())
        if name.isEmpty { throw emptyString(param()) }
        try maxLength(name, 64, param())
        let ok = name.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
        if !ok {
            throw .invalidRequest("Invalid '\(param())': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                                  param: param(), code: "invalid_value")
        }
    }

    /// Length in Unicode scalars (code points), as JSON Schema's `maxLength` counts characters.
    package static func maxLength(_ text: String, _ max: Int, _ param: @autoclosure () -> String) throws(GatewayError) {
        let count = text.unicodeScalars.count
        if count > max {
            throw .invalidRequest("Invalid '\(param())': string too long. Expected a string with maximum length \(max), but got a string with length \(count) instead.",
                                  param: param(), code: "string_above_max_length")
        }
    }

    @discardableResult
    package static func boolean(_ value: JSON?, _ param: @autoclosure () -> String, nullable: Bool = true) throws(GatewayError) -> Bool? {
        guard let value else { return nil }
        switch value {
        case .bool(let b): return b
        case .null where nullable: return nil
        default: throw invalidType(param(), expected: "a boolean", got: value)
        }
    }

    /// A decimal in `min...max`; `nil` when absent or null.
    @discardableResult
    package static func number(_ value: JSON?, _ param: @autoclosure () -> String, min: Double, max: Double,
                       nullable: Bool = true) throws(GatewayError) -> Double? {
        guard let value else { return nil }
        if value.isNull && nullable { return nil }
        guard case .number(let text) = value, let d = Double(text) else {
            throw invalidType(param(), expected: "a decimal", got: value)
        }
        if d > max { throw outOfRange(param(), "decimal", above: true, limit: max, got: text) }
        if d < min { throw outOfRange(param(), "decimal", above: false, limit: min, got: text) }
        return d
    }

    /// An integer (written `2` or `2.0`, not `2.5`) in `min...max`; `nil` when absent or null.
    @discardableResult
    package static func integer(_ value: JSON?, _ param: @autoclosure () -> String, min: Int = .min, max: Int = .max) throws(GatewayError) -> Int? {
        guard let value, !value.isNull else { return nil }
        guard case .number(let text) = value, isIntegral(text) else {
            throw invalidType(param(), expected: "an integer", got: value)
        }
        guard let i = value.intValue else {  // integral but outside 64 bits
            let negative = text.hasPrefix("-")
            throw outOfRange(param(), "integer", above: !negative, bound: String(negative ? min : max), got: text)
        }
        if i > max { throw outOfRange(param(), "integer", above: true, bound: String(max), got: text) }
        if i < min { throw outOfRange(param(), "integer", above: false, bound: String(min), got: text) }
        return i
    }

    package static func isIntegral(_ text: String) -> Bool {
        guard let d = Double(text), d.isFinite else { return false }
        return d == d.rounded()
    }

    // MARK: Errors in OpenAI's words

    package static func missing(_ param: String) -> GatewayError {
        .invalidRequest("Missing required parameter: '\(param)'.", param: param, code: "missing_required_parameter")
    }

    package static func invalidType(_ param: String, expected: String, got value: JSON) -> GatewayError {
        .invalidRequest("Invalid type for '\(param)': expected \(expected), but got \(describe(value)) instead.",
                        param: param, code: "invalid_type")
    }

    package static func unsupported(_ value: String, _ allowed: [String], param: String) -> GatewayError {
        .invalidRequest("Invalid value: '\(value)'. Supported values are: \(listing(allowed)).",
                        param: param, code: "invalid_value")
    }

    package static func emptyArray(_ param: String) -> GatewayError {
        .invalidRequest("Invalid '\(param)': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                        param: param, code: "empty_array")
    }

    package static func emptyString(_ param: String) -> GatewayError {
        .invalidRequest("Invalid '\(param)': empty string. Expected a string with minimum length 1, but got an empty string instead.",
                        param: param, code: "empty_string")
    }

    package static func arrayTooLong(_ param: String, max: Int, count: Int) -> GatewayError {
        .invalidRequest("Invalid '\(param)': array too long. Expected an array with maximum length \(max), but got an array with length \(count) instead.",
                        param: param, code: "array_above_max_length")
    }

    package static func outOfRange(_ param: String, _ kind: String, above: Bool, limit: Double, got text: String) -> GatewayError {
        let bound = limit == limit.rounded() && abs(limit) < 1e18 ? String(Int(limit)) : "\(limit)"
        return outOfRange(param, kind, above: above, bound: bound, got: text)
    }

    package static func outOfRange(_ param: String, _ kind: String, above: Bool, bound: String, got text: String) -> GatewayError {
        let description = above ? "above maximum" : "below minimum"
        let comparison = above ? "<=" : ">="
        return .invalidRequest(
            "Invalid '\(param)': \(kind) \(description) value. Expected a value \(comparison) \(bound), but got \(text) instead.",
            param: param, code: "\(kind)_\(above ? "above_max" : "below_min")_value")
    }

    /// `'a', 'b', and 'c'` as OpenAI lists supported values.
    package static func listing(_ values: [String]) -> String {
        let quoted = values.map { "'\($0)'" }
        guard quoted.count > 1 else { return quoted.first ?? "" }
        if quoted.count == 2 { return "\(quoted[0]) and \(quoted[1])" }
        return quoted.dropLast().joined(separator: ", ") + ", and " + quoted[quoted.count - 1]
    }

    package static func describe(_ value: JSON) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number(let text): return isIntegral(text) ? "an integer" : "a decimal"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
