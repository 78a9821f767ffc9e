import UltraGateHTTP
import UltraGateSupport
import Foundation

/// The production `UpstreamTransport`: libcurl's multi interface with connection reuse, HTTP/2
/// over TLS, and the gateway's timeouts. A call made on an event-loop thread runs on a multi
/// owned by that loop (`CurlLoopDriver`), so the answer arrives without a thread hand-off;
/// anywhere else it runs on one dedicated thread (`CurlMultiLoop`).
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
    package let loopDrivers = LoopDriverRegistry()

    /// Fails only when libcurl cannot be initialised.
    public init(options: Options = Options()) throws(UpstreamError) {
        guard let loop = CurlMultiLoop(options: options) else {
            throw .transport("libcurl could not be initialised")
        }
        self.options = options
        self.loop = loop
    }

    deinit {
        loop.shutdown()
        loopDrivers.shutdown()
    }

    /// Stops the loop thread and the event-loop multis: transfers in flight end with
    /// `.cancelled`, and so does every later call. Returns at once; dropping the last reference
    /// does the same.
    public func shutdown() {
        loop.shutdown()
        loopDrivers.shutdown()
    }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        if Task.isCancelled { throw UpstreamError.cancelled }
        let transfer = CurlTransfer(request: request)
        if let eventLoop = EventLoop.current, let driver = loopDriver(on: eventLoop) {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UpstreamResponse, Error>) in
                    transfer.delivery = .buffered(continuation)
                    driver.start(transfer)
                }
            } onCancel: {
                Self.cancel(transfer, on: eventLoop, driver)
            }
        }
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
    /// task is cancelled (the iteration then ends with `nil`, as with AsyncThrowingStream, so
    /// check `Task.isCancelled`) or when the stream is released. Leaving the loop with `break`
    /// releases nothing while the response value is still referenced: drop it.
    public func stream(_ request: UpstreamRequest) async throws -> UpstreamStreamingResponse {
        if Task.isCancelled { throw UpstreamError.cancelled }
        let transfer = CurlTransfer(request: request)
        // A bounded buffer: when it is full, `yield` reports `.dropped` and the transfer pauses
        // instead of reading the upstream faster than the consumer takes chunks.
        let (body, bodyContinuation) = ChunkStream<[UInt8]>.makeStream(bufferLimit: CurlTransfer.streamBufferChunks)
        // Ending the iteration early, dropping the stream, or cancelling the consuming task all
        // arrive here as `.cancelled`; `.finished` is our own doing and needs nothing.
        if let eventLoop = EventLoop.current, let driver = loopDriver(on: eventLoop) {
            bodyContinuation.onTermination = { termination in
                if case .cancelled = termination { Self.cancel(transfer, on: eventLoop, driver) }
            }
            let head = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UpstreamResponseHead, Error>) in
                    transfer.delivery = .streaming(head: continuation, body: bodyContinuation)
                    driver.start(transfer)
                }
            } onCancel: {
                Self.cancel(transfer, on: eventLoop, driver)
            }
            return UpstreamStreamingResponse(head: head, body: body)
        }
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

extension CurlTransport {
    /// Transfers a loop runs itself before further ones go to the dedicated thread: a lightly
    /// loaded loop answers fastest without a hand-off, a busy one gains from a second core.
    package static let loopTransferLimit = 8

    /// The current loop's driver when it may take one more transfer; nil sends it to the thread
    /// (which also answers `.cancelled` after `shutdown`).
    private func loopDriver(on eventLoop: EventLoop) -> CurlLoopDriver? {
        guard let driver = loopDrivers.driver(on: eventLoop, options: options),
              driver.core.activeCount < Self.loopTransferLimit else { return nil }
        return driver
    }

    /// Cancellation may come from any thread (or re-enter from inside a libcurl callback): it
    /// always hops onto the loop before touching libcurl.
    private static func cancel(_ transfer: CurlTransfer, on eventLoop: EventLoop, _ driver: CurlLoopDriver) {
        guard transfer.markCancelRequested() else { return }
        eventLoop.submit { driver.cancel(transfer) }
    }
}
