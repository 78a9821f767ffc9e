import UltraGateCache
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Decides who a request comes from and whether it may go on: run by the gateway before any
/// front (`authenticate`), then by each front once it knows the model and the size of the call
/// (`admit`), and told when the request is done (`finished`) to book usage and release limits.
///
/// Keys are compared by their SHA-256: the presented key is hashed once, then looked up among the
/// master key's, the metrics key's and the virtual keys' hashes, so no comparison runs on the
/// secret itself and its timing says nothing about it.
package final class AccessGate: @unchecked Sendable {
    package let settings: AuthSettings
    package let store: (any KeyStore)?
    package let metrics: KeyMetrics?
    package let clock: AccessClock
    private let masterHash: KeyHash?
    private let metricsHash: KeyHash?
    private let limiter = KeyLimiter()
    private let failures: FailedAttemptLimiter
    /// Whether `book` adds to the usage metrics (else the store's process totals feed them).
    private let countsUsageMetrics: Bool

    package init(settings: AuthSettings = AuthSettings(), store: (any KeyStore)? = nil, metrics: KeyMetrics? = nil,
                 clock: AccessClock = .system) {
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.clock = clock
        // A store that keeps what this process booked per key feeds the usage metrics: a
        // request's booking is then one update under its lock.
        if let metrics, let store, store.processUsage() != nil {
            metrics.readUsage { store.processUsage() ?? [] }
            countsUsageMetrics = false
        } else {
            countsUsageMetrics = true
        }
        masterHash = settings.masterKey.map { KeyHash(digestOf: $0) }
        metricsHash = settings.metricsKey.map { KeyHash(digestOf: $0) }
        failures = FailedAttemptLimiter(perSecond: settings.failedAttemptsPerSecond)
    }

    /// Whether clients must authenticate (a master key is set).
    package var isEnabled: Bool { masterHash != nil }

    // MARK: Authentication

    /// Notes in `context` who sent the request (`RequestContext.authenticated(as:)`); an error
    /// (401, 403, 429) when it may not reach `endpoint`. `clientAddress` is asked only when failed
    /// attempts are being throttled, or one just failed. `memo` is what this gate remembers of the
    /// connection's last key (`CredentialMemo`).
    package func authenticate(_ head: HTTPRequestHead, endpoint: Endpoint, memo: CredentialMemo? = nil, into context: RequestContext,
                              clientAddress: @autoclosure () -> String?) -> GatewayError? {
        switch caller(of: head, endpoint: endpoint, memo: memo, clientAddress: clientAddress()) {
        case .open: return nil  // what a new context says already
        case .caller(let caller):
            context.authenticated(as: caller)
            return nil
        case .refused(let error): return error
        }
    }

    /// What `authenticate` found: not generic (a `Result` is copied through value witnesses).
    private enum Outcome {
        case open
        case caller(Caller)
        case refused(GatewayError)
    }

    private func caller(of head: HTTPRequestHead, endpoint: Endpoint, memo: CredentialMemo?,
                        clientAddress: @autoclosure () -> String?) -> Outcome {
        var rule = endpoint.access
        // A wrong method or unknown path under /admin is the admin API's business: a virtual key
        // learns nothing there (not even which methods a path takes).
        switch endpoint {
        case .notFound, .methodNotAllowed: if head.path.hasPrefix("/admin") { rule = .masterOnly }
        default: break
        }
        guard isEnabled else {
            return rule == .masterOnly ? .refused(AccessGate.adminNeedsMasterKey) : .open
        }
        if rule == .open { return .open }
        // The clock is read only while some address is throttled, or when an attempt fails.
        var nowNanos: UInt64 = 0
        var address: String??
        if failures.mayBeThrottling {
            nowNanos = Clock.nanos()
        }
        if nowNanos != 0, failures.isThrottling(nowNanos: nowNanos) {
            address = .some(clientAddress())
            if let a = address!, failures.isThrottled(a, nowNanos: nowNanos) {
                metrics?.recordAuthFailure(.throttled)
                return .refused(AccessGate.throttled(retryAfter: failures.retryAfter))
            }
        }
        let presented = AccessGate.presented(head)
        if presented.repeated { return .refused(AccessGate.repeatedCredentials) }
        guard let hash = AccessGate.keyHash(presented, in: head.headers.fields, memo: memo) else {
            metrics?.recordAuthFailure(.missing)
            return .refused(AccessGate.invalidKey)
        }
        if hash == masterHash { return .caller(.master) }
        if hash == metricsHash {
            guard rule == .metricsReaders else { return .refused(forbidden("The metrics key may only read /metrics, /v1/stats and /health?deep=1.")) }
            return .caller(.metricsReader)
        }
        guard let grant = grant(hash: hash, memo: memo), !grant.key.disabled,
              grant.key.expiresAt.map({ clock.now() < $0 }) ?? true else {
            // Revoked, disabled, expired and unknown keys look the same from outside.
            metrics?.recordAuthFailure(.invalid)
            failures.noteFailure(address.map { $0 } ?? clientAddress(), nowNanos: nowNanos == 0 ? Clock.nanos() : nowNanos)
            return .refused(AccessGate.invalidKey)
        }
        switch rule {
        case .anyKey, .open: return .caller(.key(grant))
        case .metricsReaders: return .refused(forbidden("Virtual keys may not read /metrics, /v1/stats or /health?deep=1; use the metrics key."))
        case .masterOnly: return .refused(forbidden("The admin API needs the master key."))
        }
    }

    /// The store's grant for `hash`, from `memo` (which remembers `hash`) while the store's
    /// grants are those it remembers.
    private func grant(hash: KeyHash, memo: CredentialMemo?) -> KeyGrant? {
        guard let memo, let version = store?.grantsVersion else { return store?.grant(hash: hash) }
        if let remembered = memo.grant(for: hash, version: version) { return remembered }
        let grant = store?.grant(hash: hash)
        if let grant { memo.remember(grant, for: hash, version: version) }
        return grant
    }

    private func forbidden(_ message: String) -> GatewayError {
        metrics?.recordAuthFailure(.forbidden)
        return GatewayError(status: 403, type: "permission_error", message: message, code: "forbidden",
                            headers: [AccessGate.noRetry])
    }

    /// The key a request presents: `Authorization: Bearer <key>` (OpenAI clients) or
    /// `x-api-key: <key>` (Anthropic clients).
    package static func credential(_ head: HTTPRequestHead) -> String? {
        withToken(of: presented(head), in: head.headers.fields) { String(decoding: $0, as: UTF8.self) }
    }

    /// Where the key a request presents is: the index in `head.headers.fields` of its
    /// `Authorization` field when it has one, else of its `x-api-key` field (`bearer` says which),
    /// and whether it presents more than one key: two `Authorization` (or two `x-api-key`) fields,
    /// or both fields with different keys, are refused, since a proxy in front may read another
    /// one than the gateway does. Both fields with the same key pass (some clients send both).
    /// Read where the parser noted the fields, else in one pass over them.
    package static func presented(_ head: HTTPRequestHead) -> (field: Int?, bearer: Bool, repeated: Bool) {
        var authorization: Int?, apiKey: Int?
        var repeated = false
        let fields = head.headers.fields
        if let noted = head.credentialFields,
           noted.authorization.map({ $0 < fields.count && fields[$0].name.utf8.count == 13 }) ?? true,
           noted.apiKey.map({ $0 < fields.count && fields[$0].name.utf8.count == 9 }) ?? true {
            // Found by the parser: no scan.
            (authorization, apiKey, repeated) = (noted.authorization, noted.apiKey, noted.repeated)
        } else {
            (authorization, apiKey, repeated) = scan(fields)
        }
        guard let authorization else { return (apiKey, false, repeated) }
        if let apiKey, !repeated {  // rare: the two keys as strings, compared once
            let viaAuthorization = withToken(of: (authorization, true, false), in: fields) { String(decoding: $0, as: UTF8.self) }
            repeated = viaAuthorization != withToken(of: (apiKey, false, false), in: fields) { String(decoding: $0, as: UTF8.self) }
        }
        return (authorization, true, repeated)
    }

    /// The indices of the first `Authorization` and `x-api-key` fields, and whether either
    /// repeats: for a head the parser did not make.
    private static func scan(_ fields: [HTTPHeaderField]) -> (authorization: Int?, apiKey: Int?, repeated: Bool) {
        var authorization: Int?, apiKey: Int?
        var repeated = false
        for (i, field) in fields.enumerated() {
            // The length first, here: most fields are neither, and this runs over every field.
            let length = field.name.utf8.count
            if length == 13, HTTPSyntax.isFieldName(field.name, "authorization") {
                if authorization != nil { repeated = true } else { authorization = i }
            } else if length == 9, HTTPSyntax.isFieldName(field.name, "x-api-key") {
                if apiKey != nil { repeated = true } else { apiKey = i }
            }
        }
        return (authorization, apiKey, repeated)
    }

    /// `body` on the key's bytes in the presented field (see `tokenRange`); nil when there is no
    /// field or no key in it.
    private static func withToken<T>(of presented: (field: Int?, bearer: Bool, repeated: Bool), in fields: [HTTPHeaderField],
                                     _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T? {
        guard let field = presented.field else { return nil }
        return withValue(of: fields[field]) { value in
            tokenRange(in: value, bearer: presented.bearer).map { body(UnsafeBufferPointer(rebasing: value[$0])) }
        }
    }

    /// `body` on a field's value as bytes, read in place: this runs on every request.
    private static func withValue<T>(of field: HTTPHeaderField, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        if let done = field.value.utf8.withContiguousStorageIfAvailable(body) { return done }
        var value = field.value  // not stored as UTF-8 in one piece (not made by the parser)
        return value.withUTF8(body)
    }

    /// Where the key is in a presented field's value: without surrounding blanks and, for
    /// `Authorization` (`bearer`), without the `Bearer ` scheme (in any case); nil when the scheme
    /// differs or nothing is left.
    static func tokenRange(in bytes: UnsafeBufferPointer<UInt8>, bearer: Bool) -> Range<Int>? {
        let scheme: StaticString = "bearer "
        var start = 0, end = bytes.count
        func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        while start < end, isBlank(bytes[start]) { start += 1 }
        if bearer {
            let n = scheme.utf8CodeUnitCount
            guard end - start > n else { return nil }
            for i in 0..<n {
                let b = bytes[start + i]
                if (b &- 0x41 < 26 ? b | 0x20 : b) != scheme.utf8Start[i] { return nil }  // ASCII lower case
            }
            start += n
            while start < end, isBlank(bytes[start]) { start += 1 }
        }
        while end > start, isBlank(bytes[end - 1]) { end -= 1 }
        return start < end ? start..<end : nil
    }

    /// The SHA-256 of the key in the presented field, nil when it holds none. With the
    /// connection's `memo`, a field whose value is the one presented last is not read again.
    private static func keyHash(_ presented: (field: Int?, bearer: Bool, repeated: Bool), in fields: [HTTPHeaderField],
                                memo: CredentialMemo?) -> KeyHash? {
        guard let field = presented.field else { return nil }
        return withValue(of: fields[field]) { value -> KeyHash? in
            func digest(_ value: UnsafeBufferPointer<UInt8>) -> KeyHash? {
                tokenRange(in: value, bearer: presented.bearer).map { KeyHash(digestOf: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: value[$0]))) }
            }
            guard let memo else { return digest(value) }
            return memo.hash(ofField: value, bearer: presented.bearer, digest)
        }
    }

    // MARK: Admission

    /// Whether the caller may ask `model` for a call of about `estimatedTokens` (prompt plus the
    /// output reservation) now; sets `context.rateLimitHeaders` and takes what the call holds (a
    /// request, the token reservation, a parallel slot) until `finished`. Nil: go on.
    package func admit(_ context: RequestContext, model: String, estimatedTokens: Int) -> GatewayError? {
        guard context.admission == nil else { return nil }
        return context.withKeyGrant { admit(context, grant: $0, model: model, estimatedTokens: estimatedTokens) } ?? nil
    }

    private func admit(_ context: RequestContext, grant: KeyGrant, model: String, estimatedTokens: Int) -> GatewayError? {
        // Read through `grant` (a plain key with no list, budget or limits copies nothing).
        if grant.restrictsModels, !grant.key.allows(model: model) {
            if let metrics { grant.metricHandles(in: metrics).refusals[.model]?.increment() }
            return AccessGate.modelNotAllowed(model)
        }
        if let budget = grant.key.budgetUSD, let window = grant.key.budgetWindow(now: clock.now()),
           let store, store.spend(name: grant.name, periodStart: window.start) >= budget {
            if let metrics { grant.metricHandles(in: metrics).refusals[.budget]?.increment() }
            return AccessGate.budgetSpent(key: grant.key, budget: budget, resetsAt: window.end)
        }
        // A key without rate limits takes nothing from the limiter (and gives nothing back).
        guard grant.hasRateLimits else {
            context.admission = KeyAdmission(reservedTokens: estimatedTokens, limits: nil)
            return nil
        }
        let key = grant.key
        let now = Double(Clock.nanos()) / 1e9
        switch limiter.admit(key, tokens: estimatedTokens, now: now) {
        case .admitted(let headers, let state):
            context.rateLimitHeaders = headers
            context.admission = KeyAdmission(reservedTokens: estimatedTokens, limits: state)
            return nil
        case .refused(let reason, let retryAfter, let headers):
            context.rateLimitHeaders = headers
            if let metrics { grant.metricHandles(in: metrics).refusals[reason]?.increment() }
            return AccessGate.rateLimited(reason, key: key, retryAfter: retryAfter)
        }
    }

    /// Ends a request: books it (unless `book` already did) and releases what `admit` took.
    package func finished(_ context: RequestContext) {
        guard context.isKeyed else { return }
        book(context)
        if let admission = context.admission, admission.limits != nil {
            limiter.release(admission, usedTokens: context.chargedTokens, now: Double(Clock.nanos()) / 1e9)
        }
    }

    /// Books what a request used (tokens, cost, saved cost) against its key, once. Fronts call it
    /// as soon as the answer is known and before it is sent (`Gateway.noteFinished`), so a client
    /// that sends its next request on reading the answer finds the spend already booked; requests
    /// that end otherwise are booked by `finished`. Tokens are charged only for a call the request
    /// itself made upstream: a cache hit or a joined flight (`savedUSD` set) costs the key nothing
    /// and counts as saved.
    package func book(_ context: RequestContext) {
        guard context.isKeyed, !context.booked else { return }
        context.booked = true
        context.withKeyGrant { book(context, grant: $0) }
    }

    private func book(_ context: RequestContext, grant: KeyGrant) {
        let usage: KeyUsageCounters
        if let saved = context.savedUSD {
            usage = KeyUsageCounters(request: 0, 0, costUSD: 0, savedUSD: saved)
        } else {
            usage = KeyUsageCounters(request: context.promptTokens ?? 0, context.completionTokens ?? 0,
                                     costUSD: context.costUSD ?? 0, savedUSD: 0)
        }
        store?.record(usage, model: context.model ?? "", at: clock.now(), grant: grant)
        if countsUsageMetrics, let metrics {
            grant.withMetricHandles(in: metrics) { handles in
                handles.requests.increment()
                handles.promptTokens.increment(by: Int(clamping: usage.promptTokens))
                handles.completionTokens.increment(by: Int(clamping: usage.completionTokens))
                handles.spend.add(usage.spendUSD)
                handles.saved.add(usage.savedUSD)
            }
        }
    }

    // MARK: Errors

    /// Tells the official SDKs not to retry (they retry 429s and 5xx otherwise).
    private static let noRetry = HTTPHeaderField("x-should-retry", "false")

    /// One answer for a missing, unknown, revoked, disabled or expired key: which it was is not said.
    package static let invalidKey = GatewayError(
        status: 401, type: "invalid_request_error",
        message: "Invalid API key. Send a valid key as `Authorization: Bearer <key>` or `x-api-key: <key>`.",
        code: "invalid_api_key",
        headers: [HTTPHeaderField("WWW-Authenticate", "Bearer realm=\"ultragate\""), noRetry])

    package static let adminNeedsMasterKey = GatewayError(
        status: 403, type: "permission_error",
        message: "The admin API is off because no master key is set (auth.master_key or ULTRAGATE_MASTER_KEY); "
            + "manage keys with `ultragate keys` on the host instead.",
        code: "admin_disabled", headers: [noRetry])

    package static let repeatedCredentials = GatewayError(
        status: 400, type: "invalid_request_error",
        message: "Send one key, in one `Authorization` or one `x-api-key` header field (or the same key in both).",
        code: "repeated_credentials",
        headers: [noRetry])

    package static func throttled(retryAfter: Int) -> GatewayError {
        GatewayError(status: 429, type: "invalid_request_error",
                     message: "Too many failed authentication attempts from this address; try again later.",
                     code: "too_many_failed_attempts", headers: [HTTPHeaderField("Retry-After", String(retryAfter))])
    }

    package static func modelNotAllowed(_ model: String) -> GatewayError {
        GatewayError(status: 403, type: "permission_error",
                     message: "This key may not use the model \(GatewayError.quotedName(model)).", param: "model",
                     code: "model_not_allowed",
                     headers: [noRetry])
    }

    package static func budgetSpent(key: VirtualKey, budget: Double, resetsAt: Double) -> GatewayError {
        let reset = ISO8601Timestamp.format(secondsSince1970: resetsAt)
        return GatewayError(status: 429, type: "insufficient_quota",
                            message: "The key `\(key.name)` has used its budget of $\(budget) for this period; it resets at \(reset).",
                            code: "insufficient_quota", headers: [noRetry])
    }

    package static func rateLimited(_ reason: KeyMetrics.Refusal, key: VirtualKey, retryAfter: Double) -> GatewayError {
        let what: String
        let type: String
        switch reason {
        case .tpm: what = "tokens per minute (TPM): limit \(key.tpm ?? 0)"; type = "tokens"
        case .maxParallel: what = "parallel requests: limit \(key.maxParallel ?? 0)"; type = "requests"
        default: what = "requests per minute (RPM): limit \(key.rpm ?? 0)"; type = "requests"
        }
        let ms = max(1, Int(saturating: (retryAfter * 1000).rounded(.up)))
        return GatewayError(status: 429, type: type,
                            message: "Rate limit reached for key `\(key.name)` on \(what). Please try again in \(RateLimitHeaders.duration(retryAfter)).",
                            code: "rate_limit_exceeded",
                            headers: [HTTPHeaderField("Retry-After", String(max(1, Int(saturating: retryAfter.rounded(.up))))),
                                      HTTPHeaderField("retry-after-ms", String(ms))])
    }
}

/// What `AccessGate.admit` took for a request, given back by `finished`.
package struct KeyAdmission: Sendable {
    package let reservedTokens: Int
    /// The key's state in the limiter, which holds a slot and the reservation of this request
    /// (nil: the key has no rate limits, nothing is held).
    package let limits: KeyLimiter.State?
}
