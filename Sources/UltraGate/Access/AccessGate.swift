import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// Decides who a request comes from and whether it may go on: run by the gateway before any
/// front (`authenticate`), then by each front once it knows the model and the size of the call
/// (`admit`), and told when the request is done (`finished`) to book usage and release limits.
package final class AccessGate: @unchecked Sendable {
    /// The virtual keys; nil when no master key is configured (no keyed access).
    package let keyStore: KeyStore?

    package init(keyStore: KeyStore? = nil) {
        self.keyStore = keyStore
    }

    /// Who sent the request; an error (401, 403, 429) when it may not reach `endpoint`.
    package func authenticate(_ head: HTTPRequestHead, endpoint: Endpoint, clientAddress: String?) -> Result<Caller, GatewayError> {
        .success(.open)
    }

    /// Whether the caller may ask `model` for a call of about `estimatedTokens` (prompt plus the
    /// output reservation) now; sets `context.rateLimitHeaders`. Nil: go on.
    package func admit(_ context: RequestContext, model: String, estimatedTokens: Int) -> GatewayError? {
        nil
    }

    /// Books a finished request (tokens, cost, saved cost) against its key and releases what
    /// `admit` took (a parallel slot, the token reservation).
    package func finished(_ context: RequestContext) {}
}
