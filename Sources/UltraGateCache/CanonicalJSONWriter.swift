import UltraGateJSON
import UltraGateSupport
/// Canonical JSON for cache keys, byte-identical to `JSONWriter(canonical: true)` but without its
/// per-object `Dictionary` and sorted copy: each object's member order is sorted in a buffer of
/// indices (on the stack for small objects), which matters on the cache-hit path where every
/// message is an object.
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
    /// members whose key `excluding` accepts left out. The order is sorted stably (equal keys stay
    /// in input order, so the last one of a run wins) in O(n log n): insertion sort in a stack
    /// buffer for the small objects of chat requests, a merge sort past `StableIndexSort.insertionLimit`.
    package mutating func writeObject(_ object: JSONObject, excluding: ((String) -> Bool)?) {
        let pairs = object.pairs
        writer.bytes.append(UInt8(ascii: "{"))
        let size = pairs.count
        let needsScratch = size > StableIndexSort.insertionLimit
        withUnsafeTemporaryAllocation(of: Int.self, capacity: needsScratch ? 2 * size : size) { buffer in
            var count = 0
            for i in pairs.indices {
                if let excluding, excluding(pairs[i].key) { continue }
                buffer[count] = i
                count += 1
            }
            let order = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
            let scratch = UnsafeMutableBufferPointer(rebasing: needsScratch ? buffer[size..<(size + count)] : buffer[0..<0])
            StableIndexSort.sort(order, scratch: scratch) { JSONKeyBytes.precedes(pairs[$0].key, pairs[$1].key) }
            var wroteMember = false
            for n in 0..<count {
                let pair = pairs[order[n]]
                if n + 1 < count, JSONKeyBytes.equal(pairs[order[n + 1]].key, pair.key) { continue }
                if wroteMember { writer.bytes.append(UInt8(ascii: ",")) }
                wroteMember = true
                writer.writeString(pair.key)
                writer.bytes.append(UInt8(ascii: ":"))
                write(pair.value)
            }
        }
        writer.bytes.append(UInt8(ascii: "}"))
    }
}
