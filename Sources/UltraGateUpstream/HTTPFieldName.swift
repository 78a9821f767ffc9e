import UltraGateHTTP
import UltraGateSupport
/// Case-insensitive header-name comparison without allocating a lowercased copy per field.
package enum HTTPFieldName {
    /// `lowercaseName` must already be lowercase ASCII.
    package static func matches(_ name: String, _ lowercaseName: StaticString) -> Bool {
        // O(1) for native strings, and most names differ in length: no byte loop for them.
        guard name.utf8.count == lowercaseName.utf8CodeUnitCount else { return false }
        var utf8 = name.utf8.makeIterator()
        let expected = UnsafeBufferPointer(start: lowercaseName.utf8Start, count: lowercaseName.utf8CodeUnitCount)
        for b in expected {
            guard let c = utf8.next() else { return false }
            let lower = c &- UInt8(ascii: "A") < 26 ? c | 0x20 : c
            if lower != b { return false }
        }
        return utf8.next() == nil
    }

    package static func firstValue(_ fields: [HTTPHeaderField], _ lowercaseName: StaticString) -> String? {
        fields.first { matches($0.name, lowercaseName) }?.value
    }
}
