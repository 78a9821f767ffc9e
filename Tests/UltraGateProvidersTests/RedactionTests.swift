import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

@Suite struct RedactionTests {
    let key = "sk-proj-ABCDEFGH1234567890wxyz"
    var redactor: SecretRedactor { SecretRedactor(secrets: [key]) }

    /// Every piece of `secret` of `minimumPiece` bytes or more that is still in `text`.
    func leakedPieces(of secret: String, in text: String) -> [String] {
        let bytes = Array(secret.utf8)
        var leaked: [String] = []
        for start in bytes.indices {
            for end in stride(from: start + SecretRedactor.minimumPiece, through: bytes.count, by: 1) {
                let piece = String(decoding: bytes[start..<end], as: UTF8.self)
                if text.contains(piece) { leaked.append(piece) }
            }
        }
        return leaked
    }

    @Test func removesTheKeyAndMaskedEchoesOfIt() {
        #expect(redactor.redact("bad key \(key)!") == "bad key [redacted]!")
        #expect(redactor.redact("Incorrect API key provided: sk-proj-****************wxyz. See docs.")
                == "Incorrect API key provided: [redacted]. See docs.")
        #expect(redactor.redact("key sk-proj-ABCD... is invalid") == "key [redacted]... is invalid")
    }

    /// The audit's case: an upstream 401 echoing a 17-character slice from the middle of the key.
    @Test func removesSlicesFromAnywhereInTheKey() {
        let bytes = Array(key.utf8)
        let slices = [
            String(decoding: bytes.prefix(8), as: UTF8.self),            // start, 8 characters
            String(decoding: bytes.suffix(8), as: UTF8.self),            // end, 8 characters
            String(decoding: bytes[6..<23], as: UTF8.self),              // middle, 17 characters
            String(decoding: bytes[10..<18], as: UTF8.self),             // middle, 8 characters
            String(decoding: bytes.prefix(17), as: UTF8.self),           // start, 17 characters
            String(decoding: bytes.suffix(17), as: UTF8.self),           // end, 17 characters
            key,
        ]
        for slice in slices {
            for text in ["token \(slice) rejected", "x\(slice)y", slice, "{\"key\":\"\(slice)\"}"] {
                let out = redactor.redact(text)
                #expect(leakedPieces(of: key, in: out).isEmpty, "\(slice) in \(text) → \(out)")
                #expect(out.contains("[redacted]"))
            }
        }
        // Every slice of 8 or more characters, each alone in a sentence.
        for start in bytes.indices {
            for end in stride(from: start + 8, through: bytes.count, by: 1) {
                let out = redactor.redact("echo: \(String(decoding: bytes[start..<end], as: UTF8.self)).")
                #expect(leakedPieces(of: key, in: out).isEmpty, "\(start)..<\(end) → \(out)")
            }
        }
    }

    @Test func piecesShorterThanEightStay() {
        let bytes = Array(key.utf8)
        for start in 0...(bytes.count - 7) {
            let piece = String(decoding: bytes[start..<start + 7], as: UTF8.self)
            let text = "near \(piece) miss"
            #expect(redactor.redact(text) == text)
        }
    }

    @Test func separateSlicesAreEachRemovedAndTheRestKept() {
        let out = redactor.redact("a=ABCDEFGH1 and b=567890wxyz, c=plain")
        #expect(out == "a=[redacted] and b=[redacted], c=plain")
    }

    @Test func everyRegisteredSecretCounts() {
        var redactor = SecretRedactor(apiKey: "first-key-0123456789",
                                      headers: [HTTPHeaderField("X-Api-Key", "header-secret-abcdef"),
                                                HTTPHeaderField("Authorization", "Bearer bearer-token-9876"),
                                                HTTPHeaderField("HTTP-Referer", "https://example.com/app")])
        redactor.register("master-key-zyxwvut")
        let text = "k=key-0123 h=secret-abc b=token-98 m=key-zyxw u=https://example.com/app"
        #expect(redactor.redact(text) == "k=[redacted] h=[redacted] b=[redacted] m=[redacted] u=https://example.com/app")
        #expect(SecretRedactor.isSecretHeader("api-key") && SecretRedactor.isSecretHeader("Proxy-Authorization")
                && SecretRedactor.isSecretHeader("x-goog-api-key") && !SecretRedactor.isSecretHeader("anthropic-version"))
    }

    @Test func aShortSecretGoesWhereItOccursWhole() {
        let redactor = SecretRedactor(secrets: ["s3cr7"])
        #expect(redactor.redact("key s3cr7 and s3cr") == "key [redacted] and s3cr")
        #expect(SecretRedactor(secrets: ["abc"]).isEmpty)
    }

    @Test func multiByteCharactersAreNotCutInHalf() {
        let redactor = SecretRedactor(secrets: ["é-key-with-ünïcode-42"])
        let out = redactor.redact("bad: é-key-with-ün!")
        #expect(out == "bad: [redacted]!")
        // `ĩ` (C4 A9) ends in the same byte as `é` (C3 A9): the match starts inside it, and the
        // whole character goes.
        #expect(redactor.redact("x\u{0129}-key-with") == "x[redacted]")
    }

    @Test func leavesOrdinaryTextAlone() {
        let text = "The model is overloaded, please retry in 3 seconds."
        #expect(redactor.redact(text) == text)
        #expect(SecretRedactor().redact("masked sk-****abcd stays without secrets") == "masked sk-****abcd stays without secrets")
    }

    /// Linear work: a megabyte of text against a long secret is one pass (no per-secret-length
    /// factor); this only checks the answer, the bound is in the algorithm.
    @Test func largeBodiesAndLongSecrets() {
        let secret = String(repeating: "0123456789abcdef", count: 256)  // 4 KB
        let redactor = SecretRedactor(secrets: [secret])
        let filler = String(repeating: "lorem ipsum ", count: 20_000)
        let out = redactor.redact(filler + String(secret.dropFirst(100).prefix(1000)) + filler)
        #expect(out == filler + "[redacted]" + filler)
    }
}
