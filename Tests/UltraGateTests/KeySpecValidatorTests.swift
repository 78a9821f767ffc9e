import Testing
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGate

@Suite struct KeySpecValidatorTests {
    private let now = 1_767_225_600.0
    private let hash = [UInt8](repeating: 7, count: 32)

    private func make(_ body: JSONObject) throws(KeySpecError) -> VirtualKey {
        try KeySpecValidator.newKey(body, now: now, secretHash: hash, hint: "abcd")
    }

    /// Each bad body is refused naming the field at fault.
    @Test(arguments: [
        (["name": "a", "colour": "red"], "colour", KeySpecError.Kind.unknownField),
        (["team": "red"], "name", .missingField),
        (["name": nil], "name", .missingField),
        (["name": "has space"], "name", .invalidValue),
        (["name": .string(String(repeating: "n", count: 65))], "name", .invalidValue),
        (["name": "ug-looks-like-a-secret"], "name", .invalidValue),
        (["name": 5], "name", .invalidValue),
        (["name": "a", "team": "a/b"], "team", .invalidValue),
        (["name": "a", "models": "openai/*"], "models", .invalidValue),
        (["name": "a", "models": []], "models", .invalidValue),
        (["name": "a", "models": ["ok", 3]], "models[1]", .invalidValue),
        (["name": "a", "rpm": 0], "rpm", .invalidValue),
        (["name": "a", "rpm": -5], "rpm", .invalidValue),
        (["name": "a", "rpm": "10"], "rpm", .invalidValue),
        (["name": "a", "rpm": 1.5], "rpm", .invalidValue),
        (["name": "a", "tpm": true], "tpm", .invalidValue),
        (["name": "a", "rpm": 9_223_372_036_854_775_807], "rpm", .invalidValue),
        (["name": "a", "tpm": 1_000_000_000_001], "tpm", .invalidValue),
        (["name": "a", "max_parallel": 0], "max_parallel", .invalidValue),
        (["name": "a", "budget_usd": 0], "budget_usd", .invalidValue),
        (["name": "a", "budget_usd": "5"], "budget_usd", .invalidValue),
        (["name": "a", "budget_usd": 5, "budget_period": "weekly"], "budget_period", .invalidValue),
        (["name": "a", "budget_usd": 5, "budget_period": "0d"], "budget_period", .invalidValue),
        (["name": "a", "budget_period": "7d"], "budget_period", .invalidValue),
        (["name": "a", "expires_in": "soon"], "expires_in", .invalidValue),
        (["name": "a", "expires_in": "-1d"], "expires_in", .invalidValue),
        (["name": "a", "expires_in": "30x"], "expires_in", .invalidValue),
        (["name": "a", "expires_in": 0], "expires_in", .invalidValue),
        (["name": "a", "expires_in": "30d", "expires_at": 2_000_000_000], "expires_in", .invalidValue),
        (["name": "a", "expires_at": "tomorrow"], "expires_at", .invalidValue),
        (["name": "a", "cache_scope": "global"], "cache_scope", .invalidValue),
        (["name": "a", "cache_scope": "team"], "cache_scope", .invalidValue),
        (["name": "a", "disabled": "yes"], "disabled", .invalidValue),
        (["name": "a", "metadata": .string(String(repeating: "m", count: 17_000))], "metadata", .invalidValue),
    ] as [(JSONObject, String, KeySpecError.Kind)])
    func badBodiesNameTheField(body: JSONObject, field: String, kind: KeySpecError.Kind) {
        #expect(throws: KeySpecError.self) { try make(body) }
        do {
            _ = try make(body)
        } catch {
            #expect(error.field == field)
            #expect(error.kind == kind)
            #expect(error.description.hasPrefix("`\(field)`"))
        }
    }

    /// A name that looks like a secret is never echoed back in the message.
    @Test func aSecretGivenAsANameIsNotEchoed() {
        let secret = VirtualKeySecret.generate()
        do {
            _ = try make(["name": .string(secret)])
            Issue.record("accepted")
        } catch {
            #expect(!error.description.contains(secret))
        }
        #expect(!KeyAdminError.notFound(secret).description.contains(secret))
        #expect(KeyAdminError.notFound("alice").description.contains("`alice`"))
    }

    @Test func everyFieldIsRead() throws {
        let key = try make([
            "name": "svc.web-1", "team": "red", "models": ["openai/*", "mock-gpt"], "rpm": 60, "tpm": 10_000, "max_parallel": 4,
            "budget_usd": 12.5, "budget_period": "30d", "expires_in": "12h", "cache_scope": "shared",
            "metadata": ["owner": "ops", "n": [1, 2]], "disabled": false,
        ])
        #expect(key.name == "svc.web-1" && key.team == "red" && key.models == ["openai/*", "mock-gpt"])
        #expect(key.rpm == 60 && key.tpm == 10_000 && key.maxParallel == 4)
        #expect(key.budgetUSD == 12.5 && key.budgetPeriod == .days(30))
        #expect(key.expiresAt == now + 12 * 3600)
        #expect(key.cacheScope == .shared && key.metadata == ["owner": "ops", "n": [1, 2]] && !key.disabled)
        #expect(key.createdAt == now && key.secretHash == hash && key.hint == "abcd")
        #expect(VirtualKey(stored: key.storedJSON) == key, "the stored form reads back whole")
        #expect(key.publicJSON["key_sha256"] == nil && key.publicJSON["key_hint"] == "ug-…abcd")
    }

    @Test(arguments: [("3600", 3600.0), ("90s", 90), ("30m", 1800), ("12h", 43_200), ("30d", 2_592_000), ("1.5h", 5400)])
    func expiresInDurations(text: String, seconds: Double) throws {
        #expect(try make(["name": "a", "expires_in": .string(text)]).expiresAt == now + seconds)
    }

    @Test func expiresAtTakesUnixSecondsOrRFC3339() throws {
        #expect(try make(["name": "a", "expires_at": 1_800_000_000]).expiresAt == 1_800_000_000)
        #expect(try make(["name": "a", "expires_at": "2026-02-01T00:00:00Z"]).expiresAt == 1_769_904_000)
        #expect(try make(["name": "a", "expires_at": "2026-02-01T01:00:00.5+01:00"]).expiresAt == 1_769_904_000.5)
    }

    /// In an update, `null` clears a field, the name cannot change, and clearing the budget
    /// clears its period too.
    @Test func updatesClearWithNull() throws {
        let key = try make(["name": "a", "team": "red", "rpm": 5, "budget_usd": 3, "budget_period": "7d", "cache_scope": "team",
                            "expires_in": "1d"])
        let cleared = try KeySpecValidator.updated(key, with: ["rpm": nil, "budget_usd": nil, "cache_scope": nil, "team": nil,
                                                               "expires_at": nil], now: now)
        #expect(cleared.rpm == nil && cleared.budgetUSD == nil && cleared.budgetPeriod == nil && cleared.team == nil)
        #expect(cleared.cacheScope == nil && cleared.expiresAt == nil && cleared.effectiveScope == .key)
        #expect(try KeySpecValidator.updated(key, with: ["name": "a", "rpm": 9], now: now).rpm == 9)
        #expect(throws: KeySpecError.self) { try KeySpecValidator.updated(key, with: ["name": "b"], now: now) }
        #expect(throws: KeySpecError.self) { try KeySpecValidator.updated(key, with: ["team": nil], now: now) }
    }
}
