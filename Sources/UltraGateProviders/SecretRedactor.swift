import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Removes configured secrets from text that came from an upstream (error messages and bodies)
/// before it reaches a client or a log.
///
/// Rule: every run of 8 or more bytes that is a piece of a registered secret is replaced by
/// `[redacted]`, wherever it sits in the text: the whole key, its first or last characters, or a
/// slice from its middle that an upstream echoed. Pieces shorter than 8 bytes are left alone (a
/// key's last four characters say little; hiding every short match would garble ordinary text).
/// A secret shorter than 8 bytes (but at least 4) is removed where it occurs whole. A word with
/// `***` in it is a key the upstream showed masked (OpenAI's `sk-proj-****abcd`) and goes whole.
///
/// Cost: each secret's 8-byte windows are packed into `UInt64`s in a set when registered; the
/// text is scanned once with a rolling 8-byte window, one set lookup per byte, marking the bytes
/// each hit covers. O(text length), however many or long the secrets.
///
/// Registered: provider API keys and the values of configured headers that carry credentials
/// (see `isSecretHeader`); `register(_:)` takes any other secret (e.g. a gateway master key).
public struct SecretRedactor: Sendable {
    /// The shortest piece of a secret that is redacted where it appears.
    public static let minimumPiece = 8
    package static let replacement = "[redacted]"

    /// Every 8-byte window of every secret of 8 bytes or more.
    private var windows: Set<UInt64> = []
    /// Whole secrets of 4 to 7 bytes, by length (index 0 is length 4).
    private var shortSecrets: [Set<UInt64>] = Array(repeating: [], count: 4)

    public init() {}

    public init<S: Sequence>(secrets: S) where S.Element == String {
        for secret in secrets { register(secret) }
    }

    /// A provider's key and its credential-carrying headers.
    public init(apiKey: String?, headers: [HTTPHeaderField]) {
        self.init(secrets: SecretRedactor.secrets(apiKey: apiKey, headers: headers))
    }

    package static func secrets(apiKey: String?, headers: [HTTPHeaderField]) -> [String] {
        [apiKey].compactMap { $0 } + headers.filter { isSecretHeader($0.name) }.map(\.value)
    }

    /// True when nothing is registered (then text passes unchanged, masked words included).
    public var isEmpty: Bool { windows.isEmpty && shortSecrets.allSatisfy(\.isEmpty) }

    public mutating func register(_ secret: String) {
        let bytes = Array(secret.utf8)
        if bytes.count >= Self.minimumPiece {
            var window: UInt64 = 0
            for (i, byte) in bytes.enumerated() {
                window = window << 8 | UInt64(byte)
                if i >= Self.minimumPiece - 1 { windows.insert(window) }
            }
        } else if bytes.count >= 4 {
            shortSecrets[bytes.count - 4].insert(bytes.reduce(0) { $0 << 8 | UInt64($1) })
        }
    }

    /// A configured header whose value is a credential: `Authorization`, `Cookie`, or a name that
    /// says key, token, secret, password, auth, signature, credential or session.
    public static func isSecretHeader(_ name: String) -> Bool {
        let name = name.lowercased()
        if name == "cookie" { return true }
        return ["auth", "key", "token", "secret", "password", "signature", "credential", "session"]
            .contains { name.contains($0) }
    }

    public func redact(_ text: String) -> String {
        guard !isEmpty else { return text }
        let bytes = Array(text.utf8)
        guard let covered = coveredBytes(bytes) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if covered[i] {
                out.append(contentsOf: Self.replacement.utf8)
                while i < bytes.count && covered[i] { i += 1 }
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Which bytes are redacted, or nil when none is.
    package func coveredBytes(_ bytes: [UInt8]) -> [Bool]? {
        var covered: [Bool]?
        func mark(_ range: Range<Int>) {
            if covered == nil { covered = Array(repeating: false, count: bytes.count) }
            for i in range { covered![i] = true }
        }
        let piece = Self.minimumPiece
        let hasShort = !shortSecrets.allSatisfy(\.isEmpty)
        var window: UInt64 = 0
        // A hit marks the 8 bytes it ends at; consecutive hits overlap, so a longer piece is
        // marked whole without marking any byte more than 8 times.
        for (i, byte) in bytes.enumerated() {
            window = window << 8 | UInt64(byte)
            if i >= piece - 1 && windows.contains(window) { mark(i + 1 - piece..<i + 1) }
            if hasShort {
                for length in 4..<piece where i >= length - 1 && !shortSecrets[length - 4].isEmpty {
                    let mask: UInt64 = (1 << UInt64(length * 8)) - 1
                    if shortSecrets[length - 4].contains(window & mask) { mark(i + 1 - length..<i + 1) }
                }
            }
        }
        markMaskedWords(bytes, mark)
        guard var result = covered else { return nil }
        widenToCharacterBoundaries(bytes, &result)
        return result
    }

    /// Words holding `***`, without the punctuation that ends a sentence or quote around them.
    private func markMaskedWords(_ bytes: [UInt8], _ mark: (Range<Int>) -> Void) {
        let star = UInt8(ascii: "*")
        var i = 0
        while i + 2 < bytes.count {
            guard bytes[i] == star, bytes[i + 1] == star, bytes[i + 2] == star else { i += 1; continue }
            var start = i
            while start > 0 && !Self.endsWord(bytes[start - 1]) { start -= 1 }
            var end = i
            while end < bytes.count && !Self.endsWord(bytes[end]) { end += 1 }
            var core = end
            while core > start && Self.isTrailingPunctuation(bytes[core - 1]) { core -= 1 }
            mark(start..<core)
            i = end
        }
    }

    private static func endsWord(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    private static func isTrailingPunctuation(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: ")"),
             UInt8(ascii: "\""), UInt8(ascii: "'"): return true
        default: return false
        }
    }

    /// A marked run that starts or ends inside a multi-byte character takes the whole character,
    /// so the text stays valid UTF-8.
    private func widenToCharacterBoundaries(_ bytes: [UInt8], _ covered: inout [Bool]) {
        func isContinuation(_ i: Int) -> Bool { i < bytes.count && bytes[i] & 0xC0 == 0x80 }
        var i = 0
        while i < bytes.count {
            guard covered[i] else { i += 1; continue }
            var start = i
            while start > 0 && isContinuation(start) { start -= 1; covered[start] = true }
            var end = i
            while end < bytes.count && covered[end] { end += 1 }
            while isContinuation(end) { covered[end] = true; end += 1 }
            i = end
        }
    }
}
