/// What this process recorded for one key since the key store last moved it to its pending rows:
/// per model and in total, for one usage window. The store keeps one per grant and adds each
/// finished request to it with no hashing but the model name's, instead of updating two
/// string-keyed rows per request; its flush (and a window change) turns a tally into rows.
///
/// Guarded by the lock of the `LMDBKeyStore` that made it: nothing else reads or writes it.
final class KeyTally: @unchecked Sendable {
    let name: String
    /// The secret hash of the key the usage belongs to (see `LMDBKeyStore.owners`).
    let owner: KeyHash
    /// The window the counts below belong to, as filed (`KeyUsageRow.windowStart`), and its bounds.
    var windowStart: Int64 = 0
    var window: (start: Double, end: Double) = (.infinity, -.infinity)
    private(set) var byModel: [String: KeyUsageCounters] = [:]
    private(set) var total = KeyUsageCounters()
    /// The model added last and where its counts are in `byModel`: most requests of a key ask the
    /// model its last request asked, and then no hashing is needed.
    private var last: (model: String, index: Dictionary<String, KeyUsageCounters>.Index)?
    /// Whether the store's list of tallies to move holds this one.
    var queued = false
    /// What this process booked for the key (under its team) since it started, never emptied:
    /// shared by the key's tallies across reloads, read for the per-key metrics.
    let processTotal: KeyProcessTotal

    init(name: String, owner: KeyHash, processTotal: KeyProcessTotal) {
        self.name = name
        self.owner = owner
        self.processTotal = processTotal
    }

    var isEmpty: Bool { total.requests == 0 }

    /// Adds one request of `grant`'s key using `model` at `now`, in the key's usage window (worked
    /// out only when `now` leaves the window of the counts held). False, adding nothing, when the
    /// counts held are of another window: move them first.
    func add(_ delta: KeyUsageCounters, model: String, now: Double, of grant: KeyGrant) -> Bool {
        if !(window.start <= now && now < window.end) {
            let next = grant.key.usageWindow(now: now)
            let start = KeyUsageRow.windowStart(next.start)
            if !isEmpty, start != windowStart { return false }
            window = next
            windowStart = start
        }
        if let last, last.model == model {
            byModel.values[last.index] += delta
        } else {
            byModel[model, default: KeyUsageCounters()] += delta
            last = byModel.index(forKey: model).map { (model, $0) }  // an insertion moved the others
        }
        total += delta
        processTotal.usage += delta
        return true
    }

    /// Empties the tally (keeping its storage) once its counts have been moved.
    func reset() {
        byModel.removeAll(keepingCapacity: true)
        last = nil
        total = KeyUsageCounters()
        queued = false
    }
}

/// What one process booked for one key and team since it started: the source of the per-key
/// metrics (`KeyMetrics.readUsage`), kept beside the tallies so a request's booking is one update
/// under the key store's lock rather than that plus an atomic add per metric. Guarded by the lock
/// of the `LMDBKeyStore` that made it.
package final class KeyProcessTotal: @unchecked Sendable {
    package let name: String
    package let team: String
    package var usage = KeyUsageCounters()

    init(name: String, team: String) {
        self.name = name
        self.team = team
    }
}
