import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Turns a provider's server-sent events into `chat.completion.chunk` objects.
/// Errors thrown are `ProviderError`s (`.invalidResponse` for unparsable events, `.http` for
/// error events inside the stream).
package protocol SSEChunkTranslator: Sendable {
    /// The chunks for one event.
    mutating func translate(_ event: SSEEvent) throws(ProviderError) -> [JSONObject]
    /// The provider said the stream is over; nothing after it is read.
    var isDone: Bool { get }
    /// The body ended: the closing chunks (usage), or an error when the stream was cut short.
    mutating func finish() throws(ProviderError) -> [JSONObject]
}

/// Runs an upstream SSE body through a translator into a `ChunkStream` of chunks.
/// When the consumer stops (or is cancelled), the reading task is cancelled, which ends the
/// upstream body's iteration and so aborts the transfer.
package enum ProviderStreamPump {
    /// An event longer than `maxEventBytes` ends the stream with `UpstreamError.responseTooLarge`.
    package static func run<T: SSEChunkTranslator>(_ response: UpstreamStreamingResponse, translator: T,
                                           provider: String, maxEventBytes: Int = UpstreamLimits.defaultMaxEventBytes)
        -> ChunkStream<JSONObject> {
        // The pump runs on the caller's event loop when there is one (the transfer's data arrives
        // there too): on the global pool every chunk would cost two thread hand-offs.
        let loop = EventLoop.current
        return ChunkStream { continuation in
            let task = Task(executorPreference: loop) {
                var parser = SSEParser(maxEventBytes: maxEventBytes)
                var translator = translator
                func deliver(_ chunks: [JSONObject]) -> Bool {
                    for chunk in chunks {
                        if case .terminated = continuation.yield(chunk) { return false }
                    }
                    return true
                }
                do throws(ProviderError) {
                    do {
                        reading: for try await bytes in response.body {
                            for event in parser.feed(bytes) {
                                guard event.dataWasValidUTF8 else { throw invalidUTF8(provider: provider) }
                                guard deliver(try translator.translate(event)) else { return }
                                if translator.isDone { break reading }
                            }
                            if parser.eventTooLarge { throw eventTooLarge(maxEventBytes, provider: provider) }
                        }
                    } catch let error as ProviderError {
                        throw error
                    } catch {
                        throw ProviderHTTP.transportError(Task.isCancelled ? CancellationError() : error, provider: provider)
                    }
                    if Task.isCancelled { throw ProviderHTTP.transportError(CancellationError(), provider: provider) }
                    if !translator.isDone {
                        for event in parser.finish() {
                            guard event.dataWasValidUTF8 else { throw invalidUTF8(provider: provider) }
                            guard deliver(try translator.translate(event)) else { return }
                            if translator.isDone { break }
                        }
                    }
                    guard deliver(try translator.finish()) else { return }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// An event whose data is not UTF-8: refused like a JSON body that is not (the standard's
    /// decoding would pass it on, and to the cache, with U+FFFD in place of the bytes).
    package static func invalidUTF8(provider: String) -> ProviderError {
        ProviderError(kind: .invalidResponse, provider: provider, message: "a stream event's data is not valid UTF-8")
    }

    package static func eventTooLarge(_ limit: Int, provider: String) -> ProviderError {
        let error = UpstreamError.responseTooLarge("a stream event passed max_event_bytes (\(limit) bytes)")
        return ProviderError(kind: .transport(error), provider: provider, message: error.description)
    }
}
