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

    /// A single-value flag given twice would silently take its last value: refused instead,
    /// whichever spellings are used.
    @Test func repeatedSingleValueFlagsAreRefused() throws {
        for (arguments, flag) in [(["serve", "--port", "1", "-p", "2"], "--port"), (["serve", "-c", "a", "--config=b"], "--config"),
                                  (["cache", "clear", "--cache-dir", "a", "--cache-dir=b"], "--cache-dir"),
                                  (["check", "--config", "a", "--config", "b"], "--config"),
                                  (["bench", "--url", "http://h/v1", "-c", "1", "--connections", "2"], "--concurrency"),
                                  (["bench", "--url", "http://h/v1", "-t", "1", "--threads=2"], "--threads")] {
            #expect(throws: UsageError("\(flag) was given more than once; give it once"
                                       + (arguments[0] == "bench" ? " (only --model may repeat)" : ""))) {
                try CommandLineParser.parse(arguments)
            }
        }
        #expect(try CommandLineParser.parse(["serve", "--mock", "--mock"]) != .help, "a switch may repeat")
    }

    @Test func benchModelsRepeat() throws {
        let o = try BenchOptions.parse(["--url", "http://h/v1", "--model", "a", "-m", "b", "--model=a", "--model", "c"], environment: [:])
        #expect(o.models == ["a", "b", "c"] && o.model == "a")
        #expect(try BenchOptions.parse(["--url", "http://h/v1"], environment: [:]).models == ["mock-gpt"])
    }
}
