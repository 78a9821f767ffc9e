import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Turns a complete `chat.completion` back into the `chat.completion.chunk` sequence OpenAI
/// would have streamed, so a cached answer can be served to a streaming client. Assembling the
/// chunks with `ChatStreamAssembler` gives the completion back.
///
/// Per choice: a role chunk (`content: ""`, or `null` when the message has no text), the text in
/// pieces split on word boundaries, the refusal likewise, each tool call (id, type, name, then its
/// arguments in pieces), a finish chunk with an empty delta; choices are interleaved, one choice
/// per chunk, as OpenAI does for `n > 1`. With `includeUsage`, every chunk carries `usage: null`
/// and a final chunk with `choices: []` carries the usage (and an ensemble's `ultra` detail).
public enum ChatCompletionReplayer {
    /// Message keys with a dedicated delta; any other string field (e.g. `reasoning_content`) is
    /// replayed as one delta of its own.
    package static let standardMessageKeys: Set<String> = ["role", "content", "refusal", "tool_calls", "function_call", "annotations", "audio"]

    public static func chunks(from completion: JSONObject, includeUsage: Bool, piecesPerChoice: Int = 8) -> [JSONObject] {
        let pieces = max(1, piecesPerChoice)
        var header = JSONObject()
        header.append("id", completion["id"] ?? "")
        header.append("object", "chat.completion.chunk")
        header.append("created", completion["created"] ?? 0)
        header.append("model", completion["model"] ?? "")
        if let tier = completion["service_tier"] { header.append("service_tier", tier) }
        if let fingerprint = completion["system_fingerprint"] { header.append("system_fingerprint", fingerprint) }

        let perChoice: [[JSONObject]] = (completion["choices"]?.arrayValue ?? []).enumerated().map { position, item in
            let choice = item.objectValue ?? JSONObject()
            return choiceDeltas(choice, index: choice["index"]?.intValue ?? position, pieces: pieces)
        }

        var out: [JSONObject] = []
        out.reserveCapacity(perChoice.reduce(1) { $0 + $1.count })
        let rounds = perChoice.map(\.count).max() ?? 0
        for step in 0..<rounds {
            for deltas in perChoice where step < deltas.count {
                var chunk = header
                chunk.append("choices", [.object(deltas[step])])
                if includeUsage { chunk.append("usage", .null) }
                out.append(chunk)
            }
        }
        if includeUsage, let usage = completion["usage"], !usage.isNull {
            var chunk = header
            chunk.append("choices", [])
            chunk.append("usage", usage)
            out.append(chunk)
        }
        if let ultra = completion["ultra"] {
            // An ensemble's detail rides on the last chunk, a `choices: []` one as when it streamed live.
            if includeUsage, completion["usage"].map({ !$0.isNull }) == true {
                out[out.count - 1].append("ultra", ultra)
            } else {
                var chunk = header
                chunk.append("choices", [])
                chunk.append("ultra", ultra)
                out.append(chunk)
            }
        }
        return out
    }

