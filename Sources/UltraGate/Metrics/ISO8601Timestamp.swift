import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// UTC timestamps like `2025-03-01T12:34:56.789Z`, formatted by hand with `gmtime_r`
/// (Foundation's ISO8601DateFormatter costs microseconds and is not needed for one fixed shape).
public enum ISO8601Timestamp {
    /// `secondsSince1970` as ISO 8601 UTC with milliseconds.
    public static func format(secondsSince1970: Double) -> String {
        var whole = Int(secondsSince1970.rounded(.down))
        var millis = Int(((secondsSince1970 - Double(whole)) * 1000).rounded())
        if millis >= 1000 { whole += 1; millis -= 1000 }
        var t = time_t(whole)
        var parts = tm()
        gmtime_r(&t, &parts)
        var out = ""
        out.reserveCapacity(24)
        append(&out, Int(parts.tm_year) + 1900, width: 4)
        out += "-"
        append(&out, Int(parts.tm_mon) + 1, width: 2)
        out += "-"
        append(&out, Int(parts.tm_mday), width: 2)
        out += "T"
        append(&out, Int(parts.tm_hour), width: 2)
        out += ":"
        append(&out, Int(parts.tm_min), width: 2)
        out += ":"
        append(&out, Int(parts.tm_sec), width: 2)
        out += "."
        append(&out, millis, width: 3)
        out += "Z"
        return out
    }

    public static func now() -> String { format(secondsSince1970: currentTime()) }

    /// Wall-clock seconds since 1970 (`CLOCK_REALTIME`).
    public static func currentTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private static func append(_ out: inout String, _ value: Int, width: Int) {
        let digits = String(value)
        if digits.count < width { out += String(repeating: "0", count: width - digits.count) }
        out += digits
    }
}
