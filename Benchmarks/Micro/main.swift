// Micro-benchmarks of the cache-hit path's steps, in CPU time per operation (this thread only),
// so the figures hold up on a shared, noisy machine.
//   swift run -c release ultragate-microbench [iterations]
import Foundation
import UltraGateSupport
import UltraGateJSON
import UltraGateHTTP
import UltraGateCache
import UltraGateUpstream
import UltraGateProviders
import UltraGate

#if canImport(Glibc)
import Glibc
#endif

func threadCPUNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

@inline(never) func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

func measure(_ name: String, iterations: Int, _ body: () -> Void) {
    for _ in 0..<min(1000, iterations) { body() }  // warm up
    let start = threadCPUNanos()
    for _ in 0..<iterations { body() }
    let perOp = Double(threadCPUNanos() - start) / Double(iterations) / 1000
    print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%8.2f µs", perOp))
}

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 20000 : 20000
let filler = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 36)
let requestText = #"{"model":"mock-gpt","temperature":0.2,"messages":[{"role":"system","content":"You are a benchmark. \#(filler)"},{"role":"user","content":"Answer from the cache, please."}]}"#
let bodyBytes = Array(requestText.utf8)
let rawRequest = Array("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nAccept: */*\r\nContent-Type: application/json\r\nContent-Length: \(bodyBytes.count)\r\n\r\n".utf8) + bodyBytes
print("request body: \(bodyBytes.count) bytes, \(iterations) iterations")

measure("HTTP parse (head + body)", iterations: iterations) {
    var parser = HTTPRequestParser()
    parser.append(rawRequest)
    blackHole(parser.next())
}
measure("JSON parse", iterations: iterations) { blackHole(try! JSONParser.parse(bodyBytes)) }
let json = try! JSONParser.parse(bodyBytes)
measure("validate", iterations: iterations) { blackHole(ChatRequestValidator.validate(json)) }
let object = json.objectValue!
measure("cache key (canonical JSON + SHA-256)", iterations: iterations) {
    blackHole(CacheKey.make(namespace: "default", route: "mock/mock-gpt", request: object))
}
measure("SHA-256 of the raw body (repeat fast path)", iterations: iterations) { blackHole(SHA256.hash(bodyBytes)) }

let dir = NSTemporaryDirectory() + "ultragate-microbench-\(getpid())"
let cache = try! ResponseCache(ResponseCacheConfig(directory: dir, maxBytes: 64 << 20))
let key = CacheKey.make(namespace: "default", route: "mock/mock-gpt", request: object)
let stored = try! MockProvider().completion(for: ["model": "mock-gpt", "messages": object["messages"]!])
let storedBytes = JSONWriter.serialize(.object(stored))
let semaphore = DispatchSemaphore(value: 0)
Task.detached {
    await cache.store(key, CachedResponse(createdAt: Date().timeIntervalSince1970, expiresAt: .infinity, model: "mock-gpt",
                                          provider: "mock", promptTokens: 1, completionTokens: 1, cachedTokens: 0,
                                          upstreamLatencyMs: 1, body: storedBytes))
    semaphore.signal()
}
semaphore.wait()
measure("LMDB lookup (hit, \(storedBytes.count) B value)", iterations: iterations) {
    blackHole(cache.lookup(key, now: Date().timeIntervalSince1970))
}
measure("response head serialize", iterations: iterations) {
    var out: [UInt8] = []
    out.reserveCapacity(2048)
    HTTPResponseHead.serialize(status: 200, headers: [HTTPHeaderField("X-Request-Id", "req_abc_1"), HTTPHeaderField("X-Cache", "HIT"),
                                                      HTTPHeaderField("X-UltraGate-Model", "mock-gpt"), HTTPHeaderField("Age", "3"),
                                                      HTTPHeaderField("Content-Type", "application/json"),
                                                      HTTPHeaderField("Server-Timing", "cache;dur=0.001, total;dur=0.012")],
                               contentLength: storedBytes.count, chunked: false, keepAlive: true, date: "Thu, 26 Nov 2026 02:02:35 GMT", into: &out)
    out.append(contentsOf: storedBytes)
    blackHole(out)
}
cache.close()
try? FileManager.default.removeItem(atPath: dir)

