import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// A deterministic stand-in for a tokenizer, used by the mock provider so `usage` numbers are
/// real counts of what was sent and produced: every run of letters/digits is cut into tokens of
/// up to 4 characters, every other visible character is one token, and whitespace rides along
/// with the token that follows it (trailing whitespace with the last token). So `pieces` of a
/// text concatenate back to it, and truncating to `k` tokens is cutting after the `k`-th piece.
public enum MockTokenEstimator {
    public static let charactersPerToken = 4
    /// Per-message overhead, as OpenAI's chat format adds role and separators.
    public static let tokensPerMessage = 3
    /// Flat cost of one image or audio part (OpenAI's low-detail image cost is 85).
    public static let tokensPerMediaPart = 85

    public static func pieces(_ text: String) -> [Substring] {
        var out: [Substring] = []
        var start = text.startIndex
        var run = 0  // characters of the current alphanumeric run inside the pending token
        var pendingHasContent = false
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c.isWhitespace {
                if pendingHasContent { out.append(text[start..<i]); start = i; pendingHasContent = false; run = 0 }
            } else if c.isLetter || c.isNumber {
                if pendingHasContent && (run == 0 || run == charactersPerToken) {
                    out.append(text[start..<i]); start = i; run = 0
                }
                run += 1
                pendingHasContent = true
            } else {
                if pendingHasContent { out.append(text[start..<i]); start = i }
                pendingHasContent = true
                run = 0
                let next = text.index(after: i)
                out.append(text[start..<next]); start = next; pendingHasContent = false
            }
            i = text.index(after: i)
        }
        if start < text.endIndex {
            if pendingHasContent {
                out.append(text[start...])
            } else if let last = out.popLast() {  // trailing whitespace joins the last token
                out.append(text[last.startIndex...])
            }
        }
        return out
    }

    public static func count(_ text: String) -> Int {
        if let fast = text.utf8.withContiguousStorageIfAvailable(asciiCount), let n = fast { return n }
        return pieces(text).count
    }

    /// `pieces(text).count` for ASCII text, on bytes: the same rules without Unicode property
    /// lookups (which made the mock provider's token counting its most expensive step). Nil when
    /// the text is not all ASCII. In ASCII every character is one byte except "\r\n", which is
    /// whitespace either way, so the counts agree.
    private static func asciiCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var count = 0
        var run = 0
        var pending = false
        for b in bytes {
            if b >= 0x80 { return nil }
            if b == 0x20 || (b >= 0x09 && b <= 0x0D) {
                if pending { count += 1; pending = false; run = 0 }
            } else if (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) {
                if pending && (run == 0 || run == charactersPerToken) { count += 1; run = 0 }
                run += 1
                pending = true
            } else {
                count += pending ? 2 : 1
                pending = false
                run = 0
            }
        }
        return pending ? count + 1 : count
    }

    /// The first `limit` tokens of `text`, and whether anything was cut.
    public static func prefix(_ text: String, tokens limit: Int) -> (text: String, truncated: Bool) {
        let all = pieces(text)
        guard all.count > limit else { return (text, false) }
        guard limit > 0 else { return ("", true) }
        return (String(text[text.startIndex..<all[limit - 1].endIndex]), true)
    }

    /// Prompt tokens of a chat request: every message's text, names and tool calls, media parts
    /// at a flat rate, the tool definitions, plus the chat format's per-message overhead.
    public static func promptTokens(messages: [JSON], tools: JSON? = nil) -> Int {
        var total = 3  // the reply is primed with an assistant header
        for message in messages {
            total += tokensPerMessage
            guard case .object(let m) = message else { continue }
            if let name = m["name"]?.stringValue { total += count(name) + 1 }
            switch m["content"] {
            case .string(let text)?: total += count(text)
            case .array(let parts)?:
                for part in parts {
                    if let text = part["text"]?.stringValue ?? part["refusal"]?.stringValue {
                        total += count(text)
                    } else {
                        total += tokensPerMediaPart
                    }
                }
            default: break
            }
            for call in m["tool_calls"]?.arrayValue ?? [] {
                total += count(call["function"]?["name"]?.stringValue ?? "")
                total += count(call["function"]?["arguments"]?.stringValue ?? "")
            }
        }
        if let tools, !tools.isNull { total += count(tools.serializedString) }
        return total
    }
}