    /// The choice entries (`index`, `delta`, `logprobs`, `finish_reason`) for one choice, in order.
    package static func choiceDeltas(_ choice: JSONObject, index: Int, pieces: Int) -> [JSONObject] {
        let message = choice["message"]?.objectValue ?? JSONObject()
        let logprobs = choice["logprobs"]?.objectValue
        let content = message["content"]?.stringValue
        let refusal = message["refusal"]?.stringValue
        let contentPieces = split(words: content ?? "", into: pieces)
        let refusalPieces = split(words: refusal ?? "", into: pieces)
        let contentLogprobs = logprobs?["content"]?.arrayValue
        let refusalLogprobs = logprobs?["refusal"]?.arrayValue

        var out: [JSONObject] = []
        func entry(_ delta: JSONObject, logprobs: JSON = .null, finish: JSON = .null) {
            out.append(["index": .int(index), "delta": .object(delta), "logprobs": logprobs, "finish_reason": finish])
        }

        // The role chunk also fixes whether the logprobs lists exist; it carries them whole when
        // there are no text pieces to spread them over.
        var roleLogprobs = JSON.null
        if logprobs != nil {
            roleLogprobs = [
                "content": contentLogprobs.map { contentPieces.isEmpty ? .array($0) : .array([]) } ?? .null,
                "refusal": refusalLogprobs.map { refusalPieces.isEmpty ? .array($0) : .array([]) } ?? .null,
            ]
        }
        entry(["role": message["role"] ?? "assistant", "content": content == nil ? .null : "", "refusal": .null],
              logprobs: roleLogprobs)

        for (key, value) in message where !standardMessageKeys.contains(key) {
            entry(JSONObject([(key: key, value: value)]))
        }
        for (j, piece) in contentPieces.enumerated() {
            let slice = contentLogprobs.map { JSON.object(["content": .array(part(of: $0, j, of: contentPieces.count)), "refusal": .null]) }
            entry(["content": .string(piece)], logprobs: slice ?? .null)
        }
        for (j, piece) in refusalPieces.enumerated() {
            let slice = refusalLogprobs.map { JSON.object(["content": .null, "refusal": .array(part(of: $0, j, of: refusalPieces.count))]) }
            entry(["refusal": .string(piece)], logprobs: slice ?? .null)
        }
        for (k, item) in (message["tool_calls"]?.arrayValue ?? []).enumerated() {
            let call = item.objectValue ?? JSONObject()
            let function = call["function"]?.objectValue ?? JSONObject()
            let head: JSON = [
                "index": .int(k), "id": call["id"] ?? "", "type": call["type"] ?? "function",
                "function": ["name": function["name"] ?? "", "arguments": ""],
            ]
            entry(["tool_calls": [head]])
            for piece in split(characters: function["arguments"]?.stringValue ?? "", into: pieces) {
                entry(["tool_calls": [["index": .int(k), "function": ["arguments": .string(piece)]]]])
            }
        }
        if let call = message["function_call"]?.objectValue {
            entry(["function_call": ["name": call["name"] ?? "", "arguments": ""]])
            for piece in split(characters: call["arguments"]?.stringValue ?? "", into: pieces) {
                entry(["function_call": ["arguments": .string(piece)]])
            }
        }
        if let annotations = message["annotations"]?.arrayValue, !annotations.isEmpty {
            entry(["annotations": .array(annotations)])
        }
        entry(JSONObject(), finish: choice["finish_reason"] ?? .null)
        return out
    }

    /// `text` cut into at most `count` pieces, each ending just before a word starts, so that
    /// the pieces concatenate back to `text` exactly.
    public static func split(words text: String, into count: Int) -> [String] {
        guard !text.isEmpty else { return [] }
        var segments: [Substring] = []
        var start = text.startIndex
        var previousWasSpace = false
        for i in text.indices {
            let isSpace = text[i].isWhitespace
            if !isSpace && previousWasSpace && i != start {
                segments.append(text[start..<i])
                start = i
            }
            previousWasSpace = isSpace
        }
        segments.append(text[start...])
        return group(segments, into: count).map { $0.joined() }
    }

    /// `text` cut into at most `count` pieces of about equal length (for tool-call arguments).
    package static func split(characters text: String, into count: Int) -> [String] {
        guard !text.isEmpty else { return [] }
        return group(text.map { $0 }, into: count).map { String($0) }
    }

    package static func group<T>(_ items: [T], into count: Int) -> [[T]] {
        let n = min(max(1, count), items.count)
        return (0..<n).map { Array(items[(items.count * $0 / n)..<(items.count * ($0 + 1) / n)]) }
    }

    package static func part(of items: [JSON], _ j: Int, of count: Int) -> [JSON] {
        Array(items[(items.count * j / count)..<(items.count * (j + 1) / count)])
    }
}
