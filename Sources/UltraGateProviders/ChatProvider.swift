import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// What the gateway asks a provider: an OpenAI chat-completions request body, already validated,
/// whose `model` is the provider's own model name and whose route `params` are merged in.
/// `stream` and `stream_options` are removed: the method called says whether to stream.
public struct ProviderRequest: Sendable {
    public var body: JSONObject
    public var requestID: String
    public var timeouts: UpstreamTimeouts

    public init(body: JSONObject, requestID: String, timeouts: UpstreamTimeouts = UpstreamTimeouts()) {
        self.body = body
        self.requestID = requestID
        self.timeouts = timeouts
    }

    /// The provider-side model name.
    public var model: String { body["model"]?.stringValue ?? "" }
}

/// A source of chat completions. Adapters translate to a provider's native API and back;
/// everything they return is in OpenAI's shapes.
///
/// Errors: adapters throw `ProviderError`, which tells the retry policy what happened.
public protocol ChatProvider: Sendable {
    /// The configured name (e.g. "openai", "anthropic", "local", "mock").
    var name: String { get }
    /// The adapter kind: "openai", "azure", "anthropic", "gemini", "mock".
    var type: String { get }

    /// Why `model` cannot be sent to this provider, or nil when it can: adapters whose upstream URL
    /// carries the model name (Gemini, Azure) refuse names that would not stay one path segment
    /// (`ModelPathSegment`). Configured names are checked at start-up; a request naming such a
    /// model fails with a 400 naming `model`. The default accepts every name (it goes in the body).
    func upstreamModelProblem(_ model: String) -> String?

    /// A complete `chat.completion` object (OpenAI shape: id, object, created, model, choices, usage).
    func complete(_ request: ProviderRequest) async throws -> JSONObject

    /// The same, with the upstream's JSON text when the object is exactly that text parsed, so
    /// it can be passed on without being written out again. The default keeps no text.
    func completeKeepingText(_ request: ProviderRequest) async throws -> ProviderCompletion

    /// `chat.completion.chunk` objects in order, the last one carrying `usage` when the provider
    /// reports it. The call returns once the provider accepted the request (status 2xx); an error
    /// status throws instead. A failure mid-stream finishes the stream with a `ProviderError`.
    func stream(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject>
}

/// A `chat.completion` and, when the provider passed it on unchanged, the JSON text it came from.
public struct ProviderCompletion: Sendable {
    public var completion: JSONObject
    public var text: [UInt8]?

    public init(completion: JSONObject, text: [UInt8]? = nil) {
        self.completion = completion
        self.text = text
    }
}

extension ChatProvider {
    public func upstreamModelProblem(_ model: String) -> String? { nil }

    public func completeKeepingText(_ request: ProviderRequest) async throws -> ProviderCompletion {
        ProviderCompletion(completion: try await complete(request))
    }
}

/// A failed provider call, classified for retries and for the client's error response.
public struct ProviderError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The provider answered with an error status.
        case http(status: Int)
        /// No usable response: connect failure, timeout, reset, protocol violation.
        case transport(UpstreamError)
        /// The provider's answer could not be understood.
        case invalidResponse
    }
    public var kind: Kind
    public var provider: String
    /// The provider's own message (never an API key).
    public var message: String
    /// Seconds from a `Retry-After` header, when present.
    public var retryAfter: Double?
    /// Provider error code/type when it gave one (e.g. "rate_limit_exceeded").
    public var code: String?
    /// The request field the provider's error is about, when it named one.
    public var param: String?

    public init(kind: Kind, provider: String, message: String, retryAfter: Double? = nil, code: String? = nil,
                param: String? = nil) {
        self.kind = kind
        self.provider = provider
        self.message = message
        self.retryAfter = retryAfter
        self.code = code
        self.param = param
    }

    public var description: String { "\(provider): \(message)" }

    /// Worth trying again: connect errors, timeouts before the first byte, 408/409/429/5xx.
    public var isRetryable: Bool {
        switch kind {
        case .http(let status): return status == 408 || status == 409 || status == 429 || status >= 500
        case .transport(let e): return e.isRetryable
        case .invalidResponse: return false
        }
    }
}
