import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// Any server speaking OpenAI's chat completions (OpenAI, Groq, Together, OpenRouter, vLLM, Ollama,
/// llama.cpp, another UltraGate), and Azure OpenAI. The request body is forwarded byte-stable
/// (unknown fields and key order kept); responses pass through as parsed JSON with only missing
/// required fields filled in.
///
/// Reference: OpenAI API reference, "Create chat completion" (POST /v1/chat/completions) and
/// "The chat completion chunk object"; OpenAPI schemas `CreateChatCompletionResponse` and
/// `CreateChatCompletionStreamResponse` (openai/openai-openapi). Streams are SSE `data:` lines with
/// one chunk each, ended by `data: [DONE]`; `stream_options.include_usage` adds a last chunk with
/// `choices: []` and `usage`.
///
/// Azure OpenAI (learn.microsoft.com, "Azure OpenAI REST API reference", data plane inference):
/// POST `{endpoint}/openai/deployments/{deployment-id}/chat/completions?api-version={version}` with
/// the key in an `api-key` header; bodies and answers are OpenAI's. Only the address and the
/// header differ, so it is this adapter with `Flavor.azure`.
public struct OpenAICompatibleProvider: ChatProvider {
    /// How a request is addressed and authenticated.
    public enum Flavor: Sendable, Equatable {
        /// `{baseURL}/chat/completions`, `Authorization: Bearer <key>`.
        case openAI
        /// `{baseURL}/openai/deployments/{model}/chat/completions?api-version=…`, `api-key: <key>`:
        /// the route's model name is the deployment.
        case azure(apiVersion: String)
    }

    /// Azure OpenAI's current GA data-plane version, used when the config names none.
    public static let defaultAzureAPIVersion = "2024-10-21"

    package let connection: ProviderConnection
    public let flavor: Flavor
    /// Whether `/v1/responses` requests go to this provider's own `/responses` endpoint as written
    /// (`"responses": true`; see `ResponsesForwarding`) rather than translated to chat.
    public var servesResponses = false
    public var name: String { connection.name }
    public var type: String { flavor == .openAI ? "openai" : "azure" }
    /// e.g. `https://api.openai.com/v1` (requests go to `{baseURL}/chat/completions`), or an Azure
    /// endpoint `https://{resource}.openai.azure.com`. A query in it stays after the path.
    public var baseURL: String { connection.baseURL }

    public init(name: String = "openai", baseURL: String = "https://api.openai.com/v1", apiKey: String?,
                headers: [HTTPHeaderField] = [], flavor: Flavor = .openAI, transport: any UpstreamTransport,
                limits: UpstreamLimits = UpstreamLimits(), redactor: SecretRedactor? = nil) {
        connection = ProviderConnection(name: name, baseURL: baseURL, apiKey: apiKey, extraHeaders: headers,
                                        transport: transport, limits: limits, redactor: redactor)
        self.flavor = flavor
    }

    /// Azure puts the deployment (the model name) in the URL path.
    public func upstreamModelProblem(_ model: String) -> String? {
        flavor == .openAI ? nil : ModelPathSegment.problem(model)
    }

    package func upstreamRequest(_ request: ProviderRequest, stream: Bool) throws(ProviderError) -> UpstreamRequest {
        var body = request.body
        if stream {
            body["stream"] = true
            body["stream_options"] = ["include_usage": true]
        }
        return try post("/chat/completions", model: request.model, body: body, stream: stream, timeouts: request.timeouts)
    }

    /// A POST to one of the API's operations (`/chat/completions`, `/embeddings`) as the flavor
    /// addresses it: under the base URL, or under Azure's deployment (the model) with the API version.
    package func post(_ operation: String, model: String, body: JSONObject, stream: Bool,
                      timeouts: UpstreamTimeouts) throws(ProviderError) -> UpstreamRequest {
        switch flavor {
        case .openAI:
            return connection.post(operation, body: body, authHeader: "Authorization", authPrefix: "Bearer ",
                                   stream: stream, timeouts: timeouts)
        case .azure(let apiVersion):
            let deployment = try ModelPathSegment.encoded(model, provider: name)
            return connection.post("/openai/deployments/\(deployment)\(operation)", query: "api-version=\(apiVersion)",
                                   body: body, authHeader: "api-key", stream: stream, timeouts: timeouts)
        }
    }

    public func complete(_ request: ProviderRequest) async throws -> JSONObject {
        try await completeKeepingText(request).completion
    }

