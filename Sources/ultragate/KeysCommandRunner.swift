import UltraGate
import UltraGateJSON
import Foundation

/// Runs `ultragate keys …` on the key store of the configured directory. Exit codes: 0 done,
/// 2 a usage error (a field the validator refuses included), 1 no such key, a name taken, or no
/// store; each failure is one line on standard error. Only `create` prints a secret, once.
enum KeysCommandRunner {
    static func run(_ command: KeysCommand) -> Int32 {
        guard var config = UltraGateCLI.loadConfig(command.config) else { return 2 }
        if let dir = command.cacheDir { config.cache.directory = dir }
        if let dir = command.keysDir { config.auth.keysDirectory = dir }
        let store: LMDBKeyStore
        do { store = try GatewayBuilder(config: config).openKeyStore(mustExist: command.action != .create) } catch {
            UltraGateCLI.printError("ultragate: \(error)")
            return 1
        }
        defer { store.close() }
        do {
            try perform(command, store)
            return 0
        } catch .invalid(let error) {
            UltraGateCLI.printError("ultragate: \(KeysCommand.flag(for: error.field)) \(error.reason)")
            return 2
        } catch {
            UltraGateCLI.printError("ultragate: \(error)")
            return 1
        }
    }

    private static func perform(_ command: KeysCommand, _ store: LMDBKeyStore) throws(KeyAdminError) {
        switch command.action {
        case .create:
            let (key, secret) = try store.create(command.spec)
            if command.json {
                var json = key.publicJSON
                json["key"] = .string(secret)
                print(JSONWriter.string(.object(json)))
            } else {
                print("created key \(key.name)")
                print("key: \(secret)")
                print("Keep it now: only its SHA-256 is stored, so it cannot be shown again.")
            }
        case .list:
            let keys = try store.list()
            if command.json {
                print(JSONWriter.string(.array(keys.map { .object($0.publicJSON) })))
            } else {
                print(table(keys, now: store.clock.now()))
            }
        case .show(let name):
            guard let key = try store.get(name: name) else { throw .notFound(name) }
            show(key, json: command.json)
        case .update(let name):
            show(try store.update(name: name, command.spec), json: command.json)
        case .revoke(let name):
            try store.revoke(name: name)
            print(command.json ? JSONWriter.string(["name": .string(name), "object": "key", "deleted": true]) : "revoked key \(name)")
        case .usage(let name):
            let report = try store.usage(name: name)
            print(command.json ? JSONWriter.string(report.json) : describe(report))
        }
    }

    private static func show(_ key: VirtualKey, json: Bool) {
        if json { return print(JSONWriter.string(.object(key.publicJSON))) }
        for (field, value) in key.publicJSON {
            print("\(field): \(value.stringValue ?? JSONWriter.string(value))")
        }
    }

    /// One line per key: name, team, models, limits, budget, expiry, state and hint.
    static func table(_ keys: [VirtualKey], now: Double) -> String {
        var rows = [["NAME", "TEAM", "MODELS", "RPM", "TPM", "PARALLEL", "BUDGET", "EXPIRES", "STATE", "KEY"]]
        for key in keys {
            let budget = key.budgetUSD.map { "$\(money($0))/\(key.budgetPeriod ?? .monthly)" } ?? "-"
            let state = key.disabled ? "disabled" : key.isExpired(now: now) ? "expired" : "active"
            rows.append([key.name, key.team ?? "-", key.models?.joined(separator: ",") ?? "*", key.rpm.map(String.init) ?? "-",
                         key.tpm.map(String.init) ?? "-", key.maxParallel.map(String.init) ?? "-", budget,
                         key.expiresAt.map { ISO8601Timestamp.format(secondsSince1970: $0) } ?? "never", state, "ug-…\(key.hint)"])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    static func describe(_ report: KeyUsageReport) -> String {
        let key = report.key
        var lines = ["key \(key.name)" + (key.team.map { " (team \($0))" } ?? "")]
        var period = "period: \(ISO8601Timestamp.format(secondsSince1970: report.period.start)) to \(ISO8601Timestamp.format(secondsSince1970: report.period.end))"
        if let budget = key.budgetUSD {
            period += ", budget $\(money(budget)), spent $\(money(report.spendUSD)), remaining $\(money(max(0, budget - report.spendUSD)))"
        }
        lines.append(period)
        for (title, rows) in [("current period", report.currentPeriod), ("all time", report.allTime)] {
            lines.append("\(title): \(figures(rows[""] ?? KeyUsageCounters()))")
            for model in rows.keys.sorted() where !model.isEmpty { lines.append("  \(model): \(figures(rows[model]!))") }
        }
        return lines.joined(separator: "\n")
    }

    private static func figures(_ c: KeyUsageCounters) -> String {
        "\(c.requests) requests, \(c.promptTokens) prompt tokens, \(c.completionTokens) completion tokens, spent $\(money(c.spendUSD)), saved $\(money(c.savedUSD))"
    }

    private static func money(_ usd: Double) -> String { String(format: "%.4f", usd) }
}
