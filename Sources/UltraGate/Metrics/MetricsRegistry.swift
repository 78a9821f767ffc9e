import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// Holds metric families by name and scrapes them all. Registration happens at start-up (it
/// takes a lock); recording goes straight to the children and never touches the registry.
/// Collect hooks run before each scrape, to copy in values owned by other components.
public final class MetricsRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var families: [String: any CollectableMetricFamily] = [:]  // guarded by lock
    private var collectHooks: [@Sendable () -> Void] = []  // guarded by lock

    public init() {}

    public func counterFamily(_ name: String, help: String, labelNames: [String] = []) -> MetricFamily<Counter> {
        register(MetricFamily(name: name, help: help, kind: .counter, labelNames: labelNames) { Counter() })
    }

    public func gaugeFamily(_ name: String, help: String, labelNames: [String] = []) -> MetricFamily<Gauge> {
        register(MetricFamily(name: name, help: help, kind: .gauge, labelNames: labelNames) { Gauge() })
    }

    public func histogramFamily(
        _ name: String, help: String, labelNames: [String] = [], upperBounds: [Double]
    ) -> MetricFamily<Histogram> {
        _ = Histogram(upperBounds: upperBounds)  // validates the bounds once, at registration
        return register(MetricFamily(name: name, help: help, kind: .histogram, labelNames: labelNames) {
            Histogram(upperBounds: upperBounds)
        })
    }

    public func counter(_ name: String, help: String) -> Counter { counterFamily(name, help: help).unlabeled }
    public func gauge(_ name: String, help: String) -> Gauge { gaugeFamily(name, help: help).unlabeled }
    public func histogram(_ name: String, help: String, upperBounds: [Double]) -> Histogram {
        histogramFamily(name, help: help, upperBounds: upperBounds).unlabeled
    }

    /// Registers a family built elsewhere; names must be unique in the registry.
    @discardableResult
    public func register<F: CollectableMetricFamily>(_ family: F) -> F {
        lock.lock()
        defer { lock.unlock() }
        precondition(families[family.name] == nil, "metric \(family.name) registered twice")
        families[family.name] = family
        return family
    }

    public func addCollectHook(_ hook: @escaping @Sendable () -> Void) {
        lock.lock()
        collectHooks.append(hook)
        lock.unlock()
    }

    /// Runs the hooks, then snapshots every family, sorted by name.
    public func collect() -> [MetricFamilySnapshot] {
        lock.lock()
        let hooks = collectHooks
        let current = Array(families.values)
        lock.unlock()
        for hook in hooks { hook() }
        return current.map { $0.snapshot() }.sorted { $0.name < $1.name }
    }

    /// The Prometheus text exposition (format 0.0.4) of every family.
    public func prometheusText() -> String {
        PrometheusExposition.render(collect())
    }
}
