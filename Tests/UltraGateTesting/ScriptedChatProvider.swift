import Foundation
@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench

/// A provider for gateway tests: answers like the mock provider, but counts its calls, can be
/// told to fail the next calls, waits a set time before answering, and notices cancellation.
package final class ScriptedChatProvider: ChatProvider, @unchecked Sendable {
    package let name: String
    package var type: String { "scripted" }
    private let inner = MockProvider()
    private let lock = NSLock()
    private var _calls: [ProviderRequest] = []
    private var _failures: [ProviderError] = []
    private var _cancellations = 0
    package let delayMs: Double
    package let chunkDelayMs: Double

    package init(name: String = "scripted", delayMs: Double = 0, chunkDelayMs: Double = 0) {
        self.name = name
        self.delayMs = delayMs
        self.chunkDelayMs = chunkDelayMs
    }

    package var calls: [ProviderRequest] { lock.withLock { _calls } }
    package var callCount: Int { lock.withLock { _calls.count } }
    package var cancellations: Int { lock.withLock { _cancellations } }

    package func failNext(_ errors: ProviderError...) { lock.withLock { _failures.append(contentsOf: errors) } }

    private func begin(_ request: ProviderRequest) -> ProviderError? {
        lock.withLock {
            _calls.append(request)
            return _failures.isEmpty ? nil : _failures.removeFirst()
        }
    }

    /// The mock answers its own model names only; the text still depends on the messages.
    private static func asMock(_ request: ProviderRequest) -> ProviderRequest {
        var r = request
        r.body["model"] = "mock-gpt"
        return r
    }

    private func noteCancelled() { lock.withLock { _cancellations += 1 } }

    package func complete(_ request: ProviderRequest) async throws -> JSONObject {
        let failure = begin(request)
        do { try await Task.sleep(nanoseconds: UInt64(delayMs * 1e6)) } catch {
            noteCancelled()
            throw error
        }
        if let failure { throw failure }
        return try await inner.complete(Self.asMock(request))
    }

    package func stream(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject> {
        let failure = begin(request)
        do { try await Task.sleep(nanoseconds: UInt64(delayMs * 1e6)) } catch {
            noteCancelled()
            throw error
        }
        if let failure { throw failure }
        let upstream = try await inner.stream(Self.asMock(request))
        let chunkDelay = chunkDelayMs
        return ChunkStream { continuation in
            let task = Task {
                do {
                    for try await chunk in upstream {
                        try await Task.sleep(nanoseconds: UInt64(chunkDelay * 1e6))
                        continuation.yield(chunk)
                    }
                    continuation.finish()
                } catch {
                    if Task.isCancelled { self.noteCancelled() }
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { reason in
                if case .cancelled = reason { task.cancel() }
            }
        }
    }
}

extension ProviderError {
    package static func status(_ status: Int, retryAfter: Double? = nil) -> ProviderError {
        ProviderError(kind: .http(status: status), provider: "scripted", message: "scripted \(status)", retryAfter: retryAfter)
    }
}
