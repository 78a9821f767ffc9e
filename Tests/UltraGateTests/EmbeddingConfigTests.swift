import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

@Suite struct EmbeddingConfigTests {
    func load(_ text: String) throws -> GatewayConfig {
        var config = GatewayConfig()
        try ConfigLoader(environment: [:]).apply(try #require(try JSONParser.parse(text).objectValue), to: &config)
        return config
    }

    func error(_ text: String) -> String? {
        do { _ = try load(text); return nil } catch { return (error as? ConfigError)?.message ?? "\(error)" }
    }

    /// The router a config makes, or the start-up error it fails with.
    func router(_ text: String) throws -> Result<ModelRouter, ConfigError> {
        var builder = GatewayBuilder(config: try load(text), transport: ScriptedTransport())
        do { return .success(try builder.makeRouter()) } catch let error as ConfigError { return .failure(error) }
    }

    static let providers = #""providers":{"oa":{"type":"openai","base_url":"http://x/v1"},"g":{"type":"gemini"},"ant":{"type":"anthropic"}}"#

    @Test func readsKindsDimensionsAndTheBatchWindow() throws {
        let config = try load(#"{\#(Self.providers),"embeddings":{"batch_window_ms":5},"mock":{"embedding_models":["m-e"],"embedding_dimensions":64},"#
                              + #""models":{"e":{"provider":"oa","model":"text-embedding-3-small","kind":"embedding","dimensions":1536},"#
                              + #""c":{"provider":"oa","model":"gpt-4o","kind":"chat"}}}"#)
        #expect(config.embeddings.batchWindowMs == 5)
        #expect(config.mock.embeddingModels == ["m-e"] && config.mock.embeddingDimensions == 64)
        #expect(config.model(named: "e")?.kind == .embedding && config.model(named: "e")?.dimensions == 1536)
        #expect(config.model(named: "c")?.kind == .chat)
        #expect(GatewayConfig().embeddings.batchWindowMs == 2)
    }

    @Test func refusesBadValuesNamingTheKey() {
        #expect(error(#"{"models":{"e":{"provider":"mock","kind":"vector"}}}"#)?.contains("models.e.kind `vector` is not one of chat, embedding") == true)
        #expect(error(#"{"models":{"e":{"provider":"mock","dimensions":0}}}"#) == "models.e.dimensions must be a positive integer")
        #expect(error(#"{"models":{"e":{"provider":"mock","params":{"dimensions":-4}}}}"#) == "models.e.params.dimensions must be a positive integer")
        #expect(error(#"{"embeddings":{"batch_window_ms":5000}}"#) == "embeddings.batch_window_ms must be at most 1000")
        #expect(error(#"{"embeddings":{"window":5}}"#)?.contains("unknown config key `embeddings.window`") == true)
        #expect(error(#"{"mock":{"embedding_dimensions":0}}"#)?.contains("mock.embedding_dimensions") == true)
    }

    @Test func fallbacksMustBeEmbeddingModelsOfTheSameLength() throws {
        func models(_ text: String) -> String { #"{\#(Self.providers),"models":{\#(text)}}"# }
        let ok = try router(models(#""a":{"provider":"oa","model":"te3","kind":"embedding","dimensions":768,"fallbacks":["b"]},"#
                                   + #""b":{"provider":"g","model":"text-embedding-004","kind":"embedding","params":{"dimensions":768}}"#))
        #expect((try? ok.get()) != nil)
        let different = try router(models(#""a":{"provider":"oa","model":"te3","kind":"embedding","dimensions":1536,"fallbacks":["b"]},"#
                                          + #""b":{"provider":"g","model":"text-embedding-004","kind":"embedding","dimensions":768}"#))
        #expect(different.failureMessage == "models.a.fallbacks names `b`, whose vectors have 768 dimensions, not 1536: a fallback must answer with vectors of the same length")
        let undeclared = try router(models(#""a":{"provider":"oa","model":"te3","kind":"embedding","fallbacks":["b"]},"#
                                          + #""b":{"provider":"g","model":"text-embedding-004","kind":"embedding","dimensions":768}"#))
        #expect(undeclared.failureMessage?.contains("must declare `dimensions`") == true)
        let chatFallback = try router(models(#""a":{"provider":"oa","model":"te3","kind":"embedding","dimensions":8,"fallbacks":["c"]},"#
                                            + #""c":{"provider":"oa","model":"gpt-4o"}"#))
        #expect(chatFallback.failureMessage?.contains("which is not an embedding model") == true)
        let anthropic = try router(models(#""a":{"provider":"ant","model":"claude-sonnet-4-5","kind":"embedding"}"#))
        #expect(anthropic.failureMessage?.contains("has no embeddings API") == true)
    }

    @Test func theMockServesEmbeddingModelsOfItsKind() async throws {
        var config = GatewayConfig()
        config.mock.embeddingDimensions = 32
        var builder = GatewayBuilder(config: config, transport: ScriptedTransport())
        let router = try builder.makeRouter()
        let route = try #require(router.route(named: "mock-embedding"))
        #expect(route.kind == .embedding && route.defaultDimensions == 32)
        #expect(router.route(named: "mock-gpt")?.kind == .chat)
        #expect(router.checked.contains("mock-embedding"))
        let results = await ModelHealthCheck(router: router).run()
        #expect(results.first { $0.model == "mock-embedding" }?.available == true)
    }
}

private extension Result where Failure == ConfigError {
    var failureMessage: String? {
        if case .failure(let error) = self { return error.message }
        return nil
    }
}
