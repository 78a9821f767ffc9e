import UltraGateJSON
import UltraGateSupport

/// One response kept for `GET /v1/responses/{id}` and for `previous_response_id`: the `Response`
/// object as the client got it, the input items of its request, and whose it is. Encoded as one
/// JSON object, so a stored record stays readable when fields are added.
public struct StoredResponse: Sendable, Equatable {
    public var id: String
    /// The tenant that created it: another tenant asking for the id is told it does not exist.
    public var owner: String
    public var createdAt: Double
    /// When it is dropped (`responses.ttl` after creation); `.infinity` for never.
    public var expiresAt: Double
    /// The response this one continued, so a conversation can be rebuilt from its last id.
    public var previousResponseID: String?
    /// The `Response` object (`object: "response"`).
    public var response: JSONObject
    /// This request's own input items (ids assigned), without the earlier turns of the chain.
    public var input: [JSON]

    public init(id: String, owner: String, createdAt: Double, expiresAt: Double, previousResponseID: String?,
                response: JSONObject, input: [JSON]) {
        self.id = id
        self.owner = owner
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.previousResponseID = previousResponseID
        self.response = response
        self.input = input
    }

    public func encoded() -> [UInt8] {
        let o: JSONObject = [
            "id": .string(id), "owner": .string(owner), "created_at": .number(String(createdAt)),
            "expires_at": expiresAt.isFinite ? .number(String(expiresAt)) : .null,
            "previous_response_id": previousResponseID.map(JSON.string) ?? .null,
            "response": .object(response), "input": .array(input),
        ]
        return JSONWriter.serialize(.object(o))
    }

    public init?(decoding bytes: UnsafeRawBufferPointer) {
        guard let json = try? JSONParser.parse(Array(bytes)), let id = json["id"]?.stringValue,
              let owner = json["owner"]?.stringValue, let createdAt = json["created_at"]?.doubleValue,
              let response = json["response"]?.objectValue, let input = json["input"]?.arrayValue
        else { return nil }
        self.init(id: id, owner: owner, createdAt: createdAt, expiresAt: json["expires_at"]?.doubleValue ?? .infinity,
                  previousResponseID: json["previous_response_id"]?.stringValue, response: response, input: input)
    }

    public func isExpired(now: Double) -> Bool { expiresAt <= now }
}
