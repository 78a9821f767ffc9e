import UltraGateSupport
#if canImport(Glibc)
import Glibc
#endif

/// An object key compared and hashed by its UTF-8 bytes, as JSON compares member names (RFC 8259
/// §8.3) and as the canonical writer orders them. `String`'s own `==` and hash follow Unicode
/// canonical equivalence instead, under which two keys an upstream tells apart could be one.
package struct JSONKeyBytes: Hashable {
    package let key: String

    package init(_ key: String) { self.key = key }

    package static func == (a: JSONKeyBytes, b: JSONKeyBytes) -> Bool { equal(a.key, b.key) }

    package func hash(into hasher: inout Hasher) {
        let hashed = key.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) } != nil
        if !hashed { Array(key.utf8).withUnsafeBytes { hasher.combine(bytes: $0) } }
    }

    /// Byte equality, lengths first (most keys that differ differ in length).
    @inline(__always)
    package static func equal(_ a: String, _ b: String) -> Bool {
        let n = a.utf8.count
        guard n == b.utf8.count else { return false }
        if n == 0 { return true }
        let same = a.utf8.withContiguousStorageIfAvailable { pa in
            b.utf8.withContiguousStorageIfAvailable { pb in memcmp(pa.baseAddress!, pb.baseAddress!, n) == 0 }
        }
        if let same, let same { return same }
        return a.utf8.elementsEqual(b.utf8)
    }

    /// Byte order: the order of `JSONWriter`'s canonical form (a prefix first).
    @inline(__always)
    package static func precedes(_ a: String, _ b: String) -> Bool {
        let order = a.utf8.withContiguousStorageIfAvailable { pa in
            b.utf8.withContiguousStorageIfAvailable { pb -> Bool in
                let common = min(pa.count, pb.count)
                if common > 0 {
                    let c = memcmp(pa.baseAddress!, pb.baseAddress!, common)
                    if c != 0 { return c < 0 }
                }
                return pa.count < pb.count
            }
        }
        if let order, let order { return order }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
