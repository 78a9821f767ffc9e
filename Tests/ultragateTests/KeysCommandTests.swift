import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGate
@testable import ultragate

@Suite struct KeysCommandTests {
    private func parse(_ args: String...) throws(UsageError) -> KeysCommand {
        guard case .keys(let command) = try CommandLineParser.parse(["keys"] + args) else { throw UsageError("not keys") }
        return command
    }

    /// The flags become the admin API's JSON, numbers as numbers, lists split at commas.
    @Test func createFlagsBecomeTheAPIsFields() throws {
        let c = try parse("create", "--name", "alice", "--team=red", "--models", "openai/*,mock-gpt", "--rpm", "60", "--tpm", "1000",
                          "--max-parallel", "4", "--budget", "12.5", "--budget-period", "7d", "--expires-in", "30d",
                          "--cache-scope", "team", "--metadata", #"{"owner":"ops"}"#, "--disabled", "--json",
                          "--cache-dir", "/c", "--keys-dir", "/k", "--config", "f.json")
        #expect(c.action == .create && c.json && c.cacheDir == "/c" && c.keysDir == "/k" && c.config == "f.json")
        #expect(c.spec == ["name": "alice", "team": "red", "models": ["openai/*", "mock-gpt"], "rpm": 60, "tpm": 1000,
                           "max_parallel": 4, "budget_usd": .number("12.5"), "budget_period": "7d", "expires_in": "30d",
                           "cache_scope": "team", "metadata": ["owner": "ops"], "disabled": true])
        let key = try KeySpecValidator.newKey(c.spec, now: 0, secretHash: [UInt8](repeating: 0, count: 32), hint: "")
        #expect(key.budgetUSD == 12.5 && key.models?.count == 2)
    }

    @Test func otherSubcommands() throws {
        #expect(try parse("list").action == .list)
        #expect(try parse("show", "alice", "--json").json)
        #expect(try parse("revoke", "alice").action == .revoke("alice"))
        #expect(try parse("usage", "alice").action == .usage("alice"))
        let u = try parse("update", "alice", "--rpm", "5", "--clear", "team,max-parallel,budget_usd", "--enable")
        #expect(u.action == .update("alice"))
        #expect(u.spec == ["rpm": 5, "team": nil, "max_parallel": nil, "budget_usd": nil, "disabled": false])
        #expect(try parse("update", "alice", "--disable").spec == ["disabled": true])
    }

    /// A value the validator must judge is passed on as text, so it refuses it by name.
    @Test func badValuesReachTheValidator() throws {
        #expect(try parse("create", "--name", "a", "--rpm", "many").spec["rpm"] == "many")
        #expect(KeysCommand.flag(for: "max_parallel") == "--max-parallel")
        #expect(KeysCommand.flag(for: "models[2]") == "--models")
        #expect(KeysCommand.flag(for: "budget_usd") == "--budget")
    }

    @Test(arguments: [
        ["keys"], ["keys", "rotate"], ["keys", "create"], ["keys", "create", "--name"], ["keys", "show"],
        ["keys", "show", "--json"], ["keys", "list", "--rpm", "5"], ["keys", "update", "a", "--name", "b"],
        ["keys", "create", "--name", "a", "--name", "b"], ["keys", "create", "--name", "a", "--enable"],
        ["keys", "update", "a", "--enable", "--disable"], ["keys", "update", "a", "--clear", "colour"],
        ["keys", "create", "--name", "a", "--metadata", "{"], ["keys", "revoke", "a", "--colour", "red"],
    ])
    func usageErrors(arguments: [String]) {
        #expect(throws: UsageError.self) { try CommandLineParser.parse(arguments) }
    }
}
