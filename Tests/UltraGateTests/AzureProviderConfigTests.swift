import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// `type: "azure"` in the config and Azure OpenAI from the environment.
@Suite struct AzureProviderConfigTests {
    func load(_ text: String, environment: [String: String] = [:]) throws -> GatewayConfig {
        var config = GatewayConfig()
        try ConfigLoader(environment: environment).apply(try #require(try JSONParser.parse(text).objectValue), to: &config)
        return config
    }

    func error(_ text: String) -> String? {
        do { _ = try load(text); return nil } catch let error as ConfigError { return error.message } catch { return "\(error)" }
    }

    func provider(_ settings: ProviderSettings) throws -> OpenAICompatibleProvider {
        var config = GatewayConfig()
        config.providers = [settings]
        let builder = GatewayBuilder(config: config, transport: ScriptedTransport())
        let made = try builder.makeProvider(settings, transport: ScriptedTransport(), mock: MockProvider(), redactor: builder.redactor)
        return try #require(made as? OpenAICompatibleProvider)
    }

    @Test func azureProviderLoadsWithItsVersionOrTheDefault() throws {
        let config = try load(#"{"providers":{"az":{"type":"azure","base_url":"https://res.openai.azure.com/","api_key":"${K}","api_version":"2025-01-01-preview"},"#
                              + #""az2":{"type":"azure","base_url":"https://other.openai.azure.com"}}}"#, environment: ["K": "azure-key"])
        let az = try #require(config.provider(named: "az"))
        #expect(az.type == "azure" && az.baseURL == "https://res.openai.azure.com" && az.apiKey == "azure-key")
        #expect(az.apiVersion == "2025-01-01-preview")
        #expect(try provider(az).flavor == .azure(apiVersion: "2025-01-01-preview"))
        #expect(try provider(az).type == "azure")
        let az2 = try #require(config.provider(named: "az2"))
        #expect(try provider(az2).flavor == .azure(apiVersion: OpenAICompatibleProvider.defaultAzureAPIVersion))
        #expect(OpenAICompatibleProvider.defaultAzureAPIVersion == "2024-10-21")
    }

    @Test func azureSettingsAreChecked() {
        #expect(error(#"{"providers":{"az":{"type":"azure"}}}"#)?.hasPrefix("providers.az.base_url is required for type azure") == true)
        #expect(error(#"{"providers":{"az":{"type":"azure","base_url":"https://r","api_version":"2024-10-21&x=1"}}}"#)
                == #"providers.az.api_version must be an Azure OpenAI API version such as "2024-10-21""#)
        #expect(error(#"{"providers":{"o":{"type":"openai","api_version":"2024-10-21"}}}"#)
                == "providers.o.api_version applies to type azure only")
    }

    @Test func environmentRegistersAzureWithKeyAndEndpoint() throws {
        let env = ["AZURE_OPENAI_API_KEY": "az-env-key", "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com",
                   "OPENAI_API_VERSION": "2024-06-01"]
        let config = try ConfigLoader(environment: env).load(path: nil)
        let azure = try #require(config.provider(named: "azure"))
        #expect(azure.type == "azure" && azure.apiKey == "az-env-key" && azure.baseURL == "https://res.openai.azure.com")
        #expect(azure.apiVersion == "2024-06-01")
        var preferred = env
        preferred["AZURE_OPENAI_API_VERSION"] = "2025-01-01-preview"
        #expect(try ConfigLoader(environment: preferred).load(path: nil).provider(named: "azure")?.apiVersion == "2025-01-01-preview")
        // A key without its endpoint registers nothing (there is no default endpoint).
        #expect(try ConfigLoader(environment: ["AZURE_OPENAI_API_KEY": "k"]).load(path: nil).providers.isEmpty)
        var bad = env
        bad["AZURE_OPENAI_API_VERSION"] = "2024-10-21#x"
        #expect(throws: ConfigError.self) { try ConfigLoader(environment: bad).load(path: nil) }
    }
}
