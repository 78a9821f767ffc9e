import Foundation
import Testing
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGate

@Suite struct AuthConfigTests {
    func load(_ text: String, environment: [String: String] = [:]) throws -> GatewayConfig {
        let path = NSTemporaryDirectory() + "ultragate-auth-\(UUID().uuidString).json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ConfigLoader(environment: environment).load(path: path)
    }

    func error(_ text: String, environment: [String: String] = [:]) -> String? {
        do { _ = try load(text, environment: environment); return nil } catch let e as ConfigError { return e.message } catch { return "\(error)" }
    }

    @Test func keysComeFromTheFileTheEnvironmentOrAVariable() throws {
        let key = "0123456789abcdef0123"
        #expect(try load(#"{"auth":{"master_key":"\#(key)"}}"#).auth.masterKey == key)
        #expect(try load("{}", environment: ["ULTRAGATE_MASTER_KEY": key]).auth.masterKey == key)
        #expect(try load(#"{"auth":{"master_key":"${MK}","metrics_key":"${MET}"}}"#,
                         environment: ["MK": key, "MET": "metrics-0123456789"]).auth.metricsKey == "metrics-0123456789")
        // A variable that is not set leaves the key unset rather than empty.
        #expect(try load(#"{"auth":{"master_key":"${UNSET}"}}"#).auth.masterKey == nil)
        let all = try load(#"{"auth":{"master_key":"\#(key)","allow_unauthenticated":true,"keys_dir":"/tmp/k","failed_attempts_per_second":5}}"#)
        #expect(all.auth.allowUnauthenticated && all.auth.keysDirectory == "/tmp/k" && all.auth.failedAttemptsPerSecond == 5)
        #expect(try load("{}").auth.isEnabled == false)
    }

    @Test func weakOrConfusedKeysAreRefused() {
        #expect(error(#"{"auth":{"master_key":"short"}}"#)?.contains("at least 16 characters") == true)
        #expect(error("{}", environment: ["ULTRAGATE_MASTER_KEY": "short"])?.contains("ULTRAGATE_MASTER_KEY") == true)
        #expect(error(#"{"auth":{"master_key":"0123456789abcdef","metrics_key":"0123456789abcdef"}}"#)?.contains("must differ") == true)
        #expect(error(#"{"auth":{"metrics_key":"0123456789abcdef"}}"#)?.contains("needs auth.master_key") == true)
        #expect(error(#"{"auth":{"master":"0123456789abcdef"}}"#)?.hasPrefix("unknown config key `auth.master`") == true)
        #expect(error(#"{"auth":{"failed_attempts_per_second":0}}"#) != nil)
    }

    /// Key and team scopes' cache namespaces start with a NUL: no configured namespace may hold a
    /// control character, so none can be written to match one.
    @Test func theCacheNamespaceHoldsNoControlCharacters() throws {
        #expect(try load(#"{"cache":{"namespace":"team-blue"}}"#).cache.namespace == "team-blue")
        for bad in [#""""#, #""\u0000abcdefghijklmn""#, #""a\nb""#, #""\u0085""#, #""\u009b2J""#, #""a\u202Eb""#, #""a\u2028b""#] {
            #expect(error(#"{"cache":{"namespace":\#(bad)}}"#)?.contains("cache.namespace") == true, "\(bad)")
        }
    }
}
