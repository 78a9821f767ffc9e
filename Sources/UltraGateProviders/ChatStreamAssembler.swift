import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Folds a stream of `chat.completion.chunk` objects into the one `chat.completion` a
/// non-streaming call would have returned, so a streamed answer can be cached, logged and
/// replayed. Text fields are concatenated per choice, tool calls are merged by their `index`
/// (id, type and name come from the first delta that carries them, arguments are
/// concatenated), logprobs entries are appended, and `usage` comes from the usage chunk.
public struct ChatStreamAssembler: Sendable {
    package struct ToolCall: Sendable {
        package var id: String?
        package var type: String?
        package var name: String?
        package var arguments = ""
    }

    package struct Choice: Sendable {
        package var role: String?
        package var content: String?
        package var refusal: String?
        package var toolCalls: [Int: ToolCall] = [:]
        package var functionName: String?
        package var functionArguments: String?
        package var finishReason: JSON = .null
        package var logprobsSeen = false
        package var logprobsContent: [JSON]?
        package var logprobsRefusal: [JSON]?
        package var annotations: [JSON] = []
        /// Non-standard delta fields (e.g. `reasoning_content`), in first-seen order, and where
        /// each one is: a stream naming many such fields costs a hash lookup per field, not a
        /// scan of those seen so far.
        package var extras: [JSONObject.Element] = []
        package var extraPositions: [String: Int] = [:]

        /// Strings are concatenated, a null is kept only until a value comes, anything else
        /// replaces what was there.
        package mutating func mergeExtra(_ key: String, _ value: JSON) {
            guard let at = extraPositions[key] else {
                extraPositions[key] = extras.count
                extras.append((key: key, value: value))
                return
            }
            if value.isNull { return }
            if case .string(let text) = value, case .string(var sofar) = extras[at].value {
                extras[at].value = .null  // drop the stored reference so the append is in place
                sofar.append(text)
                extras[at].value = .string(sofar)
            } else {
                extras[at].value = value
            }
        }
    }

    package var id: String?
    package var created: JSON?
    package var model: String?
    package var serviceTier: JSON?
    package var systemFingerprint: JSON?
    package var usage: JSON?
    package var choices: [Int: Choice] = [:]
    public private(set) var chunkCount = 0

    public init() {}

    public mutating func add(_ chunk: JSONObject) {
        chunkCount += 1
        if id == nil, let v = chunk["id"]?.stringValue { id = v }
        if created == nil, let v = chunk["created"], !v.isNull { created = v }
        if model == nil, let v = chunk["model"]?.stringValue { model = v }
        if let v = chunk["service_tier"], !(v.isNull && serviceTier != nil) { serviceTier = v }
        if let v = chunk["system_fingerprint"], !(v.isNull && systemFingerprint != nil) { systemFingerprint = v }
        if let v = chunk["usage"], case .object = v { usage = v }
        for item in chunk["choices"]?.arrayValue ?? [] {
            guard case .object(let choice) = item else { continue }
            // Merged in place: a copy taken out of the dictionary would make every text append
            // copy the whole text so far (quadratic in a long stream).
            Self.merge(choice, into: &choices[choice["index"]?.intValue ?? 0, default: Choice()])
        }
    }

    package static func merge(_ choice: JSONObject, into state: inout Choice) {
        if let reason = choice["finish_reason"], !reason.isNull { state.finishReason = reason }
        if let logprobs = choice["logprobs"]?.objectValue {
            state.logprobsSeen = true
            // Appended in place: `(list ?? []) + items` copied the whole list on every chunk.
            if let items = logprobs["content"]?.arrayValue { append(items, to: &state.logprobsContent) }
            if let items = logprobs["refusal"]?.arrayValue { append(items, to: &state.logprobsRefusal) }
        }
        guard let delta = choice["delta"]?.objectValue else { return }
        for (key, value) in delta {
            switch key {
            case "role":
                if let role = value.stringValue { state.role = role }
            case "content":
                if let text = value.stringValue { append(text, to: &state.content) }
            case "refusal":
                if let text = value.stringValue { append(text, to: &state.refusal) }
            case "tool_calls":
                for call in value.arrayValue ?? [] {
                    guard case .object(let call) = call else { continue }
                    mergeToolCall(call, into: &state.toolCalls[call["index"]?.intValue ?? 0, default: ToolCall()])
                }
            case "function_call":
                guard let call = value.objectValue else { continue }
                if state.functionName == nil, let name = call["name"]?.stringValue { state.functionName = name }
                if let args = call["arguments"]?.stringValue { append(args, to: &state.functionArguments) }
                if state.functionArguments == nil { state.functionArguments = "" }
            case "annotations":
                state.annotations += value.arrayValue ?? []
            default:
                state.mergeExtra(key, value)
            }
        }
    }

    private static func mergeToolCall(_ call: JSONObject, into merged: inout ToolCall) {
        if merged.id == nil { merged.id = call["id"]?.stringValue }
        if merged.type == nil { merged.type = call["type"]?.stringValue }
        if let function = call["function"]?.objectValue {
            if merged.name == nil { merged.name = function["name"]?.stringValue }
            if let args = function["arguments"]?.stringValue { merged.arguments += args }
        }
    }

    private static func append(_ text: String, to field: inout String?) {
        if field == nil { field = text } else { field!.append(text) }
    }

    private static func append(_ items: [JSON], to list: inout [JSON]?) {
        if list == nil { list = items } else { list!.append(contentsOf: items) }
    }

    /// The assembled `chat.completion`; choices in index order.
    public func completion() -> JSONObject {
        var out = JSONObject()
        out.append("id", .string(id ?? ""))
        out.append("object", "chat.completion")
        out.append("created", created ?? 0)
        out.append("model", .string(model ?? ""))
        let ordered = choices.keys.sorted().map { index in JSON.object(Self.choiceObject(index, choices[index]!)) }
        out.append("choices", .array(ordered))
        if let usage { out.append("usage", usage) }
        if let serviceTier { out.append("service_tier", serviceTier) }
        if let systemFingerprint { out.append("system_fingerprint", systemFingerprint) }
        return out
    }

    package static func choiceObject(_ index: Int, _ state: Choice) -> JSONObject {
        var message = JSONObject()
        message.append("role", .string(state.role ?? "assistant"))
        message.append("content", state.content.map(JSON.string) ?? .null)
        message.append("refusal", state.refusal.map(JSON.string) ?? .null)
        if !state.toolCalls.isEmpty {
            let calls = state.toolCalls.keys.sorted().map { key -> JSON in
                let call = state.toolCalls[key]!
                return [
                    "id": .string(call.id ?? ""),
                    "type": .string(call.type ?? "function"),
                    "function": ["name": .string(call.name ?? ""), "arguments": .string(call.arguments)],
                ]
            }
            message.append("tool_calls", .array(calls))
        }
        if let name = state.functionName {
            message.append("function_call", ["name": .string(name), "arguments": .string(state.functionArguments ?? "")])
        }
        for (key, value) in state.extras { message.append(key, value) }
        message.append("annotations", .array(state.annotations))

        var choice = JSONObject()
        choice.append("index", .int(index))
        choice.append("message", .object(message))
        if state.logprobsSeen {
            choice.append("logprobs", [
                "content": state.logprobsContent.map(JSON.array) ?? .null,
                "refusal": state.logprobsRefusal.map(JSON.array) ?? .null,
            ])
        } else {
            choice.append("logprobs", .null)
        }
        choice.append("finish_reason", state.finishReason)
        return choice
    }
}
