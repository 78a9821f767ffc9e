import UltraGateJSON
import Foundation

/// A field of a key's description that cannot be used: which one and why. The admin API answers
/// it with a 400 naming the field (`param`); the command line names the matching flag.
package struct KeySpecError: Error, Equatable, CustomStringConvertible {
    package enum Kind: String, Sendable {
        case unknownField = "unknown_parameter"
        case missingField = "missing_required_parameter"
        case invalidValue = "invalid_value"
    }

    package var field: String
    /// Follows the field's name: "must be a positive integer, not `0`".
    package var reason: String
    package var kind: Kind

    package init(_ field: String, _ reason: String, kind: Kind = .invalidValue) {
        self.field = field
        self.reason = reason
        self.kind = kind
    }

    package var description: String { "`\(field)` \(reason)" }
}

/// Reads the JSON that describes a virtual key, as `POST /admin/keys` and `PATCH
/// /admin/keys/{name}` take it and as `ultragate keys create|update` builds it from its flags, so
/// both refuse the same things with the same words. A field set to `null` in an update clears it.
///
/// | field | value |
/// | --- | --- |
/// | `name` | 1–64 of `A-Z a-z 0-9 . _ -`, not starting with `ug-` (it appears in URLs, metric labels and logs); required at creation, fixed after |
/// | `team` | as a name |
/// | `models` | non-empty array of model names or `*` patterns (absent or null: all) |
/// | `rpm`, `tpm`, `max_parallel` | positive integers, at most 10^12 |
/// | `budget_usd` | positive number; `budget_period` `1d`, `7d`, `30d` (any `Nd`) or `monthly` (the default) |
/// | `expires_at` | Unix seconds or an RFC 3339 time; `expires_in` instead: seconds, or `90s`, `30m`, `12h`, `30d` |
/// | `cache_scope` | `key`, `team` (needs a team) or `shared` |
/// | `metadata` | any JSON up to 16 KiB |
/// | `disabled` | boolean |
package enum KeySpecValidator {
    package static let fields = ["name", "team", "models", "rpm", "tpm", "max_parallel", "budget_usd", "budget_period",
                                 "expires_at", "expires_in", "cache_scope", "metadata", "disabled"]
    package static let maxNameLength = 64
    package static let maxModels = 1000
    package static let maxModelLength = 256
    package static let maxMetadataBytes = 16 << 10
    /// Longest `expires_in`: about a century.
    package static let maxLifetimeSeconds = 100 * 366 * 86_400.0

    /// Whether `name` may name a key or a team. Names never start with `ug-`, the prefix of
    /// secrets, so a secret pasted where a name goes is refused rather than stored or echoed.
    package static func isValidName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard !bytes.isEmpty, bytes.count <= maxNameLength,
              !(bytes.count >= 3 && bytes.prefix(3).map({ $0 | 0x20 }) == Array(VirtualKeySecret.prefix.utf8)) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x5F || b == 0x2D
        }
    }

    /// The key a creation body describes, made at `now` for a secret with hash `secretHash`.
    package static func newKey(_ body: JSONObject, now: Double, secretHash: [UInt8], hint: String) throws(KeySpecError) -> VirtualKey {
        try checkFieldNames(body)
        guard let nameValue = body["name"], !nameValue.isNull else {
            throw KeySpecError("name", "is required", kind: .missingField)
        }
        let name = try self.name(nameValue, field: "name")
        var key = VirtualKey(name: name, createdAt: now, secretHash: secretHash, hint: hint)
        try apply(body, to: &key, now: now)
        return key
    }

    /// `key` with the fields of an update body changed.
    package static func updated(_ key: VirtualKey, with body: JSONObject, now: Double) throws(KeySpecError) -> VirtualKey {
        try checkFieldNames(body)
        if let name = body["name"], name != .string(key.name) {
            throw KeySpecError("name", "cannot be changed; create a new key and revoke this one")
        }
        var key = key
        try apply(body, to: &key, now: now)
        return key
    }

    private static func checkFieldNames(_ body: JSONObject) throws(KeySpecError) {
        for field in body.keys where !fields.contains(field) {
            throw KeySpecError(field, "is not a key field; the fields are \(fields.joined(separator: ", "))", kind: .unknownField)
        }
    }

    private static func apply(_ body: JSONObject, to key: inout VirtualKey, now: Double) throws(KeySpecError) {
        if let v = body["team"] { key.team = v.isNull ? nil : try name(v, field: "team") }
        if let v = body["models"] { key.models = v.isNull ? nil : try models(v) }
        if let v = body["rpm"] { key.rpm = try positiveInt(v, field: "rpm") }
        if let v = body["tpm"] { key.tpm = try positiveInt(v, field: "tpm") }
        if let v = body["max_parallel"] { key.maxParallel = try positiveInt(v, field: "max_parallel") }
        if let v = body["budget_usd"] {
            key.budgetUSD = try positiveNumber(v, field: "budget_usd")
            if key.budgetUSD == nil && body["budget_period"] == nil { key.budgetPeriod = nil }
        }
        if let v = body["budget_period"] {
            if v.isNull {
                key.budgetPeriod = nil
            } else {
                guard let text = v.stringValue, let period = BudgetPeriod(text) else {
                    throw KeySpecError("budget_period", "must be `1d`, `7d`, `30d` (any number of days, `Nd`) or `monthly`, not \(shown(v))")
                }
                key.budgetPeriod = period
            }
        }
        if body["expires_at"] != nil && body["expires_in"] != nil {
            throw KeySpecError("expires_in", "cannot be given with `expires_at`; give one of them")
        }
        if let v = body["expires_at"] { key.expiresAt = v.isNull ? nil : try time(v, field: "expires_at") }
        if let v = body["expires_in"] {
            if v.isNull {
                key.expiresAt = nil
            } else {
                guard let seconds = duration(v), seconds > 0, seconds <= maxLifetimeSeconds else {
                    throw KeySpecError("expires_in", "must be a positive duration: seconds, or a number followed by s, m, h or d (`12h`, `30d`), not \(shown(v))")
                }
                key.expiresAt = now + seconds
            }
        }
        if let v = body["cache_scope"] {
            if v.isNull {
                key.cacheScope = nil
            } else {
                guard let text = v.stringValue, let scope = CacheScope(rawValue: text) else {
                    throw KeySpecError("cache_scope", "must be `key`, `team` or `shared`, not \(shown(v))")
                }
                key.cacheScope = scope
            }
        }
        if let v = body["metadata"] {
            guard JSONWriter.serialize(v).count <= maxMetadataBytes else {
                throw KeySpecError("metadata", "must be at most \(maxMetadataBytes) bytes of JSON")
            }
            key.metadata = v.isNull ? nil : v
        }
        if let v = body["disabled"] {
            guard let b = v.boolValue else { throw KeySpecError("disabled", "must be a boolean, not \(shown(v))") }
            key.disabled = b
        }
        // What only the fields together can tell.
        if key.budgetPeriod != nil && key.budgetUSD == nil {
            throw KeySpecError("budget_period", "needs `budget_usd`")
        }
        if key.cacheScope == .team && key.team == nil {
            throw KeySpecError("cache_scope", "`team` needs the key to have a `team`")
        }
    }

    private static func name(_ v: JSON, field: String) throws(KeySpecError) -> String {
        guard let s = v.stringValue, isValidName(s) else {
            // Not echoed: it may be a secret pasted in the wrong place.
            throw KeySpecError(field, "must be 1 to \(maxNameLength) characters of letters, digits, `.`, `_` and `-`, not starting with `ug-`")
        }
        return s
    }

    private static func models(_ v: JSON) throws(KeySpecError) -> [String] {
        guard let items = v.arrayValue else {
            throw KeySpecError("models", "must be an array of model names (omit it or give null to allow every model), not \(shown(v))")
        }
        guard !items.isEmpty else { throw KeySpecError("models", "must not be empty; omit it or give null to allow every model") }
        guard items.count <= maxModels else { throw KeySpecError("models", "may list at most \(maxModels) names") }
        var names: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = item.stringValue, !s.isEmpty, s.utf8.count <= maxModelLength else {
                throw KeySpecError("models[\(i)]", "must be a model name or pattern of 1 to \(maxModelLength) bytes, not \(shown(item))")
            }
            names.append(s)
        }
        return names
    }

    /// The largest `rpm`, `tpm` or `max_parallel`: far beyond any real limit, and small enough that
    /// the buckets' arithmetic and the rate-limit headers stay exact.
    static let maxLimit = 1_000_000_000_000

    private static func positiveInt(_ v: JSON, field: String) throws(KeySpecError) -> Int? {
        if v.isNull { return nil }
        guard let i = v.intValue, i > 0, case .number(let text) = v, !text.contains("."), !text.lowercased().contains("e") else {
            throw KeySpecError(field, "must be a positive integer, not \(shown(v))")
        }
        guard i <= maxLimit else { throw KeySpecError(field, "must be at most 1000000000000, not \(shown(v))") }
        return i
    }

    private static func positiveNumber(_ v: JSON, field: String) throws(KeySpecError) -> Double? {
        if v.isNull { return nil }
        guard let d = v.doubleValue, d.isFinite, d > 0, d <= 1e12 else {
            throw KeySpecError(field, "must be a positive number of US dollars, not \(shown(v))")
        }
        return d
    }

    /// Unix seconds, or an RFC 3339 time (`2026-01-31T00:00:00Z`, fractions and offsets allowed).
    private static func time(_ v: JSON, field: String) throws(KeySpecError) -> Double {
        if let d = v.doubleValue, d.isFinite, d > 0, d < 1e11 { return d }
        if let text = v.stringValue {
            let formatter = ISO8601DateFormatter()
            if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        }
        throw KeySpecError(field, "must be Unix seconds or an RFC 3339 time (`2026-01-31T00:00:00Z`), not \(shown(v))")
    }

    /// Seconds in a duration: a number of seconds, or text like `3600`, `90s`, `30m`, `12h`, `30d`.
    package static func duration(_ v: JSON) -> Double? {
        if case .number = v { return v.doubleValue.flatMap { $0.isFinite ? $0 : nil } }
        guard var text = v.stringValue, !text.isEmpty else { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var unit = 1.0
        if let last = text.last, let seconds = units[last] {
            unit = seconds
            text.removeLast()
        }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let n = Double(text) else { return nil }
        return n * unit
    }

    /// A value as it appears in a message: JSON, cut short.
    private static func shown(_ v: JSON) -> String {
        let text = JSONWriter.string(v)
        return "`" + (text.count > 40 ? String(text.prefix(40)) + "…" : text) + "`"
    }
}
