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
    /// Where the fields that carry API keys are, as the parser found them; nil for a head made
    /// otherwise (then whoever needs them scans `headers`). Kept in one word (`credentialBits`):
    /// the head is copied along a request, and a larger struct costs every request a memcpy.
    public var credentialFields: CredentialFields? {
        get {
            guard credentialBits & 1 == 1 else { return nil }
            var c = CredentialFields()
            let a = (credentialBits >> 1) & Self.indexMask, k = (credentialBits >> 21) & Self.indexMask
            c.authorization = a == 0 ? nil : a - 1
            c.apiKey = k == 0 ? nil : k - 1
            c.repeated = (credentialBits >> 41) & 1 == 1
            return c
        }
        set {
            guard let c = newValue, (c.authorization ?? 0) < Self.indexMask - 1, (c.apiKey ?? 0) < Self.indexMask - 1 else {
                credentialBits = 0
                return
            }
            credentialBits = 1 | ((c.authorization.map { $0 + 1 } ?? 0) << 1) | ((c.apiKey.map { $0 + 1 } ?? 0) << 21)
                | (c.repeated ? 1 << 41 : 0)
        }
    }
    private var credentialBits = 0
    private static let indexMask = (1 << 20) - 1

    /// The positions in `headers.fields` of the first `Authorization` and the first `x-api-key`
    /// field, and whether either name came more than once: noted while parsing, where each
    /// field's name is looked at anyway, so the access gate need not scan the fields again.
    public struct CredentialFields: Sendable, Equatable {
        public var authorization: Int?
        public var apiKey: Int?
        public var repeated = false
        public init() {}
    }

    public init(method: String, target: String, path: String, query: String?, versionMinor: Int,
                headers: HTTPHeaders, keepAlive: Bool, expectsContinue: Bool,
                contentLength: Int? = nil, isChunked: Bool = false, credentialFields: CredentialFields? = nil) {
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
        self.credentialFields = credentialFields
    }
}
