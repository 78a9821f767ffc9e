import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
import Foundation

/// What a family's children have in common: each can report its current value.
public protocol MetricChild: AnyObject, Sendable {
    func sample() -> MetricValue
}

public enum MetricKind: String, Sendable {
    case counter, gauge, histogram
}

public enum MetricValue: Sendable, Equatable {
    case scalar(Double)
    case histogram(HistogramSnapshot)
}

/// One child of a family at scrape time: its label values (in the family's label-name order).
public struct MetricSample: Sendable, Equatable {
    public var labelValues: [String]
    public var value: MetricValue
}

/// A family at scrape time, children sorted by label values so the exposition is stable.
public struct MetricFamilySnapshot: Sendable {
    public var name: String
    public var help: String
    public var kind: MetricKind
    public var labelNames: [String]
    public var samples: [MetricSample]
}

/// Anything the registry can scrape.
public protocol CollectableMetricFamily: AnyObject, Sendable {
    var name: String { get }
    func snapshot() -> MetricFamilySnapshot
}

/// A named metric with label names; its children are found by label values and created on first
/// use. A lookup takes a lock and hashes the values, so hot paths should look a child up once and
/// keep the handle (children live as long as the family). A family without labels has one child.
public final class MetricFamily<Child: MetricChild>: CollectableMetricFamily, @unchecked Sendable {
    public let name: String
    public let help: String
    public let kind: MetricKind
    public let labelNames: [String]
    private let makeChild: @Sendable () -> Child
    private let lock = NSLock()
    private var children: [[String]: Child] = [:]  // guarded by lock

    package init(name: String, help: String, kind: MetricKind, labelNames: [String], makeChild: @escaping @Sendable () -> Child) {
        precondition(MetricNames.isValidMetricName(name), "invalid metric name \(name)")
        for label in labelNames {
            precondition(MetricNames.isValidLabelName(label), "invalid label name \(label) in \(name)")
        }
        precondition(Set(labelNames).count == labelNames.count, "duplicate label names in \(name)")
        precondition(kind != .histogram || !labelNames.contains("le"), "histograms reserve the label le")
        self.name = name
        self.help = help
        self.kind = kind
        self.labelNames = labelNames
        self.makeChild = makeChild
    }

    /// The child for these label values (one per label name, in order), created on first use.
    public func labels(_ values: [String]) -> Child {
        precondition(values.count == labelNames.count, "\(name) takes \(labelNames.count) label values, got \(values.count)")
        lock.lock()
        defer { lock.unlock() }
        if let child = children[values] { return child }
        let child = makeChild()
        children[values] = child
        return child
    }

    public func labels(_ values: String...) -> Child { labels(values) }

    /// The only child of a family without labels.
    public var unlabeled: Child { labels([]) }

    /// Drops every child (their handles keep working but are no longer exported).
    public func removeAll() {
        lock.lock()
        children.removeAll()
        lock.unlock()
    }

    public func snapshot() -> MetricFamilySnapshot {
        lock.lock()
        let current = children
        lock.unlock()
        let samples = current
            .map { MetricSample(labelValues: $0.key, value: $0.value.sample()) }
            .sorted { $0.labelValues.lexicographicallyPrecedes($1.labelValues) }
        return MetricFamilySnapshot(name: name, help: help, kind: kind, labelNames: labelNames, samples: samples)
    }
}

/// Name rules of the Prometheus data model.
package enum MetricNames {
    package static func isValidMetricName(_ s: String) -> Bool {
        guard let first = s.utf8.first, isLetterOrUnderscore(first) || first == UInt8(ascii: ":") else { return false }
        return s.utf8.allSatisfy { isLetterOrUnderscore($0) || isDigit($0) || $0 == UInt8(ascii: ":") }
    }

    package static func isValidLabelName(_ s: String) -> Bool {
        guard let first = s.utf8.first, isLetterOrUnderscore(first), !s.hasPrefix("__") else { return false }
        return s.utf8.allSatisfy { isLetterOrUnderscore($0) || isDigit($0) }
    }

    private static func isLetterOrUnderscore(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
    }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
}
