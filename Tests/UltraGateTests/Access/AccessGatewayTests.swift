import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGateProviders
@testable import UltraGate

/// Access control through the real server: authentication, model lists, limits, budgets and
/// tenant cache scopes, with an in-memory key store.
@Suite(.serialized) struct AccessGatewayTests {
    static let master = "master-key-0123456789"
    static let metricsKey = "metrics-key-0123456789"

    final class Fixture: @unchecked Sendable {
        let provider = ScriptedChatProvider()
        let store = InMemoryKeyStore()
        let harness: GatewayHarness
        init(clock: AccessClock = .system, configure: (inout GatewayConfig) -> Void = { _ in }) throws {
            harness = try GatewayHarness(routes: [route("m", provider), route("other", provider)], keyStore: store,
                                         accessClock: clock) { config in
                config.auth.masterKey = AccessGatewayTests.master
                config.auth.metricsKey = AccessGatewayTests.metricsKey
                var priced = ModelSettings(name: "m")
                priced.price = ModelPriceSettings(input: 1_000_000, output: 1_000_000)
                config.models = [priced]
                configure(&config)
            }
        }

        func chat(_ key: String?, model: String = "m", _ content: String = "hello", extra: [String: String] = [:]) throws -> TestHTTPClient.Response {
            var headers = extra
            if let key { headers["Authorization"] = "Bearer \(key)" }
            return try harness.chat(model, content, headers: headers)
        }

        func get(_ path: String, key: String?) throws -> TestHTTPClient.Response {
            let c = try harness.client()
            c.send("GET \(path) HTTP/1.1\r\nHost: t\r\n" + (key.map { "Authorization: Bearer \($0)\r\n" } ?? "") + "\r\n")
            return try c.readResponse()
        }
    }

