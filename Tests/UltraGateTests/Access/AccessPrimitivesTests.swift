import Foundation
import Testing
@testable import UltraGateTesting
@testable import UltraGateHTTP
@testable import UltraGateCache
@testable import UltraGate

/// The pure parts of access control: buckets, headers, periods, patterns, scopes, exposure.
struct AccessPrimitivesTests {
    @Test func requestBucketAdmitsABurstThenOnePerInterval() {
        var key = VirtualKey(name: "k", createdAt: 0, secretHash: [UInt8](repeating: 1, count: 32), hint: "abcd")
        key.rpm = 2
        let limiter = KeyLimiter()
        guard case .admitted(let headers, _) = limiter.admit(key, tokens: 0, now: 100) else { Issue.record("first refused"); return }
        #expect(headers.first { $0.name == "x-ratelimit-limit-requests" }?.value == "2")
        #expect(headers.first { $0.name == "x-ratelimit-remaining-requests" }?.value == "1")
        guard case .admitted = limiter.admit(key, tokens: 0, now: 100) else { Issue.record("second refused"); return }
        guard case .refused(.rpm, let wait, let refusedHeaders) = limiter.admit(key, tokens: 0, now: 100) else {
            Issue.record("third admitted"); return
        }
        #expect(abs(wait - 30) < 0.001, "2 per minute: one more every 30 s")
        #expect(refusedHeaders.first { $0.name == "x-ratelimit-remaining-requests" }?.value == "0")
        #expect(refusedHeaders.first { $0.name == "x-ratelimit-reset-requests" }?.value == "1m0s")
        guard case .refused = limiter.admit(key, tokens: 0, now: 129) else { Issue.record("admitted early"); return }
        guard case .admitted = limiter.admit(key, tokens: 0, now: 130.001) else { Issue.record("not admitted after the wait"); return }
    }

    @Test func tokenReservationsAreSettledWithWhatWasUsed() {
        var key = VirtualKey(name: "t", createdAt: 0, secretHash: [UInt8](repeating: 2, count: 32), hint: "abcd")
        key.tpm = 1000
        let limiter = KeyLimiter()
        guard case .admitted(_, let state) = limiter.admit(key, tokens: 900, now: 0) else { Issue.record("refused"); return }
        // 100 left: a 200-token reservation must wait.
        guard case .refused(.tpm, let wait, _) = limiter.admit(key, tokens: 200, now: 0) else { Issue.record("admitted"); return }
        #expect(abs(wait - 6) < 0.001, "100 more tokens at 1000/min take 6 s")
        // The call used 100 of its 900: 800 come back.
        limiter.release(KeyAdmission(reservedTokens: 900, limits: state), usedTokens: 100, now: 0)
        guard case .admitted(_, let again) = limiter.admit(key, tokens: 800, now: 0) else { Issue.record("unused reservation not returned"); return }
        // A call that used more than it reserved leaves a debt.
        #expect(again === state, "one state per key")
        limiter.release(KeyAdmission(reservedTokens: 800, limits: again), usedTokens: 1500, now: 0)
        guard case .refused(.tpm, _, _) = limiter.admit(key, tokens: 1, now: 0) else { Issue.record("debt ignored"); return }
        // A reservation larger than the whole limit passes when the bucket is full.
        guard case .admitted = limiter.admit(key, tokens: 5000, now: 1000) else { Issue.record("oversized reservation refused forever"); return }
    }

    @Test func maxParallelCountsRequestsInFlight() {
        var key = VirtualKey(name: "p", createdAt: 0, secretHash: [UInt8](repeating: 3, count: 32), hint: "abcd")
        key.maxParallel = 1
        let limiter = KeyLimiter()
        guard case .admitted(_, let state) = limiter.admit(key, tokens: 0, now: 0) else { Issue.record("refused"); return }
        guard case .refused(.maxParallel, _, _) = limiter.admit(key, tokens: 0, now: 0) else { Issue.record("second parallel admitted"); return }
        limiter.release(KeyAdmission(reservedTokens: 0, limits: state), usedTokens: 0, now: 0)
        guard case .admitted = limiter.admit(key, tokens: 0, now: 0) else { Issue.record("slot not freed"); return }
    }

