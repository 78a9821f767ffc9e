import Foundation

/// A single-consumer async stream of chunks: the part of `AsyncThrowingStream` the streaming path
/// uses, with the same semantics (a bounded or unbounded buffer, `finish(throwing:)` after the
/// buffered chunks, `nil` once the consuming task is cancelled, `onTermination` called once with
/// `.finished` or `.cancelled`, `.cancelled` also when the consumer drops the stream).
///
/// Why not `AsyncThrowingStream`: its storage is not specialisable outside the standard
/// library, so every `yield`, `next` and `finish` looked up generic metadata at run time
/// (`Optional<Element>`, its state and terminal types): callgrind counted ~100k instructions per
/// streamed response there, about an eighth of the gateway's work for a short stream. This one is
/// compiled with our code and specialised for each element type.
public struct ChunkStream<Element: Sendable>: AsyncSequence, Sendable {
    public typealias Failure = any Error

    public enum Termination: Sendable { case finished, cancelled }

    public enum YieldResult: Sendable {
        case enqueued
        /// The buffer was full: the element was not kept.
        case dropped
        /// The stream already ended: the element was not kept.
        case terminated
    }

    /// The producer's side. Any thread may call it.
    public struct Continuation: Sendable {
        package let storage: Storage

        @discardableResult
        public func yield(_ element: Element) -> YieldResult { storage.yield(element) }

        /// Ends the stream after the chunks already buffered; with an error, the consumer gets it
        /// after them. Later calls do nothing.
        public func finish(throwing error: (any Error)? = nil) { storage.finish(error) }

        /// Called once: `.finished` when `finish` is called, `.cancelled` when the consumer's task
        /// is cancelled or the consumer lets go of the stream first. Setting it after the stream
        /// ended calls it at once.
        public var onTermination: (@Sendable (Termination) -> Void)? {
            get { storage.terminationHandler }
            nonmutating set { storage.setTerminationHandler(newValue) }
        }
    }

    /// Held by the stream and its iterator only (not by the continuation): when the consumer side
    /// is gone, the stream counts as cancelled so that the producer stops.
    package final class ConsumerToken: Sendable {
        package let storage: Storage
        package init(_ storage: Storage) { self.storage = storage }
        deinit { storage.cancel() }
    }

    package let token: ConsumerToken

    /// A stream and its continuation; `bufferLimit` chunks at most wait in the buffer (beyond that
    /// `yield` reports `.dropped`).
    public static func makeStream(bufferLimit: Int = .max) -> (stream: ChunkStream, continuation: Continuation) {
        let storage = Storage(limit: bufferLimit)
        return (ChunkStream(token: ConsumerToken(storage)), Continuation(storage: storage))
    }

    /// The `AsyncThrowingStream { continuation in … }` form: `build` gets the continuation at once.
    public init(bufferLimit: Int = .max, _ build: (Continuation) -> Void) {
        let (stream, continuation) = Self.makeStream(bufferLimit: bufferLimit)
        self = stream
        build(continuation)
    }

    package init(token: ConsumerToken) { self.token = token }

    public func makeAsyncIterator() -> Iterator { Iterator(token: token) }

    public struct Iterator: AsyncIteratorProtocol {
        package let token: ConsumerToken

        public mutating func next() async throws -> Element? {
            try await token.storage.next()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> Element? {
            try await token.storage.next()
        }
    }

