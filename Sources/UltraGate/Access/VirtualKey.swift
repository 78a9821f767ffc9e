import UltraGateCache
import UltraGateJSON
import UltraGateSupport

/// A key the operator hands out: who it is (`name`, `team`), what it may call (`models`), how fast
/// (`rpm`, `tpm`, `maxParallel`) and how much (`budgetUSD` per `budgetPeriod`), until when
/// (`expiresAt`), and whose cached answers it may receive (`cacheScope`). Only the SHA-256 of the
/// secret is kept (`secretHash`); the secret itself is shown once, at creation.
package struct VirtualKey: Sendable, Equatable {
    package var name: String
    package var team: String?
    /// Model names the key may ask for (aliases, `provider/model`, ensembles; `*` wildcards). Nil: all.
    package var models: [String]?
    package var rpm: Int?
    package var tpm: Int?
    package var maxParallel: Int?
    package var budgetUSD: Double?
    package var budgetPeriod: BudgetPeriod?
    /// Unix seconds.
    package var expiresAt: Double?
    /// Nil: the default, `team` when the key has a team, else `key`.
    package var cacheScope: CacheScope?
    package var metadata: JSON?
    package var disabled = false
    /// Unix seconds; also the anchor of `Nd` budget periods.
    package var createdAt: Double
    /// SHA-256 of the secret.
    package var secretHash: [UInt8]
    /// The secret's last four characters, to tell keys apart in listings (`ug-…abcd`).
    package var hint: String

    package init(name: String, createdAt: Double, secretHash: [UInt8], hint: String) {
        self.name = name
        self.createdAt = createdAt
        self.secretHash = secretHash
        self.hint = hint
        identity = SHA256.hex(secretHash.prefix(8))
    }

    package var effectiveScope: CacheScope { cacheScope ?? (team == nil ? .key : .team) }

    /// Who this key is, for the data it owns (its cache scope, its stored responses): the start of
    /// its secret's hash (64 bits, hex), not its name, so a key made again under a revoked key's
    /// name owns none of the old one's data. Made once, with the key: it is used on every request.
    package let identity: String

    /// The cache namespace of this key's requests inside the gateway namespace `base`: `base`
    /// itself for the shared scope, else a digest of the scope's full name (`scopeName`). The
    /// digest is 15 bytes of text (a NUL, then 80 bits of SHA-256 in base64), which Swift keeps
    /// inline: the namespace is copied along every request, and a string on the heap would cost
    /// every copy a reference-count update, a measurable part of a cache hit.
    package func cacheNamespace(base: String) -> String {
        guard let name = scopeName(base: base) else { return base }
        let digest = SHA256.hash(name)
        // Made from its 15 bytes at once: a string made longer and then cut keeps its heap storage.
        let text = [0] + Base64.encode(Array(digest[0..<10])).utf8.prefix(14)
        return String(decoding: text, as: UTF8.self)
    }

    /// The full name of the key's cache scope inside `base`, nil for the shared scope. Names and
    /// teams are length-prefixed, so no name can be chosen to collide with another scope.
    package func scopeName(base: String) -> String? {
        switch effectiveScope {
        case .shared: return nil
        case .team: return "\(base)\u{0}team:\(team?.utf8.count ?? 0):\(team ?? "")"
        case .key: return "\(base)\u{0}key:\(identity.utf8.count):\(identity)"
        }
    }

    package func isExpired(now: Double) -> Bool { expiresAt.map { now >= $0 } ?? false }

    /// Whether the key may ask for `model`: exactly listed, or matched by a pattern with `*`.
    package func allows(model: String) -> Bool {
        guard let models else { return true }
        return models.contains { ModelPattern.matches($0, model) }
    }

    /// The budget window holding `now`, when the key has a budget.
    package func budgetWindow(now: Double) -> (start: Double, end: Double)? {
        guard budgetUSD != nil else { return nil }
        return usageWindow(now: now)
    }

    /// The period holding `now` that usage is filed under: the budget window, or the calendar
    /// month for a key without a budget. Changing `budget_period` starts a new window.
    package func usageWindow(now: Double) -> (start: Double, end: Double) {
        (budgetPeriod ?? .monthly).window(containing: now, anchor: createdAt)
    }

    // MARK: JSON

    /// The key as the admin API shows it: every field, never the secret or its hash.
    package var publicJSON: JSONObject {
        var o: JSONObject = ["name": .string(name)]
        o["team"] = team.map(JSON.string) ?? .null
        o["models"] = models.map { .array($0.map(JSON.string)) } ?? .null
        o["rpm"] = rpm.map(JSON.int) ?? .null
        o["tpm"] = tpm.map(JSON.int) ?? .null
        o["max_parallel"] = maxParallel.map(JSON.int) ?? .null
        o["budget_usd"] = budgetUSD.map(JSON.double) ?? .null
        o["budget_period"] = budgetUSD == nil ? .null : .string((budgetPeriod ?? .monthly).description)
        o["expires_at"] = expiresAt.map { .int(Int($0)) } ?? .null
        o["cache_scope"] = .string(effectiveScope.rawValue)
        o["metadata"] = metadata ?? .null
        o["disabled"] = .bool(disabled)
        o["created_at"] = .int(Int(createdAt))
        o["key_hint"] = .string("ug-…\(hint)")
        return o
    }

    /// The stored form: the public fields plus the secret's hash, and the scope as configured.
    package var storedJSON: JSONObject {
        var o = publicJSON
        o["cache_scope"] = cacheScope.map { .string($0.rawValue) } ?? .null
        o["key_hint"] = .string(hint)
        o["created_at"] = .double(createdAt)
        o["expires_at"] = expiresAt.map(JSON.double) ?? .null
        o["budget_period"] = budgetPeriod.map { .string($0.description) } ?? .null
        o["key_sha256"] = .string(SHA256.hex(secretHash))
        return o
    }

    package init?(stored o: JSONObject) {
        guard let name = o["name"]?.stringValue, let createdAt = o["created_at"]?.doubleValue,
              let hashHex = o["key_sha256"]?.stringValue, let hash = VirtualKey.bytes(hex: hashHex), hash.count == 32
        else { return nil }
        self.init(name: name, createdAt: createdAt, secretHash: hash, hint: o["key_hint"]?.stringValue ?? "")
        team = o["team"]?.stringValue
        models = o["models"]?.arrayValue?.compactMap(\.stringValue)
        rpm = o["rpm"]?.intValue
        tpm = o["tpm"]?.intValue
        maxParallel = o["max_parallel"]?.intValue
        budgetUSD = o["budget_usd"]?.doubleValue
        budgetPeriod = o["budget_period"]?.stringValue.flatMap(BudgetPeriod.init)
        expiresAt = o["expires_at"]?.doubleValue
        cacheScope = o["cache_scope"]?.stringValue.flatMap(CacheScope.init(rawValue:))
        metadata = o["metadata"].flatMap { $0.isNull ? JSON?.none : $0 }  // plain `nil` would be JSON's null literal
        disabled = o["disabled"]?.boolValue ?? false
    }

    package static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = hexValue(digits[i]), let lo = hexValue(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}
