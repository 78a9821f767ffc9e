import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateJSON
import UltraGateSupport
import UltraGateHTTP

extension HTTPResponder {
    /// An error response in the shape of `dialect` (OpenAI's unless told).
    package func respond(error: GatewayError, headers: [HTTPHeaderField] = [], dialect: ErrorDialect = .openAI) {
        var all = [HTTPHeaderField("Content-Type", "application/json")]
        all.append(contentsOf: error.headers)
        all.append(contentsOf: headers)
        respond(status: error.status, headers: all, body: dialect.body(error))
    }
}
