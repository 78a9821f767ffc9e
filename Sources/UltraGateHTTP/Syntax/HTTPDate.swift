import UltraGateSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) for the `Date` response header.
public enum HTTPDate {
    private static let dayNames: StaticString = "SunMonTueWedThuFriSat"
    private static let monthNames: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"

    /// Seconds since the epoch, from the clock the `Date` header describes.
    public static func nowEpochSeconds() -> Int {
        Int(time(nil))
    }

    /// Formats `epochSeconds` (UTC) with `gmtime_r`; 29 ASCII bytes.
    public static func format(epochSeconds: Int) -> String {
        var t = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(unsafeUninitializedCapacity: 29) { out in
            let days = dayNames.utf8Start
            let months = monthNames.utf8Start
            let wday = Int(parts.tm_wday) * 3
            let mon = Int(parts.tm_mon) * 3
            out[0] = days[wday]; out[1] = days[wday + 1]; out[2] = days[wday + 2]
            out[3] = 0x2C; out[4] = 0x20
            twoDigits(Int(parts.tm_mday), out, 5)
            out[7] = 0x20
            out[8] = months[mon]; out[9] = months[mon + 1]; out[10] = months[mon + 2]
            out[11] = 0x20
            let year = Int(parts.tm_year) + 1900
            twoDigits(year / 100 % 100, out, 12)
            twoDigits(year % 100, out, 14)
            out[16] = 0x20
            twoDigits(Int(parts.tm_hour), out, 17)
            out[19] = 0x3A
            twoDigits(Int(parts.tm_min), out, 20)
            out[22] = 0x3A
            twoDigits(Int(parts.tm_sec), out, 23)
            out[25] = 0x20; out[26] = 0x47; out[27] = 0x4D; out[28] = 0x54
            return 29
        }
    }

    @inline(__always)
    private static func twoDigits(_ value: Int, _ out: UnsafeMutableBufferPointer<UInt8>, _ at: Int) {
        out[at] = UInt8(0x30 + value / 10)
        out[at + 1] = UInt8(0x30 + value % 10)
    }

    /// A per-second cache of the formatted date. It is a value: each thread (event loop) keeps
    /// its own, so there is nothing shared to lock, and a call costs a `time()` and a compare.
    public struct Cache: Sendable {
        private var second = Int.min
        private var value = ""

        public init() {}

        /// The date for `epochSeconds`, reformatted only when the second changed.
        public mutating func string(epochSeconds: Int = HTTPDate.nowEpochSeconds()) -> String {
            if epochSeconds != second {
                second = epochSeconds
                value = HTTPDate.format(epochSeconds: epochSeconds)
            }
            return value
        }
    }
}
