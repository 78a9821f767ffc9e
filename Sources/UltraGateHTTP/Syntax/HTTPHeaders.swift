import UltraGateSupport
/// The header fields of a message in the order received, with ASCII case-insensitive lookups
/// that compare bytes in place (no lowercased copies).
public struct HTTPHeaders: Sendable, Equatable {
    public var fields: [HTTPHeaderField]

    public init(_ fields: [HTTPHeaderField] = []) {
        self.fields = fields
    }

    public mutating func append(_ name: String, _ value: String) {
        fields.append(HTTPHeaderField(name, value))
    }

    /// The first value of the field `name`, or nil.
    public subscript(name: String) -> String? {
        for field in fields where HTTPSyntax.equalsCaseInsensitive(field.name.utf8, name.utf8) {
            return field.value
        }
        return nil
    }

    /// Every value of the field `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { HTTPSyntax.equalsCaseInsensitive($0.name.utf8, name.utf8) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool {
        fields.contains { HTTPSyntax.equalsCaseInsensitive($0.name.utf8, name.utf8) }
    }

    /// Whether any field `name` lists `token` in its comma-separated value, ignoring ASCII case
    /// and OWS (e.g. `Connection: keep-alive, Upgrade`).
    public func containsToken(_ name: String, _ token: String) -> Bool {
        containsListElement(name) { HTTPSyntax.equalsCaseInsensitive($0, token.utf8) }
    }

    /// Whether any field `name` lists an element other than `token`, ignoring ASCII case and OWS
    /// (e.g. `Content-Encoding: gzip, identity` lists one other than `identity`).
    public func containsToken(_ name: String, otherThan token: String) -> Bool {
        containsListElement(name) { !HTTPSyntax.equalsCaseInsensitive($0, token.utf8) }
    }

    /// Whether an element of a comma-separated value of any field `name` (OWS trimmed, empty
    /// elements skipped) `matches`.
    private func containsListElement(_ name: String, where matches: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        for field in fields where HTTPSyntax.equalsCaseInsensitive(field.name.utf8, name.utf8) {
            var value = field.value
            let found = value.withUTF8 { p -> Bool in
                var hit = false
                HTTPSyntax.forEachListElement(p, 0, p.count) { s, e in
                    hit = matches(UnsafeBufferPointer(rebasing: p[s..<e]))
                    return !hit
                }
                return hit
            }
            if found { return true }
        }
        return false
    }
}
