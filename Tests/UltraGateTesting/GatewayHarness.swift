import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench

/// The real server, gateway, cache (LMDB in a temp dir) and orchestrator, with scripted providers.
package final class GatewayHarness: @unchecked Sendable {
    package let server: HTTPServer
    package let gateway: Gateway
    package let cacheDir: String

    package init(routes: [ModelRoute], serverConfig: HTTPServerConfig = HTTPServerConfig(), keepAlive: Double = 10,
         fastRetries: Bool = true, keyStore: (any KeyStore)? = nil, accessClock: AccessClock = .system,
         configure: (inout GatewayConfig) -> Void = { _ in }) throws {
        cacheDir = NSTemporaryDirectory() + "ultragate-test-\(UUID().uuidString)"
        var config = GatewayConfig()
        config.cache.directory = cacheDir
        config.streamKeepAliveInterval = keepAlive
        configure(&config)
        var providers: [String: ChatProvider] = [:]
        for route in routes { providers[route.providerName] = route.provider }
        let router = ModelRouter(routes: routes, providers: providers, providerSettings: [:], defaultRetry: RetrySettings(),
                                 listed: routes.map { ($0.name, $0.providerName) })
        var cacheConfig = ResponseCacheConfig(directory: cacheDir)
        cacheConfig.maxBytes = 64 << 20
        cacheConfig.maxEntryBytes = config.cache.maxEntryBytes
        let cache = try ResponseCache(cacheConfig)
        var orchestrator = Orchestrator(router: router)
        if fastRetries { orchestrator.sleep = { _ in } }
        // With a master key and no store given, the real LMDB key store in the cache directory.
        let store: (any KeyStore)? = try keyStore ?? GatewayBuilder(config: config).makeKeyStore()
        gateway = Gateway(config: config, router: router, cache: cache, orchestrator: orchestrator, keyStore: store,
                          accessClock: accessClock)
        var sc = serverConfig
        sc.port = 0
        sc.threads = 2
        server = HTTPServer(config: sc, handler: gateway)
        try server.start()
    }

    package var port: Int { server.boundPort }

    package func client() throws -> TestHTTPClient { try TestHTTPClient(port: port) }

    package func chat(_ model: String, _ content: String, stream: Bool = false, headers: [String: String] = [:]) throws -> TestHTTPClient.Response {
        let c = try client()
        c.post("/v1/chat/completions", json: Self.body(model, content, stream: stream), headers: headers)
        return try c.readResponse()
    }

    package static func body(_ model: String, _ content: String, stream: Bool = false) -> String {
        #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(content)"}],"stream":\#(stream)}"#
    }

    deinit {
        server.shutdown()
        gateway.keyStore?.close()
        gateway.responseStore.close()
        gateway.cache?.close()
        try? FileManager.default.removeItem(atPath: cacheDir)
    }
}

package func route(_ name: String, _ provider: ScriptedChatProvider, fallbacks: [String] = [], maxAttempts: Int = 3) -> ModelRoute {
    var retry = RetrySettings()
    retry.maxAttempts = maxAttempts
    return ModelRoute(name: name, providerName: provider.name, provider: provider, upstreamModel: name,
                      fallbacks: fallbacks, retry: retry)
}

/// A route `name` to an OpenAI-compatible provider at `server` (its `/v1`), over `transport`: for
/// tests of what the gateway does with an upstream's real wire bytes.
package func route(_ name: String, upstream server: FakeUpstreamServer, transport: CurlTransport,
                   limits: UpstreamLimits = UpstreamLimits(), fallbacks: [String] = []) -> ModelRoute {
    let provider = OpenAICompatibleProvider(name: "up", baseURL: server.url("/v1"), apiKey: "sk-test-0123456789",
                                            transport: transport, limits: limits)
    return ModelRoute(name: name, providerName: provider.name, provider: provider, upstreamModel: "gpt-test",
                      fallbacks: fallbacks, retry: RetrySettings())
}

/// Runs `count` blocking calls at once, each on a thread of its own, and returns their results in order.
package func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) async -> [Result<T, Error>] {
    await withTaskGroup(of: (Int, Result<T, Error>).self) { group in
        for i in 0..<count {
            group.addTask {
                do { return (i, .success(try await blocking { try body(i) })) } catch { return (i, .failure(error)) }
            }
        }
        var results: [Int: Result<T, Error>] = [:]
        for await (i, r) in group { results[i] = r }
        return (0..<count).map { results[$0]! }
    }
}
