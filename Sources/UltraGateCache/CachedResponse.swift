import UltraGateJSON
import UltraGateSupport
/// A completed, non-streamed answer as stored in the cache, plus what the gateway needs to answer
/// from it (usage, provenance) without parsing the body.
public struct CachedResponse: Sendable, Equatable {
    /// The dialect of the stored body. Keys already tell dialects apart; an entry also says what
    /// it holds, so a front never serves a body of another shape.
    public enum Format: UInt8, Sendable {
        /// An OpenAI `chat.completion`.
        case chatCompletion = 0
        /// An Anthropic `Message`.
        case anthropicMessage = 1
        /// An OpenAI Responses `Response`.
        case openAIResponse = 2
    }


    /// Unix seconds.
    public var createdAt: Double
    /// Unix seconds; `.infinity` (or 0) means the entry never expires.
    public var expiresAt: Double
    /// The model that produced the answer.
    public var model: String
    public var provider: String
    public var promptTokens: Int
    public var completionTokens: Int
    public var cachedTokens: Int
    public var upstreamLatencyMs: Double
    /// The complete answer's JSON, in `format`'s shape.
    public var body: [UInt8]
    public var format: Format

    public static let neverExpires = Double.infinity

    public init(
        createdAt: Double, expiresAt: Double, model: String, provider: String,
        promptTokens: Int = 0, completionTokens: Int = 0, cachedTokens: Int = 0,
        upstreamLatencyMs: Double = 0, body: [UInt8], format: Format = .chatCompletion
    ) {
        self.format = format
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.model = model
        self.provider = provider
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
        self.upstreamLatencyMs = upstreamLatencyMs
        self.body = body
    }

    public func isExpired(now: Double) -> Bool { Self.isExpired(expiresAt: expiresAt, now: now) }

    @inline(__always) package static func isExpired(expiresAt: Double, now: Double) -> Bool {
        expiresAt.isFinite && expiresAt > 0 && now >= expiresAt
    }
}

extension CachedResponse {
    /// The entry as answered under `name`. Aliases of the same route and parameters share entries,
    /// and each answer carries the name it was asked by, as on a miss; the body's top-level
    /// `model` is patched in place (written out again only when the patch cannot be made).
    package func named(_ name: String) -> CachedResponse {
        guard name != model else { return self }
        var renamed = self
        renamed.model = name
        if let patched = JSONTopLevelPatch.replacingString("model", with: name, in: body) {
            renamed.body = patched
        } else if case .object(var completion)? = try? JSONParser.parse(body) {
            completion["model"] = .string(name)
            renamed.body = JSONWriter.serialize(.object(completion))
        }
        return renamed
    }
}

/// The binary form: a fixed little-endian header, then model, provider and body bytes.
///
///     0  "UGRC"            magic
///     4  u8  version (1)   5 u8 format (0 chat completion, 1 Anthropic Message)   6..7 reserved (0)
///     8  f64 createdAt     16 f64 expiresAt    24 f64 upstreamLatencyMs
///     32 i64 promptTokens  40 i64 completionTokens  48 i64 cachedTokens
///     56 u32 model length  60 u32 provider length   64 u32 body length  68 u32 reserved
///     72 model, provider, body
///
/// Decoding checks magic, version and that the lengths add up to exactly the stored size, so a
/// truncated, foreign or future-version value reads as a miss instead of garbage or a crash.
extension CachedResponse {
    package static let magic: UInt32 = 0x4352_4755  // "UGRC" read little-endian
    package static let codecVersion: UInt8 = 1
    package static let headerSize = 72

    /// The length of `encoded()`, without encoding.
    public var encodedSize: Int { Self.headerSize + model.utf8.count + provider.utf8.count + body.count }

    public func encoded() -> [UInt8] {
        let modelBytes = model.utf8.count, providerBytes = provider.utf8.count
        let total = encodedSize
        return [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            raw.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
            raw[4] = Self.codecVersion
            raw[5] = format.rawValue
            raw.storeBytes(of: createdAt.bitPattern.littleEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: expiresAt.bitPattern.littleEndian, toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: upstreamLatencyMs.bitPattern.littleEndian, toByteOffset: 24, as: UInt64.self)
            raw.storeBytes(of: Int64(promptTokens).littleEndian, toByteOffset: 32, as: Int64.self)
            raw.storeBytes(of: Int64(completionTokens).littleEndian, toByteOffset: 40, as: Int64.self)
            raw.storeBytes(of: Int64(cachedTokens).littleEndian, toByteOffset: 48, as: Int64.self)
            raw.storeBytes(of: UInt32(modelBytes).littleEndian, toByteOffset: 56, as: UInt32.self)
            raw.storeBytes(of: UInt32(providerBytes).littleEndian, toByteOffset: 60, as: UInt32.self)
            raw.storeBytes(of: UInt32(body.count).littleEndian, toByteOffset: 64, as: UInt32.self)
            var offset = Self.headerSize
            for part in [Array(model.utf8), Array(provider.utf8)] {
                part.withUnsafeBytes { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                offset += part.count
            }
            body.withUnsafeBytes { b in
                if b.count > 0 { raw.baseAddress!.advanced(by: offset).copyMemory(from: b.baseAddress!, byteCount: b.count) }
            }
            initialized = total
        }
    }

    /// The two timestamps, read without decoding the rest; nil unless the header is valid and its
    /// lengths account for exactly the stored bytes.
    package static func peekTimes(_ raw: UnsafeRawBufferPointer) -> (createdAt: Double, expiresAt: Double)? {
        guard raw.count >= headerSize,
            UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == magic,
            raw[4] == codecVersion
        else { return nil }
        func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        guard headerSize + u32(56) + u32(60) + u32(64) == raw.count else { return nil }
        let c = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        let e = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
        return (c, e)
    }

    public init?(decoding raw: UnsafeRawBufferPointer) {
        guard let times = Self.peekTimes(raw), let format = Format(rawValue: raw[5]) else { return nil }
        func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        func i64(_ at: Int) -> Int { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self))) }
        let modelBytes = u32(56), providerBytes = u32(60), bodyBytes = u32(64)
        let base = raw.baseAddress!
        let modelStart = Self.headerSize, providerStart = modelStart + modelBytes, bodyStart = providerStart + providerBytes
        self.init(
            createdAt: times.createdAt, expiresAt: times.expiresAt,
            model: String(decoding: UnsafeRawBufferPointer(start: base + modelStart, count: modelBytes), as: UTF8.self),
            provider: String(decoding: UnsafeRawBufferPointer(start: base + providerStart, count: providerBytes), as: UTF8.self),
            promptTokens: i64(32), completionTokens: i64(40), cachedTokens: i64(48),
            upstreamLatencyMs: Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))),
            body: [UInt8](UnsafeRawBufferPointer(start: base + bodyStart, count: bodyBytes)), format: format)
    }

    public init?(decoding bytes: [UInt8]) {
        guard let value = bytes.withUnsafeBytes({ CachedResponse(decoding: $0) }) else { return nil }
        self = value
    }
}
