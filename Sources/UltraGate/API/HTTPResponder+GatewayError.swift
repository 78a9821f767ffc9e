import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateJSON
import UltraGateSupport
import UltraGateHTTP

extension HTTPResponder {
    /// An OpenAI-shaped error response.
    package func respond(error: GatewayError, headers: [HTTPHeaderField] = []) {
        var all = [HTTPHeaderField("Content-Type", "application/json")]
        all.append(contentsOf: error.headers)
        all.append(contentsOf: headers)
        respond(status: error.status, headers: all, body: error.body)
    }
}
