/// Model allow-list patterns: a name, or a pattern where `*` stands for any run of characters
/// (`openai/*`, `*-mini`, `*`). Matched greedily with one backtrack point, the classic wildcard
/// matcher: linear in the name for patterns with one `*`, and patterns are the operator's.
package enum ModelPattern {
    package static func matches(_ pattern: String, _ name: String) -> Bool {
        if !pattern.utf8.contains(UInt8(ascii: "*")) { return pattern == name }
        // Read in place: a keyed request with a model list runs this on every request.
        var pattern = pattern, name = name
        return pattern.withUTF8 { p in name.withUTF8 { s in matches(p, s) } }
    }

    private static func matches(_ p: UnsafeBufferPointer<UInt8>, _ s: UnsafeBufferPointer<UInt8>) -> Bool {
        var pi = 0, si = 0
        var star = -1, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] != UInt8(ascii: "*"), p[pi] == s[si] {
                pi += 1
                si += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = si
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                si = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
