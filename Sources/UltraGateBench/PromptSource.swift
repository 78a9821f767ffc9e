import UltraGateJSON
import UltraGateSupport
#if canImport(Glibc)
import Glibc
#endif

/// A prompt that cannot be used: the message names the line.
public struct PromptFileError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// The bytes of every request the bench sends, prepared up front so that the event loop only
/// copies bytes. In hit mode each prompt is one fixed request; in miss mode each request gets a
/// unique nonce (run id + sequence number) appended to its last message, so no cache can answer it.
/// An embeddings request (`--embeddings N`) carries N items: `--fresh K` of them carry the nonce
/// (new in every request), the others are the same in every request (cached after the first).
public struct PromptSource: Sendable {
    /// One request split around the places where the nonce goes.
    package struct Template: Sendable {
        package var head: [UInt8]          // request line and headers up to "Content-Length: "
        /// The body's pieces: the nonce goes between each two.
        package var bodyParts: [[UInt8]]
        package var fixed: [UInt8]?        // the whole request when nothing varies (hit mode)
    }

    package let templates: [Template]
    public let mode: BenchOptions.Mode
    /// Distinguishes this run's nonces from every earlier run's.
    public let runID: String

    package static let marker = "@@UG-BENCH-NONCE@@"

    public var count: Int { templates.count }

    /// `lines` are JSONL lines (blank ones skipped); nil means one generated prompt.
    public init(lines: [String]?, options: BenchOptions, runID: String = PromptSource.makeRunID()) throws(PromptFileError) {
        mode = options.mode
        self.runID = runID
        var requests: [JSONObject] = []
        if let lines {
            for (i, line) in lines.enumerated() where !line.allSatisfy(\.isWhitespace) {
                let json: JSON
                do { json = try JSONParser.parse(line) } catch {
                    throw PromptFileError(message: "prompts line \(i + 1) is not valid JSON: \(error)")
                }
                switch json {
                case .array: requests.append(["messages": json])
                case .object(let o) where o["messages"]?.arrayValue != nil: requests.append(o)
                default:
                    throw PromptFileError(message: "prompts line \(i + 1) must be a `messages` array or a request object with `messages`")
                }
            }
            if requests.isEmpty { throw PromptFileError(message: "the prompts file has no prompts") }
        } else if let items = options.embeddingItems {
            requests = [Self.embeddingsRequest(items: items, fresh: options.freshItems ?? (options.mode == .miss ? items : 0),
                                               encodingFormat: options.encodingFormat)]
        } else {
            requests = [["messages": [
                ["role": "system", "content": "You are a helpful assistant answering a load test."],
                ["role": "user", "content": "Explain in two sentences why caching speeds up repeated questions."],
            ]]]
        }
        templates = requests.map { Self.template($0, options: options) }
    }