    @Test func keysAreRequiredExceptForTheLivenessProbe() async throws {
        let f = try Fixture()
        f.store.add("alice", secret: "ug-alice-secret")
        try await blocking {
            let none = try f.chat(nil)
            #expect(none.status == 401)
            #expect(none.json?["error"]?["code"]?.stringValue == "invalid_api_key")
            #expect(none.json?["error"]?["type"]?.stringValue == "invalid_request_error")
            #expect(none.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            let wrong = try f.chat("ug-wrong")
            #expect(wrong.status == 401 && wrong.json?["error"] == none.json?["error"], "missing and wrong keys get the same answer")
            do { let r = try f.chat(AccessGatewayTests.master); #expect(r.status == 200) }
            do { let r = try f.chat("ug-alice-secret"); #expect(r.status == 200) }
            var viaXAPIKey = try f.harness.chat("m", "x", headers: ["x-api-key": "ug-alice-secret"])
            #expect(viaXAPIKey.status == 200)
            viaXAPIKey = try f.harness.chat("m", "x", headers: ["x-api-key": "ug-nope"])
            #expect(viaXAPIKey.status == 401)
            #expect(try f.get("/health", key: nil).status == 200)
            #expect(try f.get("/v1/models", key: nil).status == 401)
            #expect(try f.get("/no/such/path", key: nil).status == 401, "a stranger does not learn which paths exist")
            #expect(try f.get("/health?deep=1", key: nil).status == 401)
        }
    }

    @Test func metricsAndStatsNeedTheMasterOrMetricsKey() async throws {
        let f = try Fixture()
        f.store.add("alice", secret: "ug-alice-secret")
        try await blocking {
            #expect(try f.get("/metrics", key: nil).status == 401)
            #expect(try f.get("/metrics", key: "ug-alice-secret").status == 403)
            #expect(try f.get("/v1/stats", key: "ug-alice-secret").status == 403)
            #expect(try f.get("/metrics", key: AccessGatewayTests.metricsKey).status == 200)
            #expect(try f.get("/v1/stats", key: AccessGatewayTests.metricsKey).status == 200)
            #expect(try f.get("/metrics", key: AccessGatewayTests.master).status == 200)
            let chat = try f.chat(AccessGatewayTests.metricsKey)
            #expect(chat.status == 403, "the metrics key is read-only")
        }
    }

    @Test func disabledAndExpiredKeysAreRefusedLikeUnknownOnes() async throws {
        let now = Clock.wallNow()
        let f = try Fixture()
        f.store.add("gone", secret: "ug-gone") { $0.disabled = true }
        f.store.add("old", secret: "ug-old") { $0.expiresAt = now - 1 }
        f.store.add("fresh", secret: "ug-fresh") { $0.expiresAt = now + 3600 }
        try await blocking {
            let unknown = try f.chat("ug-unknown")
            for secret in ["ug-gone", "ug-old"] {
                let r = try f.chat(secret)
                #expect(r.status == 401)
                #expect(r.json?["error"]?["message"] == unknown.json?["error"]?["message"])
            }
            do { let r = try f.chat("ug-fresh"); #expect(r.status == 200) }
            f.store.update("fresh") { $0.disabled = true }
            do { let r = try f.chat("ug-fresh"); #expect(r.status == 401, "a change in the store takes effect at once") }
        }
    }

    @Test func modelListsLimitWhatAKeyMayCallAndSee() async throws {
        let f = try Fixture()
        f.store.add("narrow", secret: "ug-narrow") { $0.models = ["m"] }
        try await blocking {
            do { let r = try f.chat("ug-narrow"); #expect(r.status == 200) }
            let refused = try f.chat("ug-narrow", model: "other")
            #expect(refused.status == 403)
            #expect(refused.json?["error"]?["code"]?.stringValue == "model_not_allowed")
            #expect(refused.json?["error"]?["param"]?.stringValue == "model")
            let models = try f.get("/v1/models", key: "ug-narrow").json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
            #expect(models == ["m"])
            #expect(try f.get("/v1/models/other", key: "ug-narrow").status == 404)
        }
        // The refused request reached no provider, and an ad-hoc ensemble cannot smuggle the model in.
        let before = f.provider.callCount
        let body = #"{"model":"m","messages":[{"role":"user","content":"e"}],"ultra":{"models":["m","other"]}}"#
        let r = try await blocking { () -> TestHTTPClient.Response in
            let c = try f.harness.client()
            c.post("/v1/chat/completions", json: body, headers: ["Authorization": "Bearer ug-narrow"])
            return try c.readResponse()
        }
        #expect(r.status == 403 && r.json?["error"]?["message"]?.stringValue?.contains("`other`") == true)
        #expect(f.provider.callCount == before)
        // Names in `ultra` the key may not use get the same 403 whether or not they exist, so
        // `ultra` cannot map the configured models.
        for ultra in [#"{"models":["m","nosuch"]}"#, #"{"models":["m"],"synthesizer":"nosuch"}"#,
                      #"{"models":["m"],"backup_synthesizer":"other"}"#] {
            let probe = try await blocking { () -> TestHTTPClient.Response in
                let c = try f.harness.client()
                c.post("/v1/chat/completions", json: #"{"model":"m","messages":[{"role":"user","content":"e"}],"ultra":\#(ultra)}"#,
                       headers: ["Authorization": "Bearer ug-narrow"])
                return try c.readResponse()
            }
            #expect(probe.status == 403 && probe.json?["error"]?["code"]?.stringValue == "model_not_allowed", "\(ultra)")
        }
    }

    @Test func cacheScopesKeepTenantsApart() async throws {
        let f = try Fixture()
        f.store.add("red1", secret: "ug-red1") { $0.team = "red" }
        f.store.add("red2", secret: "ug-red2") { $0.team = "red" }
        f.store.add("blue", secret: "ug-blue") { $0.team = "blue" }
        f.store.add("solo", secret: "ug-solo") { $0.team = "red"; $0.cacheScope = .key }
        try await blocking {
            do { let r = try f.chat("ug-red1", "scoped"); #expect(r.header("X-Cache") == "MISS") }
            #expect(f.provider.callCount == 1)
            do { let r = try f.chat("ug-red2", "scoped"); #expect(r.header("X-Cache") == "HIT", "same team: its cached answer") }
            do { let r = try f.chat("ug-blue", "scoped"); #expect(r.header("X-Cache") == "MISS", "another team: its own call") }
            do { let r = try f.chat("ug-solo", "scoped"); #expect(r.header("X-Cache") == "MISS", "key scope: only its own answers") }
            do { let r = try f.chat(AccessGatewayTests.master, "scoped"); #expect(r.header("X-Cache") == "MISS", "the master key uses the shared namespace") }
            #expect(f.provider.callCount == 4)
            do { let r = try f.chat("ug-solo", "scoped"); #expect(r.header("X-Cache") == "HIT") }
        }
    }

    @Test func requestRateLimitsAnswer429WithOpenAIsFields() async throws {
        let f = try Fixture()
        f.store.add("slow", secret: "ug-slow") { $0.rpm = 1 }
        try await blocking {
            let first = try f.chat("ug-slow", "one")
            #expect(first.status == 200)
            #expect(first.header("x-ratelimit-limit-requests") == "1")
            #expect(first.header("x-ratelimit-remaining-requests") == "0")
            let second = try f.chat("ug-slow", "two")
            #expect(second.status == 429)
            #expect(second.json?["error"]?["code"]?.stringValue == "rate_limit_exceeded")
            #expect(Int(second.header("Retry-After") ?? "") ?? 0 > 50)
            #expect(second.header("x-ratelimit-reset-requests") != nil)
            #expect(f.provider.callCount == 1)
            // The master key has no limits.
            do { let r = try f.chat(AccessGatewayTests.master, "three"); #expect(r.status == 200) }
        }
    }

    /// Output limits at the edge of Int (chat's `max_tokens` times `n`, Messages' `max_tokens`,
    /// Responses' `max_output_tokens`) and limits at the validator's maximum are answered: the
    /// token estimate and the rate-limit fields saturate instead of trapping, which would take the
    /// process and every tenant down with one keyed request.
    @Test func extremeTokenCountsAndLimitsAreAnswered() async throws {
        let f = try Fixture()
        f.store.add("plain", secret: "ug-plain")
        f.store.add("big", secret: "ug-big") { $0.rpm = KeySpecValidator.maxLimit; $0.tpm = KeySpecValidator.maxLimit }
        f.store.add("small", secret: "ug-small") { $0.tpm = 100 }
        try await blocking {
            let huge = "9223372036854775807"
            let bodies = [
                ("/v1/chat/completions", #"{"model":"m","max_tokens":\#(huge),"messages":[{"role":"user","content":"hi"}]}"#),
                ("/v1/chat/completions", #"{"model":"m","max_completion_tokens":4611686018427387904,"n":2,"messages":[{"role":"user","content":"hi"}]}"#),
                ("/v1/messages", #"{"model":"m","max_tokens":\#(huge),"messages":[{"role":"user","content":"hi"}]}"#),
                ("/v1/responses", #"{"model":"m","max_output_tokens":\#(huge),"input":"hi"}"#),
            ]
            for key in ["ug-plain", "ug-big", "ug-small"] {
                for (path, body) in bodies {
                    let c = try f.harness.client()
                    c.post(path, json: body, headers: ["Authorization": "Bearer \(key)", "anthropic-version": "2023-06-01"])
                    let r = try c.readResponse()
                    #expect([200, 400, 429].contains(r.status), "\(key) \(path): \(r.status)")
                }
            }
            let limited = try f.chat("ug-big", "after")
            #expect(limited.status == 200)
            #expect(limited.header("x-ratelimit-limit-tokens") == "1000000000000")
        }
    }

    /// A key pasted as a model name (even behind a provider prefix), into a path or a field value
    /// is refused without being repeated, sent upstream or made a metrics label.
    @Test func aKeyPastedAnywhereIsNotRepeated() async throws {
        let f = try Fixture()
        f.store.add("alice", secret: "ug-alice-secret")
        let pasted = VirtualKeySecret.generate()
        let bare = String(pasted.dropFirst(3))
        try await blocking {
            for model in [pasted, "scripted/" + pasted, "scripted/" + bare, "scripted/x-" + pasted] {
                let r = try f.chat("ug-alice-secret", model: model)
                #expect(r.status == 404 && !r.text.contains(bare), "\(model)")
            }
            let path = try f.get("/" + pasted, key: "ug-alice-secret")
            #expect(path.status == 404 && !path.text.contains(bare))
            let c = try f.harness.client()
            c.post("/v1/chat/completions", json: #"{"model":"m","messages":[{"role":"\#(pasted)","content":"x"}]}"#,
                   headers: ["Authorization": "Bearer ug-alice-secret"])
            let role = try c.readResponse()
            #expect(role.status == 400 && !role.text.contains(bare))
            let metrics = try f.get("/metrics", key: AccessGatewayTests.master)
            #expect(metrics.status == 200 && !metrics.text.contains(bare))
        }
        #expect(f.provider.callCount == 0)
    }

    @Test func spendIsChargedForCallsAndSavedForHits() async throws {
        let f = try Fixture()
        f.store.add("payer", secret: "ug-payer")
        try await blocking {
            _ = try f.chat("ug-payer", "pay")
            _ = try f.chat("ug-payer", "pay")
            for _ in 0..<200 where f.store.records.count < 2 { usleep(10_000) }
        }
        // Each request is booked when its exchange ends: the hit's may come first.
        let records = f.store.records.sorted { $0.costUSD > $1.costUSD }
        #expect(records.count == 2)
        #expect(records[0].promptTokens > 0 && records[0].completionTokens > 0 && records[0].costUSD > 0)
        #expect(records[1].promptTokens == 0 && records[1].costUSD == 0 && abs(records[1].savedUSD - records[0].costUSD) < 1e-9,
                "the hit costs nothing and saves what the call cost: \(records)")
        #expect(records.allSatisfy { $0.name == "payer" && $0.model == "m" })
    }

    @Test func aSpentBudgetRefusesUntilThePeriodRolls() async throws {
        let offset = LockedBox(0.0)
        let base = Clock.wallNow()
        let f = try Fixture(clock: AccessClock { base + offset.value })
        f.store.add("capped", secret: "ug-capped", createdAt: base - 10) { $0.budgetUSD = 0.000001; $0.budgetPeriod = .days(1) }
        try await blocking {
            do { let r = try f.chat("ug-capped", "spend"); #expect(r.status == 200) }
            // Spend is booked when the exchange ends, which may be just after the client read it.
            for _ in 0..<200 where f.store.records.isEmpty { usleep(10_000) }
            let refused = try f.chat("ug-capped", "more")
            #expect(refused.status == 429)
            #expect(refused.json?["error"]?["code"]?.stringValue == "insufficient_quota")
            #expect(refused.header("x-should-retry") == "false")
            offset.update { $0 = 86_400 }
            do { let r = try f.chat("ug-capped", "more"); #expect(r.status == 200, "a new period starts from zero") }
        }
    }

    @Test func statsAndMetricsNameKeysNeverSecrets() async throws {
        let f = try Fixture()
        f.store.add("named", secret: "ug-super-secret-value") { $0.team = "ops"; $0.rpm = 100 }
        try await blocking {
            _ = try f.chat("ug-super-secret-value", "hi")
            // The request is booked when its exchange ends, which may be just after the client read it.
            var stats = try f.get("/v1/stats", key: AccessGatewayTests.master)
            for _ in 0..<200 where stats.json?["keys"]?["named"]?["requests"]?.intValue != 1 {
                usleep(10_000)
                stats = try f.get("/v1/stats", key: AccessGatewayTests.master)
            }
            #expect(stats.json?["keys"]?["named"]?["requests"]?.intValue == 1)
            #expect(stats.json?["keys"]?["named"]?["team"]?.stringValue == "ops")
            let metrics = try f.get("/metrics", key: AccessGatewayTests.metricsKey).text
            #expect(metrics.contains(#"ultragate_key_requests_total{key="named",team="ops"} 1"#))
            for text in [stats.text, metrics] { #expect(!text.contains("super-secret")) }
        }
    }

    @Test func aStreamLeftBeforeItsEndIsChargedItsReservation() async throws {
        let provider = ScriptedChatProvider(chunkDelayMs: 50)
        let store = InMemoryKeyStore()
        store.add("leaver", secret: "ug-leaver")
        let h = try GatewayHarness(routes: [route("m", provider)], keyStore: store) { config in
            config.auth.masterKey = AccessGatewayTests.master
            var priced = ModelSettings(name: "m")
            priced.price = ModelPriceSettings(input: 1_000_000, output: 1_000_000)
            config.models = [priced]
        }
        try await blocking {
            let c = try h.client()
            c.post("/v1/chat/completions", json: GatewayHarness.body("m", "leave early", stream: true),
                   headers: ["Authorization": "Bearer ug-leaver"])
            _ = try c.readLine()  // the status line: the stream has started
            shutdown(c.fd, Int32(SHUT_RDWR))  // the client leaves
            for _ in 0..<300 where store.records.isEmpty { usleep(10_000) }
        }
        let record = try #require(store.records.first)
        #expect(record.completionTokens >= ChatCompletionRequest.defaultOutputReservation)
        #expect(record.costUSD == Double(record.completionTokens), "charged at the output price")
    }

    /// With the LMDB key store, the per-key metrics are read from what the store booked for this
    /// process: the same figures as counting them per request, also across a reload of the keys.
    @Test func lmdbStoreFeedsThePerKeyMetrics() async throws {
        let provider = ScriptedChatProvider()
        let h = try GatewayHarness(routes: [route("m", provider)]) { config in
            config.auth.masterKey = AccessGatewayTests.master
            var priced = ModelSettings(name: "m")
            priced.price = ModelPriceSettings(input: 1_000_000, output: 1_000_000)
            config.models = [priced]
        }
        let store = try #require(h.gateway.keyStore)
        let secret = try store.create(["name": "fed", "team": "ops"]).secret
        try await blocking {
            func chat(_ content: String) throws -> TestHTTPClient.Response {
                try h.chat("m", content, headers: ["Authorization": "Bearer \(secret)"])
            }
            func stats() throws -> JSON? {
                let c = try h.client()
                c.send("GET /v1/stats HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(AccessGatewayTests.master)\r\n\r\n")
                return try c.readResponse().json?["keys"]?["fed"]
            }
            #expect(try chat("one").header("X-Cache") == "MISS")
            #expect(try chat("one").header("X-Cache") == "HIT")
            // Booked when each exchange ends, which may be just after the client read it.
            for _ in 0..<200 where try stats()?["requests"]?.intValue != 2 { usleep(10_000) }
            var fed = try #require(try stats())
            #expect(fed["requests"]?.intValue == 2 && fed["team"]?.stringValue == "ops")
            #expect((fed["prompt_tokens"]?.intValue ?? 0) > 0 && (fed["completion_tokens"]?.intValue ?? 0) > 0)
            let spend = fed["spend_usd"]?.doubleValue ?? 0
            #expect(spend > 0 && abs((fed["saved_usd"]?.doubleValue ?? 0) - spend) < 1e-9, "the hit saved what the miss cost")
            // A reload of the keys (any change) makes new grants: the counts go on.
            _ = try store.update(name: "fed", ["metadata": ["note": "reloaded"]])
            #expect(try chat("one").header("X-Cache") == "HIT")
            for _ in 0..<200 where try stats()?["requests"]?.intValue != 3 { usleep(10_000) }
            fed = try #require(try stats())
            #expect(fed["requests"]?.intValue == 3)
            let c = try h.client()
            c.send("GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(AccessGatewayTests.master)\r\n\r\n")
            let metrics = try c.readResponse().text
            #expect(metrics.contains(#"ultragate_key_requests_total{key="fed",team="ops"} 3"#))
            #expect(metrics.contains(#"ultragate_key_tokens_total{key="fed",team="ops",kind="prompt"} \#(fed["prompt_tokens"]?.intValue ?? -1)"#))
            #expect(!metrics.contains(secret))
            // A new team: the metrics start a series for it; `/v1/stats` shows the key's total
            // under the team it has now.
            _ = try store.update(name: "fed", ["team": "dev"])
            #expect(try chat("two").header("X-Cache") == "MISS")
            for _ in 0..<200 where try stats()?["requests"]?.intValue != 4 { usleep(10_000) }
            fed = try #require(try stats())
            #expect(fed["requests"]?.intValue == 4 && fed["team"]?.stringValue == "dev")
            #expect((fed["spend_usd"]?.doubleValue ?? 0) > spend, "both teams' spend")
            let c2 = try h.client()
            c2.send("GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(AccessGatewayTests.master)\r\n\r\n")
            let after = try c2.readResponse().text
            #expect(after.contains(#"ultragate_key_requests_total{key="fed",team="ops"} 3"#))
            #expect(after.contains(#"ultragate_key_requests_total{key="fed",team="dev"} 1"#))
        }
    }

    /// `Expect: 100-continue`: a request its head already refuses is answered before its body is
    /// invited (RFC 9110 §10.1.1), in its API's error shape, and the connection ends; a request
    /// with a good key is invited as before.
    @Test func aRefusedHeadIsAnsweredBeforeItsBodyIsInvited() async throws {
        let f = try Fixture()
        f.store.add("alice", secret: "ug-alice-secret") { $0.models = ["m"] }
        let body = GatewayHarness.body("m", "expect")
        @Sendable func head(_ path: String, _ fields: String) -> String {
            "POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Expect: 100-continue\r\n" + fields + "\r\n"
        }
        try await blocking {
            let none = try f.harness.client()
            none.send(head("/v1/chat/completions", ""))
            let refused = try none.readResponse()
            #expect(refused.status == 401 && refused.json?["error"]?["code"]?.stringValue == "invalid_api_key")
            #expect(refused.header("Connection")?.lowercased() == "close" && refused.header("X-Request-Id") != nil)
            #expect(none.isClosedByServer())
            // On an Anthropic path, in Anthropic's shape.
            let anthropic = try f.harness.client()
            anthropic.send(head("/v1/messages", "x-api-key: ug-wrong\r\nanthropic-version: 2023-06-01\r\n"))
            let wrong = try anthropic.readResponse()
            #expect(wrong.status == 401 && wrong.json?["type"]?.stringValue == "error")
            // A key the model list refuses is refused only once the body names the model.
            let good = try f.harness.client()
            good.send(head("/v1/chat/completions", "Authorization: Bearer ug-alice-secret\r\n"))
            #expect(try good.readLine() == "HTTP/1.1 100 Continue")
            #expect(try good.readLine() == "")
            good.send(body)
            #expect(try good.readResponse().status == 200)
            // Counted as refused requests are.
            let metrics = try f.get("/metrics", key: AccessGatewayTests.master).text
            #expect(metrics.contains(#"ultragate_requests_total{route="/v1/chat/completions",model="",status="401"} 1"#))
            #expect(metrics.contains(#"ultragate_requests_total{route="/v1/messages",model="",status="401"} 1"#))
        }
    }
}
