import UltraGateJSON
import UltraGateSupport
/// Canonical JSON for cache keys, byte-identical to `JSONWriter(canonical: true)` but without its
/// per-object `Dictionary` and sorted copy: each object's member order is sorted in a stack buffer of
/// indices, which matters on the cache-hit path where every message is an object.
/// Strings, numbers and literals go through `JSONWriter` itself so the two can never disagree.
package struct CanonicalJSONWriter {
    package var writer: JSONWriter

    package init(capacity: Int = 4096) {
        writer = JSONWriter(canonical: true, capacity: capacity)
    }

    package var bytes: [UInt8] { writer.bytes }

    package mutating func write(_ value: JSON) {
        switch value {
        case .object(let object): writeObject(object, excluding: nil)
        case .array(let items):
            writer.bytes.append(UInt8(ascii: "["))
            var first = true
            for item in items {
                if !first { writer.bytes.append(UInt8(ascii: ",")) }
                first = false
                write(item)
            }
            writer.bytes.append(UInt8(ascii: "]"))
        default: writer.write(value)
        }
    }

    /// Members sorted by the UTF-8 bytes of their keys, the last of duplicate keys winning, and the
    /// members whose key `excluding` accepts left out.
    package mutating func writeObject(_ object: JSONObject, excluding: ((String) -> Bool)?) {
        let pairs = object.pairs
        writer.bytes.append(UInt8(ascii: "{"))
        withUnsafeTemporaryAllocation(of: Int.self, capacity: pairs.count) { order in
            var count = 0
            for i in pairs.indices {
                if let excluding, excluding(pairs[i].key) { continue }
                // Stable insertion sort: equal keys stay in input order, so the last one of a run wins.
                var j = count
                while j > 0, Self.precedes(pairs[i].key, pairs[order[j - 1]].key) {
                    order[j] = order[j - 1]
                    j -= 1
                }
                order[j] = i
                count += 1
            }
            var wroteMember = false
            for n in 0..<count {
                let pair = pairs[order[n]]
                if n + 1 < count, pairs[order[n + 1]].key.utf8.elementsEqual(pair.key.utf8) { continue }
                if wroteMember { writer.bytes.append(UInt8(ascii: ",")) }
                wroteMember = true
                writer.writeString(pair.key)
                writer.bytes.append(UInt8(ascii: ":"))
                write(pair.value)
            }
        }
        writer.bytes.append(UInt8(ascii: "}"))
    }

    @inline(__always) package static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
