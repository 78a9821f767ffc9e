import UltraGateJSON
import UltraGateSupport

/// One input item's embedding as the per-item cache stores it: the vector as float32 (the
/// precision embedding APIs compute in and OpenAI's `base64` format carries), the tokens the
/// provider charged for the item, and when the entry was made and expires.
public struct CachedEmbedding: Sendable, Equatable {
    /// Unix seconds.
    public var createdAt: Double
    /// Unix seconds; `.infinity` (or 0) means the entry never expires.
    public var expiresAt: Double
    /// Tokens the provider charged for this item (its share of the call's usage).
    public var tokens: Int
    public var vector: [Float]

    public init(createdAt: Double, expiresAt: Double, tokens: Int, vector: [Float]) {
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.tokens = tokens
        self.vector = vector
    }
}

/// The binary form: a fixed little-endian header, then the vector's float32 values.
///
///     0  "UGEV"            magic
///     4  u8  version (1)   5..7 reserved (0)
///     8  f64 createdAt     16 f64 expiresAt
///     24 i64 tokens        32 u32 dimensions    36 u32 reserved
///     40 dimensions × f32
///
/// The timestamps sit where `CachedResponse` keeps its own, so expiry reads the same way. Decoding
/// checks magic, version and that the dimension count accounts for exactly the stored bytes, so a
/// truncated, foreign or future-version value reads as a miss.
extension CachedEmbedding {
    package static let magic: UInt32 = 0x5645_4755  // "UGEV" read little-endian
    package static let codecVersion: UInt8 = 1
    package static let headerSize = 40

    /// The length of `encoded()`, without encoding.
    public var encodedSize: Int { Self.headerSize + 4 * vector.count }

    public func encoded() -> [UInt8] {
        let total = encodedSize
        return [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            raw.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
            raw[4] = Self.codecVersion
            raw.storeBytes(of: createdAt.bitPattern.littleEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: expiresAt.bitPattern.littleEndian, toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: Int64(tokens).littleEndian, toByteOffset: 24, as: Int64.self)
            raw.storeBytes(of: UInt32(vector.count).littleEndian, toByteOffset: 32, as: UInt32.self)
            LittleEndianFloats.store(vector, into: UnsafeMutableRawBufferPointer(rebasing: raw[Self.headerSize...]))
            initialized = total
        }
    }

    /// The two timestamps, read without decoding the rest; nil unless the header is valid and its
    /// dimension count accounts for exactly the stored bytes.
    package static func peekTimes(_ raw: UnsafeRawBufferPointer) -> (createdAt: Double, expiresAt: Double)? {
        guard raw.count >= headerSize,
            UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == magic,
            raw[4] == codecVersion,
            headerSize + 4 * Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 32, as: UInt32.self))) == raw.count
        else { return nil }
        let c = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        let e = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
        return (c, e)
    }

    public init?(decoding raw: UnsafeRawBufferPointer) {
        guard let times = Self.peekTimes(raw) else { return nil }
        let vector = LittleEndianFloats.floats(UnsafeRawBufferPointer(rebasing: raw[Self.headerSize...]))
        self.init(createdAt: times.createdAt, expiresAt: times.expiresAt,
                  tokens: Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: Int64.self))), vector: vector)
    }

    public init?(decoding bytes: [UInt8]) {
        guard let value = bytes.withUnsafeBytes({ CachedEmbedding(decoding: $0) }) else { return nil }
        self = value
    }

    public func isExpired(now: Double) -> Bool { CachedResponse.isExpired(expiresAt: expiresAt, now: now) }
}