// Virtual keys: what the access gate does per keyed request (target < 1 µs for the key check).
let keysDir = NSTemporaryDirectory() + "ultragate-microbench-keys-\(getpid())"
var keyOptions = LMDBKeyStore.Options()
keyOptions.background = false
let keyStore = try! LMDBKeyStore(directory: keysDir, mapSize: 16 << 20, options: keyOptions)
var secrets: [String] = []
for i in 0..<100 { secrets.append(try! keyStore.create(["name": .string("bench-\(i)"), "budget_usd": 100]).secret) }
let presented = secrets[57]
let presentedHash = SHA256.hash(presented)
let periodStart = keyStore.key(named: "bench-57")!.budgetWindow(now: Date().timeIntervalSince1970)!.start
measure("key check (SHA-256 + lookup, 100 keys)", iterations: iterations) {
    blackHole(keyStore.key(hash: SHA256.hash(presented)))
}
measure("key lookup by hash alone", iterations: iterations) { blackHole(keyStore.key(hash: presentedHash)) }
measure("key spend (budget check)", iterations: iterations) { blackHole(keyStore.spend(name: "bench-57", periodStart: periodStart)) }
var usageEvent = KeyUsageEvent(name: "bench-57", model: "mock-gpt", at: Date().timeIntervalSince1970)
usageEvent.costUSD = 0.001
measure("key usage record", iterations: iterations) { keyStore.record(usageEvent) }
// The whole gate, as a keyed hit pays it: authenticate (header, SHA-256, lookup, expiry), then
// admit (model list, budget, rpm and tpm buckets, rate-limit fields) and finished (book, release).
var gateSettings = AuthSettings()
gateSettings.masterKey = "microbench-master-key-0123456789"
let gate = AccessGate(settings: gateSettings, store: keyStore)
_ = try! keyStore.update(name: "bench-57", ["rpm": .int(1_000_000_000), "tpm": .int(1_000_000_000), "models": ["mock-*"]])
var gateHeaders = HTTPHeaders()
gateHeaders.append("Authorization", "Bearer \(presented)")
let gateHead = HTTPRequestHead(method: "POST", target: "/v1/chat/completions", path: "/v1/chat/completions", query: nil,
                               versionMinor: 1, headers: gateHeaders, keepAlive: true, expectsContinue: false)
let authenticated = RequestContext(id: "r", startNanos: 0)
measure("access gate: authenticate", iterations: iterations) {
    blackHole(gate.authenticate(gateHead, endpoint: .chatCompletions, into: authenticated, clientAddress: nil))
}
measure("access gate: authenticate + admit + finished", iterations: iterations) {
    let context = RequestContext(id: "r", startNanos: 0, cacheNamespace: "default")
    _ = gate.authenticate(gateHead, endpoint: .chatCompletions, into: context, clientAddress: nil)
    blackHole(gate.admit(context, model: "mock-gpt", estimatedTokens: 0))
    context.savedUSD = 0
    gate.finished(context)
}
// The same for a plain key (no model list, budget or limits), as `Benchmarks/auth-overhead.sh` uses.
let plainSecret = try! keyStore.create(["name": "plain", "team": "perf"]).secret
var plainHeaders = HTTPHeaders()
plainHeaders.append("Host", "127.0.0.1:8080")
plainHeaders.append("Content-Type", "application/json")
plainHeaders.append("Content-Length", "120")
plainHeaders.append("Authorization", "Bearer \(plainSecret)")
let plainHead = HTTPRequestHead(method: "POST", target: "/v1/chat/completions", path: "/v1/chat/completions", query: nil,
                                versionMinor: 1, headers: plainHeaders, keepAlive: true, expectsContinue: false)
// As a keyed request pays it on a new connection (`memo` nil) and on a connection whose last
// request presented the same key (the gateway keeps a `CredentialMemo` per connection).
func plainKeyRequest(memo: CredentialMemo?) {
    let context = RequestContext(id: "r", startNanos: 0, cacheNamespace: "default")
    if gate.authenticate(plainHead, endpoint: .chatCompletions, memo: memo, into: context, clientAddress: nil) == nil,
       let namespace = context.withKeyGrant({ $0.cacheNamespace(base: "default") }) {
        context.cacheNamespace = namespace
    }
    blackHole(gate.admit(context, model: "mock-gpt", estimatedTokens: 0))
    context.model = "mock-gpt"
    context.savedUSD = 0.001
    gate.book(context)
    gate.finished(context)
}
measure("access gate, plain key: authenticate + namespace + admit + book + finished", iterations: iterations) {
    plainKeyRequest(memo: nil)
}
let connectionMemo = CredentialMemo()
measure("the same, the connection's key remembered", iterations: iterations) { plainKeyRequest(memo: connectionMemo) }
measure("  of which authenticate", iterations: iterations) {
    blackHole(gate.authenticate(plainHead, endpoint: .chatCompletions, memo: connectionMemo, into: authenticated, clientAddress: nil))
}
measure("the same context without a key (what a request without auth pays)", iterations: iterations) {
    let context = RequestContext(id: "r", startNanos: 0, cacheNamespace: "default")
    blackHole(gate.admit(context, model: "mock-gpt", estimatedTokens: 0))
    context.model = "mock-gpt"
    context.savedUSD = 0.001
    gate.finished(context)
}
keyStore.close()
try? FileManager.default.removeItem(atPath: keysDir)