    /// The upstream's text is kept unless a member OpenAI's schema requires had to be filled in
    /// (`ChatCompletionNormalizer`).
    public func completeKeepingText(_ request: ProviderRequest) async throws -> ProviderCompletion {
        let answer = try await connection.sendJSONKeepingText(try upstreamRequest(request, stream: false))
        var object = answer.object
        guard object["choices"]?.arrayValue != nil else {
            if object["error"] != nil {
                throw ProviderHTTP.embeddedError(.object(object), provider: name, redactor: connection.redactor)
            }
            throw ProviderError(kind: .invalidResponse, provider: name, message: "response has no `choices` array")
        }
        let filled = ChatCompletionNormalizer.fill(&object, model: request.model)
        return ProviderCompletion(completion: object, text: filled ? nil : answer.text)
    }

    public func stream(_ request: ProviderRequest) async throws -> ChunkStream<JSONObject> {
        try await connection.stream(try upstreamRequest(request, stream: true),
                                    translator: OpenAIChunkPassThrough(provider: name, model: request.model,
                                                                       redactor: connection.redactor))
    }
}

/// Passes OpenAI chunks through, holding back usage so that it always comes last in a
/// `choices: []` chunk (some servers put it on the finish chunk), and completing what
/// `CreateChatCompletionStreamResponse` requires (`ChatCompletionNormalizer`): the header members,
/// each choice's `index`, `delta` and `finish_reason`, and a role-only first chunk for each choice
/// whose first chunk named no role, as OpenAI opens every choice.
package struct OpenAIChunkPassThrough: SSEChunkTranslator {
    package let provider: String
    package let model: String
    package let redactor: SecretRedactor
    package private(set) var isDone = false
    private var usage: JSON?
    private var template: JSONObject?
    private var rolesSent: Set<Int> = []
    /// Choices that got a finish reason: a stream cut before every choice finished is broken.
    private var finishedChoices: Set<Int> = []

    package init(provider: String, model: String, redactor: SecretRedactor) {
        self.provider = provider
        self.model = model
        self.redactor = redactor
    }

    package mutating func translate(_ event: SSEEvent) throws(ProviderError) -> [JSONObject] {
        let data = event.data
        if data.isEmpty { return [] }
        if data.utf8.first != UInt8(ascii: "{"), data.trimmingCharacters(in: .whitespaces) == "[DONE]" {
            isDone = true
            return []
        }
        // Bound straight out of the parse result, so the object's storage is not shared and the
        // edits below do not copy it.
        guard case .object(var chunk)? = try? JSONParser.parse(data) else {
            throw ProviderError(kind: .invalidResponse, provider: provider, message: "stream event is not a JSON object")
        }
        if chunk["error"] != nil, chunk["choices"] == nil {
            throw ProviderHTTP.embeddedError(.object(chunk), provider: provider, redactor: redactor)
        }
        if let u = chunk["usage"] {
            if case .object(var reported) = u {
                ChatCompletionNormalizer.fillUsage(&reported)
                usage = .object(reported)
            }
            chunk.removeValue(forKey: "usage")
        }
        _ = ChatCompletionNormalizer.fillHeader(&chunk, object: "chat.completion.chunk", id: template?["id"],
                                                created: template?["created"], model: model)
        if template == nil { template = chunk }
        guard case .array(var choices)? = chunk["choices"], !choices.isEmpty else { return [] }  // usage only: sent at the end
        // Most chunks pass unchanged: the choices are rebuilt only when one lacks a member.
        if ChatCompletionNormalizer.fillChunkChoices(&choices) { chunk["choices"] = .array(choices) }
        var roleChunks: [JSONObject]?
        for case .object(let choice) in choices {
            let index = choice["index"]?.intValue ?? 0
            if let reason = choice["finish_reason"], !reason.isNull { finishedChoices.insert(index) }
            if rolesSent.insert(index).inserted, choice["delta"]?["role"] == nil {
                roleChunks = (roleChunks ?? []) + [ChatCompletionNormalizer.roleChunk(like: chunk, index: index)]
            }
        }
        guard let roleChunks else { return [chunk] }
        return roleChunks + [chunk]
    }

    package mutating func finish() throws(ProviderError) -> [JSONObject] {
        guard isDone || (!rolesSent.isEmpty && rolesSent.isSubset(of: finishedChoices)) else {
            throw ProviderError(kind: .transport(.broken("stream ended before [DONE]")), provider: provider,
                                message: "stream ended before [DONE]")
        }
        guard let usage, let template else { return [] }
        var last = JSONObject(template.pairs.filter { ChatCompletionNormalizer.chunkHeaderKeys.contains($0.key) })
        last.append("choices", [])
        last.append("usage", usage)
        return [last]
    }
}
