import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// One provider's own list of the models it serves.
public struct ProviderModelList: Sendable, Equatable {
    /// The provider's model names, as a request's `model` would name them, in its order.
    public var ids: [String]
    /// False when the list was cut at `ModelListLimits` (more pages or entries than allowed):
    /// names past the cut may exist, so the list cannot say a name is not there.
    public var isComplete: Bool

    public init(ids: [String], isComplete: Bool) {
        self.ids = ids
        self.isComplete = isComplete
    }
}

/// Bounds on fetching a provider's model list: it runs on the request path of `GET /v1/models`,
/// so it must end soon and hold little whatever the provider sends.
public struct ModelListLimits: Sendable {
    /// Largest response body read per page; a larger one fails the fetch.
    public var maxBytes = 4 << 20
    /// Models kept per provider; the list is cut (incomplete) past it.
    public var maxModels = 2000
    /// Pages followed (Anthropic `has_more`, Gemini `nextPageToken`).
    public var maxPages = 5
    /// Longest model name kept; longer names are skipped.
    public var maxNameBytes = 256
    public var timeouts = UpstreamTimeouts(connect: 3, firstByte: 5, idle: 5, total: 10)

    public init() {}
}

/// A provider that can say which models it serves, from its models endpoint.
package protocol ModelListingProvider: ChatProvider {
    func listModels(limits: ModelListLimits) async throws(ProviderError) -> ProviderModelList
}

/// OpenAI `GET {base}/models`: `{"object":"list","data":[{"id","object":"model","created","owned_by"}]}`
/// (OpenAPI `ListModelsResponse`; not paginated).
extension OpenAICompatibleProvider: ModelListingProvider {
    package func listModels(limits: ModelListLimits) async throws(ProviderError) -> ProviderModelList {
        let page = try await connection.getJSON("/models", authHeader: "Authorization", authPrefix: "Bearer ", limits: limits)
        var list = ModelListCollector(limits: limits)
        list.add(page["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue })
        return list.result(morePages: false)
    }
}

/// Anthropic `GET {base}/v1/models?limit=1000`: `{"data":[{"type":"model","id","display_name",
/// "created_at"}],"has_more","first_id","last_id"}`; the next page is `after_id={last_id}`.
extension AnthropicProvider: ModelListingProvider {
    package func listModels(limits: ModelListLimits) async throws(ProviderError) -> ProviderModelList {
        var list = ModelListCollector(limits: limits)
        var after: String?
        for _ in 0..<limits.maxPages {
            let query = "?limit=1000" + (after.map { "&after_id=" + ModelListCollector.queryEscaped($0) } ?? "")
            let page = try await connection.getJSON("/v1/models" + query, authHeader: "x-api-key",
                                                    headers: [HTTPHeaderField("anthropic-version", Self.apiVersion)],
                                                    limits: limits)
            list.add(page["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue })
            guard page["has_more"]?.boolValue == true, let last = page["last_id"]?.stringValue, !list.isFull else {
                return list.result(morePages: page["has_more"]?.boolValue == true)
            }
            after = last
        }
        return list.result(morePages: true)
    }
}

/// Gemini `GET {base}/v1beta/models?pageSize=1000`: `{"models":[{"name":"models/gemini-…",
/// "supportedGenerationMethods":[…]}],"nextPageToken"}`; only models that `generateContent` or
/// `embedContent` (the two the gateway calls).
extension GeminiProvider: ModelListingProvider {
    package func listModels(limits: ModelListLimits) async throws(ProviderError) -> ProviderModelList {
        var list = ModelListCollector(limits: limits)
        var token: String?
        for _ in 0..<limits.maxPages {
            let query = "?pageSize=1000" + (token.map { "&pageToken=" + ModelListCollector.queryEscaped($0) } ?? "")
            let page = try await connection.getJSON("/v1beta/models" + query, authHeader: "x-goog-api-key", limits: limits)
            list.add(page["models"]?.arrayValue?.compactMap { model -> String? in
                if let methods = model["supportedGenerationMethods"]?.arrayValue,
                   !methods.contains(where: { $0.stringValue == "generateContent" || $0.stringValue == "embedContent" }) {
                    return nil
                }
                guard let name = model["name"]?.stringValue else { return nil }
                return name.hasPrefix("models/") ? String(name.dropFirst("models/".count)) : name
            })
            guard let next = page["nextPageToken"]?.stringValue, !next.isEmpty, !list.isFull else {
                return list.result(morePages: page["nextPageToken"]?.stringValue?.isEmpty == false)
            }
            token = next
        }
        return list.result(morePages: true)
    }
}

/// The built-in mock knows its models without asking anyone.
extension MockProvider: ModelListingProvider {
    package func listModels(limits: ModelListLimits) async throws(ProviderError) -> ProviderModelList {
        ProviderModelList(ids: config.models + config.embeddingModels, isComplete: true)
    }
}

/// Gathers the names of a list's pages within `ModelListLimits`.
package struct ModelListCollector {
    package let limits: ModelListLimits
    private var ids: [String] = []
    private var seen = Set<String>()
    private var cut = false

    package init(limits: ModelListLimits) { self.limits = limits }

    package var isFull: Bool { cut || ids.count >= limits.maxModels }

    package mutating func add(_ names: [String]?) {
        for name in names ?? [] where !name.isEmpty && name.utf8.count <= limits.maxNameBytes
            && name.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) && seen.insert(name).inserted {
            guard ids.count < limits.maxModels else { cut = true; return }
            ids.append(name)
        }
    }

    package func result(morePages: Bool) -> ProviderModelList {
        ProviderModelList(ids: ids, isComplete: !cut && !morePages)
    }

    /// A page token or id as a query value: unreserved characters kept, every other byte %XX.
    package static func queryEscaped(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}

extension ProviderConnection {
    /// `GET {baseURL}{pathAndQuery}` with `authHeader: <key>`, its 2xx body read up to
    /// `limits.maxBytes` (a larger one fails) and parsed as a JSON object.
    package func getJSON(_ pathAndQuery: String, authHeader: String, authPrefix: String = "", headers: [HTTPHeaderField] = [],
                 limits: ModelListLimits) async throws(ProviderError) -> JSONObject {
        var all = headers
        all.append(HTTPHeaderField("accept", "application/json"))
        if let apiKey, !apiKey.isEmpty { all.append(HTTPHeaderField(authHeader, authPrefix + apiKey)) }
        all += extraHeaders
        let request = UpstreamRequest(method: "GET", url: ProviderHTTP.join(baseURL, pathAndQuery), headers: all,
                                      timeouts: limits.timeouts)
        let response = try await ProviderHTTP.openStream(request, via: transport, provider: name, redactor: redactor)
        var body: [UInt8] = []
        do {
            for try await chunk in response.body {
                body.append(contentsOf: chunk)
                guard body.count <= limits.maxBytes else {
                    throw ProviderError(kind: .invalidResponse, provider: name,
                                        message: "the model list is larger than \(limits.maxBytes) bytes")
                }
            }
        } catch {
            throw ProviderHTTP.transportError(error, provider: name)
        }
        return try ProviderHTTP.jsonObject(body, provider: name)
    }
}
