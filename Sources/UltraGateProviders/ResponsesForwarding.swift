import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// A provider that serves OpenAI's Responses API (`POST {base}/responses`) itself, so a Responses
/// request reaches it as written (model renamed, route params merged) and its answer and typed
/// events come back unchanged: built-in tools, reasoning items and encrypted reasoning keep working.
public protocol ResponsesForwarding: Sendable {
    /// Whether this instance was configured to take Responses requests (`"responses": true`).
    var forwardsResponses: Bool { get }
    /// The upstream's `Response` object for a non-streamed request.
    func createResponse(_ request: ProviderRequest) async throws -> JSONObject
    /// The upstream's stream events, in order, as parsed JSON objects (each has `type`). The last
    /// is `response.completed`, `response.incomplete` or `response.failed`; an `error` event or a
    /// cut stream ends it with a `ProviderError`.
    func streamResponse(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject>
}

/// Passes a Responses stream's events through as JSON objects, ending at the terminal event.
package struct ResponsesEventPassThrough: SSEChunkTranslator {
    package let provider: String
    package let redactor: SecretRedactor
    package private(set) var isDone = false

    package init(provider: String, redactor: SecretRedactor) {
        self.provider = provider
        self.redactor = redactor
    }

    package static let terminalTypes: Set<String> = ["response.completed", "response.incomplete", "response.failed"]

    package mutating func translate(_ event: SSEEvent) throws(ProviderError) -> [JSONObject] {
        let data = event.data
        if data.isEmpty { return [] }
        if data.utf8.first != UInt8(ascii: "{"), data.trimmingCharacters(in: .whitespaces) == "[DONE]" {
            isDone = true
            return []
        }
        guard case .object(let object)? = try? JSONParser.parse(data), let type = object["type"]?.stringValue else {
            throw ProviderError(kind: .invalidResponse, provider: provider, message: "stream event is not a typed JSON object")
        }
        if type == "error" {
            let status = ProviderHTTP.status(forErrorCode: object["code"]?.stringValue)
            throw ProviderError(kind: .http(status: status), provider: provider,
                                message: redactor.redact(object["message"]?.stringValue ?? "error event from the provider"),
                                code: object["code"]?.stringValue.map(redactor.redact),
                                param: object["param"]?.stringValue.map(redactor.redact))
        }
        if Self.terminalTypes.contains(type) {
            // Checked before the event goes anywhere: a final event without its Response would
            // reach the client and only then be found wanting.
            guard object["response"]?.objectValue?["output"]?.arrayValue != nil else {
                throw ProviderError(kind: .invalidResponse, provider: provider, message: "\(type) event has no `response` with an `output` array")
            }
            isDone = true
        }
        return [object]
    }

    package mutating func finish() throws(ProviderError) -> [JSONObject] {
        guard isDone else {
            throw ProviderError(kind: .transport(.broken("stream ended before response.completed")), provider: provider,
                                message: "stream ended before response.completed")
        }
        return []
    }
}

extension OpenAICompatibleProvider: ResponsesForwarding {
    public var forwardsResponses: Bool { servesResponses && flavor == .openAI }

    private func responsesRequest(_ request: ProviderRequest, stream: Bool) -> UpstreamRequest {
        var body = request.body
        if stream { body["stream"] = true }
        return connection.post("/responses", body: body, authHeader: "Authorization", authPrefix: "Bearer ", stream: stream,
                               timeouts: request.timeouts)
    }

    public func createResponse(_ request: ProviderRequest) async throws -> JSONObject {
        let object = try await connection.sendJSON(responsesRequest(request, stream: false))
        guard object["output"]?.arrayValue != nil else {
            if object["error"] != nil, object["object"] == nil {
                throw ProviderHTTP.embeddedError(.object(object), provider: name, redactor: connection.redactor)
            }
            throw ProviderError(kind: .invalidResponse, provider: name, message: "response has no `output` array")
        }
        return object
    }

    public func streamResponse(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject> {
        try await connection.stream(responsesRequest(request, stream: true),
                                    translator: ResponsesEventPassThrough(provider: name, redactor: connection.redactor))
    }
}
