import UltraGateSupport
/// Why a request could not be parsed, with the status the server should answer before closing.
///
/// Statuses used: 400 (malformed), 413 (body too large), 414 (request line too long),
/// 417 (unknown expectation), 431 (head too large or too many fields), 501 (unsupported transfer
/// coding), 505 (HTTP version other than 1.0/1.1).
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String
    /// The request's path when the error came after its request line was read (a body too large,
    /// a bad header), so the server's answer can take the shape of the API that path belongs to.
    public var path: String?

    public init(status: Int, message: String, path: String? = nil) {
        self.status = status
        self.message = message
        self.path = path
    }

    public var description: String { "\(status): \(message)" }

    package static func badRequest(_ message: String) -> HTTPParseError { HTTPParseError(status: 400, message: message) }
}
