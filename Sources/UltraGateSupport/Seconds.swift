/// Turning configured or received seconds into nanoseconds without trapping: NaN and negatives
/// become 0, anything beyond a day is capped (a sleep or deadline that long is a mistake, and
/// `UInt64(1e300 * 1e9)` would crash the process).
public enum Seconds {
    public static let maximum: Double = 86_400

    @inline(__always) public static func clamped(_ seconds: Double) -> Double {
        guard seconds.isFinite, seconds > 0 else { return seconds == .infinity ? maximum : 0 }
        return min(seconds, maximum)
    }

    @inline(__always) public static func nanoseconds(_ seconds: Double) -> UInt64 {
        UInt64(clamped(seconds) * 1e9)
    }
}
