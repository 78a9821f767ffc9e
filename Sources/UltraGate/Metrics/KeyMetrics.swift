import UltraGateJSON
import Foundation

/// Per-virtual-key metric families (labels: the key's `name` and `team`, never its secret) and the
/// per-key totals `/v1/stats` shows. Keys are created by the operator, so the label sets stay
/// bounded; handles are resolved once per key name and kept.
package final class KeyMetrics: @unchecked Sendable {
    /// Why a keyed request was refused before any work (the `reason` label).
    package enum Refusal: String, CaseIterable, Sendable {
        case model, rpm, tpm, maxParallel = "max_parallel", budget
    }

    /// Why an authentication failed (the `reason` label of `ultragate_auth_failures_total`).
    package enum AuthFailure: String, CaseIterable, Sendable {
        case missing, invalid, forbidden, throttled
    }

    package final class Handles: Sendable {
        package let name: String
        package let team: String
        package let requests: Counter
        package let promptTokens: Counter
        package let completionTokens: Counter
        package let spend: Counter
        package let saved: Counter
        package let refusals: [Refusal: Counter]

        init(name: String, team: String, families: KeyMetrics) {
            self.name = name
            self.team = team
            requests = families.requests.labels(name, team)
            promptTokens = families.tokens.labels(name, team, "prompt")
            completionTokens = families.tokens.labels(name, team, "completion")
            spend = families.spend.labels(name, team)
            saved = families.saved.labels(name, team)
            var refusals: [Refusal: Counter] = [:]
            for r in Refusal.allCases { refusals[r] = families.refused.labels(name, team, r.rawValue) }
            self.refusals = refusals
        }

        package var json: JSONObject {
            let refused = refusals.reduce(0) { $0 + Int($1.value.value) }
            return [
                "team": team.isEmpty ? .null : .string(team),
                "requests": .int(Int(requests.value)),
                "prompt_tokens": .int(Int(promptTokens.value)),
                "completion_tokens": .int(Int(completionTokens.value)),
                "spend_usd": .double(spend.value),
                "saved_usd": .double(saved.value),
                "rate_limited": .int(refused - Int(refusals[.budget]!.value) - Int(refusals[.model]!.value)),
                "budget_refused": .int(Int(refusals[.budget]!.value)),
                "model_refused": .int(Int(refusals[.model]!.value)),
            ]
        }
    }

    let requests: MetricFamily<Counter>
    let tokens: MetricFamily<Counter>
    let spend: MetricFamily<Counter>
    let saved: MetricFamily<Counter>
    let refused: MetricFamily<Counter>
    private let authFailures: [AuthFailure: Counter]
    private let lock = NSLock()
    private var handles: [String: Handles] = [:]  // guarded by lock
    /// Where the usage counters (requests, tokens, spend, saved) come from when the key store
    /// keeps them (`readUsage`); nil: `AccessGate.book` adds to them. Guarded by lock.
    private var usageSource: (@Sendable () -> [KeyProcessUsage])?
    private let registry: MetricsRegistry

    package init(registry: MetricsRegistry) {
        self.registry = registry
        requests = registry.counterFamily("ultragate_key_requests_total", help: "Requests made with each virtual key.", labelNames: ["key", "team"])
        tokens = registry.counterFamily("ultragate_key_tokens_total", help: "Upstream tokens used by each virtual key, by kind (prompt, completion).", labelNames: ["key", "team", "kind"])
        spend = registry.counterFamily("ultragate_key_spend_usd_total", help: "Estimated upstream cost in USD charged to each virtual key (the price table's cost of what it used).", labelNames: ["key", "team"])
        saved = registry.counterFamily("ultragate_key_saved_usd_total", help: "Estimated upstream cost in USD each virtual key did not pay thanks to the response cache or a shared in-flight call.", labelNames: ["key", "team"])
        refused = registry.counterFamily("ultragate_key_refused_total", help: "Requests refused by a virtual key's limits, by reason (model, rpm, tpm, max_parallel, budget).", labelNames: ["key", "team", "reason"])
        let failures = registry.counterFamily("ultragate_auth_failures_total", help: "Requests refused by authentication, by reason (missing key, invalid key, key not allowed here, throttled address).", labelNames: ["reason"])
        var byReason: [AuthFailure: Counter] = [:]
        for r in AuthFailure.allCases { byReason[r] = failures.labels(r.rawValue) }
        authFailures = byReason
    }

    package func key(_ key: VirtualKey) -> Handles {
        lock.lock()
        defer { lock.unlock() }
        if let h = handles[key.name], h.team == (key.team ?? "") { return h }
        let h = Handles(name: key.name, team: key.team ?? "", families: self)
        handles[key.name] = h
        return h
    }

    package func recordAuthFailure(_ reason: AuthFailure) { authFailures[reason]!.increment() }

    /// From now on the usage counters show what `source` says this process booked (read when
    /// the metrics or `/v1/stats` are), instead of being added to on every request.
    package func readUsage(from source: @escaping @Sendable () -> [KeyProcessUsage]) {
        lock.lock()
        let first = usageSource == nil
        usageSource = source
        lock.unlock()
        if first { registry.addCollectHook { [weak self] in self?.mirrorUsage() } }
    }

    /// Copies the source's figures into the usage counters (see `readUsage`); returns them.
    @discardableResult
    private func mirrorUsage() -> [KeyProcessUsage] {
        lock.lock()
        let source = usageSource
        lock.unlock()
        guard let source else { return [] }
        let totals = source()
        for total in totals {
            lock.lock()
            // Made here for a key seen only through the source, so `/v1/stats` lists it.
            if handles[total.name] == nil { handles[total.name] = Handles(name: total.name, team: total.team, families: self) }
            lock.unlock()
            let usage = total.usage
            requests.labels(total.name, total.team).mirror(total: Double(usage.requests))
            tokens.labels(total.name, total.team, "prompt").mirror(total: Double(usage.promptTokens))
            tokens.labels(total.name, total.team, "completion").mirror(total: Double(usage.completionTokens))
            spend.labels(total.name, total.team).mirror(total: usage.spendUSD)
            saved.labels(total.name, total.team).mirror(total: usage.savedUSD)
        }
        return totals
    }

    /// Per-key totals since start, for `/v1/stats`.
    /// With a usage source, a key's usage is its total over every team it had in this process
    /// (the metrics keep one series per team), under the team it has now.
    package var statsJSON: JSONObject {
        var usage: [String: (team: String?, usage: KeyUsageCounters)] = [:]
        for total in mirrorUsage() {
            var entry = usage[total.name] ?? (nil, KeyUsageCounters())
            entry.usage += total.usage
            if total.current { entry.team = total.team }
            usage[total.name] = entry
        }
        lock.lock()
        let all = handles.values.sorted { $0.name < $1.name }
        lock.unlock()
        var o = JSONObject()
        for h in all {
            var json = h.json
            if let entry = usage[h.name] {
                for (field, value) in entry.usage.json { json[field] = value }
                if let team = entry.team { json["team"] = team.isEmpty ? .null : .string(team) }
            }
            o.append(h.name, .object(json))
        }
        return o
    }
}
