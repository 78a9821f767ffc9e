import UltraGateSupport
/// One header line. Names keep their case as given; comparisons are case-insensitive.
public struct HTTPHeaderField: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}
