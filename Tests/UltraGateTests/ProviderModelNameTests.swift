import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

/// Model names that reach an upstream URL (Gemini's model, Azure's deployment) stay one path
/// segment: the audit's `gemini/../../../x#` posted with the operator's key to any path of the
/// provider's host.
@Suite struct ProviderModelNameTests {
    static let refused = ["../../../admin/secret#", "a/b", "x:countTokens", "m?key=1", "m#", "m%2F..", "..", ".", "",
                          "a\u{0}b", "line\nbreak", "back\\slash", "models/../x"]

    func request(model: String) -> ProviderRequest {
        ProviderRequest(body: ["model": .string(model), "messages": [["role": "user", "content": "hi"]]], requestID: "r")
    }

    static func gemini(_ transport: ScriptedTransport, baseURL: String = "https://generativelanguage.googleapis.com") -> GeminiProvider {
        GeminiProvider(baseURL: baseURL, apiKey: "AIzaSy-SECRET-0123456789", transport: transport)
    }

    static func azure(_ transport: ScriptedTransport) -> OpenAICompatibleProvider {
        OpenAICompatibleProvider(name: "azure", baseURL: "https://res.openai.azure.com", apiKey: "azure-key-0123456789",
                                 flavor: .azure(apiVersion: "2024-10-21"), transport: transport)
    }

    /// Every way in (complete and stream, Gemini and Azure) refuses before anything is sent, with
    /// a 400 that names `model`.
    @Test(arguments: refused)
    func namesThatLeaveTheirSegmentAreRefusedUnsent(_ name: String) async throws {
        let transport = ScriptedTransport()
        let providers: [any ChatProvider] = [Self.gemini(transport), Self.azure(transport)]
        for provider in providers {
            #expect(provider.upstreamModelProblem(name) != nil, "\(provider.type) \(name)")
            for streaming in [false, true] {
                let error = await #expect(throws: ProviderError.self) {
                    if streaming { _ = try await provider.stream(request(model: name)) }
                    else { _ = try await provider.complete(request(model: name)) }
                }
                #expect(error?.kind == .http(status: 400))
                let answer = try #require(error?.gatewayError)
                #expect(answer.status == 400 && answer.type == "invalid_request_error")
                #expect(answer.param == "model" && answer.code == "invalid_model")
            }
        }
        #expect(transport.requests.isEmpty)
    }

    @Test func ordinaryNamesPassAndOthersArePercentEncoded() async throws {
        let reply = #"{"candidates":[{"content":{"parts":[{"text":"ok"}],"role":"model"},"finishReason":"STOP","index":0}]}"#
        let transport = ScriptedTransport(.body(reply), .body(reply), .body(reply))
        for name in ["gemini-2.5-flash", "models/gemini-2.5-flash", "gemini 2.5 é"] {
            #expect(Self.gemini(transport).upstreamModelProblem(name) == nil)
            _ = try await Self.gemini(transport).complete(request(model: name))
        }
        #expect(transport.requests.map(\.url) == [
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
            "https://generativelanguage.googleapis.com/v1beta/models/gemini%202.5%20%C3%A9:generateContent",
        ])
        // The OpenAI flavour sends the name in the body only: any name goes.
        let openAI = OpenAICompatibleProvider(apiKey: nil, transport: ScriptedTransport())
        #expect(openAI.upstreamModelProblem("../x#") == nil)
    }

    @Test func geminiStreamQueryFollowsTheBaseURLsQuery() async throws {
        let transport = ScriptedTransport()
        _ = try? await Self.gemini(transport, baseURL: "https://proxy.example/gemini/?tenant=7").stream(request(model: "m"))
        #expect(transport.requests.first?.url == "https://proxy.example/gemini/v1beta/models/m:streamGenerateContent?tenant=7&alt=sse")
    }

    // MARK: Start-up

    func config(_ providers: [ProviderSettings], _ models: [ModelSettings]) -> GatewayConfig {
        var config = GatewayConfig()
        config.providers = providers
        config.models = models
        return config
    }

    func startUpError(_ config: GatewayConfig) -> String? {
        var builder = GatewayBuilder(config: config, transport: ScriptedTransport())
        do {
            _ = try builder.makeRouter()
            return nil
        } catch let error as ConfigError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func configuredNamesAreCheckedAtStartUpNamingTheKey() {
        let gemini = ProviderSettings(name: "g", type: "gemini", baseURL: "https://generativelanguage.googleapis.com")
        var azure = ProviderSettings(name: "az", type: "azure", baseURL: "https://res.openai.azure.com")
        azure.apiVersion = "2024-10-21"
        let openAI = ProviderSettings(name: "o", type: "openai", baseURL: "https://api.openai.com/v1")

        let bad = startUpError(config([gemini], [ModelSettings(name: "fast", provider: "g", model: "../admin#")]))
        #expect(bad?.hasPrefix("models.fast.model: `../admin#` cannot be sent to provider `g`: it contains `..`") == true, "\(bad ?? "")")
        let deployment = startUpError(config([azure], [ModelSettings(name: "prod", provider: "az", model: "dep/x")]))
        #expect(deployment?.hasPrefix("models.prod.model:") == true, "\(deployment ?? "")")
        let unnamed = startUpError(config([azure], [ModelSettings(name: "a:b", provider: "az")]))
        #expect(unnamed?.hasPrefix("models.a:b (the name is the provider's model name):") == true, "\(unnamed ?? "")")
        var withFallback = ModelSettings(name: "main", provider: "o", model: "gpt-4o")
        withFallback.fallbacks = ["g/x?alt=1"]
        let fallback = startUpError(config([openAI, gemini], [withFallback]))
        #expect(fallback?.hasPrefix("models.main.fallbacks names `g/x?alt=1`") == true, "\(fallback ?? "")")
        var ensemble = ModelSettings(name: "team")
        ensemble.ensemble = ["o/gpt-4o", "az/../x"]
        let member = startUpError(config([openAI, azure], [ensemble]))
        #expect(member?.hasPrefix("models.team.ensemble names `az/../x`") == true, "\(member ?? "")")

        // Names the OpenAI flavour puts only in the body are not refused; good names start.
        #expect(startUpError(config([openAI, gemini, azure], [
            ModelSettings(name: "any", provider: "o", model: "org/model:tag"),
            ModelSettings(name: "flash", provider: "g", model: "models/gemini-2.5-flash"),
            ModelSettings(name: "prod", provider: "az", model: "gpt-4o-prod"),
        ])) == nil)
    }
}
