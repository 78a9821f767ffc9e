import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

@Suite struct EndpointTests {
    /// RFC 9110 §15.5.6: a 405's Allow lists every method the resource answers, so each route
    /// answers exactly the methods of its Allow (HEAD wherever GET) and refuses the rest with them.
    @Test(arguments: [
        ("/v1/chat/completions", Endpoint.chatCompletions, ["POST"]), ("/chat/completions/", .chatCompletions, ["POST"]),
        ("/v1/models", .listModels, ["GET", "HEAD"]), ("/models/", .listModels, ["GET", "HEAD"]),
        ("/v1/models/mock-gpt", .model("mock-gpt"), ["GET", "HEAD"]), ("/models/a%2Fb", .model("a/b"), ["GET", "HEAD"]),
        ("/health", .health, ["GET", "HEAD"]), ("/healthz", .health, ["GET", "HEAD"]), ("/v1/health", .health, ["GET", "HEAD"]),
        ("/metrics", .metrics, ["GET", "HEAD"]), ("/v1/stats", .stats, ["GET", "HEAD"]), ("/stats", .stats, ["GET", "HEAD"]),
    ])
    func routesAnswerExactlyTheMethodsTheyAllow(path: String, endpoint: Endpoint, allowed: [String]) {
        for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get"] {
            let expected = allowed.contains(method) ? endpoint : .methodNotAllowed(allowed: allowed)
            #expect(Endpoint.match(method: method, path: path) == expected, "\(method) \(path)")
        }
    }

    @Test func methodNotAllowedErrorCarriesTheAllowList() {
        guard case .methodNotAllowed(let allowed) = Endpoint.match(method: "POST", path: "/health") else {
            Issue.record("expected a 405")
            return
        }
        let error = GatewayError.methodNotAllowed(method: "POST", path: "/health", allowed: allowed)
        #expect(error.status == 405)
        #expect(error.headers == [HTTPHeaderField("Allow", "GET, HEAD")])
    }

    /// The deep check asks upstreams: it is an endpoint of its own, so an access rule can be put on it alone.
    @Test func deepHealthIsItsOwnEndpoint() {
        for query in ["deep=1", "deep=true", "x=1&deep=1"] {
            #expect(Endpoint.match(method: "GET", path: "/health", query: query) == .deepHealth, "\(query)")
        }
        for query in [nil, "", "deep=0", "deeper=1"] {
            #expect(Endpoint.match(method: "GET", path: "/healthz", query: query) == .health, "\(query ?? "nil")")
        }
        #expect(Endpoint.match(method: "POST", path: "/health", query: "deep=1") == .methodNotAllowed(allowed: ["GET", "HEAD"]))
        #expect(Endpoint.match(method: "GET", path: "/v1/models", query: "deep=1") == .listModels)
    }
}
