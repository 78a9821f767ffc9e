/// Float32 vectors as little-endian bytes, the form embeddings travel and rest in (OpenAI's base64
/// `encoding_format`, the cache's stored vectors): one copy on a little-endian machine, value by
/// value elsewhere.
public enum LittleEndianFloats {
    /// Writes `vector` into `out` (at least `4 * vector.count` bytes).
    public static func store(_ vector: [Float], into out: UnsafeMutableRawBufferPointer) {
        #if _endian(little)
        vector.withUnsafeBytes { out.copyMemory(from: $0) }
        #else
        for (i, value) in vector.enumerated() { out.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        #endif
    }

    /// The float32 values of `raw` (its length rounded down to a multiple of 4).
    public static func floats(_ raw: UnsafeRawBufferPointer) -> [Float] {
        let count = raw.count / 4
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            #if _endian(little)
            if count > 0 { UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[..<(4 * count)])) }
            #else
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            #endif
            initialized = count
        }
    }

    /// Appends the base64 of `vector`'s little-endian bytes to `out`.
    public static func appendBase64(_ vector: [Float], to out: inout [UInt8]) {
        #if _endian(little)
        vector.withUnsafeBytes { Base64.encode($0, into: &out) }
        #else
        var bytes = [UInt8](repeating: 0, count: 4 * vector.count)
        bytes.withUnsafeMutableBytes { store(vector, into: $0) }
        bytes.withUnsafeBytes { Base64.encode($0, into: &out) }
        #endif
    }
}
