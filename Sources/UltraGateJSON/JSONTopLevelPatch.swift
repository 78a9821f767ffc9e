import UltraGateSupport
#if canImport(Glibc)
import Glibc
#endif

/// Replaces one top-level member's value in the text of a JSON object, leaving every other byte as
/// it was. An OpenAI-compatible upstream's answer differs from what the gateway sends on only in
/// `model` (the route's name), so patching that one value costs a scan where writing the parsed
/// object out again cost ~10k instructions per miss.
///
/// The text must already have passed `JSONParser` (this scan does not validate). The patch is
/// refused (`nil`) when the member is missing, appears more than once, or any top-level key has an
/// escape sequence, since then the key the parser saw may not be the bytes found here.
package enum JSONTopLevelPatch {
    package static func replacingString(_ key: String, with value: String, in text: [UInt8]) -> [UInt8]? {
        guard let range = text.withUnsafeBufferPointer({ valueRange(of: key, in: $0) }) else { return nil }
        var writer = JSONWriter(capacity: text.count + value.utf8.count + 8)
        writer.bytes.append(contentsOf: text[..<range.lowerBound])
        writer.writeString(value)
        writer.bytes.append(contentsOf: text[range.upperBound...])
        return writer.bytes
    }

    /// The byte range of the value of top-level member `key`.
    package static func valueRange(of key: String, in text: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var scan = Scan(text: text)
        scan.skipWhitespace()
        guard scan.consume(UInt8(ascii: "{")) else { return nil }
        var found: Range<Int>?
        var wanted = key
        return wanted.withUTF8 { wanted -> Range<Int>? in
            scan.skipWhitespace()
            if scan.consume(UInt8(ascii: "}")) { return nil }
            while true {
                scan.skipWhitespace()
                guard scan.peek == UInt8(ascii: "\""), let name = scan.plainString() else { return nil }
                scan.skipWhitespace()
                guard scan.consume(UInt8(ascii: ":")) else { return nil }
                scan.skipWhitespace()
                let start = scan.index
                guard scan.skipValue() else { return nil }
                if name.count == wanted.count, name.isEmpty || memcmp(name.baseAddress!, wanted.baseAddress!, name.count) == 0 {
                    if found != nil { return nil }
                    found = start..<scan.index
                }
                scan.skipWhitespace()
                if scan.consume(UInt8(ascii: ",")) { continue }
                return scan.consume(UInt8(ascii: "}")) ? found : nil
            }
        }
    }

    private struct Scan {
        let text: UnsafeBufferPointer<UInt8>
        var index = 0

        var peek: UInt8? { index < text.count ? text[index] : nil }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }

        mutating func skipWhitespace() {
            while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { index += 1 }
        }

        /// A string without escapes, from its opening quote: its content, the index past it.
        mutating func plainString() -> UnsafeBufferPointer<UInt8>? {
            let start = index + 1
            let end = JSONStringScan.firstSpecial(in: text, from: start)
            guard end < text.count, text[end] == UInt8(ascii: "\"") else { return nil }
            index = end + 1
            return UnsafeBufferPointer(rebasing: text[start..<end])
        }

        /// Past one value: strings honour escapes, containers nest.
        mutating func skipValue() -> Bool {
            guard let first = peek else { return false }
            switch first {
            case UInt8(ascii: "\""):
                return skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                repeat {
                    guard index < text.count else { return false }
                    switch text[index] {
                    case UInt8(ascii: "\""):
                        guard skipString() else { return false }
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        depth += 1
                        index += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        index += 1
                    default:
                        index += 1
                    }
                } while depth > 0
                return true
            default:
                // A number or literal: up to the next structural or whitespace byte.
                while let b = peek, b != UInt8(ascii: ","), b != UInt8(ascii: "}"), b != UInt8(ascii: "]"),
                      b != 0x20, b != 0x0A, b != 0x0D, b != 0x09 {
                    index += 1
                }
                return true
            }
        }

        mutating func skipString() -> Bool {
            var i = index + 1
            while true {
                i = JSONStringScan.firstSpecial(in: text, from: i)
                guard i < text.count else { return false }
                switch text[i] {
                case UInt8(ascii: "\""):
                    index = i + 1
                    return true
                case UInt8(ascii: "\\"):
                    i += 2  // the escaped byte (or the `u` of `\uXXXX`) cannot end the string
                default:
                    return false  // a raw control byte: not valid JSON
                }
            }
        }
    }
}
