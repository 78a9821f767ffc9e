import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateUpstream
@testable import UltraGateProviders
@testable import UltraGate

@Suite struct ConfigLoaderTests {
    /// Applies a config file's text, as `ultragate serve --config` does before anything starts.
    func load(_ text: String) throws -> GatewayConfig {
        var config = GatewayConfig()
        try ConfigLoader(environment: [:]).apply(try #require(try JSONParser.parse(text).objectValue), to: &config)
        return config
    }

    func error(_ text: String) throws -> String? {
        do { _ = try load(text); return nil } catch let error as ConfigError { return error.message }
    }

    /// Two mock models `a` and `c` plus the given extra models.
    func models(_ extra: String) -> String {
        #"{"providers":{"x":{"type":"mock"}},"models":{"a":{"provider":"x","model":"mock-gpt"},"c":{"provider":"x","model":"mock-claude"},\#(extra)}}"#
    }

    @Test func ensembleOfModelsLoads() throws {
        let config = try load(models(#""ok":{"ensemble":["a","c","a","x/mock-gemini"],"synthesizer":"c"}"#))
        #expect(config.model(named: "ok")?.ensemble == ["a", "c", "a", "x/mock-gemini"])
    }

    @Test func emptyEnsembleIsRefused() throws {
        #expect(try error(models(#""empty":{"ensemble":[]}"#)) == "models.empty.ensemble must name at least one model")
    }

    @Test func ensembleContainingItselfIsRefused() throws {
        #expect(try error(models(#""selfref":{"ensemble":["selfref","a"]}"#))
                == "models.selfref.ensemble names `selfref`, which is this ensemble itself; an ensemble cannot be a member of an ensemble")
    }

    @Test func ensembleContainingAnotherEnsembleIsRefused() throws {
        // Either order in the file: the check runs once every model is read.
        let inner = #""ok":{"ensemble":["a","c"]}"#
        let outer = #""outer":{"ensemble":["a","ok"]}"#
        let message = "models.outer.ensemble names `ok`, which is an ensemble; an ensemble cannot be a member of an ensemble"
        #expect(try error(models(inner + "," + outer)) == message)
        #expect(try error(models(outer + "," + inner)) == message)
    }

    @Test func fallbacksAndSynthesizersAreModelsNotEnsembles() throws {
        let ensemble = #""ok":{"ensemble":["a","c"]}"#
        #expect(try error(models(ensemble + #","f":{"provider":"x","model":"mock-gpt","fallbacks":["ok"]}"#))
                == "models.f.fallbacks names `ok`, which is an ensemble; a fallback is a model, not an ensemble")
        #expect(try error(models(ensemble + #","s":{"ensemble":["a"],"synthesizer":"ok"}"#))
                == "models.s.synthesizer names `ok`, which is an ensemble; a synthesizer is a model, not an ensemble")
        #expect(try error(models(#""s":{"ensemble":["a"],"backup_synthesizer":"s"}"#))
                == "models.s.backup_synthesizer names `s`, which is this ensemble itself; a synthesizer is a model, not an ensemble")
        #expect(try error(models(#""s":{"ensemble":["a"],"synthesizer":"ghost"}"#))
                == "models.s.synthesizer names `ghost`, which is not a model")
        #expect(try error(models(#""s":{"ensemble":["a"],"synthesizer":"x/mock-gemini","backup_synthesizer":"c"}"#)) == nil)
    }

    @Test func headerValuesWithLineBreaksAreRefusedWithoutEchoingThem() throws {
        func provider(_ fields: String) -> String {
            #"{"providers":{"p":{"type":"openai","base_url":"http://127.0.0.1:1/v1",\#(fields)}},"models":{}}"#
        }
        #expect(try error(provider(#""headers":{"X-Team":"a\r\nX-Evil: 1"}"#))
                == "providers.p.headers.X-Team contains a line break or another control character (after `${VAR}` substitution)")
        #expect(try error(provider(#""headers":{"Bad Name":"v"}"#)) == "providers.p.headers: `Bad Name` is not a valid header name")
        var config = GatewayConfig()
        let text = provider(#""api_key":"${KEY}""#)
        do {
            try ConfigLoader(environment: ["KEY": "sk-secret\n"]).apply(try #require(try JSONParser.parse(text).objectValue), to: &config)
            Issue.record("a key with a line break was accepted")
        } catch let error as ConfigError {
            #expect(error.message == "providers.p.api_key contains a line break or another control character (after `${VAR}` substitution)")
            #expect(!error.message.contains("sk-secret"))
        }
        #expect(try error(provider(#""api_key":"sk-ok","headers":{"X-Team":"caf\u00e9 ok"}"#)) == nil)
    }

    @Test func caFileMustBeAReadablePEMFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ultragate-ca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pem = directory.appendingPathComponent("ca.pem").path
        let notPEM = directory.appendingPathComponent("key.txt").path
        try Data("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".utf8).write(to: URL(fileURLWithPath: pem))
        try Data("just text".utf8).write(to: URL(fileURLWithPath: notPEM))
        func provider(_ caFile: String) -> String {
            #"{"providers":{"p":{"type":"openai","base_url":"https://llm.internal/v1","ca_file":"\#(caFile)"}}}"#
        }
        #expect(try load(provider(pem)).provider(named: "p")?.caFile == pem)
        #expect(try load(#"{"providers":{"p":{"type":"openai"}}}"#).provider(named: "p")?.caFile == nil)
        #expect(try error(provider(directory.appendingPathComponent("missing.pem").path))
                == "providers.p.ca_file: cannot read `\(directory.appendingPathComponent("missing.pem").path)`")
        #expect(try error(provider(directory.path)) == "providers.p.ca_file: cannot read `\(directory.path)`")
        #expect(try error(provider(notPEM)) == "providers.p.ca_file: `\(notPEM)` holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        #expect(try error(#"{"providers":{"p":{"type":"openai","ca_file":7}}}"#) == "providers.p.ca_file must be a string")
    }

    @Test func unknownMemberIsStillRefused() throws {
        #expect(try error(models(#""e":{"ensemble":["a","ghost"]}"#)) == "models.e.ensemble names `ghost`, which is not a model")
    }

    @Test func sizeLimitsLoadWithDefaultsAndRefuseTinyValues() throws {
        let defaults = try load(#"{"providers":{"p":{"type":"openai"}}}"#)
        #expect(defaults.provider(named: "p")?.limits == UpstreamLimits())
        #expect(defaults.provider(named: "p")?.limits.maxResponseBytes == 64 << 20)
        #expect(defaults.provider(named: "p")?.limits.maxEventBytes == 1 << 20)
        #expect(defaults.cache.maxEntryBytes == 8 << 20)
        let set = try load(#"{"cache":{"max_entry_bytes":65536},"providers":{"p":{"type":"openai","max_response_bytes":2097152,"max_event_bytes":4096}}}"#)
        #expect(set.provider(named: "p")?.limits == UpstreamLimits(maxResponseBytes: 2 << 20, maxEventBytes: 4096))
        #expect(set.cache.maxEntryBytes == 65536)
        #expect(try error(#"{"providers":{"p":{"type":"openai","max_response_bytes":100}}}"#)
                == "providers.p.max_response_bytes must be at least 1024")
        #expect(try error(#"{"providers":{"p":{"type":"openai","max_event_bytes":"big"}}}"#)
                == "providers.p.max_event_bytes must be an integer")
        #expect(try error(#"{"cache":{"max_entry_bytes":0}}"#) == "cache.max_entry_bytes must be at least 1024")
    }

    /// Every level is checked: an unknown key is refused with its full path, and the message says
    /// what that level takes.
    @Test func unknownKeysAreRefusedAtEveryLevelWithTheirPath() throws {
        let provider = #""providers":{"p":{"type":"openai","base_url":"http://127.0.0.1:1/v1""#
        let cases: [(String, String)] = [
            (#"{"servr":{}}"#, "servr"),
            (#"{"server":{"master_key":"sk-1"}}"#, "server.master_key"),
            (#"{"cache":{"directory":"/tmp/x"}}"#, "cache.directory"),
            (#"{"mock":{"latency":5}}"#, "mock.latency"),
            (#"{"retry":{"attempts":2}}"#, "retry.attempts"),
            (#"{\#(provider),"apikey":"k"}}}"#, "providers.p.apikey"),
            (#"{\#(provider),"retry":{"foo":1}}}}"#, "providers.p.retry.foo"),
            (#"{\#(provider),"timeouts":{"read":1}}}}"#, "providers.p.timeouts.read"),
            (#"{"providers":{"m":{"type":"mock"}},"models":{"a":{"provider":"m","fallback":["b"]}}}"#, "models.a.fallback"),
            (#"{"providers":{"m":{"type":"mock"}},"models":{"a":{"provider":"m","price":{"inputs":1}}}}"#, "models.a.price.inputs"),
        ]
        for (text, path) in cases {
            let message = try #require(try error(text), "\(path) was accepted")
            #expect(message.hasPrefix("unknown config key `\(path)`; "), "\(message)")
        }
        #expect(try error(#"{"server":{"master_key":"k"}}"#)?.hasSuffix("`server` takes health_cache_seconds, host, idle_timeout, "
            + "max_body_bytes, max_connections, port, request_timeout, shutdown_grace_period, threads") == true)
        #expect(try error(#"{"servr":{}}"#)?.contains("the top level takes access_log, auth, cache, embeddings, mock, models, providers,") == true)
    }

    @Test func wrongTypesAreRefusedAtEveryLevelWithTheirPath() throws {
        let cases: [(String, String)] = [
            (#"{"server":"fast"}"#, "server must be an object"),
            (#"{"mock":{"enabled":"no"}}"#, "mock.enabled must be a boolean"),
            (#"{"providers":[]}"#, "providers must be an object"),
            (#"{"providers":{"p":"openai"}}"#, "providers.p must be an object"),
            (#"{"providers":{"p":{"type":"openai","retry":{"max_attempts":"3"}}}}"#, "providers.p.retry.max_attempts must be an integer"),
            (#"{"providers":{"p":{"type":"openai","timeouts":5}}}"#, "providers.p.timeouts must be an object"),
            (#"{"providers":{"p":{"type":"openai","headers":{"X-A":1}}}}"#, "providers.p.headers.X-A must be a string"),
            (#"{"providers":{"m":{"type":"mock"}},"models":{"a":{"provider":"m","params":[1]}}}"#, "models.a.params must be an object"),
            (#"{"providers":{"m":{"type":"mock"}},"models":{"a":{"provider":"m","price":{"input":"1"}}}}"#,
             "models.a.price.input must be a number from 0 to 1e9"),
            (#"{"providers":{"m":{"type":"mock"}},"models":{"a":{"ensemble":["m/mock-gpt"],"prompts":{"synthesize":2}}}}"#,
             "models.a.prompts.synthesize must be a string"),
            (#"{"server":{"health_cache_seconds":-1}}"#, "server.health_cache_seconds must be a number from 0 to 1e9"),
        ]
        for (text, message) in cases {
            #expect(try error(text) == message, "\(text)")
        }
    }

    /// Free-form values are passed on or looked up by name: their keys are not the schema's.
    @Test func paramsHeadersAndPromptsTakeAnyKeys() throws {
        let config = try load(#"{"server":{"health_cache_seconds":2.5},"mock":{"enabled":false},"#
            + #""providers":{"p":{"type":"openai","headers":{"X-Anything":"v"}}},"#
            + #""models":{"a":{"provider":"p","params":{"max_tokens":5,"whatever":{"nested":true}}}}}"#)
        #expect(config.healthCacheSeconds == 2.5)
        #expect(config.mock.enabled == false)
        #expect(config.model(named: "a")?.params["whatever"]?["nested"] == .bool(true))
        #expect(config.provider(named: "p")?.headers == [HTTPHeaderField("X-Anything", "v")])
    }
}
