import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Passes the final step's stream on to the client as the ensemble's own: every chunk renamed
/// to the ensemble, its `usage` held back (the last chunk carries the sum of every call, with
/// the `ultra` detail). Notes whether anything went out, since after that there is no retry.
package final class EnsembleChunkRelay: @unchecked Sendable {
    private let name: String
    private let onChunk: @Sendable (JSONObject) async -> Void
    private let lock = NSLock()
    private var _delivered = false
    private var _id: JSON?
    private var _created: JSON?

    package init(name: String, onChunk: @escaping @Sendable (JSONObject) async -> Void) {
        self.name = name
        self.onChunk = onChunk
    }

    package var delivered: Bool { lock.withLock { _delivered } }

    package func forward(_ chunk: JSONObject) async {
        let isUsageOnly = chunk["choices"]?.arrayValue?.isEmpty ?? true
        if isUsageOnly { return }
        var out = chunk
        out["model"] = .string(name)
        if out["usage"] != nil { out["usage"] = nil }
        lock.withLock {
            _delivered = true
            if _id == nil { _id = chunk["id"] }
            if _created == nil { _created = chunk["created"] }
        }
        await onChunk(out)
    }

    /// Replays a whole completion as chunks (an answer that was not streamed from upstream).
    package func replay(_ completion: JSONObject) async {
        for chunk in ChatCompletionReplayer.chunks(from: completion, includeUsage: false) {
            await forward(chunk)
        }
    }

    /// The closing chunk: no choices, the summed usage and the `ultra` detail.
    package func finish(completion: JSONObject) async {
        let (id, created) = lock.withLock { (_id, _created) }
        var last = JSONObject()
        last.append("id", id ?? completion["id"] ?? .string(""))
        last.append("object", "chat.completion.chunk")
        last.append("created", created ?? completion["created"] ?? .int(Int(Date().timeIntervalSince1970)))
        last.append("model", .string(name))
        last.append("choices", [])
        last.append("usage", completion["usage"] ?? .null)
        last.append("ultra", completion["ultra"] ?? .null)
        await onChunk(last)
    }
}
