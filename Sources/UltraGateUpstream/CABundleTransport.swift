import UltraGateHTTP
import UltraGateSupport
/// A provider's view of the shared transport when it has its own `ca_file`: every request it
/// sends trusts that file's CAs instead of the system's. Connections are not shared with requests
/// that trust other CAs (libcurl matches a reused connection's TLS settings).
package struct CABundleTransport: UpstreamTransport {
    package let base: any UpstreamTransport
    package let caBundlePath: String

    package init(base: any UpstreamTransport, caBundlePath: String) {
        self.base = base
        self.caBundlePath = caBundlePath
    }

    package func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        try await base.send(trusting(request))
    }

    package func stream(_ request: UpstreamRequest) async throws -> UpstreamStreamingResponse {
        try await base.stream(trusting(request))
    }

    private func trusting(_ request: UpstreamRequest) -> UpstreamRequest {
        var request = request
        request.caBundlePath = caBundlePath
        return request
    }
}
