import UltraGateProviders
import UltraGateJSON

/// Checks an embeddings body as OpenAI does (OpenAPI `CreateEmbeddingRequest`): `model` a
/// non-empty string; `input` a non-empty string, or a non-empty array (at most 2048 entries) of
/// non-empty strings, of token ids, or of non-empty token-id arrays, never mixed; `encoding_format`
/// `float` or `base64`; `dimensions` an integer of at least 1; `user` a string. Errors name the
/// field (`param`), in OpenAI's words (`ChatRequestValidator`'s messages and codes).
package enum EmbeddingRequestValidator {
    /// OpenAI's limit on items per request.
    package static let maxItems = 2048

    package static func validate(_ json: JSON) -> Result<EmbeddingRequest, GatewayError> {
        do { return .success(try check(json)) } catch { return .failure(error) }
    }

    package static func check(_ json: JSON) throws(GatewayError) -> EmbeddingRequest {
        typealias V = ChatRequestValidator
        guard case .object(let body) = json else {
            throw .invalidRequest("Invalid type for request body: expected an object, but got \(V.describe(json)) instead.",
                                  code: "invalid_type")
        }
        guard let modelValue = body["model"] else { throw V.missing("model") }
        let model = try V.string(modelValue, "model")
        if model.isEmpty { throw V.emptyString("model") }
        guard let input = body["input"], !input.isNull else { throw V.missing("input") }
        let inputs = try items(input)
        var encoding = EmbeddingEncoding.float
        if let value = V.nonNull(body["encoding_format"]) {
            encoding = EmbeddingEncoding(rawValue: try V.enumString(value, EmbeddingEncoding.allCases.map(\.rawValue), "encoding_format"))!
        }
        let dimensions = try V.integer(body["dimensions"], "dimensions", min: 1, max: Int(Int32.max))
        var user: String?
        if let value = V.nonNull(body["user"]) { user = try V.string(value, "user") }
        let options = JSONObject(body.pairs.filter { !EmbeddingRequest.knownFields.contains($0.key) })
        return EmbeddingRequest(model: model, inputs: inputs, encoding: encoding, dimensions: dimensions, user: user,
                                options: options)
    }

    /// The items of `input` in order. O(total size).
    package static func items(_ input: JSON) throws(GatewayError) -> [EmbeddingInput] {
        typealias V = ChatRequestValidator
        switch input {
        case .string(let text):
            if text.isEmpty { throw V.emptyString("input") }
            return [.text(text)]
        case .array(let entries):
            if entries.isEmpty { throw V.emptyArray("input") }
            if entries.count > maxItems { throw V.arrayTooLong("input", max: maxItems, count: entries.count) }
            switch entries[0] {
            case .string:
                var out: [EmbeddingInput] = []
                out.reserveCapacity(entries.count)
                for (i, entry) in entries.enumerated() {
                    guard case .string(let text) = entry else { throw mixed(i, entry, expected: "a string") }
                    if text.isEmpty { throw V.emptyString("input[\(i)]") }
                    out.append(.text(text))
                }
                return out
            case .number:
                return [.tokens(try tokenIDs(entries, "input"))]
            case .array:
                var out: [EmbeddingInput] = []
                out.reserveCapacity(entries.count)
                for (i, entry) in entries.enumerated() {
                    guard case .array(let ids) = entry else { throw mixed(i, entry, expected: "an array of token ids") }
                    if ids.isEmpty { throw V.emptyArray("input[\(i)]") }
                    out.append(.tokens(try tokenIDs(ids, "input[\(i)]")))
                }
                return out
            default:
                throw V.invalidType("input[0]", expected: "a string, a token id or an array of token ids", got: entries[0])
            }
        default:
            throw V.invalidType("input", expected: "a string or an array", got: input)
        }
    }

    /// Token ids: non-negative integers that fit in 32 bits, as tokenizers' vocabularies do.
    private static func tokenIDs(_ entries: [JSON], _ param: String) throws(GatewayError) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(entries.count)
        for (i, entry) in entries.enumerated() {
            guard case .number = entry else { throw mixed(i, entry, expected: "an integer", in: param) }
            ids.append(try ChatRequestValidator.integer(entry, "\(param)[\(i)]", min: 0, max: Int(Int32.max))!)
        }
        return ids
    }

    /// An entry unlike the first: OpenAI's `input` is all strings, all token ids or all arrays.
    private static func mixed(_ i: Int, _ entry: JSON, expected: String, in param: String = "input") -> GatewayError {
        ChatRequestValidator.invalidType("\(param)[\(i)]", expected: expected, got: entry)
    }
}
