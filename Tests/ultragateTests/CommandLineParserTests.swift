import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate
@testable import UltraGateBench
@testable import ultragate

@Suite struct CommandLineParserTests {
    @Test func serveFlagsInBothForms() throws {
        guard case .serve(let o) = try CommandLineParser.parse(["serve", "--host", "0.0.0.0", "--port=9000", "--threads", "4",
                                                                "--cache-dir=/tmp/c", "--mock", "--no-cache", "-c", "x.json"]) else {
            Issue.record("not serve")
            return
        }
        #expect(o.host == "0.0.0.0" && o.port == 9000 && o.threads == 4 && o.cacheDir == "/tmp/c")
        #expect(o.mock && o.noCache && o.config == "x.json")
        #expect(try CommandLineParser.parse([]) == .serve(ServeOptions()))
    }

    @Test func subcommands() throws {
        #expect(try CommandLineParser.parse(["cache", "stats", "--cache-dir", "d"]) == .cacheStats(cacheDir: "d", config: nil))
        #expect(try CommandLineParser.parse(["cache", "clear"]) == .cacheClear(cacheDir: nil, config: nil))
        #expect(try CommandLineParser.parse(["check", "--mock"]) == .check(config: nil, mock: true))
        #expect(try CommandLineParser.parse(["--version"]) == .version)
        #expect(try CommandLineParser.parse(["serve", "--help"]) == .help)
    }

    @Test(arguments: [["serve", "--bogus"], ["serve", "--port", "70000"], ["serve", "--port"], ["serve", "--threads", "0"],
                      ["cache"], ["cache", "wipe"], ["launch"], ["check", "--fast"]])
    func badCommandLinesAreUsageErrors(_ arguments: [String]) {
        #expect(throws: UsageError.self) { try CommandLineParser.parse(arguments) }
    }
}
