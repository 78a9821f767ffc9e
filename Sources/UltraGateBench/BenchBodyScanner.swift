import UltraGateJSON
import UltraGateSupport
/// Watches a response body as it arrives: for an SSE stream it times each `data:` event that
/// carries content (TTFT, inter-token gaps) and picks up the usage chunk; for a plain body it keeps
/// the bytes to read `usage.completion_tokens` at the end. Anthropic Messages answers are read
/// the same way: a non-empty `"text"` is content, `output_tokens` the completion tokens (the last
/// one seen: `message_delta` carries the final count). Byte scanning, no JSON parse, so the
/// client stays cheap next to the server it measures.
package struct BenchBodyScanner {
    package var isEventStream = false
    /// Nanosecond timestamp of the first content event, if any.
    package private(set) var firstTokenAt: UInt64?
    package private(set) var firstEventAt: UInt64?
    private var lastTokenAt: UInt64 = 0
    /// Gaps between consecutive content events of this response.
    package private(set) var gaps: [UInt64] = []
    package private(set) var completionTokens: Int?
    package private(set) var contentEvents = 0
    private var line: [UInt8] = []
    private var plain: [UInt8] = []
    package static let plainLimit = 1 << 20

    package mutating func reset(eventStream: Bool) {
        isEventStream = eventStream
        firstTokenAt = nil
        firstEventAt = nil
        lastTokenAt = 0
        gaps.removeAll(keepingCapacity: true)
        completionTokens = nil
        contentEvents = 0
        line.removeAll(keepingCapacity: true)
        plain.removeAll(keepingCapacity: true)
    }

    package mutating func consume(_ bytes: UnsafeRawBufferPointer, now: UInt64) {
        guard isEventStream else {
            if plain.count < Self.plainLimit { plain.append(contentsOf: bytes) }
            return
        }
        var start = 0
        for i in 0..<bytes.count where bytes[i] == 0x0A {
            if line.isEmpty {
                handleLine(UnsafeRawBufferPointer(rebasing: bytes[start..<i]), now: now)
            } else {
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
                let l = line
                l.withUnsafeBytes { handleLine($0, now: now) }
                line.removeAll(keepingCapacity: true)
            }
            start = i + 1
        }
        if start < bytes.count { line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start...])) }
    }

    /// Call once the body is complete.
    package mutating func finish(now: UInt64) {
        if isEventStream {
            if !line.isEmpty {
                let l = line
                l.withUnsafeBytes { handleLine($0, now: now) }
                line.removeAll(keepingCapacity: true)
            }
        } else {
            plain.withUnsafeBytes { completionTokens = Self.completionTokens(in: $0) }
        }
    }

    private mutating func handleLine(_ raw: UnsafeRawBufferPointer, now: UInt64) {
        var l = raw
        if l.last == 0x0D { l = UnsafeRawBufferPointer(rebasing: l.dropLast()) }
        guard l.count > 5, l[0] == 0x64, l[1] == 0x61, l[2] == 0x74, l[3] == 0x61, l[4] == 0x3A else { return }  // "data:"
        let payload = UnsafeRawBufferPointer(rebasing: l[5...])
        if firstEventAt == nil { firstEventAt = now }
        if Self.hasNonEmptyContent(payload) {
            contentEvents += 1
            if firstTokenAt == nil { firstTokenAt = now } else { gaps.append(now &- lastTokenAt) }
            lastTokenAt = now
        }
        if let n = Self.completionTokens(in: payload) { completionTokens = n }
    }

    private static let contentKey = Array(#""content":"#.utf8)
    private static let textKey = Array(#""text":"#.utf8)
    private static let tokensKey = Array(#""completion_tokens":"#.utf8)
    private static let outputTokensKey = Array(#""output_tokens":"#.utf8)

    /// True when the event has `"content": "<at least one character>"` (chat) or such a `"text"`
    /// (a Messages `text_delta`).
    package static func hasNonEmptyContent(_ bytes: UnsafeRawBufferPointer) -> Bool {
        hasNonEmptyString(contentKey, bytes) || hasNonEmptyString(textKey, bytes)
    }

    private static func hasNonEmptyString(_ key: [UInt8], _ bytes: UnsafeRawBufferPointer) -> Bool {
        var from = 0
        while let at = find(key, in: bytes, from: from) {
            var i = at + key.count
            while i < bytes.count, bytes[i] == 0x20 { i += 1 }
            if i + 1 < bytes.count, bytes[i] == 0x22, bytes[i + 1] != 0x22 { return true }
            from = at + 1
        }
        return false
    }

    package static func completionTokens(in bytes: UnsafeRawBufferPointer) -> Int? {
        let key = find(tokensKey, in: bytes, from: 0).map { ($0, tokensKey) }
            ?? find(outputTokensKey, in: bytes, from: 0).map { ($0, outputTokensKey) }
        guard let (at, found) = key else { return nil }
        var i = at + found.count
        while i < bytes.count, bytes[i] == 0x20 { i += 1 }
        var n = 0
        var digits = 0
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39, digits < 12 {
            n = n * 10 + Int(bytes[i] - 0x30)
            i += 1
            digits += 1
        }
        return digits > 0 ? n : nil
    }

    package static func find(_ needle: [UInt8], in bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        let n = needle.count
        guard n > 0, bytes.count - from >= n else { return nil }
        let first = needle[0]
        var i = from
        let last = bytes.count - n
        while i <= last {
            if bytes[i] == first {
                var j = 1
                while j < n && bytes[i + j] == needle[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }
}
