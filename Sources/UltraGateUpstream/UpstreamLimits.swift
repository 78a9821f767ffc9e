import UltraGateHTTP
import UltraGateSupport
/// How much of an upstream answer the gateway takes in before it gives up on it: a provider (or
/// something impersonating one) cannot make the gateway buffer without bound.
public struct UpstreamLimits: Sendable, Equatable {
    /// Bytes of one response body, counted after content decoding (gzip, br, zstd, deflate), as
    /// libcurl hands them over. Past it the transfer is aborted (`providers.NAME.max_response_bytes`).
    public var maxResponseBytes: Int
    /// Bytes of one server-sent event: one line, or all `data` lines of one event together
    /// (`providers.NAME.max_event_bytes`).
    public var maxEventBytes: Int

    public static let defaultMaxResponseBytes = 64 << 20
    public static let defaultMaxEventBytes = 1 << 20
    /// An error status's body is read only this far (the rest is not fetched): enough for any
    /// provider's error message, which is all the gateway uses it for.
    public static let errorBodyBytes = 64 << 10
    /// The response head (status line and header fields together).
    public static let maxHeadBytes = 256 << 10

    public init(maxResponseBytes: Int = UpstreamLimits.defaultMaxResponseBytes,
                maxEventBytes: Int = UpstreamLimits.defaultMaxEventBytes) {
        self.maxResponseBytes = maxResponseBytes
        self.maxEventBytes = maxEventBytes
    }
}
