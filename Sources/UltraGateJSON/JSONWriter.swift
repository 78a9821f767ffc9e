import UltraGateSupport
/// Compact JSON output into a byte buffer: no Foundation, no intermediate strings.
/// `canonical` sorts object keys by their UTF-8 bytes, keeps the last of duplicate keys and
/// normalizes numbers (`1.0`, `1e0` and `1` are one number), so equal documents give equal bytes.
public struct JSONWriter {
    public var bytes: [UInt8]
    public let canonical: Bool

    public init(canonical: Bool = false, capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
        self.canonical = canonical
    }

    public static func serialize(_ value: JSON, canonical: Bool = false) -> [UInt8] {
        var w = JSONWriter(canonical: canonical)
        w.write(value)
        return w.bytes
    }

    public static func string(_ value: JSON) -> String {
        String(decoding: serialize(value), as: UTF8.self)
    }

    public mutating func write(_ value: JSON) {
        switch value {
        case .null: appendASCII("null")
        case .bool(let b): appendASCII(b ? "true" : "false")
        case .number(let n): canonical ? appendASCII(Self.canonicalNumber(n)) : appendASCII(n)
        case .string(let s): writeString(s)
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                write(item)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            writeObject(object)
        }
    }

    package mutating func writeObject(_ object: JSONObject) {
        bytes.append(UInt8(ascii: "{"))
        if canonical {
            // Keys are told apart by their bytes, as `CanonicalJSONWriter` does (`String` keys
            // would merge canonically equivalent spellings).
            var latest: [JSONKeyBytes: Int] = [:]
            for (i, pair) in object.pairs.enumerated() { latest[JSONKeyBytes(pair.key)] = i }
            let order = latest.sorted { JSONKeyBytes.precedes($0.key.key, $1.key.key) }
            for (n, entry) in order.enumerated() {
                if n > 0 { bytes.append(UInt8(ascii: ",")) }
                writeString(entry.key.key)
                bytes.append(UInt8(ascii: ":"))
                write(object.pairs[entry.value].value)
            }
        } else {
            for (i, pair) in object.pairs.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                writeString(pair.key)
                bytes.append(UInt8(ascii: ":"))
                write(pair.value)
            }
        }
        bytes.append(UInt8(ascii: "}"))
    }

    @inline(__always) public mutating func appendASCII(_ s: String) {
        bytes.append(contentsOf: s.utf8)
    }

    package static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    public mutating func writeString(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var runStart = 0
            var i = JSONStringScan.firstSpecial(in: utf8, from: 0)
            while i < utf8.count {
                let b = utf8[i]
                if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
                runStart = i + 1
                switch b {
                case 0x22: bytes.append(0x5C); bytes.append(0x22)
                case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
                case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
                case 0x08: bytes.append(0x5C); bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(0x5C); bytes.append(UInt8(ascii: "f"))
                default:
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30])
                    bytes.append(Self.hexDigits[Int(b >> 4)])
                    bytes.append(Self.hexDigits[Int(b & 0xF)])
                }
                i = JSONStringScan.firstSpecial(in: utf8, from: runStart)
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// One spelling per numeric value: integers (any size) as plain digits without sign on zero,
    /// everything else as the shortest text that round-trips through `Double`.
    public static func canonicalNumber(_ text: String) -> String {
        let isPlainInteger = !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        if isPlainInteger {
            if text == "-0" { return "0" }
            if text.utf8.count <= 15 { return text }
        }
        guard let d = Double(text), d.isFinite else { return text }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        if isPlainInteger { return text }  // a big integer keeps all its digits
        return "\(d)"
    }
}

extension JSON {
    /// Compact serialization (keys in their original order).
    public var serialized: [UInt8] { JSONWriter.serialize(self) }
    public var serializedString: String { JSONWriter.string(self) }
}