    /// The shared state; every member is guarded by `lock`.
    package final class Storage: @unchecked Sendable {
        private let lock = NSLock()
        private let limit: Int
        private var buffer = ArrayQueue<Element>()
        private var waiter: UnsafeContinuation<Element?, any Error>?
        /// Set by `finish`: delivered once the buffer is empty.
        private var ending: (any Error)??
        private var cancelled = false
        private var handler: (@Sendable (Termination) -> Void)?
        private var handlerCalled = false

        package init(limit: Int) { self.limit = Swift.max(1, limit) }

        package var terminationHandler: (@Sendable (Termination) -> Void)? {
            lock.lock()
            defer { lock.unlock() }
            return handler
        }

        package func setTerminationHandler(_ newValue: (@Sendable (Termination) -> Void)?) {
            lock.lock()
            if handlerCalled {
                // The stream already ended: tell the newcomer how.
                let how: Termination = cancelled ? .cancelled : .finished
                lock.unlock()
                newValue?(how)
                return
            }
            handler = newValue
            lock.unlock()
        }

        /// Takes the handler for a single call; nil if it was already called. Lock held.
        private func takeHandler() -> (@Sendable (Termination) -> Void)? {
            if handlerCalled { return nil }
            handlerCalled = true
            let h = handler
            handler = nil
            return h
        }

        package func yield(_ element: Element) -> YieldResult {
            lock.lock()
            if cancelled || ending != nil {
                lock.unlock()
                return .terminated
            }
            if let waiter {
                self.waiter = nil
                lock.unlock()
                waiter.resume(returning: element)
                return .enqueued
            }
            if buffer.count >= limit {
                lock.unlock()
                return .dropped
            }
            buffer.append(element)
            lock.unlock()
            return .enqueued
        }

        package func finish(_ error: (any Error)?) {
            lock.lock()
            if cancelled || ending != nil {
                lock.unlock()
                return
            }
            ending = .some(error)
            let handler = takeHandler()
            let waiter = self.waiter
            self.waiter = nil
            // A waiting consumer has an empty buffer: it gets the end now.
            if waiter != nil { ending = .some(nil) }
            lock.unlock()
            handler?(.finished)
            if let waiter {
                if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
            }
        }

        /// The consumer's task was cancelled or the consumer let go of the stream.
        package func cancel() {
            lock.lock()
            if cancelled {
                lock.unlock()
                return
            }
            cancelled = true
            buffer.removeAll()
            let handler = takeHandler()
            let waiter = self.waiter
            self.waiter = nil
            lock.unlock()
            handler?(.cancelled)
            waiter?.resume(returning: nil)
        }

        package func next() async throws -> Element? {
            // A cancelled consumer ends the stream even with chunks still buffered.
            if Task.isCancelled {
                cancel()
                return nil
            }
            // Fast path: a chunk (or the end) is already there, no suspension.
            switch poll() {
            case .element(let element): return element
            case .end(let error?): throw error
            case .end(nil): return nil
            case .pending: break
            }
            return try await withTaskCancellationHandler {
                try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Element?, any Error>) in
                    lock.lock()
                    let ready = pollLocked()
                    if case .pending = ready { waiter = continuation }
                    lock.unlock()
                    switch ready {
                    case .element(let element): continuation.resume(returning: element)
                    case .end(let error?): continuation.resume(throwing: error)
                    case .end(nil): continuation.resume(returning: nil)
                    case .pending: break
                    }
                }
            } onCancel: {
                cancel()
            }
        }

        private enum Poll {
            case element(Element)
            case end((any Error)?)
            case pending
        }

        private func poll() -> Poll {
            lock.lock()
            defer { lock.unlock() }
            return pollLocked()
        }

        /// A buffered chunk, else the end if the stream has ended. Lock held.
        private func pollLocked() -> Poll {
            if let element = takeBuffered() { return .element(element) }
            if let end = takeEnd() { return .end(end) }
            return .pending
        }

        /// The next buffered chunk, if any. Lock held.
        private func takeBuffered() -> Element? { buffer.popFirst() }

        /// How the stream ends, when it has: `.some(nil)` for a normal end (also after
        /// cancellation), `.some(error)` once for a failure (then a normal end). Lock held.
        private func takeEnd() -> (any Error)?? {
            if cancelled { return .some(nil) }
            guard let ending else { return nil }
            if ending != nil { self.ending = .some(nil) }
            return ending
        }
    }
}
