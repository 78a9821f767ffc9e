import UltraGateSupport
/// The parsed request line and header section of one request.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    /// The request-target exactly as sent (RFC 9112 §3.2).
    public var target: String
    /// The path part of the target: for origin-form the part before `?`; for absolute-form the
    /// path after the authority (`/` when empty); `*` for asterisk-form; the authority for CONNECT.
    public var path: String
    /// The part after the first `?` (possibly empty); nil when the target has no `?`.
    public var query: String?
    /// 0 or 1 (HTTP/1.0 or HTTP/1.1).
    public var versionMinor: Int
    public var headers: HTTPHeaders
    /// Whether the connection may stay open after the response (RFC 9112 §9.3): HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool
    /// An HTTP/1.1 request with `Expect: 100-continue` (RFC 9110 §10.1.1; ignored for HTTP/1.0).
    public var expectsContinue: Bool
    /// The declared Content-Length, if the body is framed by one.
    public var contentLength: Int?
    /// Whether the body is framed by the chunked transfer coding.
    public var isChunked: Bool

    public init(method: String, target: String, path: String, query: String?, versionMinor: Int,
                headers: HTTPHeaders, keepAlive: Bool, expectsContinue: Bool,
                contentLength: Int? = nil, isChunked: Bool = false) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.versionMinor = versionMinor
        self.headers = headers
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
        self.contentLength = contentLength
        self.isChunked = isChunked
    }
}