    @Test func resetDurationsAreWrittenAsOpenAIDoes() {
        #expect(RateLimitHeaders.duration(0) == "0s")
        #expect(RateLimitHeaders.duration(0.02) == "20ms")
        #expect(RateLimitHeaders.duration(1) == "1s")
        #expect(RateLimitHeaders.duration(1.25) == "1.3s")
        #expect(RateLimitHeaders.duration(360) == "6m0s")
        #expect(RateLimitHeaders.duration(3723) == "1h2m3s")
    }

    @Test func budgetWindowsStartAtTheKeysCreationOrTheCalendarMonth() {
        let created = 1_000_000.0
        let day = BudgetPeriod("1d")!
        #expect(day.window(containing: created + 10, anchor: created) == (created, created + 86_400))
        #expect(day.window(containing: created + 86_400 * 2.5, anchor: created).start == created + 86_400 * 2)
        #expect(BudgetPeriod("7d")!.window(containing: created + 86_400 * 8, anchor: created).start == created + 86_400 * 7)
        // 2026-12-31T23:00:00Z is in December; the window ends at 2027-01-01T00:00:00Z.
        let (start, end) = BudgetPeriod.monthly.window(containing: 1_798_758_000, anchor: created)
        #expect(start == 1_796_083_200)
        #expect(end == 1_798_761_600)
        #expect(BudgetPeriod("0d") == nil && BudgetPeriod("week") == nil && BudgetPeriod("30d") == .days(30))
    }

    @Test func modelPatternsMatchWholeNamesWithWildcards() {
        #expect(ModelPattern.matches("gpt-4o", "gpt-4o"))
        #expect(!ModelPattern.matches("gpt-4o", "gpt-4o-mini"))
        #expect(ModelPattern.matches("openai/*", "openai/gpt-4o"))
        #expect(!ModelPattern.matches("openai/*", "anthropic/claude"))
        #expect(ModelPattern.matches("*-mini", "gpt-4o-mini"))
        #expect(ModelPattern.matches("a*b*c", "axxbyyc"))
        #expect(!ModelPattern.matches("a*b*c", "axxbyy"))
        #expect(ModelPattern.matches("*", "anything"))
    }

    @Test func scopesGiveDistinctNamespacesThatNamesCannotForge() {
        var a = VirtualKey(name: "a", createdAt: 0, secretHash: [UInt8](repeating: 4, count: 32), hint: "abcd")
        var b = VirtualKey(name: "b", createdAt: 0, secretHash: [UInt8](repeating: 5, count: 32), hint: "abcd")
        #expect(a.effectiveScope == .key)
        #expect(a.cacheNamespace(base: "default") != b.cacheNamespace(base: "default"))
        // A key made again under the same name (another secret) has a scope of its own.
        let again = VirtualKey(name: "a", createdAt: 0, secretHash: [UInt8](repeating: 6, count: 32), hint: "abcd")
        #expect(again.cacheNamespace(base: "default") != a.cacheNamespace(base: "default"))
        a.team = "red"
        b.team = "red"
        #expect(a.effectiveScope == .team)
        #expect(a.cacheNamespace(base: "default") == b.cacheNamespace(base: "default"))
        b.team = "blue"
        #expect(a.cacheNamespace(base: "default") != b.cacheNamespace(base: "default"))
        a.cacheScope = .shared
        #expect(a.cacheNamespace(base: "default") == "default")
        // A team called like another scope's namespace does not land in it.
        var forger = a
        forger.cacheScope = .team
        forger.team = "x\u{0}key:1:a"
        var victim = a
        victim.cacheScope = .key
        victim.team = nil
        #expect(forger.cacheNamespace(base: "default") != victim.cacheNamespace(base: "default"))
        #expect(forger.scopeName(base: "default") != victim.scopeName(base: "default"))
        // A team or key scope's namespace is short enough for Swift to keep inline (no reference
        // counting when copied), starts with a NUL (no configured namespace does), and differs
        // between bases.
        for key in [forger, victim, b] {
            let namespace = key.cacheNamespace(base: "default")
            #expect(namespace.utf8.count == 15 && namespace.utf8.first == 0)
            // Kept inline: the discriminator in the top byte says small ASCII-free UTF-8 (0xA…)
            // or small ASCII (0xE…), never a heap object (0x0…, 0x1…).
            let discriminator = unsafeBitCast(namespace, to: (UInt64, UInt64).self).1 >> 60
            #expect(discriminator == 0xA || discriminator == 0xE, "\(discriminator)")
            #expect(namespace != key.cacheNamespace(base: "other"))
        }
    }

