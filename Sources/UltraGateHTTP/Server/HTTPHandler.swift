import UltraGateSupport
/// What the server calls for each complete request.
///
/// `handle` runs on an event-loop thread and must not block: answer inline through the responder
/// when the answer is at hand (a cache hit), or start a `Task` and answer from it later. Exactly one
/// response (or one stream) per request; the next pipelined request waits until it is finished.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest, _ responder: HTTPResponder)
    /// The answer the server gives itself (to requests that are malformed, too large or too slow,
    /// or still unanswered when the shutdown grace period ends): the handler draws it in its API's
    /// error shape and adds its headers (e.g. a request id). The server knows no error shapes.
    func rejection(_ rejection: HTTPServerRejection) -> (headers: [HTTPHeaderField], body: [UInt8])
    /// The last body bytes of a stream the server ends itself when the shutdown grace period is
    /// over (e.g. an error event), so the client sees a stream that ended, not a cut connection.
    func streamEndingForShutdown() -> [UInt8]
    /// Asked when a request's head carries `Expect: 100-continue`, before the server invites the
    /// body: an answer refuses the request on its head alone (e.g. 401 without a key), so the
    /// client sends no body, and the server then closes the connection (RFC 9110 §10.1.1: the
    /// body it announced is never read). Nil: `100 Continue`, and the request goes on as usual.
    func answerBeforeBody(_ head: HTTPRequestHead, clientAddress: () -> String?) -> HTTPEarlyAnswer?
}

/// A final answer the handler gives to a request's head before its body is read.
public struct HTTPEarlyAnswer: Sendable {
    public var status: Int
    public var headers: [HTTPHeaderField]
    public var body: [UInt8]

    public init(status: Int, headers: [HTTPHeaderField], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

extension HTTPHandler {
    /// A plain-text answer with the rejection's message.
    public func rejection(_ rejection: HTTPServerRejection) -> (headers: [HTTPHeaderField], body: [UInt8]) {
        ([HTTPHeaderField("Content-Type", "text/plain; charset=utf-8")], Array((rejection.message + "\n").utf8))
    }
    public func streamEndingForShutdown() -> [UInt8] { [] }
    public func answerBeforeBody(_ head: HTTPRequestHead, clientAddress: () -> String?) -> HTTPEarlyAnswer? { nil }
}

/// Server-wide settings.
public struct HTTPServerConfig: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Event-loop threads; default one per core.
    public var threads: Int = HTTPServerConfig.defaultThreadCount
    public var limits = HTTPParserLimits()
    /// A keep-alive connection with no request in progress is closed after this many seconds (a new
    /// connection that has sent no request yet, after `requestReadTimeout`).
    public var idleTimeout: Double = 75
    /// A request must arrive completely within this many seconds of its first byte (slowloris), and
    /// a new connection must have sent its first request within this many seconds of opening.
    public var requestReadTimeout: Double = 30
    /// Longest silence while a request is partially received.
    public var readInactivityTimeout: Double = 15
    /// On shutdown, requests in flight get this long to finish.
    public var shutdownGracePeriod: Double = 30
    /// The most client connections held at once, all event loops together. At the cap the idlest
    /// keep-alive connection is closed to admit a new client; with none idle the client gets a 503.
    public var maxConnections: Int = 16384

    public init() {}

    public static var defaultThreadCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

#if canImport(Glibc)
import Glibc
#endif
