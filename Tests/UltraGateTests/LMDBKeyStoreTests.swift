import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateCache
@testable import UltraGate

/// A key store directory under the temp dir with a hand-moved clock; stores opened here run no
/// background thread unless asked, so each test decides when refreshes and flushes happen.
private final class KeyStoreFixture {
    let directory = NSTemporaryDirectory() + "ug-keys-\(UUID().uuidString)"
    let time = LockedBox<Double>(1_767_225_600)  // 2026-01-01T00:00:00Z
    private var opened: [LMDBKeyStore] = []

    var clock: AccessClock {
        let time = self.time
        return AccessClock { time.value }
    }

    func open(background: Bool = false, flushInterval: Double = 0.5, refreshInterval: Double = 0.25) throws -> LMDBKeyStore {
        var options = LMDBKeyStore.Options()
        options.background = background
        options.clock = clock
        options.flushInterval = flushInterval
        options.refreshInterval = refreshInterval
        let store = try LMDBKeyStore(directory: directory, mapSize: 16 << 20, options: options)
        opened.append(store)
        return store
    }

    func advance(days: Double) { time.update { $0 += days * 86_400 } }

    deinit {
        for store in opened { store.close() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

private func event(_ name: String, model: String = "mock-gpt", at: Double, cost: Double, prompt: Int = 10, completion: Int = 5,
                   saved: Double = 0) -> KeyUsageEvent {
    var e = KeyUsageEvent(name: name, model: model, at: at)
    e.costUSD = cost
    e.promptTokens = prompt
    e.completionTokens = completion
    e.savedUSD = saved
    return e
}

@Suite struct LMDBKeyStoreTests {
    @Test func createListGetUpdateRevoke() throws {
        let fixture = KeyStoreFixture()
        let store = try fixture.open()
        let (key, secret) = try store.create(["name": "alice", "team": "red", "rpm": 60, "models": ["openai/*"]])
        #expect(secret.hasPrefix("ug-") && secret.count == 46)
        #expect(key.hint == String(secret.suffix(4)) && key.createdAt == fixture.time.value)
        #expect(store.key(hash: SHA256.hash(secret)) == key, "the creating store knows the key at once")
        #expect(store.key(hash: SHA256.hash(secret + "x")) == nil)
        _ = try store.create(["name": "bob"])
        #expect(try store.list().map(\.name) == ["alice", "bob"])
        #expect(try store.get(name: "alice") == key)

        let changed = try store.update(name: "alice", ["rpm": 5, "team": nil, "disabled": true])
        #expect(changed.rpm == 5 && changed.team == nil && changed.disabled && changed.models == ["openai/*"])
        #expect(store.key(hash: SHA256.hash(secret))?.rpm == 5)

        #expect(throws: KeyAdminError.exists("alice")) { try store.create(["name": "alice"]) }
        #expect(throws: KeyAdminError.notFound("carol")) { try store.update(name: "carol", ["rpm": 1]) }
        #expect(throws: KeyAdminError.invalid(KeySpecError("rpm", "must be a positive integer, not `0`"))) {
            try store.update(name: "alice", ["rpm": 0])
        }
        #expect(try store.get(name: "alice")?.rpm == 5, "a refused update changes nothing")

        try store.revoke(name: "alice")
        #expect(try store.get(name: "alice") == nil)
        #expect(store.key(hash: SHA256.hash(secret)) == nil)
        #expect(try store.list().map(\.name) == ["bob"])
        #expect(throws: KeyAdminError.notFound("alice")) { try store.revoke(name: "alice") }
    }

    /// Only the secret's SHA-256 reaches the disk: the LMDB file holds neither the secret nor its
    /// random part, yet the key is found again by its hash after a reopen.
    @Test func onlyTheHashOfTheSecretIsStored() throws {
        let fixture = KeyStoreFixture()
        var secrets: [String] = []
        do {
            let store = try fixture.open()
            for i in 0..<5 { secrets.append(try store.create(["name": .string("k\(i)"), "metadata": ["note": "x"]]).secret) }
            store.close()
        }
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture.directory + "/data.mdb")))
        for secret in secrets {
            #expect(!contains(data, Array(secret.utf8)))
            #expect(!contains(data, Array(secret.dropFirst(3).prefix(20).utf8)), "no part of the random text either")
            #expect(contains(data, SHA256.hash(secret)), "the hash is what is stored")
        }
        let reopened = try fixture.open()
        #expect(reopened.key(hash: SHA256.hash(secrets[3]))?.name == "k3")
    }

    /// Two stores on one directory (in one process they share the environment, as two processes
    /// share the file): a change made through one reaches the other at its next refresh, and not
    /// before, since the hot path reads memory only.
    @Test func changesReachAnotherStoreAtItsNextRefresh() throws {
        let fixture = KeyStoreFixture()
        let admin = try fixture.open()
        let gateway = try fixture.open()
        let (_, secret) = try admin.create(["name": "alice", "rpm": 10])
        let hash = SHA256.hash(secret)
        #expect(gateway.key(hash: hash) == nil)
        gateway.refresh()
        #expect(gateway.key(hash: hash)?.rpm == 10)

        _ = try admin.update(name: "alice", ["rpm": 20])
        #expect(gateway.key(hash: hash)?.rpm == 10)
        gateway.refresh()
        #expect(gateway.key(hash: hash)?.rpm == 20)

        try admin.revoke(name: "alice")
        gateway.refresh()
        #expect(gateway.key(hash: hash) == nil)
    }

    /// With its background thread, a store picks up another's change by itself.
    @Test func theBackgroundThreadRefreshes() async throws {
        let fixture = KeyStoreFixture()
        let admin = try fixture.open()
        let gateway = try fixture.open(background: true, refreshInterval: 0.05)
        let (_, secret) = try admin.create(["name": "alice"])
        #expect(try await eventually { gateway.key(hash: SHA256.hash(secret)) != nil })
        try admin.revoke(name: "alice")
        #expect(try await eventually { gateway.key(hash: SHA256.hash(secret)) == nil })
    }

    /// Spend is what is stored plus what this store has not written yet; two stores writing to
    /// one directory add up, and each sees the other's spend after a flush and a refresh.
    @Test func spendAddsUpAcrossStores() throws {
        let fixture = KeyStoreFixture()
        let a = try fixture.open()
        let b = try fixture.open()
        let key = try a.create(["name": "alice", "budget_usd": 100]).key
        b.refresh()
        let now = fixture.time.value
        let start = try #require(key.budgetWindow(now: now)).start
        for _ in 0..<3 { a.record(event("alice", at: now, cost: 1.25)) }
        #expect(a.spend(name: "alice", periodStart: start) == 3.75, "unwritten spend counts at once")
        #expect(b.spend(name: "alice", periodStart: start) == 0)
        a.flush()
        #expect(a.spend(name: "alice", periodStart: start) == 3.75, "no change once written")
        b.record(event("alice", at: now, cost: 2))
        b.flush()
        a.record(event("alice", model: "other", at: now, cost: 0.5))
        a.flush()
        a.refresh()
        b.refresh()
        #expect(a.spend(name: "alice", periodStart: start) == 6.25)
        #expect(b.spend(name: "alice", periodStart: start) == 6.25)

        let usage = try a.usage(name: "alice")
        #expect(usage.currentPeriod[""]?.requests == 5 && usage.allTime[""]?.requests == 5)
        #expect(usage.currentPeriod["mock-gpt"]?.spendUSD == 5.75 && usage.currentPeriod["other"]?.spendUSD == 0.5)
        #expect(usage.allTime[""]?.promptTokens == 50 && usage.allTime[""]?.completionTokens == 25)
    }

    /// What a store flushed survives it being dropped without `close` (as `kill -9` drops a
    /// process); what it had not flushed is lost, and nothing else.
    @Test func aCrashLosesOnlyWhatWasNotFlushed() throws {
        let fixture = KeyStoreFixture()
        let now = fixture.time.value
        do {
            let store = try fixture.open()
            _ = try store.create(["name": "alice", "budget_usd": 10])
            store.record(event("alice", at: now, cost: 1, saved: 0.25))
            store.record(event("alice", at: now, cost: 2))
            store.flush()
            store.record(event("alice", at: now, cost: 4))
            store.abandon()
        }
        let reopened = try fixture.open()
        let key = try #require(reopened.key(named: "alice"))
        #expect(reopened.spend(name: "alice", periodStart: try #require(key.budgetWindow(now: now)).start) == 3)
        let usage = try reopened.usage(name: "alice")
        #expect(usage.allTime[""]?.requests == 2 && usage.allTime[""]?.savedUSD == 0.25)
    }

    /// `close` writes what is pending: a clean shutdown loses nothing.
    @Test func closeWritesPendingSpend() throws {
        let fixture = KeyStoreFixture()
        let now = fixture.time.value
        do {
            let store = try fixture.open()
            _ = try store.create(["name": "alice"])
            store.record(event("alice", at: now, cost: 1.5))
            store.close()
        }
        #expect(try fixture.open().usage(name: "alice").allTime[""]?.spendUSD == 1.5)
    }

    /// The background thread writes spend by itself, within its flush interval.
    @Test func theBackgroundThreadFlushes() async throws {
        let fixture = KeyStoreFixture()
        let now = fixture.time.value
        let writer = try fixture.open(background: true, flushInterval: 0.1, refreshInterval: 0.05)
        let reader = try fixture.open()
        _ = try writer.create(["name": "alice"])
        writer.record(event("alice", at: now, cost: 3))
        #expect(try await eventually {
            reader.refresh()
            return (try? reader.usage(name: "alice").allTime[""]?.spendUSD) == 3
        })
    }

    /// Budget windows roll: `Nd` windows count from the key's creation, `monthly` is the calendar
    /// month; spend of one window is not spend of the next, and all-time usage keeps both.
    @Test func budgetWindowsRoll() throws {
        let fixture = KeyStoreFixture()
        fixture.advance(days: 0.5)
        let store = try fixture.open()
        let weekly = try store.create(["name": "weekly", "budget_usd": 10, "budget_period": "7d"]).key
        let monthly = try store.create(["name": "monthly", "budget_usd": 10]).key
        fixture.advance(days: 1)
        var now = fixture.time.value
        let firstWeek = try #require(weekly.budgetWindow(now: now))
        #expect(firstWeek.start == weekly.createdAt && firstWeek.end == weekly.createdAt + 7 * 86_400)
        #expect(try #require(monthly.budgetWindow(now: now)).start == 1_767_225_600, "January 2026 in UTC")
        store.record(event("weekly", at: now, cost: 2))
        store.record(event("monthly", at: now, cost: 2))
        store.flush()

        fixture.advance(days: 7)
        now = fixture.time.value
        let secondWeek = try #require(weekly.budgetWindow(now: now))
        #expect(secondWeek.start == firstWeek.end)
        #expect(store.spend(name: "weekly", periodStart: secondWeek.start) == 0)
        #expect(store.spend(name: "weekly", periodStart: firstWeek.start) == 2)
        #expect(store.spend(name: "monthly", periodStart: try #require(monthly.budgetWindow(now: now)).start) == 2, "still January")
        store.record(event("weekly", at: now, cost: 1))
        #expect(store.spend(name: "weekly", periodStart: secondWeek.start) == 1)
        store.flush()
        store.refresh()
        #expect(store.spend(name: "weekly", periodStart: secondWeek.start) == 1)

        fixture.advance(days: 31)
        let february = try #require(monthly.budgetWindow(now: fixture.time.value))
        #expect(february.start == 1_769_904_000, "February 2026 in UTC")
        #expect(store.spend(name: "monthly", periodStart: february.start) == 0)

        let usage = try store.usage(name: "weekly")
        #expect(usage.allTime[""]?.spendUSD == 3 && usage.currentPeriod[""] == nil)
    }

    /// `monthly` is the calendar month in UTC, December rolling into the next year.
    @Test func monthlyWindowsAreCalendarMonthsInUTC() {
        let december = BudgetPeriod.monthly.window(containing: 1_797_465_600, anchor: 0)  // 2026-12-17T00:00:00Z
        #expect(december.start == 1_796_083_200 && december.end == 1_798_761_600)  // 2026-12-01, 2027-01-01
        let leap = BudgetPeriod.monthly.window(containing: 1_709_164_800, anchor: 0)  // 2024-02-29T00:00:00Z
        #expect(leap.start == 1_706_745_600 && leap.end == 1_709_251_200)  // 2024-02-01, 2024-03-01
        #expect(BudgetPeriod.monthly.window(containing: 1_798_761_600, anchor: 0).start == 1_798_761_600, "a boundary begins its month")
    }

    /// Usage of a key revoked before its usage was written is dropped, never booked on a new key
    /// given the same name; revoking also deletes the key's stored usage.
    @Test func revokedKeysUsageIsNotInherited() throws {
        let fixture = KeyStoreFixture()
        let now = fixture.time.value
        let gateway = try fixture.open()
        let admin = try fixture.open()
        _ = try admin.create(["name": "alice"])
        gateway.refresh()
        gateway.record(event("alice", at: now, cost: 1))
        gateway.flush()
        gateway.record(event("alice", at: now, cost: 2))
        try admin.revoke(name: "alice")
        _ = try admin.create(["name": "alice"])
        gateway.flush()
        gateway.refresh()
        #expect(try admin.usage(name: "alice").allTime[""] == nil)
        #expect(try gateway.usage(name: "alice").allTime[""] == nil)
    }

    /// Usage is added to the key's tally and becomes rows when written: usage of two windows
    /// recorded between two flushes lands in each window's rows, and usage booked through a grant
    /// that a reload has replaced (a key changed meanwhile) is still written and counted.
    @Test func talliesKeepWindowsApartAndSurviveAReload() throws {
        let fixture = KeyStoreFixture()
        let store = try fixture.open()
        let key = try store.create(["name": "alice", "budget_usd": 100, "budget_period": "1d"]).key
        let oldGrant = try #require(store.grant(hash: key.secretHash))
        let day1 = fixture.time.value
        store.record(event("alice", at: day1, cost: 1), grant: oldGrant)
        fixture.advance(days: 1)
        let day2 = fixture.time.value
        store.record(event("alice", model: "other", at: day2, cost: 2), grant: oldGrant)
        let first = try #require(key.budgetWindow(now: day1)).start
        let second = try #require(key.budgetWindow(now: day2)).start
        #expect(store.spend(name: "alice", periodStart: first) == 1 && store.spend(name: "alice", periodStart: second) == 2,
                "unwritten spend of both windows counts")
        _ = try store.update(name: "alice", ["team": "red"])  // a new snapshot, new grants
        store.refresh()
        #expect(store.grant(hash: key.secretHash) !== oldGrant)
        store.record(event("alice", at: day2, cost: 4), grant: oldGrant)  // a request admitted before the reload
        store.record(event("alice", at: day2, cost: 8))
        #expect(store.spend(name: "alice", periodStart: second) == 10, "the old grant's usage after the reload counts once written")
        store.flush()
        #expect(store.spend(name: "alice", periodStart: first) == 1 && store.spend(name: "alice", periodStart: second) == 14)
        let usage = try store.usage(name: "alice")
        #expect(usage.allTime[""]?.requests == 4 && usage.allTime[""]?.spendUSD == 15)
        #expect(usage.currentPeriod["other"]?.spendUSD == 2 && usage.currentPeriod["mock-gpt"]?.spendUSD == 12)
    }

    /// Usage not yet written is in the report of the store that recorded it.
    @Test func usageIncludesUnwrittenUsage() throws {
        let fixture = KeyStoreFixture()
        let store = try fixture.open()
        _ = try store.create(["name": "alice", "budget_usd": 5, "budget_period": "1d"])
        store.record(event("alice", model: "a", at: fixture.time.value, cost: 1))
        store.flush()
        store.record(event("alice", model: "b", at: fixture.time.value, cost: 0.5))
        let report = try store.usage(name: "alice")
        #expect(report.currentPeriod["a"]?.spendUSD == 1 && report.currentPeriod["b"]?.spendUSD == 0.5)
        #expect(report.spendUSD == 1.5)
        let json = report.json
        #expect(json["period"]?["remaining_usd"] == .double(3.5))
        #expect(json["period"]?["end"]?.intValue == Int(fixture.time.value) + 86_400)
        #expect(json["current_period"]?["models"]?["b"]?["requests"] == 1)
        #expect(json["all_time"]?["requests"] == 2)
    }

    @Test func storedRowsRoundTrip() {
        var counters = KeyUsageCounters()
        counters.requests = 3
        counters.promptTokens = 1 << 40
        counters.completionTokens = 7
        counters.spendUSD = 0.125
        counters.savedUSD = 1e-9
        let encoded = counters.encoded
        #expect(encoded.count == 40)
        #expect(encoded.withUnsafeBytes { KeyUsageCounters(decoding: $0) } == counters)
        #expect([UInt8](repeating: 0, count: 39).withUnsafeBytes { KeyUsageCounters(decoding: $0) } == nil)
        let row = KeyUsageRow(name: "a", windowStart: 1_767_225_600, model: "openai/gpt-4o")
        let prefix = KeyUsageRow.prefix(name: "a", windowStart: 1_767_225_600)
        #expect(Array(row.encoded.prefix(prefix.count)) == prefix)
        #expect(row.encoded.withUnsafeBytes { KeyUsageRow.model(of: $0, prefixLength: prefix.count) } == "openai/gpt-4o")
        #expect(!KeyUsageRow.prefix(name: "a", windowStart: nil).starts(with: KeyUsageRow.keyPrefix("ab")))
    }

    @Test func secretsAreBase64URLOf256RandomBits() {
        let secrets = (0..<50).map { _ in VirtualKeySecret.generate() }
        #expect(Set(secrets).count == 50)
        for secret in secrets {
            #expect(secret.count == 46 && secret.hasPrefix("ug-"))
            #expect(secret.dropFirst(3).allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        }
        #expect(VirtualKeySecret.base64URL([0xFB, 0xFF]) == "-_8")
    }

    /// `ULTRAGATE_TEST_TIME_OFFSET_SECONDS` shifts the access clock, and nothing when unset or bad.
    @Test func clockOffsetFromTheEnvironment() {
        let real = Clock.wallNow()
        #expect(abs(AccessClock(environment: [AccessClock.offsetVariable: "86400"]).now() - real - 86_400) < 60)
        #expect(abs(AccessClock(environment: [AccessClock.offsetVariable: "soon"]).now() - real) < 60)
        #expect(abs(AccessClock(environment: [:]).now() - real) < 60)
    }
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    let first = needle[0]
    var i = 0
    while i <= haystack.count - needle.count {
        if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
        i += 1
    }
    return false
}

/// Polls `condition` every 10 ms until it holds; false after `timeout` seconds (a generous bound,
/// not a measurement).
private func eventually(timeout: Double = 10, _ condition: @escaping @Sendable () throws -> Bool) async throws -> Bool {
    let deadline = Clock.wallNow() + timeout
    while Clock.wallNow() < deadline {
        if try condition() { return true }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
    return try condition()
}
