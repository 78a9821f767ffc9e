import UltraGateCache
import Foundation

/// The secret of a virtual key: 256 bits from the kernel's CSPRNG (`getrandom`), written as
/// `ug-` + base64url without padding (46 characters). Only its SHA-256 is ever stored; the secret
/// itself exists in memory for the one answer that shows it.
package enum VirtualKeySecret {
    package static let prefix = "ug-"
    /// Characters of the secret shown in listings (`ug-…abcd`): 24 bits, enough to tell keys apart,
    /// too few to help guess one.
    package static let hintLength = 4

    /// A new secret.
    package static func generate() -> String {
        prefix + base64URL(SecureRandom.bytes(32))
    }

    /// What is stored and looked up: SHA-256 of the secret's UTF-8 bytes.
    package static func hash(_ secret: String) -> [UInt8] { SHA256.hash(secret) }

    /// The last characters of a secret, kept to tell keys apart.
    package static func hint(_ secret: String) -> String { String(secret.suffix(hintLength)) }

    /// RFC 4648 §5 base64url, without `=` padding.
    package static func base64URL(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }
}