    @Test func onlyLoopbackAddressesServeWithoutAKey() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "0:0:0:0:0:0:0:1"] {
            #expect(ExposureCheck.isLoopback(host), "\(host)")
        }
        for host in ["0.0.0.0", "::", "10.0.0.1", "192.168.1.10", "example.com", "::2", "128.0.0.1"] {
            #expect(!ExposureCheck.isLoopback(host), "\(host)")
        }
        var auth = AuthSettings()
        #expect(ExposureCheck.refusal(host: "0.0.0.0", auth: auth) != nil)
        #expect(ExposureCheck.refusal(host: "127.0.0.1", auth: auth) == nil)
        auth.allowUnauthenticated = true
        #expect(ExposureCheck.refusal(host: "0.0.0.0", auth: auth) == nil)
        #expect(ExposureCheck.warning(host: "0.0.0.0", auth: auth) != nil)
        auth = AuthSettings()
        auth.masterKey = "0123456789abcdef"
        #expect(ExposureCheck.refusal(host: "0.0.0.0", auth: auth) == nil)
    }

    @Test func failedAttemptsAreThrottledPerAddressAndRecover() {
        let limiter = FailedAttemptLimiter(perSecond: 3)
        let t0: UInt64 = 5_000_000_000
        #expect(!limiter.isThrottling(nowNanos: t0))
        for _ in 0..<3 { limiter.noteFailure("10.0.0.1", nowNanos: t0) }
        #expect(limiter.isThrottling(nowNanos: t0))
        #expect(limiter.isThrottled("10.0.0.1", nowNanos: t0))
        #expect(!limiter.isThrottled("10.0.0.2", nowNanos: t0), "another address is not affected")
        // One attempt comes back every 1/3 s.
        #expect(limiter.isThrottled("10.0.0.1", nowNanos: t0 + 300_000_000))
        #expect(!limiter.isThrottled("10.0.0.1", nowNanos: t0 + 340_000_000))
        #expect(!limiter.isThrottling(nowNanos: t0 + 2_000_000_000))
    }

    @Test func failedAttemptTableStaysBounded() {
        let limiter = FailedAttemptLimiter(perSecond: 1000)
        for i in 0..<(FailedAttemptLimiter.maxAddresses + 100) { limiter.noteFailure("a\(i)", nowNanos: 1) }
        // Past the bound new addresses share the overflow bucket rather than growing the table.
        #expect(limiter.isThrottled("new", nowNanos: 1) == false)
    }

    @Test func credentialsComeFromBearerOrXAPIKey() throws {
        func head(_ fields: [(String, String)]) -> HTTPRequestHead {
            var headers = HTTPHeaders()
            for (n, v) in fields { headers.append(n, v) }
            return HTTPRequestHead(method: "GET", target: "/v1/models", path: "/v1/models", query: nil, versionMinor: 1,
                                   headers: headers, keepAlive: true, expectsContinue: false)
        }
        #expect(AccessGate.credential(head([("Authorization", "Bearer ug-abc")])) == "ug-abc")
        #expect(AccessGate.credential(head([("authorization", "bearer   ug-abc  ")])) == "ug-abc")
        #expect(AccessGate.credential(head([("x-api-key", "ug-xyz")])) == "ug-xyz")
        #expect(AccessGate.credential(head([("Authorization", "Basic dTpw")])) == nil)
        #expect(AccessGate.credential(head([("Authorization", "Bearer ")])) == nil)
        #expect(AccessGate.credential(head([])) == nil)
        #expect(AccessGate.credential(head([("AUTHORIZATION", "BEARER ug-abc"), ("Authorizatio", "x")])) == "ug-abc")
        #expect(AccessGate.credential(head([("X-Api-Key", "\tug-xyz\t")])) == "ug-xyz")
        #expect(AccessGate.credential(head([("x-api-keys", "ug-xyz"), ("x~api-key", "ug-xyz")])) == nil)
        #expect(AccessGate.credential(head([("Authorization", "Bearerug-abc")])) == nil, "the scheme needs its blank")
        #expect(AccessGate.presented(head([("authorization", "Bearer a"), ("Authorization", "Bearer b")])).repeated)
        #expect(AccessGate.presented(head([("Authorization", "Bearer ug-a"), ("x-api-key", "ug-b")])).repeated,
                "two different keys in the two fields")
        #expect(!AccessGate.presented(head([("Authorization", "Bearer ug-a"), ("x-api-key", " ug-a")])).repeated,
                "the same key in both fields")
        #expect(AccessGate.credential(head([("x-api-key", "ug-a"), ("Authorization", "bearer ug-a")])) == "ug-a")
    }

    /// The gate hashes the key in place into a `KeyHash`: the same digest as SHA-256 of the key,
    /// so the stored hashes (made with `SHA256.hash`) match.
    @Test func keyHashesAreTheKeysSHA256() throws {
        let secret = VirtualKeySecret.generate()
        let digest = SHA256.hash(secret)
        #expect(KeyHash(digestOf: secret) == KeyHash(digest))
        #expect(try #require(KeyHash(digest)).bytes == digest)
        #expect(KeyHash(digestOf: secret + "x") != KeyHash(digest))
    }

    /// Key-like text is found wherever a client puts it, and nothing else is taken for a key.
    @Test func keyLikeTextIsFoundAndRedacted() {
        let secret = VirtualKeySecret.generate()
        let bare = String(secret.dropFirst(3))
        #expect(KeyLikeText.contains(secret) && KeyLikeText.contains("fa/" + secret) && KeyLikeText.contains("x " + bare + "."))
        #expect(KeyLikeText.contains("UG-" + String(repeating: "a", count: 16)))
        #expect(!KeyLikeText.contains("ug-" + String(repeating: "a", count: 15)))
        #expect(!KeyLikeText.contains("gpt-4o-mini") && !KeyLikeText.contains("openai/gpt-4.1-2025-04-14"))
        #expect(!KeyLikeText.contains("resp_" + String(repeating: "0f", count: 24)), "a response id is not a key")
        #expect(!KeyLikeText.contains(String(repeating: "a", count: 44)) && !KeyLikeText.contains(String(repeating: "a", count: 42)))
        let text = "Invalid URL (GET /\(secret)) and \(bare), twice: \(secret)"
        let redacted = KeyLikeText.redacted(text)
        #expect(!redacted.contains(bare) && redacted.hasPrefix("Invalid URL (GET /ug-…") && redacted.hasSuffix("not repeated)"))
        #expect(KeyLikeText.redacted("nothing here") == "nothing here")
        // Errors never carry one, whoever builds them.
        var error = GatewayError.routeNotFound(method: "GET", path: "/" + secret)
        #expect(!error.message.contains(bare))
        error.message = "value `\(secret)` is not one of"
        error.param = "metadata." + bare
        #expect(!error.message.contains(bare) && error.param?.contains(bare) == false)
    }
}
