import UltraGateCache
import UltraGateJSON
import UltraGateSupport

/// `GET /v1/responses/{id}/input_items` paging (`after`, `limit` 1–100 default 20, `order`
/// `asc`/`desc` default `desc`), over a stored response's own input items.
package struct InputItemsPage: Sendable, Equatable {
    package var after: String?
    package var limit = 20
    package var ascending = false

    package static func parse(_ query: String?) -> Result<InputItemsPage, GatewayError> {
        var page = InputItemsPage()
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let value = parts.count > 1 ? Endpoint.percentDecoded(String(parts[1]).replacingOccurrences(of: "+", with: " ")) : ""
            switch name {
            case "after": page.after = value.isEmpty ? nil : value
            case "limit":
                guard let n = Int(value), (1...100).contains(n) else {
                    return .failure(.invalidRequest("Invalid 'limit': expected an integer between 1 and 100.", param: "limit",
                                                    code: "invalid_value"))
                }
                page.limit = n
            case "order":
                guard value == "asc" || value == "desc" else {
                    return .failure(.invalidRequest("Invalid 'order': expected asc or desc.", param: "order", code: "invalid_value"))
                }
                page.ascending = value == "asc"
            default: continue  // `include[]` and the like change nothing here
            }
        }
        return .success(page)
    }

    /// The record's input items as `ItemResource`s: each with an id (minted from the response id
    /// where the client sent none), messages with their content as a list of parts.
    package static func items(_ record: StoredResponse) -> [JSON] {
        record.input.enumerated().map { index, item in
            guard case .object(var o) = item else { return item }
            let type = o["type"]?.stringValue ?? "message"
            if o["type"] == nil { o["type"] = "message" }
            if o["id"]?.stringValue == nil {
                o["id"] = .string(ResponseObject.inputItemID(type == "message" ? "msg" : "item", responseID: record.id, index: index))
            }
            if type == "message" {
                // An assistant turn is listed as the output message it was: `output_text` parts.
                let assistant = o["role"]?.stringValue == "assistant"
                let partType: JSON = assistant ? "output_text" : "input_text"
                if case .string(let text)? = o["content"] {
                    o["content"] = .array([.object(["type": partType, "text": .string(text)])])
                }
                if assistant, case .array(let parts)? = o["content"] {
                    o["content"] = .array(parts.map { part in
                        guard case .object(var p) = part, p["type"]?.stringValue == "input_text" || p["type"]?.stringValue == "output_text"
                        else { return part }
                        p["type"] = "output_text"
                        if p["annotations"] == nil { p["annotations"] = [] }
                        if p["logprobs"] == nil { p["logprobs"] = [] }
                        return .object(p)
                    })
                }
                if o["status"] == nil { o["status"] = "completed" }
            }
            return .object(o)
        }
    }

    package func list(_ record: StoredResponse) -> JSON {
        var all = Self.items(record)
        if !ascending { all.reverse() }
        var start = 0
        if let after, let at = all.firstIndex(where: { $0["id"]?.stringValue == after }) { start = at + 1 }
        let slice = Array(all[min(start, all.count)...].prefix(limit))
        return .object([
            "object": "list", "data": .array(slice),
            "first_id": slice.first?["id"] ?? .null, "last_id": slice.last?["id"] ?? .null,
            "has_more": .bool(start + slice.count < all.count),
        ])
    }
}
