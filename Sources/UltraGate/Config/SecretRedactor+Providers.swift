import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import UltraGateProviders

extension SecretRedactor {
    /// Every provider's secrets, so that no upstream's error text can show any of them.
    public init(providers: [ProviderSettings]) {
        self.init(secrets: providers.flatMap { SecretRedactor.secrets(apiKey: $0.apiKey, headers: $0.headers) })
    }
}
