import UltraGateSupport
/// An answer the server gives by itself, before or instead of the handler: a malformed, too large or
/// too slow request, or one still unanswered when the shutdown grace period ends. The handler
/// renders it (`HTTPHandler.rejection`), so the server stays out of API error shapes.
public struct HTTPServerRejection: Sendable, Equatable {
    public var status: Int
    public var message: String
    /// A machine-readable reason, e.g. `bad_http_request`, `server_shutting_down`.
    public var code: String
    /// The server's own condition (shutting down, overloaded) rather than a fault of the request.
    public var isServerSide: Bool
    /// The path of the request refused, when it was read far enough to know it: the handler can
    /// answer in the error shape of the API that path belongs to.
    public var path: String?

    public init(status: Int, message: String, code: String, isServerSide: Bool = false, path: String? = nil) {
        self.status = status
        self.message = message
        self.code = code
        self.isServerSide = isServerSide
        self.path = path
    }
}
