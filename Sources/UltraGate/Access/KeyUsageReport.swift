import UltraGateJSON

/// What `GET /admin/keys/{name}/usage` and `ultragate keys usage NAME` show: the key's current
/// period (its budget window, or the calendar month when it has no budget) with its budget and
/// what is left of it, and its use in that period and since it was created, per model.
package struct KeyUsageReport: Sendable, Equatable {
    package var key: VirtualKey
    package var period: (start: Double, end: Double)
    /// Model → counters; "" is the total over every model.
    package var currentPeriod: [String: KeyUsageCounters] = [:]
    package var allTime: [String: KeyUsageCounters] = [:]

    package init(key: VirtualKey, period: (start: Double, end: Double)) {
        self.key = key
        self.period = period
    }

    package static func == (a: KeyUsageReport, b: KeyUsageReport) -> Bool {
        a.key == b.key && a.period == b.period && a.currentPeriod == b.currentPeriod && a.allTime == b.allTime
    }

    package var spendUSD: Double { currentPeriod[""]?.spendUSD ?? 0 }

    package var json: JSON {
        var periodJSON: JSONObject = ["start": .int(Int(period.start)), "end": .int(Int(period.end))]
        periodJSON["budget_usd"] = key.budgetUSD.map(JSON.double) ?? .null
        periodJSON["spend_usd"] = .double(spendUSD)
        periodJSON["remaining_usd"] = key.budgetUSD.map { .double(max(0, $0 - spendUSD)) } ?? .null
        return .object([
            "name": .string(key.name), "team": key.team.map(JSON.string) ?? .null, "period": .object(periodJSON),
            "current_period": Self.json(currentPeriod), "all_time": Self.json(allTime),
        ])
    }

    private static func json(_ rows: [String: KeyUsageCounters]) -> JSON {
        var o = (rows[""] ?? KeyUsageCounters()).json
        var models = JSONObject()
        for model in rows.keys.sorted() where !model.isEmpty { models.append(model, .object(rows[model]!.json)) }
        o["models"] = .object(models)
        return .object(o)
    }
}
