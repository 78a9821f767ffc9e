import Foundation
@testable import UltraGateSupport
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench

/// Checks values against component schemas of OpenAI's published OpenAPI document
/// (the subset committed in Tests/e2e/openai-schemas.json, extracted from openai/openai-openapi by
/// Tests/e2e/extract_openapi_subset.py): `$ref`, `allOf`/`anyOf`/`oneOf`, `type`, `nullable`,
/// `enum`, `required`, `properties` and `items` — enough for the response and chunk objects.
package struct OpenAPISchema {
    package static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../e2e/openai-schemas.json").standardizedFileURL.path
    package static let shared: OpenAPISchema? = {
        guard let data = FileManager.default.contents(atPath: path),
              let doc = try? JSONParser.parse([UInt8](data)),
              let schemas = doc["schemas"]?.objectValue else { return nil }
        return OpenAPISchema(schemas: schemas)
    }()

    package let schemas: JSONObject

    /// Problems found (empty when the value conforms).
    package func problems(_ value: JSONObject, against name: String) -> [String] {
        var out: [String] = []
        check(.object(value), ["$ref": .string("#/components/schemas/\(name)")], path: name, into: &out)
        return out
    }

    private func check(_ value: JSON, _ schema: JSON, path: String, into out: inout [String], depth: Int = 0) {
        guard depth < 40 else { return }
        // Before the `$ref`: OpenAI's document marks a referenced member nullable beside its `$ref`
        // (a stream chunk's `usage`), as the e2e tests' converter reads it too.
        if value.isNull, schema["nullable"] == .bool(true) { return }
        if let ref = schema["$ref"]?.stringValue {
            guard let target = schemas[String(ref.split(separator: "/").last ?? "")] else {
                out.append("\(path): unresolved \(ref)")
                return
            }
            check(value, target, path: path, into: &out, depth: depth + 1)
            return
        }
        if value.isNull, schema["nullable"] == .bool(true) { return }
        for sub in schema["allOf"]?.arrayValue ?? [] { check(value, sub, path: path, into: &out, depth: depth + 1) }
        for key in ["anyOf", "oneOf"] {
            guard let options = schema[key]?.arrayValue else { continue }
            let matches = options.contains { option in
                var p: [String] = []
                check(value, option, path: path, into: &p, depth: depth + 1)
                return p.isEmpty
            }
            if !matches { out.append("\(path): matches none of \(key)") }
        }
        if let type = schema["type"]?.stringValue {
            let ok: Bool
            switch (type, value) {
            case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("number", .number),
                 ("null", .null): ok = true
            case ("integer", .number): ok = value.intValue != nil
            default: ok = false
            }
            if !ok {
                out.append("\(path): expected \(type), got \(value.typeName)")
                return
            }
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
            out.append("\(path): \(value.serializedString) not in enum")
        }
        if case .object(let object) = value {
            for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[key] == nil {
                out.append("\(path): missing required `\(key)`")
            }
            for (key, sub) in schema["properties"]?.objectValue ?? [:] {
                if let v = object[key] { check(v, sub, path: "\(path).\(key)", into: &out, depth: depth + 1) }
            }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] {
            for (i, item) in items.enumerated() { check(item, itemSchema, path: "\(path)[\(i)]", into: &out, depth: depth + 1) }
        }
    }
}
