import UltraGate
import UltraGateBench
import UltraGateProviders
import UltraGateJSON
import UltraGateCache
import UltraGateHTTP
import UltraGateSupport
/// What the command line asked for. Parsing is pure so it can be tested; `UltraGateCLI` runs it.
public enum CLICommand: Equatable, Sendable {
    case serve(ServeOptions)
    case cacheStats(cacheDir: String?, config: String?)
    case cacheClear(cacheDir: String?, config: String?)
    case check(config: String?, mock: Bool)
    case keys(KeysCommand)
    case bench(BenchOptions)
    case benchHelp
    case help
    case version
}

public struct ServeOptions: Equatable, Sendable {
    public var host: String?
    public var port: Int?
    public var config: String?
    public var cacheDir: String?
    public var threads: Int?
    public var mock = false
    public var noCache = false
    /// Serve a non-loopback address without a master key.
    public var allowUnauthenticated = false
    public init() {}
}

public enum CommandLineParser {
    public static let usage = """
        UltraGate \(UltraGateVersion.string): an OpenAI-compatible LLM gateway with an LMDB response cache.

        USAGE:
          ultragate serve [--host H] [--port P] [--config FILE] [--cache-dir DIR] [--threads N] [--mock] [--no-cache] [--allow-unauthenticated]
          ultragate cache stats|clear [--cache-dir DIR] [--config FILE]
          ultragate check [--config FILE] [--mock]
          ultragate keys create|list|show|update|revoke|usage ...   (see below)
          ultragate bench --url URL [--model M]... [--concurrency N] [--requests N | --duration S] [--rate R] [--stream] [--mode hit|miss] ...
          ultragate --help | --version

        serve   Run the gateway (default 127.0.0.1:8080). With no config file and no provider keys in the
                environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY) it serves the built-in mock
                models mock-gpt, mock-claude and mock-gemini (which also answer next to real providers
                unless the config sets mock.enabled to false). --mock forces the mock provider alone.
        cache   Show statistics of, or empty, the response cache (safe while a server uses it).
        check   Ask every configured model a tiny prompt and print which ones answer.
        bench   Load-test an OpenAI-compatible endpoint (`ultragate bench --help` lists its options).
        keys    Manage virtual keys in the key store (`auth.keys_dir`, else the cache directory),
                with or without a gateway running; running gateways see changes within a second:
        \(KeysCommand.usage.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

        Flags override the config file, which overrides the defaults.
        """

    public static func parse(_ arguments: [String]) throws(UsageError) -> CLICommand {
        guard let first = arguments.first else { return .serve(ServeOptions()) }
        if first == "bench" {
            let rest = Array(arguments.dropFirst())
            if rest.contains("--help") || rest.contains("-h") { return .benchHelp }
            return .bench(try BenchOptions.parse(rest))
        }
        if arguments.contains("--help") || arguments.contains("-h") { return .help }
        switch first {
        case "--help", "-h", "help": return .help
        case "--version", "-V", "version": return .version
        case "serve": return .serve(try parseServe(Array(arguments.dropFirst())))
        case "cache":
            guard arguments.count >= 2, ["stats", "clear"].contains(arguments[1]) else {
                throw UsageError("`ultragate cache` needs a subcommand: stats or clear")
            }
            var cacheDir: String?
            var config: String?
            var seen = SeenFlags([["--cache-dir"], ["--config"]])
            var rest = CommandLineArguments.splittingFlagValues(Array(arguments.dropFirst(2)))[...]
            while let flag = rest.popFirst() {
                try seen.note(flag)
                switch flag {
                case "--cache-dir": cacheDir = try value(for: flag, &rest)
                case "--config": config = try value(for: flag, &rest)
                default: throw UsageError("unknown option `\(flag)` for `ultragate cache \(arguments[1])`")
                }
            }
            return arguments[1] == "stats" ? .cacheStats(cacheDir: cacheDir, config: config) : .cacheClear(cacheDir: cacheDir, config: config)
        case "keys": return .keys(try KeysCommand.parse(Array(arguments.dropFirst())))
        case "check":
            var config: String?
            var mock = false
            var seen = SeenFlags([["--config"]])
            var rest = CommandLineArguments.splittingFlagValues(Array(arguments.dropFirst()))[...]
            while let flag = rest.popFirst() {
                try seen.note(flag)
                switch flag {
                case "--config": config = try value(for: flag, &rest)
                case "--mock": mock = true
                default: throw UsageError("unknown option `\(flag)` for `ultragate check`")
                }
            }
            return .check(config: config, mock: mock)
        default:
            if first.hasPrefix("-") { return .serve(try parseServe(arguments)) }
            throw UsageError("unknown command `\(first)`; run `ultragate --help`")
        }
    }

    static func parseServe(_ arguments: [String]) throws(UsageError) -> ServeOptions {
        var options = ServeOptions()
        var seen = SeenFlags([["--host"], ["--port", "-p"], ["--config", "-c"], ["--cache-dir"], ["--threads"]])
        var rest = CommandLineArguments.splittingFlagValues(arguments)[...]
        while let flag = rest.popFirst() {
            try seen.note(flag)
            switch flag {
            case "--host": options.host = try value(for: flag, &rest)
            case "--port", "-p":
                let v = try value(for: flag, &rest)
                guard let port = Int(v), (0...65535).contains(port) else { throw UsageError("--port must be a number from 0 to 65535, not `\(v)`") }
                options.port = port
            case "--config", "-c": options.config = try value(for: flag, &rest)
            case "--cache-dir": options.cacheDir = try value(for: flag, &rest)
            case "--threads":
                let v = try value(for: flag, &rest)
                guard let n = Int(v), (1...256).contains(n) else { throw UsageError("--threads must be a number from 1 to 256, not `\(v)`") }
                options.threads = n
            case "--mock": options.mock = true
            case "--no-cache": options.noCache = true
            case "--allow-unauthenticated": options.allowUnauthenticated = true
            default: throw UsageError("unknown option `\(flag)` for `ultragate serve`; run `ultragate --help`")
            }
        }
        return options
    }

    private static func value(for flag: String, _ rest: inout ArraySlice<String>) throws(UsageError) -> String {
        guard let v = rest.popFirst(), !v.isEmpty else { throw UsageError("\(flag) needs a value") }
        return v
    }
}

public enum UltraGateVersion {
    public static let string = "0.1.0"
}
