import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting

/// `ChunkStream` keeps `AsyncThrowingStream`'s semantics for everything the streaming path relies
/// on: order, the bounded buffer, errors after buffered chunks, and termination (once, and
/// `.cancelled` for a cancelled or vanished consumer, which is what aborts an upstream transfer).
@Suite struct ChunkStreamTests {
    final class Terminations: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [ChunkStream<Int>.Termination] = []
        func record(_ t: ChunkStream<Int>.Termination) { lock.lock(); seen.append(t); lock.unlock() }
        var all: [ChunkStream<Int>.Termination] { lock.lock(); defer { lock.unlock() }; return seen }
    }

    struct Boom: Error, Equatable {}

    @Test func deliversInOrderThenEnds() async throws {
        let (stream, continuation) = ChunkStream<Int>.makeStream()
        let terminations = Terminations()
        continuation.onTermination = { terminations.record($0) }
        for i in 0..<200 { #expect(continuation.yield(i) == .enqueued) }
        continuation.finish()
        #expect(continuation.yield(999) == .terminated)
        continuation.finish(throwing: Boom())  // ignored: already finished
        var got: [Int] = []
        for try await i in stream { got.append(i) }
        #expect(got == Array(0..<200))
        #expect(terminations.all.count == 1)
        if case .finished? = terminations.all.first {} else { Issue.record("expected .finished") }
    }

    @Test func aWaitingConsumerGetsChunksAsTheyCome() async throws {
        let (stream, continuation) = ChunkStream<Int>.makeStream()
        let consumer = collecting(stream)
        for i in 0..<50 {
            continuation.yield(i)
            if i % 7 == 0 { try await Task.sleep(nanoseconds: 1_000_000) }
        }
        continuation.finish()
        #expect(try await consumer.value == Array(0..<50))
    }

    @Test func theErrorComesAfterTheBufferedChunksThenTheEnd() async throws {
        let (stream, continuation) = ChunkStream<Int>.makeStream()
        continuation.yield(1)
        continuation.yield(2)
        continuation.finish(throwing: Boom())
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next() == 1)
        #expect(try await iterator.next() == 2)
        await #expect(throws: Boom.self) { try await iterator.next() }
        #expect(try await iterator.next() == nil)

        // An error while the consumer waits reaches it at once.
        let (waiting, finisher) = ChunkStream<Int>.makeStream()
        let consumer = Task { () -> Error? in
            do { for try await _ in waiting {} } catch { return error }
            return nil
        }
        try await Task.sleep(nanoseconds: 5_000_000)
        finisher.finish(throwing: Boom())
        #expect(await consumer.value is Boom)
    }

    @Test func aFullBufferDropsNewChunks() async throws {
        let (stream, continuation) = ChunkStream<Int>.makeStream(bufferLimit: 3)
        #expect((0..<3).map { continuation.yield($0) } == [.enqueued, .enqueued, .enqueued])
        #expect(continuation.yield(3) == .dropped)
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next() == 0)
        #expect(continuation.yield(4) == .enqueued)  // room again
        continuation.finish()
        var rest: [Int] = []
        while let i = try await iterator.next() { rest.append(i) }
        #expect(rest == [1, 2, 4])
    }

    @Test func cancellingTheConsumerEndsItWithNilAndTellsTheProducerOnce() async throws {
        let (stream, continuation) = ChunkStream<Int>.makeStream()
        let terminations = Terminations()
        continuation.onTermination = { terminations.record($0) }
        let received = Terminations()  // records that the consumer holds the first chunk
        let consumer = Task { () -> Int in
            var n = 0
            for try await _ in stream {
                n += 1
                received.record(.finished)
            }
            return n
        }
        continuation.yield(1)
        // Cancel only once the consumer has the chunk and waits for the next (no timed sleep).
        while received.all.isEmpty { await Task.yield() }
        consumer.cancel()
        #expect(try await consumer.value == 1)
        #expect(continuation.yield(2) == .terminated)
        continuation.finish()
        #expect(terminations.all.count == 1)
        if case .cancelled? = terminations.all.first {} else { Issue.record("expected .cancelled, got \(terminations.all)") }
    }

    @Test func aCancelledConsumerStopsEvenWithChunksBuffered() async throws {
        let (stream, continuation) = ChunkStream<Int>.makeStream()
        for i in 0..<10 { continuation.yield(i) }
        let consumer = Task { () -> Int in
            withUnsafeCurrentTask { $0?.cancel() }
            var n = 0
            for try await _ in stream { n += 1 }
            return n
        }
        #expect(try await consumer.value == 0)
        #expect(continuation.yield(10) == .terminated)
    }

    @Test func droppingTheStreamCancelsIt() async {
        let terminations = Terminations()
        var continuation: ChunkStream<Int>.Continuation?
        do {
            let made = ChunkStream<Int>.makeStream()
            continuation = made.continuation
            made.continuation.onTermination = { terminations.record($0) }
            var iterator = made.stream.makeAsyncIterator()
            made.continuation.yield(1)
            _ = try? await iterator.next()
        }
        #expect(continuation?.yield(2) == .terminated)
        if case .cancelled? = terminations.all.first {} else { Issue.record("expected .cancelled, got \(terminations.all)") }
        // A handler set after the end is told at once.
        continuation?.onTermination = { terminations.record($0) }
        #expect(terminations.all.count == 2)
    }

    /// Many producers and one consumer on different threads lose and duplicate nothing.
    @Test func concurrentProducersLoseNothing() async throws {
        let (stream, continuation) = ChunkStream<Int>.makeStream()
        let consumer = collecting(stream)
        await withTaskGroup(of: Void.self) { group in
            for p in 0..<4 {
                group.addTask { for i in 0..<2500 { continuation.yield(p * 10_000 + i) } }
            }
        }
        continuation.finish()
        let got = try await consumer.value
        #expect(got.count == 10_000)
        #expect(Set(got).count == 10_000)
        for p in 0..<4 {
            let mine = got.filter { $0 / 10_000 == p }
            #expect(mine == mine.sorted())
        }
    }
}

/// A task that reads `stream` to its end and returns what it got.
private func collecting(_ stream: ChunkStream<Int>) -> Task<[Int], any Error> {
    Task {
        var got: [Int] = []
        for try await i in stream { got.append(i) }
        return got
    }
}
