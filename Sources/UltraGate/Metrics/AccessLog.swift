import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// One JSON line per request, written by a background thread so the event loop never waits on
/// the disk: `log` only appends the entry to a queue under a lock (and wakes the writer when the
/// queue was empty); the writer formats whole batches and writes each with one `write(2)`.
/// When the queue is full (the disk cannot keep up), entries are dropped and counted.
/// Call `close()` at shutdown: it drains the queue and stops the thread.
public final class AccessLog: @unchecked Sendable {
    public enum Destination: Sendable {
        case disabled
        case standardError
        /// Appended to (created with mode 0644 when missing).
        case file(path: String)
        /// Each written batch of lines, for tests or custom shipping.
        case sink(@Sendable ([UInt8]) -> Void)
    }

    public struct OpenError: Error, CustomStringConvertible {
        public let path: String
        public let errno: Int32
        public var description: String { "cannot open access log \(path): \(String(cString: strerror(errno)))" }
    }

    public let isEnabled: Bool
    private let maxPending: Int
    private let condition = NSCondition()
    // All below guarded by `condition`.
    private var pending: [AccessLogEntry] = []
    private var enqueued: UInt64 = 0
    private var written: UInt64 = 0
    private var dropped: UInt64 = 0
    private var stopping = false
    private var running = false

    /// Only the writer thread uses these.
    private let fd: Int32
    private let ownsDescriptor: Bool
    private let sink: (@Sendable ([UInt8]) -> Void)?

    public init(destination: Destination, maxPending: Int = 65_536) throws {
        self.maxPending = maxPending
        switch destination {
        case .disabled:
            isEnabled = false; fd = -1; ownsDescriptor = false; sink = nil
        case .standardError:
            isEnabled = true; fd = STDERR_FILENO; ownsDescriptor = false; sink = nil
        case .file(let path):
            let opened = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard opened >= 0 else { throw OpenError(path: path, errno: errno) }
            isEnabled = true; fd = opened; ownsDescriptor = true; sink = nil
        case .sink(let body):
            isEnabled = true; fd = -1; ownsDescriptor = false; sink = body
        }
        guard isEnabled else { return }
        running = true
        let thread = Thread { [self] in writerLoop() }
        thread.name = "ultragate-access-log"
        thread.start()
    }

    /// Queues one entry; never blocks on I/O.
    public func log(_ entry: AccessLogEntry) {
        guard isEnabled else { return }
        condition.lock()
        if stopping || pending.count >= maxPending {
            dropped += 1
            condition.unlock()
            return
        }
        pending.append(entry)
        enqueued += 1
        if pending.count == 1 { condition.broadcast() }
        condition.unlock()
    }

    /// Entries dropped because the queue was full or the log was closed.
    public var droppedCount: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return dropped
    }

    /// Waits until everything queued so far has been written.
    public func flush() {
        guard isEnabled else { return }
        condition.lock()
        let target = enqueued
        while written < target && running { condition.wait() }
        condition.unlock()
    }

    /// Writes what is queued, then stops the writer thread (and closes an owned file).
    public func close() {
        guard isEnabled else { return }
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    private func writerLoop() {
        var buffer: [UInt8] = []
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty && stopping {
                running = false
                condition.broadcast()
                condition.unlock()
                break
            }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            condition.unlock()

            buffer.removeAll(keepingCapacity: true)
            for entry in batch { entry.appendLine(to: &buffer) }
            output(buffer)

            condition.lock()
            written += UInt64(batch.count)
            condition.broadcast()
            condition.unlock()
        }
        if ownsDescriptor { closeDescriptor(fd) }
    }

    private func output(_ bytes: [UInt8]) {
        if let sink { sink(bytes); return }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}

/// `close(2)`, out of reach of `AccessLog.close()` which shadows it inside the class.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
