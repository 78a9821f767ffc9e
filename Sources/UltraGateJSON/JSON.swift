import UltraGateSupport
/// A JSON value that keeps what a proxy must not lose: the key order of objects and the exact
/// text of numbers (a 64-bit `seed` survives untouched; `1.0` stays `1.0` when passed through).
public enum JSON: Sendable, Hashable {
    case null
    case bool(Bool)
    /// The number's text as it appeared in the input (already validated against RFC 8259).
    case number(String)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public static func int(_ value: Int) -> JSON { .number(String(value)) }
    public static func double(_ value: Double) -> JSON {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return .number(String(Int(value))) }
        return .number(value.isFinite ? "\(value)" : "0")
    }

    public var isNull: Bool { if case .null = self { return true } else { return false } }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    public var doubleValue: Double? { if case .number(let n) = self { return Double(n) } else { return nil } }
    /// The value as an integer, when it is a number with no fractional part that fits in `Int`.
    public var intValue: Int? {
        guard case .number(let n) = self else { return nil }
        if let i = Int(n) { return i }
        guard let d = Double(n), d.isFinite, d == d.rounded(), abs(d) < 9.0e18 else { return nil }
        return Int(d)
    }

    /// The value as a token count from an upstream's `usage`: an integer held to 0...2^40, so the
    /// sums and differences the gateway makes of counts can never overflow, whatever a hostile or
    /// broken upstream sends (a negative count counts as 0).
    public var tokenCount: Int? { intValue.map { Swift.min(Swift.max($0, 0), JSON.maxTokenCount) } }
    public static let maxTokenCount = 1 << 40

    /// Member lookup for objects (`nil` for other kinds or a missing key).
    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The JSON type name used in error messages ("string", "object", …).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

/// A JSON object that keeps insertion order. Lookups are linear, which beats hashing for the
/// small objects of chat requests; later duplicates of a key replace the earlier value on lookup
/// (`JSONParser` refuses duplicates, so only objects built in code can have them). A lookup or
/// setter in a loop over another object's members is quadratic: use `update(with:)`.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: String, value: JSON)
    public private(set) var pairs: [Element]

    public init() { pairs = [] }
    public init(_ pairs: [Element]) { self.pairs = pairs }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        pairs = elements.map { (key: $0.0, value: $0.1) }
    }

    public var count: Int { pairs.count }
    public var isEmpty: Bool { pairs.isEmpty }
    public var keys: [String] { pairs.map(\.key) }
    public func makeIterator() -> IndexingIterator<[Element]> { pairs.makeIterator() }

    public subscript(key: String) -> JSON? {
        get {
            var i = pairs.count - 1
            while i >= 0 {
                if Self.same(pairs[i].key, key) { return pairs[i].value }
                i -= 1
            }
            return nil
        }
        set {
            guard let value = newValue else { pairs.removeAll { Self.same($0.key, key) }; return }
            guard let first = pairs.firstIndex(where: { Self.same($0.key, key) }) else {
                pairs.append((key: key, value: value))
                return
            }
            pairs[first].value = value
            var i = pairs.count - 1
            while i > first {  // drop later duplicates so the one value set is the one seen
                if Self.same(pairs[i].key, key) { pairs.remove(at: i) }
                i -= 1
            }
        }
    }

    public mutating func append(_ key: String, _ value: JSON) { pairs.append((key: key, value: value)) }

    /// Sets each member of `other` whose value `include` accepts, as `self[key] = value` would one
    /// by one (a key already here keeps its place and loses its later duplicates), in time linear
    /// in both sizes: a setter per member scans all members, quadratic for a large `other`.
    public mutating func update(with other: JSONObject, where include: (JSON) -> Bool = { _ in true }) {
        guard !other.isEmpty else { return }
        var first: [JSONKeyBytes: Int] = [:]
        var repeats: [Int: [Int]] = [:]  // the first position of a key → its duplicates' positions
        first.reserveCapacity(pairs.count + other.count)
        for i in pairs.indices {
            let key = JSONKeyBytes(pairs[i].key)
            if let at = first[key] { repeats[at, default: []].append(i) } else { first[key] = i }
        }
        var dropped: Set<Int> = []
        for (key, value) in other.pairs where include(value) {
            if let at = first[JSONKeyBytes(key)] {
                pairs[at].value = value
                if let later = repeats.removeValue(forKey: at) { dropped.formUnion(later) }
            } else {
                first[JSONKeyBytes(key)] = pairs.count
                pairs.append((key: key, value: value))
            }
        }
        if !dropped.isEmpty { pairs = pairs.indices.filter { !dropped.contains($0) }.map { pairs[$0] } }
    }

    public mutating func removeValue(forKey key: String) { pairs.removeAll { Self.same($0.key, key) } }

    /// Key equality with the length compared first: `String.==` on two different short keys
    /// otherwise calls into the standard library's slow comparison, and most keys differ in length.
    @inline(__always)
    package static func same(_ a: String, _ b: String) -> Bool { a.utf8.count == b.utf8.count && a == b }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.pairs.count == rhs.pairs.count
            && zip(lhs.pairs, rhs.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(pairs.count)
        for p in pairs { hasher.combine(p.key); hasher.combine(p.value) }
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(JSONObject(elements.map { (key: $0.0, value: $0.1) }))
    }
    public init(nilLiteral: ()) { self = .null }
}
