import UltraGateSupport
/// Why a byte sequence is not acceptable JSON. `offset` is the byte position of the problem.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        case empty = "empty body"
        case unexpectedEnd = "unexpected end of input"
        case unexpectedCharacter = "unexpected character"
        case invalidNumber = "invalid number"
        case invalidString = "invalid string"
        case invalidEscape = "invalid escape sequence"
        case invalidUTF8 = "invalid UTF-8"
        case tooDeep = "nesting too deep"
        case trailingData = "unexpected data after the JSON value"
        case duplicateKey = "duplicate key"
    }
    public let reason: Reason
    public let offset: Int
    /// For `.duplicateKey`: the key that appears twice in one object.
    public let key: String?
    /// For `.duplicateKey`: where the repeated member is, in the form request errors name a
    /// parameter (`messages[0].content`, `metadata.x`; the key alone at the top level).
    public let path: String?

    public init(reason: Reason, offset: Int, key: String? = nil, path: String? = nil) {
        self.reason = reason
        self.offset = offset
        self.key = key
        self.path = path
    }

    public var description: String {
        guard reason == .duplicateKey, let key else { return "\(reason.rawValue) at byte \(offset)" }
        let place = path.map { $0 == key ? "" : " at '\($0)'" } ?? ""
        return "duplicate key `\(key)`\(place) at byte \(offset); each key may appear only once in an object"
    }
}

