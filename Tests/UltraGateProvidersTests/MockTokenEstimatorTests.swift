import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateUpstream
@testable import UltraGateProviders

@Suite struct MockTokenEstimatorTests {
    @Test func piecesFollowTheDocumentedRules() {
        // Alphanumeric runs split every 4 characters, punctuation alone, whitespace leads a piece.
        #expect(MockTokenEstimator.pieces("Hello, world!").map(String.init) == ["Hell", "o", ",", " worl", "d", "!"])
        #expect(MockTokenEstimator.count("") == 0)
        #expect(MockTokenEstimator.count("   ") == 0)
        #expect(MockTokenEstimator.count("abc  ") == 1)
    }

    /// The ASCII fast path of `count` against the Character-based `pieces`, on random text built
    /// from every ASCII byte class (control characters, CR LF pairs, digits, letters, punctuation).
    @Test func asciiFastPathAgreesWithPieces() {
        var rng = SplitMix64(seed: 7)
        let alphabet = Array("aZ09 \t\n\r\u{0B}\u{0C},.!?-_/+*\"'\u{01}\u{7F}").map(String.init) + ["\r\n", "abcdefgh", "    "]
        for _ in 0..<2000 {
            let length = Int(rng.next() % 40)
            let text = (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
            #expect(MockTokenEstimator.count(text) == MockTokenEstimator.pieces(text).count, "\(text.debugDescription)")
        }
        // Non-ASCII text takes the general path.
        #expect(MockTokenEstimator.count("héllo wörld") == MockTokenEstimator.pieces("héllo wörld").count)
    }
}
