import UltraGateJSON

/// What a key used in one window for one model (or all models): the value of a `key_usage` row,
/// stored as 40 little-endian bytes (three counts as UInt64, two dollar amounts as Double bits).
package struct KeyUsageCounters: Sendable, Equatable {
    package var requests: UInt64 = 0
    package var promptTokens: UInt64 = 0
    package var completionTokens: UInt64 = 0
    package var spendUSD: Double = 0
    package var savedUSD: Double = 0

    package static let encodedSize = 40

    package init() {}

    package init(_ event: KeyUsageEvent) {
        self.init(request: event.promptTokens, event.completionTokens, costUSD: event.costUSD, savedUSD: event.savedUSD)
    }

    /// One request's use: negative counts and negative or non-finite amounts count as 0.
    package init(request promptTokens: Int, _ completionTokens: Int, costUSD: Double, savedUSD: Double) {
        requests = 1
        self.promptTokens = UInt64(max(0, promptTokens))
        self.completionTokens = UInt64(max(0, completionTokens))
        spendUSD = costUSD.isFinite ? max(0, costUSD) : 0
        self.savedUSD = savedUSD.isFinite ? max(0, savedUSD) : 0
    }

    /// Reads a stored row; nil when it is not one (another size).
    package init?(decoding raw: UnsafeRawBufferPointer) {
        guard raw.count == Self.encodedSize else { return nil }
        func word(_ i: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        requests = word(0)
        promptTokens = word(1)
        completionTokens = word(2)
        spendUSD = Double(bitPattern: word(3))
        savedUSD = Double(bitPattern: word(4))
    }

    package var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.encodedSize)
        for word in [requests, promptTokens, completionTokens, spendUSD.bitPattern, savedUSD.bitPattern] {
            withUnsafeBytes(of: word.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    package static func += (lhs: inout KeyUsageCounters, rhs: KeyUsageCounters) {
        lhs.requests &+= rhs.requests
        lhs.promptTokens &+= rhs.promptTokens
        lhs.completionTokens &+= rhs.completionTokens
        lhs.spendUSD += rhs.spendUSD
        lhs.savedUSD += rhs.savedUSD
    }

    /// The usage report's figures (without `models`).
    package var json: JSONObject {
        ["requests": .int(Int(clamping: requests)), "prompt_tokens": .int(Int(clamping: promptTokens)),
         "completion_tokens": .int(Int(clamping: completionTokens)), "spend_usd": .double(spendUSD), "saved_usd": .double(savedUSD)]
    }
}

/// Which `key_usage` row a delta goes to: a key, a window (a budget period's start, or all time),
/// and a model ("" for the key's total over all models, which `spend` reads).
///
/// Encoded as `name` 0x00 `P`|`A` start (8 bytes, big-endian) `model`: names never hold 0x00, so
/// every row of a key, and every row of one of its windows, shares a prefix a cursor can range over.
package struct KeyUsageRow: Hashable, Sendable {
    package var name: String
    /// The period's start, whole Unix seconds; nil for all time.
    package var windowStart: Int64?
    package var model: String

    package init(name: String, windowStart: Int64?, model: String) {
        self.name = name
        self.windowStart = windowStart
        self.model = model
    }

    package var encoded: [UInt8] { Self.prefix(name: name, windowStart: windowStart) + Array(model.utf8) }

    /// The prefix of every row of `name` in one window.
    package static func prefix(name: String, windowStart: Int64?) -> [UInt8] {
        var out = keyPrefix(name)
        out.append(windowStart == nil ? UInt8(ascii: "A") : UInt8(ascii: "P"))
        withUnsafeBytes(of: UInt64(bitPattern: windowStart ?? 0).bigEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// The prefix of every row of `name`.
    package static func keyPrefix(_ name: String) -> [UInt8] { Array(name.utf8) + [0] }

    /// The model a stored row of a window whose prefix is `prefixLength` bytes long is about.
    package static func model(of key: UnsafeRawBufferPointer, prefixLength: Int) -> String {
        String(decoding: key[prefixLength...], as: UTF8.self)
    }

    /// The whole seconds a window starting at `start` is filed under.
    package static func windowStart(_ start: Double) -> Int64 { Int64(start.rounded(.down)) }
}
