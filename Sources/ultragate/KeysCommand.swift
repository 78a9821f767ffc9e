import UltraGate
import UltraGateJSON
import UltraGateSupport

/// `ultragate keys …`: manage virtual keys in the LMDB directory directly, as `ultragate cache`
/// does, so it works with or without a gateway running (each running gateway sees the change
/// within a second). The flags become the same JSON the admin API takes, checked by the same
/// validator (`KeySpecValidator`); only `create` ever prints a secret.
public struct KeysCommand: Equatable, Sendable {
    public enum Action: Equatable, Sendable {
        case create
        case list
        case show(String)
        case update(String)
        case revoke(String)
        case usage(String)
    }

    public var action: Action
    /// The key's fields as the admin API takes them (`create`, `update`).
    public var spec = JSONObject()
    public var json = false
    public var config: String?
    public var cacheDir: String?
    public var keysDir: String?

    public init(action: Action) { self.action = action }

    public static let usage = """
        ultragate keys create --name N [--team T] [--models a,b] [--rpm N] [--tpm N] [--max-parallel N]
                              [--budget USD [--budget-period 1d|7d|30d|monthly]] [--expires-in 30d | --expires-at TIME]
                              [--cache-scope key|team|shared] [--metadata JSON] [--disabled] [--json]
        ultragate keys list [--json]
        ultragate keys show NAME [--json]
        ultragate keys update NAME [the fields of create] [--enable | --disable] [--clear FIELD,...] [--json]
        ultragate keys revoke NAME [--json]
        ultragate keys usage NAME [--json]
          each also takes [--config FILE] [--cache-dir DIR] [--keys-dir DIR]
        """

    /// Flags that set a key field, and the field: also how a field's error names the flag.
    static let fieldFlags: [(flag: String, field: String)] = [
        ("--name", "name"), ("--team", "team"), ("--models", "models"), ("--rpm", "rpm"), ("--tpm", "tpm"),
        ("--max-parallel", "max_parallel"), ("--budget", "budget_usd"), ("--budget-period", "budget_period"),
        ("--expires-in", "expires_in"), ("--expires-at", "expires_at"), ("--cache-scope", "cache_scope"),
        ("--metadata", "metadata"),
    ]

    /// The flag that sets `field` (`models[2]` → `--models`), for messages.
    public static func flag(for field: String) -> String {
        let base = field.split(separator: "[").first.map(String.init) ?? field
        if base == "disabled" { return "--disabled" }
        return fieldFlags.first { $0.field == base }?.flag ?? "`\(field)`"
    }

    static func parse(_ arguments: [String]) throws(UsageError) -> KeysCommand {
        guard let sub = arguments.first else { throw UsageError("`ultragate keys` needs a subcommand: create, list, show, update, revoke or usage") }
        var rest = CommandLineArguments.splittingFlagValues(Array(arguments.dropFirst()))[...]
        var command: KeysCommand
        switch sub {
        case "create": command = KeysCommand(action: .create)
        case "list": command = KeysCommand(action: .list)
        case "show", "update", "revoke", "usage":
            guard let name = rest.first, !name.hasPrefix("-") else { throw UsageError("`ultragate keys \(sub)` needs the key's name") }
            rest = rest.dropFirst()
            switch sub {
            case "show": command = KeysCommand(action: .show(name))
            case "update": command = KeysCommand(action: .update(name))
            case "revoke": command = KeysCommand(action: .revoke(name))
            default: command = KeysCommand(action: .usage(name))
            }
        default:
            throw UsageError("unknown subcommand `\(sub)` for `ultragate keys`; use create, list, show, update, revoke or usage")
        }
        let creates = command.action == .create
        var updates = false
        if case .update = command.action { updates = true }
        var seen = SeenFlags([["--config"], ["--cache-dir"], ["--keys-dir"], ["--clear"]] + fieldFlags.map { [$0.flag] })
        while let flag = rest.popFirst() {
            try seen.note(flag)
            switch flag {
            case "--config": command.config = try value(for: flag, &rest)
            case "--cache-dir": command.cacheDir = try value(for: flag, &rest)
            case "--keys-dir": command.keysDir = try value(for: flag, &rest)
            case "--json": command.json = true
            case "--disabled" where creates, "--disable" where updates, "--enable" where updates:
                guard command.spec["disabled"] == nil else { throw UsageError("--enable and --disable cannot be given together") }
                command.spec["disabled"] = .bool(flag != "--enable")
            case "--clear" where updates:
                for name in try value(for: flag, &rest).split(separator: ",") {
                    let field = fieldFlags.first { $0.flag == "--\(name)" || $0.field == name }?.field
                    guard let field, field != "name" else { throw UsageError("--clear takes field names like rpm,team,models, not `\(name)`") }
                    command.spec[field] = .null
                }
            case "--name" where updates:
                throw UsageError("--name is only for `ultragate keys create`; name the key after the subcommand")
            default:
                guard creates || updates, let field = fieldFlags.first(where: { $0.flag == flag })?.field else {
                    throw UsageError("unknown option `\(flag)` for `ultragate keys \(sub)`; run `ultragate --help`")
                }
                command.spec[field] = try fieldValue(field, flag: flag, try value(for: flag, &rest))
            }
        }
        if command.action == .create && command.spec["name"] == nil { throw UsageError("`ultragate keys create` needs --name") }
        return command
    }

    /// A flag's text as the JSON value of its field: lists split at commas, `--metadata` parsed
    /// as JSON, numbers as numbers. Anything else stays text, for the validator to refuse by name.
    private static func fieldValue(_ field: String, flag: String, _ text: String) throws(UsageError) -> JSON {
        switch field {
        case "models":
            return .array(text.split(separator: ",", omittingEmptySubsequences: false).map { .string(String($0)) })
        case "metadata":
            do { return try JSONParser.parse(text) } catch { throw UsageError("--metadata must be JSON: \(error.description)") }
        case "rpm", "tpm", "max_parallel", "budget_usd", "expires_at":
            if let number = try? JSONParser.parse(text), case .number = number { return number }
            return .string(text)
        default:
            return .string(text)
        }
    }

    private static func value(for flag: String, _ rest: inout ArraySlice<String>) throws(UsageError) -> String {
        guard let v = rest.popFirst(), !v.isEmpty else { throw UsageError("\(flag) needs a value") }
        return v
    }
}