    public static func makeRunID() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return String(UInt64(ts.tv_sec) &* 1_000_000_007 &+ UInt64(ts.tv_nsec) &+ UInt64(getpid()), radix: 36)
    }

    /// Appends request number `sequence` (0-based, unique across the run) to `out`.
    @inline(__always)
    public func request(_ sequence: Int, into out: inout [UInt8]) {
        let t = templates[sequence % templates.count]
        if let fixed = t.fixed {
            out.append(contentsOf: fixed)
            return
        }
        var nonce: [UInt8] = []
        nonce.reserveCapacity(runID.utf8.count + 24)
        nonce.append(contentsOf: runID.utf8)
        nonce.append(0x2D)
        nonce.append(contentsOf: String(sequence).utf8)
        out.append(contentsOf: t.head)
        let length = t.bodyParts.reduce(0) { $0 + $1.count } + nonce.count * (t.bodyParts.count - 1)
        out.append(contentsOf: String(length).utf8)
        out.append(contentsOf: [0x0D, 0x0A, 0x0D, 0x0A])
        for (i, part) in t.bodyParts.enumerated() {
            if i > 0 { out.append(contentsOf: nonce) }
            out.append(contentsOf: part)
        }
    }

    /// An embeddings request of `items` inputs, the last `fresh` of them carrying the nonce, each
    /// a sentence of a typical chunk's length.
    package static func embeddingsRequest(items: Int, fresh: Int, encodingFormat: String) -> JSONObject {
        let sentence = "a paragraph of a document being indexed, about as long as a retrieval chunk usually is"
        let inputs = (0..<items).map { i -> JSON in
            i < items - fresh ? .string("Cached item \(i): \(sentence).") : .string("Fresh item \(i) \(marker): \(sentence).")
        }
        return ["input": .array(inputs), "encoding_format": .string(encodingFormat)]
    }

    /// The body alone (for tests and the report).
    public func body(_ sequence: Int) -> [UInt8] {
        var out: [UInt8] = []
        request(sequence, into: &out)
        guard let end = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: out) else { return [] }
        return Array(out[(end + 4)...])
    }

    package static func template(_ request: JSONObject, options: BenchOptions) -> Template {
        var body = request
        body["model"] = .string(options.model)
        if options.embeddingItems != nil {
            // An embeddings request: no chat fields.
        } else if options.stream {
            body["stream"] = true
            body["stream_options"] = ["include_usage": true]
        } else {
            body.removeValue(forKey: "stream")
            body.removeValue(forKey: "stream_options")
        }
        if let max = options.maxTokens { body["max_tokens"] = .number(String(max)) }
        if options.mode == .miss, options.embeddingItems == nil { body["messages"] = .array(withNonce(body["messages"]?.arrayValue ?? [])) }
        if options.api == .messages { body = messagesBody(body) }

        var head = "POST \(options.target.path) HTTP/1.1\r\nHost: \(options.target.authority)\r\nContent-Type: application/json\r\nAccept: */*\r\n"
        if options.api == .messages {
            head += "anthropic-version: 2023-06-01\r\n"
            if let key = options.apiKey { head += "x-api-key: \(key)\r\n" }
        } else if let key = options.apiKey {
            head += "Authorization: Bearer \(key)\r\n"
        }
        head += "Content-Length: "
        let bytes = JSONWriter.serialize(.object(body))
        let needle = Array(marker.utf8)
        var parts: [[UInt8]] = []
        var start = 0
        while let at = find(needle, in: bytes, from: start) {
            parts.append(Array(bytes[start..<at]))
            start = at + needle.count
        }
        if !parts.isEmpty {
            parts.append(Array(bytes[start...]))
            return Template(head: Array(head.utf8), bodyParts: parts, fixed: nil)
        }
        let fixed = Array((head + "\(bytes.count)\r\n\r\n").utf8) + bytes
        return Template(head: [], bodyParts: [], fixed: fixed)
    }

    /// A chat request in Anthropic's Messages shape: system messages' text in `system`, the
    /// required `max_tokens` (256 unless given), no `stream_options`.
    package static func messagesBody(_ chat: JSONObject) -> JSONObject {
        var body = JSONObject()
        var system: [String] = []
        var turns: [JSON] = []
        for message in chat["messages"]?.arrayValue ?? [] {
            if message["role"] == "system" || message["role"] == "developer" {
                if let text = message["content"]?.stringValue { system.append(text) }
            } else {
                turns.append(message)
            }
        }
        for (key, value) in chat.pairs where key != "messages" && key != "stream_options" { body[key] = value }
        if !system.isEmpty { body["system"] = .string(system.joined(separator: "\n\n")) }
        body["messages"] = .array(turns)
        if body["max_tokens"] == nil { body["max_tokens"] = 256 }
        return body
    }

    /// Appends ` [run <marker>]` to the text of the last message that has text, or adds a user
    /// message carrying it.
    package static func withNonce(_ messages: [JSON]) -> [JSON] {
        var messages = messages
        let tag = " [bench \(marker)]"
        for i in messages.indices.reversed() {
            guard var m = messages[i].objectValue else { continue }
            switch m["content"] {
            case .string(let s)?:
                m["content"] = .string(s + tag)
                messages[i] = .object(m)
                return messages
            case .array(var parts)?:
                if let j = parts.lastIndex(where: { $0["text"]?.stringValue != nil }), var part = parts[j].objectValue {
                    part["text"] = .string(part["text"]!.stringValue! + tag)
                    parts[j] = .object(part)
                    m["content"] = .array(parts)
                    messages[i] = .object(m)
                    return messages
                }
            default: continue
            }
        }
        messages.append(["role": "user", "content": .string("bench \(marker)")])
        return messages
    }

    package static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0] && Array(haystack[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }
}
