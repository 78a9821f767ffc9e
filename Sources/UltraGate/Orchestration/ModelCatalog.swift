import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// What `GET /v1/models` lists and `GET /v1/models/{id}` finds: the names that route.
///
/// In order: the router's `listed` names (configured aliases, ensembles), then per provider its
/// own model list as `provider/model`, and also as the bare `model` where that bare name routes
/// to the same provider and model (`gpt-4o` next to `openai/gpt-4o` for an environment-registered
/// OpenAI), then the mock's models. A provider's list comes from its models endpoint
/// (`ModelListingProvider`), fetched for all providers at once, bounded (`ModelListLimits`), off
/// the event loop, and kept `freshSeconds`; when it cannot be had (an error, a provider type that
/// cannot list) the provider's `assumedModels` stand in and a failed fetch is tried again after
/// `retrySeconds`. A name whose provider's complete list lacks its model is not found (404),
/// even though a `provider/model` name would otherwise route.
public final class ModelCatalog: Sendable {
    public struct Entry: Sendable, Equatable {
        public var id: String
        public var ownedBy: String
    }

    /// One fetch of every provider's list, with what it makes listed and known.
    public struct Snapshot: Sendable {
        public var entries: [Entry]
        package var byID: [String: Entry]
        /// Provider name → its complete list (only providers whose list is known in full).
        package var known: [String: Set<String>]
    }

    public static let freshSeconds: Double = 300
    public static let retrySeconds: Double = 30

    package let router: ModelRouter
    package let limits: ModelListLimits
    private let snapshots: CoalescedValue<Snapshot>

    public init(router: ModelRouter, limits: ModelListLimits = ModelListLimits(),
                now: @escaping @Sendable () -> Double = { Double(Clock.nanos()) / 1e9 }) {
        self.router = router
        self.limits = limits
        snapshots = CoalescedValue(now: now)
    }

    /// The snapshot while it is fresh, without waiting (nil: call `snapshot()`).
    public func freshSnapshot() -> Snapshot? { snapshots.fresh() }

    /// The fresh snapshot, fetching the providers' lists (once, for all concurrent callers) when stale.
    public func snapshot() async -> Snapshot {
        await snapshots.get { [router, limits] in
            var lists: [String: ProviderModelList] = [:]
            var failed = false
            await withTaskGroup(of: (String, ProviderModelList?).self) { group in
                for name in router.providerNames {
                    guard let provider = router.providers[name] as? any ModelListingProvider else { continue }
                    group.addTask { (name, try? await provider.listModels(limits: limits)) }
                }
                for await (name, list) in group {
                    if let list { lists[name] = list } else { failed = true }
                }
            }
            return (ModelCatalog.assemble(router, lists), failed ? ModelCatalog.retrySeconds : ModelCatalog.freshSeconds)
        }
    }

    /// The entry for `id` in `snapshot`, or nil when that name routes nowhere or names a model its
    /// provider's complete list does not have.
    public func find(_ id: String, in snapshot: Snapshot) -> Entry? {
        if let entry = snapshot.byID[id] { return entry }
        guard let route = router.route(named: id) else { return nil }
        if let known = snapshot.known[route.providerName], !known.contains(route.upstreamModel) { return nil }
        return Entry(id: id, ownedBy: route.providerName)
    }

    package static func assemble(_ router: ModelRouter, _ lists: [String: ProviderModelList]) -> Snapshot {
        var snapshot = Snapshot(entries: [], byID: [:], known: [:])
        func add(_ id: String, _ ownedBy: String) {
            guard snapshot.byID[id] == nil else { return }
            let entry = Entry(id: id, ownedBy: ownedBy)
            snapshot.byID[id] = entry
            snapshot.entries.append(entry)
        }
        let mockNames = router.listed.filter { $0.ownedBy == "ultragate-mock" }
        for item in router.listed where item.ownedBy != "ultragate-mock" { add(item.id, item.ownedBy) }
        for name in router.providerNames {
            let list = lists[name]
            if let list, list.isComplete { snapshot.known[name] = Set(list.ids) }
            // The mock's names are listed bare, below; its list only says what it does not have.
            if router.providers[name] is MockProvider { continue }
            for model in list?.ids ?? router.assumedModels[name] ?? [] {
                add("\(name)/\(model)", name)
                if let bare = router.route(named: model), bare.providerName == name, bare.upstreamModel == model {
                    add(model, name)
                }
            }
        }
        for item in mockNames { add(item.id, item.ownedBy) }
        return snapshot
    }
}
