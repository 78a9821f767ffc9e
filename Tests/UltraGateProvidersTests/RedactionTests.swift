import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench

@Suite struct RedactionTests {
    let key = "sk-proj-ABCDEFGH1234567890wxyz"

    @Test func removesTheKeyAndMaskedEchoesOfIt() {
        #expect(ProviderHTTP.redact("bad key \(key)!", secret: key) == "bad key [redacted]!")
        #expect(ProviderHTTP.redact("Incorrect API key provided: sk-proj-****************wxyz. See docs.", secret: key)
                == "Incorrect API key provided: [redacted]. See docs.")
        #expect(ProviderHTTP.redact("key sk-proj-ABCD... is invalid", secret: key) == "key [redacted]... is invalid")
    }

    @Test func leavesOrdinaryTextAlone() {
        let text = "The model is overloaded, please retry in 3 seconds."
        #expect(ProviderHTTP.redact(text, secret: key) == text)
        #expect(ProviderHTTP.redact(text, secret: nil) == text)
    }
}
