import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateCache
@testable import UltraGate

/// The admin API over the real server, gateway and LMDB key store (the access gate, which lets
/// only the master key reach `/admin`, is tested with it; these send the master key anyway).
@Suite struct AdminKeysAPITests {
    private static let master = "test-master-key-0123456789"

    private func harness(masterKey: String? = master) throws -> GatewayHarness {
        try GatewayHarness(routes: []) { $0.auth.masterKey = masterKey }
    }

    /// One request on a connection of its own, read on a thread of its own (never one of the
    /// task pool's few threads, which the server may need to answer).
    private func call(_ h: GatewayHarness, _ method: String, _ path: String, _ body: String? = nil,
                      contentType: String = "application/json") async throws -> TestHTTPClient.Response {
        try await blocking {
            let c = try h.client()
            var head = "\(method) \(path) HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer \(Self.master)\r\n"
            if let body { head += "Content-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n" }
            c.send(head + "\r\n" + (body ?? ""))
            return try c.readResponse()
        }
    }

    @Test func createListShowUpdateUsageRevoke() async throws {
        let h = try harness()
        let created = try await call(h, "POST", "/admin/keys", #"{"name":"alice","team":"red","rpm":60,"budget_usd":5,"budget_period":"7d"}"#)
        #expect(created.status == 201)
        #expect(created.header("Location") == "/admin/keys/alice" && created.header("Cache-Control") == "no-store")
        let secret = try #require(created.json?["key"]?.stringValue)
        #expect(secret.hasPrefix("ug-") && secret.count == 46)
        #expect(created.json?["key_hint"]?.stringValue == "ug-…" + secret.suffix(4))
        #expect(created.json?["budget_period"] == "7d" && created.json?["cache_scope"] == "team")
        #expect(h.gateway.keyStore?.key(hash: SHA256.hash(secret))?.name == "alice", "the gateway knows the key at once")

        let list = try await call(h, "GET", "/admin/keys")
        #expect(list.status == 200 && list.json?["object"] == "list")
        #expect(list.json?["data"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["alice"])
        let shown = try await call(h, "GET", "/admin/keys/alice")
        #expect(shown.status == 200 && shown.json?["rpm"] == 60)
        for response in [list, shown] {
            #expect(!response.text.contains(secret) && response.json?["key"] == nil, "no secret after creation")
            #expect(!response.text.contains(SHA256.hex(SHA256.hash(secret))), "nor its hash")
        }

        let patched = try await call(h, "PATCH", "/admin/keys/alice", #"{"rpm":null,"tpm":1000,"metadata":{"owner":"ops"}}"#)
        #expect(patched.status == 200 && patched.json?["rpm"] == .null && patched.json?["tpm"] == 1000)
        #expect(patched.json?["metadata"]?["owner"] == "ops")

        let usage = try await call(h, "GET", "/admin/keys/alice/usage")
        #expect(usage.status == 200)
        #expect(usage.json?["period"]?["budget_usd"] == 5 && usage.json?["period"]?["remaining_usd"] == 5)
        #expect(usage.json?["all_time"]?["requests"] == 0 && usage.json?["current_period"]?["models"] == .object([:]))

        let deleted = try await call(h, "DELETE", "/admin/keys/alice")
        #expect(deleted.status == 200 && deleted.json?["deleted"] == true)
        #expect(h.gateway.keyStore?.key(hash: SHA256.hash(secret)) == nil)
        let gone = try await call(h, "GET", "/admin/keys/alice")
        #expect(gone.status == 404 && gone.json?["error"]?["code"] == "key_not_found")
    }

    @Test func refusalsInOpenAIShape() async throws {
        let h = try harness()
        #expect(try await call(h, "POST", "/admin/keys", #"{"name":"bob"}"#).status == 201)
        let taken = try await call(h, "POST", "/admin/keys", #"{"name":"bob"}"#)
        #expect(taken.status == 409 && taken.json?["error"]?["code"] == "key_exists" && taken.json?["error"]?["param"] == "name")

        let cases: [(String, String, String)] = [
            ("POST", #"{"name":"c","rpm":0}"#, "rpm"),
            ("POST", #"{"name":"c","budget_usd":5,"budget_period":"weekly"}"#, "budget_period"),
            ("POST", #"{"name":"c","cache_scope":"everyone"}"#, "cache_scope"),
            ("POST", #"{"name":"c","expires_in":"tomorrow"}"#, "expires_in"),
            ("POST", #"{"name":"c","colour":"red"}"#, "colour"),
            ("POST", #"{"team":"red"}"#, "name"),
            ("PATCH", #"{"max_parallel":"4"}"#, "max_parallel"),
        ]
        for (method, body, field) in cases {
            let path = method == "POST" ? "/admin/keys" : "/admin/keys/bob"
            let r = try await call(h, method, path, body)
            #expect(r.status == 400, "\(body)")
            #expect(r.json?["error"]?["param"]?.stringValue == field, "\(body)")
            #expect(r.json?["error"]?["message"]?.stringValue?.contains("`\(field)`") == true, "\(body)")
            #expect(r.json?["error"]?["type"] == "invalid_request_error")
        }
        #expect(try await call(h, "POST", "/admin/keys", "[1]").status == 400)
        #expect(try await call(h, "POST", "/admin/keys", "{").json?["error"]?["code"] == "invalid_json")
        #expect(try await call(h, "POST", "/admin/keys", #"{"name":"c"}"#, contentType: "text/plain").status == 415)
        #expect(try await call(h, "PATCH", "/admin/keys/nobody", #"{"rpm":1}"#).status == 404)
        #expect(try await call(h, "DELETE", "/admin/keys/nobody").status == 404)
        #expect(try await call(h, "GET", "/admin/keys/nobody/usage").status == 404)

        let put = try await call(h, "PUT", "/admin/keys/bob", "{}")
        #expect(put.status == 405 && put.header("Allow") == "GET, HEAD, PATCH, DELETE")
        #expect(try await call(h, "DELETE", "/admin/keys").header("Allow") == "GET, HEAD, POST")
        #expect(try await call(h, "POST", "/admin/keys/bob/usage", "{}").header("Allow") == "GET, HEAD")
        #expect(try await call(h, "GET", "/admin/keys/bob/other").status == 404)
        #expect(try await call(h, "GET", "/admin/keys/bob").status == 200, "refusals changed nothing")
    }

    /// A secret pasted into the path is not echoed in the 404.
    @Test func aSecretInThePathIsNotEchoed() async throws {
        let h = try harness()
        let secret = VirtualKeySecret.generate()
        let r = try await call(h, "GET", "/admin/keys/\(secret)")
        #expect(r.status == 404 && !r.text.contains(secret))
    }

    @Test func withoutAMasterKeyTheAdminAPIIsOff() async throws {
        let h = try harness(masterKey: nil)
        #expect(h.gateway.keyStore == nil)
        let r = try await call(h, "GET", "/admin/keys")
        #expect(r.status == 403 && r.json?["error"]?["code"] == "admin_disabled")
        #expect(r.json?["error"]?["message"]?.stringValue?.contains("auth.master_key") == true)
    }

    @Test func adminEndpointsAreMarkedAndLabelled() {
        let cases: [(String, String, Endpoint, String)] = [
            ("GET", "/admin/keys", .adminKeys, "/admin/keys"), ("POST", "/admin/keys/", .adminKeys, "/admin/keys"),
            ("PATCH", "/admin/keys/a.b", .adminKey("a.b"), "/admin/keys/{name}"),
            ("DELETE", "/admin/keys/a%2Eb", .adminKey("a.b"), "/admin/keys/{name}"),
            ("GET", "/admin/keys/a/usage", .adminKeyUsage("a"), "/admin/keys/{name}/usage"),
        ]
        for (method, path, endpoint, label) in cases {
            let matched = Endpoint.match(method: method, path: path)
            #expect(matched == endpoint, "\(method) \(path)")
            #expect(matched.isAdmin && matched.metricRoute == label)
        }
        #expect(!Endpoint.match(method: "GET", path: "/v1/models").isAdmin)
        #expect(Endpoint.match(method: "GET", path: "/admin/keys//usage") == .notFound)
    }
}
