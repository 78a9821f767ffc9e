/// The production `UpstreamTransport`: libcurl's multi interface driven by one dedicated thread
/// (`CurlMultiLoop`), with connection reuse, HTTP/2 over TLS, and the gateway's timeouts.
public final class CurlTransport: UpstreamTransport {
    public struct Options: Sendable, Equatable {
        /// Connections kept open to one host (also the size of libcurl's cache per host).
        public var maxConnectionsPerHost: Int
        /// Sent as `User-Agent` unless the request carries its own.
        public var userAgent: String?
        /// PEM file of CA certificates to trust instead of the system's (a private CA in front of
        /// a self-hosted OpenAI-compatible server). Certificates are always verified.
        public var caBundlePath: String?

        public init(maxConnectionsPerHost: Int = 64, userAgent: String? = nil, caBundlePath: String? = nil) {
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.userAgent = userAgent
            self.caBundlePath = caBundlePath
        }
    }

    public let options: Options
    private let loop: CurlMultiLoop

    /// Fails only when libcurl cannot be initialised.
    public init(options: Options = Options()) throws(UpstreamError) {
        guard let loop = CurlMultiLoop(options: options) else {
            throw .transport("libcurl could not be initialised")
        }
        self.options = options
        self.loop = loop
    }

    deinit { loop.shutdown() }

    /// Stops the loop thread: transfers in flight end with `.cancelled`, and so does every later
    /// call. Returns at once; dropping the last reference does the same.
    public func shutdown() { loop.shutdown() }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        if Task.isCancelled { throw UpstreamError.cancelled }
        let transfer = CurlTransfer(request: request)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UpstreamResponse, Error>) in
                transfer.delivery = .buffered(continuation)
                loop.submit(transfer)
            }
        } onCancel: {
            loop.cancel(transfer)
        }
    }

    /// The body stream holds at most `CurlTransfer.streamBufferChunks` chunks; beyond that the
    /// transfer pauses until the consumer catches up. The transfer is aborted when the consuming
    /// task is cancelled (the iteration then ends with `nil`, as AsyncThrowingStream does, so
    /// check `Task.isCancelled`) or when the stream is released. Leaving the loop with `break`
    /// releases nothing while the response value is still referenced: drop it.
    public func stream(_ request: UpstreamRequest) async throws -> UpstreamStreamingResponse {
        if Task.isCancelled { throw UpstreamError.cancelled }
        let transfer = CurlTransfer(request: request)
        // A bounded buffer: when it is full, `yield` reports `.dropped` and the transfer pauses
        // instead of reading the upstream faster than the consumer takes chunks.
        let (body, bodyContinuation) = AsyncThrowingStream.makeStream(
            of: [UInt8].self, throwing: Error.self, bufferingPolicy: .bufferingOldest(CurlTransfer.streamBufferChunks))
        // Ending the iteration early, dropping the stream, or cancelling the consuming task all
        // arrive here as `.cancelled`; `.finished` is our own doing and needs nothing.
        bodyContinuation.onTermination = { [loop] termination in
            if case .cancelled = termination { loop.cancel(transfer) }
        }
        let head = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UpstreamResponseHead, Error>) in
                transfer.delivery = .streaming(head: continuation, body: bodyContinuation)
                loop.submit(transfer)
            }
        } onCancel: {
            loop.cancel(transfer)
        }
        return UpstreamStreamingResponse(head: head, body: body)
    }
}
