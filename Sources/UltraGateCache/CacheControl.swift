import UltraGateJSON
import UltraGateSupport
/// The request's `Cache-Control` directives that steer the response cache (RFC 9111 §5.2.1):
/// `no-cache` skips the lookup and refreshes the entry, `no-store` keeps the answer out of the
/// cache, `max-age=N` accepts only entries younger than N seconds (`max-age=0` acts as no-cache).
public struct CacheControl: Sendable, Equatable {
    public var noCache = false
    public var noStore = false
    public var maxAge: Double?

    public init(noCache: Bool = false, noStore: Bool = false, maxAge: Double? = nil) {
        self.noCache = noCache
        self.noStore = noStore
        self.maxAge = maxAge
    }

    /// Parses every `Cache-Control` value (comma-separated directives, case-insensitive names,
    /// quoted or bare arguments); unknown directives are ignored.
    public init(headerValues: [String]) {
        for value in headerValues {
            for raw in value.split(separator: ",") {
                let directive = String(raw).trimmingSpacesAndTabs()
                let parts = directive.split(separator: "=", maxSplits: 1)
                let name = parts.first.map { $0.lowercased() } ?? ""
                var argument = parts.count > 1 ? String(parts[1]).trimmingSpacesAndTabs() : nil
                if let a = argument, a.hasPrefix("\""), a.hasSuffix("\""), a.count >= 2 {
                    argument = String(a.dropFirst().dropLast())
                }
                switch name {
                case "no-cache": noCache = true
                case "no-store": noStore = true
                case "max-age":
                    if let a = argument, let seconds = Int(a), seconds >= 0 {
                        maxAge = Double(seconds)
                        if seconds == 0 { noCache = true }
                    }
                default: break
                }
            }
        }
    }

    /// Whether the cache may answer this request.
    public var allowsLookup: Bool { !noCache }
}

extension String {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace). Works on the
    /// UTF-8 bytes: both are ASCII, so no Unicode processing is needed.
    package func trimmingSpacesAndTabs() -> String {
        let utf8 = self.utf8
        func isOWS(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        guard let first = utf8.firstIndex(where: { !isOWS($0) }) else { return "" }
        let last = utf8.lastIndex(where: { !isOWS($0) })!
        if first == utf8.startIndex && last == utf8.index(before: utf8.endIndex) { return self }
        return String(self[first...last])
    }
}
