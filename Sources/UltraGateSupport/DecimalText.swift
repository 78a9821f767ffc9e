/// Integers written in decimal, as `String(value)` writes them, but straight into a string of the
/// right size: `String(value)` goes through `description`, several hundred instructions, and the
/// hot paths write a few numbers per request (`Age`, rate-limit fields).
public enum DecimalText {
    public static func string(_ value: Int) -> String {
        var magnitude = value.magnitude
        var digits = 1
        var rest = magnitude
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        let count = digits + (value < 0 ? 1 : 0)
        // Sized exactly: up to 15 bytes, Swift keeps the string inline (no allocation).
        return String(unsafeUninitializedCapacity: count) { out in
            var i = count
            repeat {
                i -= 1
                out[i] = UInt8(truncatingIfNeeded: magnitude % 10) &+ UInt8(ascii: "0")
                magnitude /= 10
            } while magnitude > 0
            if value < 0 { out[0] = UInt8(ascii: "-") }
            return count
        }
    }
}
