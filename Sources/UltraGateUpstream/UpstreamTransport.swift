import UltraGateHTTP
import UltraGateSupport
/// An HTTP request to a provider. The body is sent as is; `headers` carry the provider's auth.
public struct UpstreamRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [HTTPHeaderField]
    public var body: [UInt8]
    public var timeouts: UpstreamTimeouts
    /// The longest response body taken (after decoding); a longer one fails with
    /// `UpstreamError.responseTooLarge`. An error status's body is cut at `UpstreamLimits.errorBodyBytes`.
    public var maxResponseBytes: Int
    /// PEM file of the CAs to trust for this request instead of the transport's (the provider's
    /// `ca_file`); nil: the transport's choice. Certificates and host names are always verified.
    public var caBundlePath: String? = nil

    public init(method: String = "POST", url: String, headers: [HTTPHeaderField] = [], body: [UInt8] = [],
                timeouts: UpstreamTimeouts = UpstreamTimeouts(),
                maxResponseBytes: Int = UpstreamLimits.defaultMaxResponseBytes) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeouts = timeouts
        self.maxResponseBytes = maxResponseBytes
    }
}

/// Per-provider time limits, in seconds.
public struct UpstreamTimeouts: Sendable, Equatable {
    /// TCP + TLS connection set-up.
    public var connect: Double
    /// From sending the request to the first byte of the response head.
    public var firstByte: Double
    /// Longest silence between two body chunks of a response.
    public var idle: Double
    /// The whole exchange.
    public var total: Double

    public init(connect: Double = 10, firstByte: Double = 120, idle: Double = 120, total: Double = 600) {
        self.connect = connect
        self.firstByte = firstByte
        self.idle = idle
        self.total = total
    }
}

/// Status and headers of an upstream response.
public struct UpstreamResponseHead: Sendable {
    public var status: Int
    public var headers: [HTTPHeaderField]
    public init(status: Int, headers: [HTTPHeaderField]) {
        self.status = status
        self.headers = headers
    }
    /// First value of a header, matched case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// A buffered upstream response.
public struct UpstreamResponse: Sendable {
    public var head: UpstreamResponseHead
    public var body: [UInt8]
    public init(head: UpstreamResponseHead, body: [UInt8]) {
        self.head = head
        self.body = body
    }
}

/// A streaming upstream response: the head has arrived; the body comes chunk by chunk.
/// Ending the iteration early (or cancelling the consuming task) aborts the transfer.
public struct UpstreamStreamingResponse: Sendable {
    public var head: UpstreamResponseHead
    public var body: ChunkStream<[UInt8]>
    public init(head: UpstreamResponseHead, body: ChunkStream<[UInt8]>) {
        self.head = head
        self.body = body
    }
}

/// Why an upstream exchange failed before a complete response arrived.
public enum UpstreamError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum TimeoutPhase: String, Sendable { case connect, firstByte = "first byte", idle, total }
    /// DNS, refused, reset before any byte of the response.
    case connect(String)
    case timeout(TimeoutPhase)
    /// The connection broke after the response started (reset, truncated body).
    case broken(String)
    case cancelled
    /// The upstream's certificate could not be verified (an untrusted certificate, a name that
    /// does not match the host) or the trusted CAs could not be loaded. Not retried: trust does not
    /// come with time.
    case tls(String)
    /// Anything else libcurl reports.
    case transport(String)
    /// The answer passed a size limit (`UpstreamLimits`); the transfer was aborted there.
    case responseTooLarge(String)

    public var description: String {
        switch self {
        case .connect(let m): return "connection failed: \(m)"
        case .timeout(let p): return "timed out waiting for \(p.rawValue)"
        case .broken(let m): return "connection broke mid-response: \(m)"
        case .cancelled: return "cancelled"
        case .tls(let m): return "TLS error: \(m)"
        case .transport(let m): return "transport error: \(m)"
        case .responseTooLarge(let m): return "response too large: \(m)"
        }
    }

    /// Safe to try again: nothing of the response has been used yet.
    public var isRetryable: Bool {
        switch self {
        case .connect, .transport: return true
        case .timeout(let phase): return phase == .connect || phase == .firstByte
        // The same call would bring the same answer: not asked again (a fallback may be).
        case .broken, .cancelled, .responseTooLarge, .tls: return false
        }
    }
}

/// How the gateway reaches providers over HTTP. `CurlTransport` is the real one; tests may
/// substitute their own.
public protocol UpstreamTransport: Sendable {
    /// Sends a request and buffers the whole response (any status). Throws `UpstreamError`.
    func send(_ request: UpstreamRequest) async throws -> UpstreamResponse
    /// Sends a request and returns as soon as the response head arrived (any status).
    /// Throws `UpstreamError`; the body stream finishes with `UpstreamError` on failure.
    func stream(_ request: UpstreamRequest) async throws -> UpstreamStreamingResponse
}
