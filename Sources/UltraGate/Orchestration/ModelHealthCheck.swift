import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// One model's answer to the availability check.
public struct ModelCheckResult: Sendable {
    public var model: String
    public var provider: String
    public var available: Bool
    public var latencyMs: Double
    public var error: String?

    public var json: JSON {
        .object(["model": .string(model), "provider": .string(provider), "available": .bool(available),
                 "latency_ms": .double((latencyMs * 10).rounded() / 10), "error": error.map(JSON.string) ?? .null])
    }
}

/// Asks every listed model a tiny prompt (an embedding model: to embed a word) at once (no
/// retries, no cache) and reports which answer:
/// `ultragate check` and `GET /health?deep=1`.
public struct ModelHealthCheck: Sendable {
    public let router: ModelRouter
    public var timeout: Double

    public init(router: ModelRouter, timeout: Double = 20) {
        self.router = router
        self.timeout = timeout
    }

    package static let prompt: JSON = [["role": "user", "content": "Reply with the single word OK."]]

    /// The routes worth checking: the router's `checked` names that resolve to a provider
    /// (ensembles are made of such models and are not checked themselves).
    public var routes: [ModelRoute] {
        var seen = Set<String>()
        var out: [ModelRoute] = []
        for name in router.checked where seen.insert(name).inserted {
            if let route = router.route(named: name) { out.append(route) }
        }
        return out
    }

    public func run() async -> [ModelCheckResult] {
        let routes = self.routes
        let timeout = self.timeout
        return await withTaskGroup(of: (Int, ModelCheckResult).self) { group in
            for (index, route) in routes.enumerated() {
                group.addTask { (index, await ModelHealthCheck.check(route, timeout: timeout)) }
            }
            var results = [ModelCheckResult?](repeating: nil, count: routes.count)
            for await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
    }

    package static func check(_ route: ModelRoute, timeout: Double) async -> ModelCheckResult {
        var body: JSONObject = ["model": .string(route.name), "messages": prompt, "max_tokens": 8]
        body = route.upstreamBody(body)
        var timeouts = route.timeouts
        timeouts.total = min(timeouts.total, timeout)
        timeouts.firstByte = min(timeouts.firstByte, timeout)
        let request = ProviderRequest(body: body, requestID: "check-\(route.name)", timeouts: timeouts)
        let start = Clock.nanos()
        do {
            let ok: Bool
            if route.kind == .embedding, let provider = route.provider as? any EmbeddingProvider {
                // An embedding model is asked to embed one word, with the route's default length.
                let call = EmbeddingCall(model: route.upstreamModel, inputs: [.text("OK")], dimensions: route.params["dimensions"]?.intValue,
                                         requestID: request.requestID, timeouts: timeouts)
                ok = try await provider.embed(call).vectors.first?.isEmpty == false
            } else {
                ok = try await route.provider.complete(request)["choices"]?.arrayValue?.isEmpty == false
            }
            let ms = Double(Clock.nanos() - start) / 1e6
            return ModelCheckResult(model: route.name, provider: route.providerName, available: ok, latencyMs: ms,
                                    error: ok ? nil : "the answer had no choices")
        } catch {
            let ms = Double(Clock.nanos() - start) / 1e6
            let message = Orchestrator.providerError(error, provider: route.providerName).gatewayError
            return ModelCheckResult(model: route.name, provider: route.providerName, available: false, latencyMs: ms,
                                    error: "\(message.status) \(message.message)")
        }
    }

    /// A plain-text table for the terminal.
    public static func table(_ results: [ModelCheckResult]) -> String {
        let header = ["MODEL", "PROVIDER", "AVAILABLE", "LATENCY", "ERROR"]
        let rows = results.map { r in
            [r.model, r.provider, r.available ? "yes" : "no", String(format: "%.0f ms", r.latencyMs), r.error ?? ""]
        }
        let widths = (0..<4).map { col in ([header] + rows).map { $0[col].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            (0..<4).map { cells[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                + "  " + cells[4]
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
