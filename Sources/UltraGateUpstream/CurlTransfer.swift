import UltraGateHTTP
import UltraGateSupport
import CCurl
import Foundation

/// One request in flight: the state libcurl's callbacks fill in and the continuation(s) that hand
/// the result to the waiting task.
///
/// Threading: `delivery` is set by the submitting task before the transfer is queued; from then on
/// every stored property except `cancelFlag` is touched only on the thread driving its
/// `CurlMultiCore` (the libcurl callbacks run there too). `cancelFlag` is guarded by `lock`.
package final class CurlTransfer: @unchecked Sendable {
    /// Body chunks a stream holds for its consumer before the transfer pauses: at most this many
    /// times libcurl's 16 KB write size per stream.
    package static let streamBufferChunks = 64

    package enum Delivery {
        case none
        /// `send`: the whole response at the end.
        case buffered(CheckedContinuation<UpstreamResponse, Error>)
        /// `stream`: the head as soon as it is complete, then body chunks.
        case streaming(head: CheckedContinuation<UpstreamResponseHead, Error>?,
                       body: ChunkStream<[UInt8]>.Continuation)
    }

    package let request: UpstreamRequest
    package var delivery: Delivery = .none

    // Loop thread only.
    package var easy: CurlEasyHandle?
    package var headerList: UnsafeMutablePointer<curl_slist>?
    package var startedAt: UInt64 = 0
    package var lastActivity: UInt64 = 0
    /// Set while the transfer runs on a multi, which outlives it; told when the deadline moves
    /// earlier (the head started) and when the transfer paused for a slow consumer.
    package unowned var core: CurlMultiCore?
    /// Paused with CURL_WRITEFUNC_PAUSE because the consumer's buffer is full.
    package var isPaused = false
    private var headBuilder = CurlResponseHeadBuilder()
    private var deliveredHead: UpstreamResponseHead?
    private var body: [UInt8] = []
    private var completed = false
    /// Body bytes taken so far (after decoding), held against `bodyLimit`.
    private var receivedBytes = 0
    /// Bytes handed to the header callback so far, held against `UpstreamLimits.maxHeadBytes`.
    private var headBytes = 0
    /// Set when a callback stopped the transfer on purpose (a size limit): how it ends, instead
    /// of the write error libcurl then reports.
    package private(set) var abortOutcome: Result<Void, UpstreamError>?

    private let lock = NSLock()
    private var cancelFlag = false

    package init(request: UpstreamRequest) {
        self.request = request
    }

    package var isCancelRequested: Bool {
        lock.lock(); defer { lock.unlock() }
        return cancelFlag
    }

    /// Marks the transfer cancelled; returns false when it already was.
    package func markCancelRequested() -> Bool {
        lock.lock(); defer { lock.unlock() }
        if cancelFlag { return false }
        cancelFlag = true
        return true
    }

    package var headStarted: Bool { headBuilder.hasStarted }

    /// The moment this transfer times out, and which limit that is (`.max` when none applies).
    package var deadline: (at: UInt64, phase: UpstreamError.TimeoutPhase) {
        let t = request.timeouts
        if !headBuilder.hasStarted {
            return t.firstByte > 0 ? (startedAt &+ Self.nanos(t.firstByte), .firstByte) : (.max, .firstByte)
        }
        return t.idle > 0 ? (lastActivity &+ Self.nanos(t.idle), .idle) : (.max, .idle)
    }

    // MARK: libcurl callbacks (loop thread)

    /// Returns the byte count to go on, or 0 to abort (the head is too large, or declares a body
    /// longer than the limit).
    package func receiveHeaderLine(_ line: UnsafeRawBufferPointer) -> Int {
        headBytes += line.count
        if headBytes > UpstreamLimits.maxHeadBytes {
            return abort(.failure(.responseTooLarge("the response head passed \(UpstreamLimits.maxHeadBytes) bytes")))
        }
        switch headBuilder.consume(line) {
        case .none:
            break
        case .started:
            lastActivity = curlMonotonicNanos()
            core?.transferDeadlineMoved(to: deadline.at)
        case .complete:
            lastActivity = curlMonotonicNanos()
            let head = Self.decodedView(of: headBuilder.head)
            // Only an unencoded body keeps its Content-Length: then it is the decoded size.
            let length = HTTPFieldName.firstValue(head.headers, "content-length").flatMap { Int($0) } ?? 0
            if Self.isSuccess(head.status), length > request.maxResponseBytes {
                return abort(.failure(tooLarge(limit: request.maxResponseBytes)))
            }
            deliveredHead = head
            switch delivery {
            case .buffered:
                if length > 0 { body.reserveCapacity(min(length, bodyLimit)) }
            case .streaming(let headContinuation?, let bodyContinuation):
                delivery = .streaming(head: nil, body: bodyContinuation)
                headContinuation.resume(returning: head)
            case .streaming(nil, _), .none:
                break
            }
        }
        return line.count
    }

    /// A 2xx body may be as long as the request allows; any other status's body is read only
    /// as far as an error message needs.
    private var bodyLimit: Int {
        let status = deliveredHead?.status ?? headBuilder.status
        return Self.isSuccess(status) ? request.maxResponseBytes : min(request.maxResponseBytes, UpstreamLimits.errorBodyBytes)
    }

    /// Also true for no status at all: such a body is held to the larger limit, never more.
    private static func isSuccess(_ status: Int) -> Bool { status == 0 || (200..<300).contains(status) }

    private func tooLarge(limit: Int) -> UpstreamError {
        .responseTooLarge("the body passed max_response_bytes (\(limit) bytes, counted after decoding)")
    }

    /// Ends the transfer from inside a callback: returns the short count that makes libcurl stop,
    /// and drops what was buffered. Collected as `outcome` instead of libcurl's write error.
    private func abort(_ outcome: Result<Void, UpstreamError>) -> Int {
        abortOutcome = outcome
        if case .failure = outcome { body = [] }
        return 0
    }

    /// A body past `bodyLimit`: a success's fails the transfer; an error status's is cut there,
    /// and the transfer ends well with what was kept.
    private func overLimit(_ bytes: UnsafeRawBufferPointer, limit: Int) -> Int {
        let status = deliveredHead?.status ?? headBuilder.status
        guard !Self.isSuccess(status) else { return abort(.failure(tooLarge(limit: limit))) }
        let kept = UnsafeRawBufferPointer(rebasing: bytes[0..<max(0, limit - receivedBytes)])
        receivedBytes = limit
        switch delivery {
        case .buffered:
            body.append(contentsOf: kept)
        case .streaming(_, let bodyContinuation):
            if !kept.isEmpty { bodyContinuation.yield(Array(kept)) }
        case .none:
            break
        }
        return abort(.success(()))
    }

    /// What the write callback returns: the byte count to go on, 0 to abort (the stream's
    /// consumer is gone, or the body passed its limit), or CURL_WRITEFUNC_PAUSE when the consumer's
    /// buffer is full; libcurl then keeps these bytes, stops reading the socket (so the upstream
    /// slows down), and hands them over again once the loop resumes the transfer. What libcurl
    /// keeps while paused is at most the rest of one network read, decoded (its pause buffer is
    /// capped by libcurl itself); it is counted against the limit when it comes back here.
    /// Bytes past the body limit abort the transfer at once, before they are kept anywhere.
    package func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        lastActivity = curlMonotonicNanos()
        let limit = bodyLimit
        if bytes.count > limit - receivedBytes { return overLimit(bytes, limit: limit) }
        switch delivery {
        case .buffered:
            body.append(contentsOf: bytes)
            receivedBytes += bytes.count
            return bytes.count
        case .streaming(let headContinuation, let bodyContinuation):
            if let headContinuation {
                // A body without a blank line before it: hand out what we have as the head.
                let head = currentHead(status: headBuilder.status)
                delivery = .streaming(head: nil, body: bodyContinuation)
                headContinuation.resume(returning: head)
            }
            switch bodyContinuation.yield(Array(bytes)) {
            case .enqueued:
                // Counted once taken: a paused chunk comes again on resume.
                receivedBytes += bytes.count
                return bytes.count
            case .dropped:
                isPaused = true
                core?.transferPaused(self)
                return Int(CURL_WRITEFUNC_PAUSE)
            case .terminated:
                return 0
            @unknown default:
                return 0
            }
        case .none:
            return 0
        }
    }

    // MARK: completion (loop thread, or the submitting task when the transfer never started)

    /// Delivers the outcome exactly once. `status` is libcurl's response code, used when the
    /// head never completed.
    package func complete(_ outcome: Result<Void, UpstreamError>, status: Int = 0) {
        guard !completed else { return }
        completed = true
        let delivery = self.delivery
        self.delivery = .none
        switch (delivery, outcome) {
        case (.buffered(let continuation), .success):
            continuation.resume(returning: UpstreamResponse(head: currentHead(status: status), body: body))
            body = []
        case (.buffered(let continuation), .failure(let error)):
            continuation.resume(throwing: error)
        case (.streaming(let headContinuation, let bodyContinuation), .success):
            headContinuation?.resume(returning: currentHead(status: status))
            bodyContinuation.finish()
        case (.streaming(let headContinuation, let bodyContinuation), .failure(let error)):
            headContinuation?.resume(throwing: error)
            bodyContinuation.finish(throwing: error)
        case (.none, _):
            break
        }
        core = nil
    }

    private func currentHead(status: Int) -> UpstreamResponseHead {
        if let deliveredHead { return deliveredHead }
        var head = Self.decodedView(of: headBuilder.head)
        if head.status == 0 { head.status = status }
        return head
    }

    /// libcurl decodes gzip/deflate/br/zstd bodies, so the head must no longer claim an encoding
    /// or the encoded length: a proxy forwarding these fields would corrupt the response.
    private static func decodedView(of head: UpstreamResponseHead) -> UpstreamResponseHead {
        guard let encoding = HTTPFieldName.firstValue(head.headers, "content-encoding"),
              !HTTPFieldName.matches(encoding, "identity") else { return head }
        var decoded = head
        decoded.headers.removeAll {
            HTTPFieldName.matches($0.name, "content-encoding") || HTTPFieldName.matches($0.name, "content-length")
        }
        return decoded
    }

    private static func nanos(_ seconds: Double) -> UInt64 {
        seconds >= 1e9 ? UInt64.max / 2 : UInt64(seconds * 1e9)
    }
}