/// A strict RFC 8259 parser over raw bytes: no comments, no trailing commas, no NaN, UTF-8 only,
/// bounded nesting so hostile input (100k `[`) is an error rather than a stack overflow.
///
/// A key repeated in one object is an error (`.duplicateKey`, naming the key and its path), as in
/// I-JSON (RFC 7493 §2.3): parsers disagree on which of the values counts, so a body forwarded as
/// sent could mean one thing to the gateway (validation, cache key) and another to an upstream.
/// Keys compare by their bytes after unescaping. The check costs a scan of the earlier keys in
/// small objects and a hash set in large ones, so it stays linear in the object's size.
public struct JSONParser {
    public static let defaultMaxDepth = 128

    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSON {
        do {
            return try bytes.withUnsafeBufferPointer { buffer in
                var parser = Cursor(buffer, maxDepth: maxDepth)
                return try parser.parseDocument()
            }
        } catch let error as JSONParseError {
            throw error
        } catch {
            throw JSONParseError(reason: .unexpectedCharacter, offset: 0)
        }
    }

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSON {
        var parser = Cursor(bytes, maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSON {
        var text = text
        // Native strings hand out their UTF-8 in place: no copy into an array first.
        do {
            return try text.withUTF8 { buffer in try parse(buffer, maxDepth: maxDepth) }
        } catch let error as JSONParseError {
            throw error
        } catch {
            throw JSONParseError(reason: .unexpectedCharacter, offset: 0)
        }
    }

    package struct Cursor {
        package let bytes: UnsafeBufferPointer<UInt8>
        package let maxDepth: Int
        package var index = 0
        package var depth = 0
        package let common = JSONCommonStrings.shared

        package init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        package func fail(_ reason: JSONParseError.Reason) -> JSONParseError {
            JSONParseError(reason: reason, offset: index)
        }

        package mutating func parseDocument() throws(JSONParseError) -> JSON {
            do throws(JSONParseError) {
                skipWhitespace()
                if index >= bytes.count { throw fail(.empty) }
                let value = try parseValue()
                skipWhitespace()
                if index != bytes.count { throw fail(.trailingData) }
                return value
            } catch {
                guard error.reason == .duplicateKey else { throw error }
                // The path is found again from the start, so that parsing pays nothing for it.
                throw JSONParseError(reason: .duplicateKey, offset: error.offset, key: error.key,
                                     path: memberPath(at: error.offset))
            }
        }

        // MARK: The path to a repeated key (error path only)

        /// The path of the member whose key starts at byte `target`, in the form request errors
        /// name a parameter (`a.b[1].c`). The text before `target` is known to parse.
        package mutating func memberPath(at target: Int) -> String? {
            index = 0
            depth = 0
            var components: [String] = []
            skipWhitespace()
            guard (try? locate(target, &components)) == true else { return nil }
            var path = ""
            for component in components {
                if !path.isEmpty && component.utf8.first != UInt8(ascii: "[") { path += "." }
                path += component
            }
            return path
        }

        /// Walks the value at `index`, descending into containers, until the key at `target`:
        /// true with the path's components, else past the value.
        private mutating func locate(_ target: Int, _ components: inout [String]) throws(JSONParseError) -> Bool {
            skipWhitespace()
            guard index < bytes.count else { throw fail(.unexpectedEnd) }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                while true {
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { index += 1; return false }  // `}`
                    let keyOffset = index
                    components.append(try parseString())
                    if keyOffset == target { return true }
                    skipWhitespace()
                    index += 1  // `:`
                    if try locate(target, &components) { return true }
                    components.removeLast()
                    skipWhitespace()
                    if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1 } else { index += 1; return false }
                }
            case UInt8(ascii: "["):
                index += 1
                var item = 0
                while true {
                    skipWhitespace()
                    if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return false }
                    components.append("[\(item)]")
                    if try locate(target, &components) { return true }
                    components.removeLast()
                    item += 1
                    skipWhitespace()
                    if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1 } else { index += 1; return false }
                }
            default:
                _ = try parseValue()
                return false
            }
        }

        @inline(__always) package mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x0A, 0x0D, 0x09: index += 1
                default: return
                }
            }
        }

        package mutating func parseValue() throws(JSONParseError) -> JSON {
            guard index < bytes.count else { throw fail(.unexpectedEnd) }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try parseObject()
            case UInt8(ascii: "["): return try parseArray()
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
            case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
            case UInt8(ascii: "n"): try expectLiteral("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
            default: throw fail(.unexpectedCharacter)
            }
        }

        package mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
            let n = literal.utf8CodeUnitCount
            guard index + n <= bytes.count else { throw fail(.unexpectedEnd) }
            let p = literal.utf8Start
            for i in 0..<n where bytes[index + i] != p[i] { throw fail(.unexpectedCharacter) }
            index += n
        }

        package mutating func enter() throws(JSONParseError) {
            depth += 1
            if depth > maxDepth { throw fail(.tooDeep) }
        }

        /// Objects with more members than this check for duplicate keys in a hash set; smaller ones
        /// compare with each earlier key (no allocation, and cheaper at chat-request sizes).
        package static let duplicateScanLimit = 16

        package mutating func parseObject() throws(JSONParseError) -> JSON {
            try enter()
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                depth -= 1
                return .object(JSONObject())
            }
            // One allocation for the usual object, where appending to an empty array reallocated
            // it at 1, 2 and 4 members (~5k instructions over a miss's two parses).
            var pairs: [JSONObject.Element] = []
            pairs.reserveCapacity(8)
            // The lengths (mod 64) of the keys so far: most keys differ in length from all before
            // them, and then need no comparison at all.
            var lengths: UInt64 = 0
            while true {
                let (key, keyOffset) = try parseKey()
                let length = UInt64(1) << UInt64(key.utf8.count & 63)
                if lengths & length != 0, Self.scanFinds(key, in: pairs) {
                    throw JSONParseError(reason: .duplicateKey, offset: keyOffset, key: key)
                }
                lengths |= length
                pairs.append((key: key, value: try parseValue()))
                if try parseObjectEnd() { return .object(JSONObject(pairs)) }
                if pairs.count == Self.duplicateScanLimit { return try parseLargeObjectRest(&pairs) }
            }
        }

        /// The members of an object past `duplicateScanLimit`: each key is checked against a hash
        /// set of those before it, so a large object costs one lookup per member, not a scan.
        @inline(never)
        package mutating func parseLargeObjectRest(_ pairs: inout [JSONObject.Element]) throws(JSONParseError) -> JSON {
            var seen = Set<JSONKeyBytes>(minimumCapacity: 4 * pairs.count)
            for pair in pairs { seen.insert(JSONKeyBytes(pair.key)) }
            while true {
                let (key, keyOffset) = try parseKey()
                if !seen.insert(JSONKeyBytes(key)).inserted {
                    throw JSONParseError(reason: .duplicateKey, offset: keyOffset, key: key)
                }
                pairs.append((key: key, value: try parseValue()))
                if try parseObjectEnd() { return .object(JSONObject(pairs)) }
            }
        }

        /// A member's key and the colon after it; `offset` is where the key's quote is.
        @inline(__always)
        package mutating func parseKey() throws(JSONParseError) -> (key: String, offset: Int) {
            skipWhitespace()
            guard index < bytes.count else { throw fail(.unexpectedEnd) }
            guard bytes[index] == UInt8(ascii: "\"") else { throw fail(.unexpectedCharacter) }
            let offset = index
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count else { throw fail(.unexpectedEnd) }
            guard bytes[index] == UInt8(ascii: ":") else { throw fail(.unexpectedCharacter) }
            index += 1
            skipWhitespace()
            return (key, offset)
        }

        /// After a member: true at the closing brace, false after a comma.
        @inline(__always)
        package mutating func parseObjectEnd() throws(JSONParseError) -> Bool {
            skipWhitespace()
            guard index < bytes.count else { throw fail(.unexpectedEnd) }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
                return false
            case UInt8(ascii: "}"):
                index += 1
                depth -= 1
                return true
            default:
                throw fail(.unexpectedCharacter)
            }
        }

        /// Whether `key` is among the keys of `pairs` (fewer than `duplicateScanLimit`).
        @inline(__always)
        package static func scanFinds(_ key: String, in pairs: [JSONObject.Element]) -> Bool {
            var i = 0
            while i < pairs.count {
                if JSONKeyBytes.equal(pairs[i].key, key) { return true }
                i += 1
            }
            return false
        }

        package mutating func parseArray() throws(JSONParseError) -> JSON {
            try enter()
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                depth -= 1
                return .array([])
            }
            var items: [JSON] = []
            items.reserveCapacity(4)
            while true {
                skipWhitespace()
                items.append(try parseValue())
                skipWhitespace()
                guard index < bytes.count else { throw fail(.unexpectedEnd) }
                switch bytes[index] {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    depth -= 1
                    return .array(items)
                default: throw fail(.unexpectedCharacter)
                }
            }
        }

        package mutating func parseNumber() throws(JSONParseError) -> String {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count else { throw fail(.invalidNumber) }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else if isDigit(bytes[index]) {
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            } else {
                throw fail(.invalidNumber)
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw fail(.invalidNumber) }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard index < bytes.count, isDigit(bytes[index]) else { throw fail(.invalidNumber) }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        }

        @inline(__always) package func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

        /// Parses a string starting at the opening quote. Plain ASCII runs are copied in one go;
        /// escapes and multi-byte sequences go through a scratch buffer that is validated as UTF-8.
        package mutating func parseString() throws(JSONParseError) -> String {
            index += 1
            let start = index
            // Fast path: no escapes. An ASCII run needs no validation.
            var sawHighByte = false
            index = JSONStringScan.firstSpecial(in: bytes, from: start, sawHighByte: &sawHighByte)
            if index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: "\"") {
                    let run = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    if !sawHighByte { return common.lookup(run) ?? String(decoding: run, as: UTF8.self) }
                    guard UTF8Validation.isValid(run) else { throw JSONParseError(reason: .invalidUTF8, offset: start) }
                    return String(decoding: run, as: UTF8.self)
                }
                if b < 0x20 { throw fail(.invalidString) }
            }
            guard index < bytes.count else { throw fail(.unexpectedEnd) }
            // Slow path: unescape into a scratch buffer.
            var scratch = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<index]))
            scratch.reserveCapacity(scratch.count + 16)
            while index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: "\"") {
                    index += 1
                    return try scratch.withUnsafeBufferPointer { run throws(JSONParseError) -> String in
                        guard UTF8Validation.isValid(run) else { throw JSONParseError(reason: .invalidUTF8, offset: start) }
                        return String(decoding: run, as: UTF8.self)
                    }
                }
                if b < 0x20 { throw fail(.invalidString) }
                if b != UInt8(ascii: "\\") {
                    // Copy the plain run up to the next special byte in one go.
                    let next = JSONStringScan.firstSpecial(in: bytes, from: index)
                    scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<next]))
                    index = next
                    continue
                }
                index += 1
                guard index < bytes.count else { throw fail(.unexpectedEnd) }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): scratch.append(0x22)
                case UInt8(ascii: "\\"): scratch.append(0x5C)
                case UInt8(ascii: "/"): scratch.append(0x2F)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        // A high surrogate must be followed by an escaped low surrogate.
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw fail(.invalidEscape) }
                        index += 2
                        let low = try parseHex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw fail(.invalidEscape) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw fail(.invalidEscape)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail(.invalidEscape) }
                    scratch.append(contentsOf: UTF8.encode(u)!)
                default:
                    throw fail(.invalidEscape)
                }
            }
            throw fail(.unexpectedEnd)
        }

        package mutating func parseHex4() throws(JSONParseError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail(.unexpectedEnd) }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw fail(.invalidEscape)
                }
                v = v << 4 | d
                index += 1
            }
            return v
        }
    }
}
