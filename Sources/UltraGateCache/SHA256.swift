import UltraGateJSON
import UltraGateSupport
import CUltraGateShims

/// FIPS 180-4 SHA-256 (Foundation on Linux has none). Incremental, allocation-free per block: the
/// state lives in eight `UInt32`s and a 64-byte inline buffer. Whole blocks go to the CPU's SHA
/// instructions when it has them (C shim `ug_sha256_hw_compress`, several times faster; Swift cannot
/// call those intrinsics itself) and otherwise to the pure-Swift compression below, whose 64 rounds
/// are unrolled with a rolling 16-word message schedule held in locals (registers).
public struct SHA256: Sendable {
    public static let digestSize = 32
    public static let blockSize = 64

    /// Which compression function runs the blocks. Both give identical digests; tests force each.
    package enum Backend: Sendable {
        /// The SHA-NI C shim; only valid where `hardwareAvailable` is true.
        case hardware
        case software
    }

    /// Whether this CPU can run the hardware backend (checked once).
    package static let hardwareAvailable = ug_sha256_hw_available() != 0
    package static let defaultBackend: Backend = hardwareAvailable ? .hardware : .software

    package struct State: Sendable {
        package var a: UInt32 = 0x6a09e667, b: UInt32 = 0xbb67ae85, c: UInt32 = 0x3c6ef372, d: UInt32 = 0xa54ff53a
        package var e: UInt32 = 0x510e527f, f: UInt32 = 0x9b05688c, g: UInt32 = 0x1f83d9ab, h: UInt32 = 0x5be0cd19
    }

    private var state = State()
    /// Bytes not yet compressed (fewer than 64), kept inline so hashing never allocates.
    private var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var buffered = 0
    private var totalBytes: UInt64 = 0
    private let backend: Backend

    public init() { backend = Self.defaultBackend }

    /// Forces a backend (tests, measurements). `.hardware` requires `hardwareAvailable`.
    package init(backend: Backend) {
        precondition(backend == .software || Self.hardwareAvailable, "SHA-256 hardware backend unavailable on this CPU")
        self.backend = backend
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var input = bytes.baseAddress, bytes.count > 0 else { return }
        var remaining = bytes.count
        totalBytes &+= UInt64(remaining)
        if buffered > 0 {
            let take = min(Self.blockSize - buffered, remaining)
            let offset = buffered
            withUnsafeMutableBytes(of: &buffer) { $0.baseAddress!.advanced(by: offset).copyMemory(from: input, byteCount: take) }
            buffered += take
            input += take
            remaining -= take
            guard buffered == Self.blockSize else { return }
            withUnsafeBytes(of: &buffer) { Self.compress(&state, $0.baseAddress!, blocks: 1, backend: backend) }
            buffered = 0
        }
        let whole = remaining / Self.blockSize
        if whole > 0 {
            Self.compress(&state, input, blocks: whole, backend: backend)
            input += whole * Self.blockSize
            remaining -= whole * Self.blockSize
        }
        if remaining > 0 {
            withUnsafeMutableBytes(of: &buffer) { $0.baseAddress!.copyMemory(from: input, byteCount: remaining) }
            buffered = remaining
        }
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ text: String) {
        var text = text
        text.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// Pads, compresses the last block(s) and returns the 32-byte digest. The hasher is then spent:
    /// start a new one for another message.
    public mutating func finalize() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.digestSize) { out, count in
            finalize(into: UnsafeMutableRawBufferPointer(out))
            count = Self.digestSize
        }
    }

    /// `finalize()` writing the digest into `out` (32 bytes) instead of a new array: no allocation.
    package mutating func finalize(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= Self.digestSize)
        let bitLength = totalBytes &* 8
        var padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
        // 0x80, zeros up to 56 mod 64, then the 64-bit big-endian bit length.
        let padLength = (buffered < 56 ? 56 - buffered : 120 - buffered)
        withUnsafeMutableBytes(of: &padding) { p in
            p[0] = 0x80
            p.storeBytes(of: bitLength.bigEndian, toByteOffset: padLength, as: UInt64.self)
            let savedTotal = totalBytes
            update(UnsafeRawBufferPointer(rebasing: p[0..<(padLength + 8)]))
            totalBytes = savedTotal
        }
        store(into: out)
    }

    private func store(into raw: UnsafeMutableRawBufferPointer) {
        let s = state
        raw.storeBytes(of: s.a.bigEndian, toByteOffset: 0, as: UInt32.self)
        raw.storeBytes(of: s.b.bigEndian, toByteOffset: 4, as: UInt32.self)
        raw.storeBytes(of: s.c.bigEndian, toByteOffset: 8, as: UInt32.self)
        raw.storeBytes(of: s.d.bigEndian, toByteOffset: 12, as: UInt32.self)
        raw.storeBytes(of: s.e.bigEndian, toByteOffset: 16, as: UInt32.self)
        raw.storeBytes(of: s.f.bigEndian, toByteOffset: 20, as: UInt32.self)
        raw.storeBytes(of: s.g.bigEndian, toByteOffset: 24, as: UInt32.self)
        raw.storeBytes(of: s.h.bigEndian, toByteOffset: 28, as: UInt32.self)
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        hash(bytes, backend: defaultBackend)
    }

    package static func hash(_ bytes: UnsafeRawBufferPointer, backend: Backend) -> [UInt8] {
        var hasher = SHA256(backend: backend)
        hasher.update(bytes)
        return hasher.finalize()
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }

    public static func hash(_ text: String) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(text)
        return hasher.finalize()
    }

    /// Lower-case hexadecimal spelling of any byte sequence (digests, keys).
    public static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits: StaticString = "0123456789abcdef"
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        digits.withUTF8Buffer { d in
            for b in bytes {
                out.append(d[Int(b >> 4)])
                out.append(d[Int(b & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x &>> n) | (x &<< (32 &- n)) }
    @inline(__always) private static func ch(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { z ^ (x & (y ^ z)) }
    @inline(__always) private static func maj(_ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 { (x & y) | (z & (x | y)) }
    @inline(__always) private static func bigS0(_ x: UInt32) -> UInt32 { rotr(x, 2) ^ rotr(x, 13) ^ rotr(x, 22) }
    @inline(__always) private static func bigS1(_ x: UInt32) -> UInt32 { rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25) }
    @inline(__always) private static func s0(_ x: UInt32) -> UInt32 { rotr(x, 7) ^ rotr(x, 18) ^ (x &>> 3) }
    @inline(__always) private static func s1(_ x: UInt32) -> UInt32 { rotr(x, 17) ^ rotr(x, 19) ^ (x &>> 10) }

    @inline(__always)
    private static func compress(_ state: inout State, _ input: UnsafeRawPointer, blocks: Int, backend: Backend) {
        switch backend {
        case .hardware: compressHardware(&state, input, blocks: blocks)
        case .software: compressSoftware(&state, input, blocks: blocks)
        }
    }

    /// Hands the blocks to the C shim, passing the state as the `uint32_t[8]` it expects
    /// (a homogeneous tuple is laid out contiguously, unlike a struct's fields by guarantee).
    private static func compressHardware(_ state: inout State, _ input: UnsafeRawPointer, blocks: Int) {
        var words = (state.a, state.b, state.c, state.d, state.e, state.f, state.g, state.h)
        withUnsafeMutableBytes(of: &words) { raw in
            ug_sha256_hw_compress(
                raw.baseAddress!.assumingMemoryBound(to: UInt32.self),
                input.assumingMemoryBound(to: UInt8.self), blocks)
        }
        state = State(a: words.0, b: words.1, c: words.2, d: words.3, e: words.4, f: words.5, g: words.6, h: words.7)
    }

    /// The pure-Swift compression function over `blocks` consecutive 64-byte blocks (rounds
    /// generated, unrolled).
    private static func compressSoftware(_ state: inout State, _ input: UnsafeRawPointer, blocks: Int) {
        var p = input
        for _ in 0..<blocks {
            var w0 = p.loadUnaligned(fromByteOffset: 0, as: UInt32.self).bigEndian
            var w1 = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self).bigEndian
            var w2 = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self).bigEndian
            var w3 = p.loadUnaligned(fromByteOffset: 12, as: UInt32.self).bigEndian
            var w4 = p.loadUnaligned(fromByteOffset: 16, as: UInt32.self).bigEndian
            var w5 = p.loadUnaligned(fromByteOffset: 20, as: UInt32.self).bigEndian
            var w6 = p.loadUnaligned(fromByteOffset: 24, as: UInt32.self).bigEndian
            var w7 = p.loadUnaligned(fromByteOffset: 28, as: UInt32.self).bigEndian
            var w8 = p.loadUnaligned(fromByteOffset: 32, as: UInt32.self).bigEndian
            var w9 = p.loadUnaligned(fromByteOffset: 36, as: UInt32.self).bigEndian
            var w10 = p.loadUnaligned(fromByteOffset: 40, as: UInt32.self).bigEndian
            var w11 = p.loadUnaligned(fromByteOffset: 44, as: UInt32.self).bigEndian
            var w12 = p.loadUnaligned(fromByteOffset: 48, as: UInt32.self).bigEndian
            var w13 = p.loadUnaligned(fromByteOffset: 52, as: UInt32.self).bigEndian
            var w14 = p.loadUnaligned(fromByteOffset: 56, as: UInt32.self).bigEndian
            var w15 = p.loadUnaligned(fromByteOffset: 60, as: UInt32.self).bigEndian
            var a = state.a, b = state.b, c = state.c, d = state.d
            var e = state.e, f = state.f, g = state.g, h = state.h
            var t: UInt32
            t = h &+ bigS1(e) &+ ch(e, f, g) &+ 0x428a2f98 &+ w0; d = d &+ t; h = t &+ bigS0(a) &+ maj(a, b, c)
            t = g &+ bigS1(d) &+ ch(d, e, f) &+ 0x71374491 &+ w1; c = c &+ t; g = t &+ bigS0(h) &+ maj(h, a, b)
            t = f &+ bigS1(c) &+ ch(c, d, e) &+ 0xb5c0fbcf &+ w2; b = b &+ t; f = t &+ bigS0(g) &+ maj(g, h, a)
            t = e &+ bigS1(b) &+ ch(b, c, d) &+ 0xe9b5dba5 &+ w3; a = a &+ t; e = t &+ bigS0(f) &+ maj(f, g, h)
            t = d &+ bigS1(a) &+ ch(a, b, c) &+ 0x3956c25b &+ w4; h = h &+ t; d = t &+ bigS0(e) &+ maj(e, f, g)
            t = c &+ bigS1(h) &+ ch(h, a, b) &+ 0x59f111f1 &+ w5; g = g &+ t; c = t &+ bigS0(d) &+ maj(d, e, f)
            t = b &+ bigS1(g) &+ ch(g, h, a) &+ 0x923f82a4 &+ w6; f = f &+ t; b = t &+ bigS0(c) &+ maj(c, d, e)
            t = a &+ bigS1(f) &+ ch(f, g, h) &+ 0xab1c5ed5 &+ w7; e = e &+ t; a = t &+ bigS0(b) &+ maj(b, c, d)
            t = h &+ bigS1(e) &+ ch(e, f, g) &+ 0xd807aa98 &+ w8; d = d &+ t; h = t &+ bigS0(a) &+ maj(a, b, c)
            t = g &+ bigS1(d) &+ ch(d, e, f) &+ 0x12835b01 &+ w9; c = c &+ t; g = t &+ bigS0(h) &+ maj(h, a, b)
            t = f &+ bigS1(c) &+ ch(c, d, e) &+ 0x243185be &+ w10; b = b &+ t; f = t &+ bigS0(g) &+ maj(g, h, a)
            t = e &+ bigS1(b) &+ ch(b, c, d) &+ 0x550c7dc3 &+ w11; a = a &+ t; e = t &+ bigS0(f) &+ maj(f, g, h)
            t = d &+ bigS1(a) &+ ch(a, b, c) &+ 0x72be5d74 &+ w12; h = h &+ t; d = t &+ bigS0(e) &+ maj(e, f, g)
            t = c &+ bigS1(h) &+ ch(h, a, b) &+ 0x80deb1fe &+ w13; g = g &+ t; c = t &+ bigS0(d) &+ maj(d, e, f)
            t = b &+ bigS1(g) &+ ch(g, h, a) &+ 0x9bdc06a7 &+ w14; f = f &+ t; b = t &+ bigS0(c) &+ maj(c, d, e)
            t = a &+ bigS1(f) &+ ch(f, g, h) &+ 0xc19bf174 &+ w15; e = e &+ t; a = t &+ bigS0(b) &+ maj(b, c, d)
            w0 = w0 &+ s1(w14) &+ w9 &+ s0(w1)
            t = h &+ bigS1(e) &+ ch(e, f, g) &+ 0xe49b69c1 &+ w0; d = d &+ t; h = t &+ bigS0(a) &+ maj(a, b, c)
            w1 = w1 &+ s1(w15) &+ w10 &+ s0(w2)
            t = g &+ bigS1(d) &+ ch(d, e, f) &+ 0xefbe4786 &+ w1; c = c &+ t; g = t &+ bigS0(h) &+ maj(h, a, b)
            w2 = w2 &+ s1(w0) &+ w11 &+ s0(w3)
            t = f &+ bigS1(c) &+ ch(c, d, e) &+ 0x0fc19dc6 &+ w2; b = b &+ t; f = t &+ bigS0(g) &+ maj(g, h, a)
            w3 = w3 &+ s1(w1) &+ w12 &+ s0(w4)
            t = e &+ bigS1(b) &+ ch(b, c, d) &+ 0x240ca1cc &+ w3; a = a &+ t; e = t &+ bigS0(f) &+ maj(f, g, h)
            w4 = w4 &+ s1(w2) &+ w13 &+ s0(w5)
            t = d &+ bigS1(a) &+ ch(a, b, c) &+ 0x2de92c6f &+ w4; h = h &+ t; d = t &+ bigS0(e) &+ maj(e, f, g)
            w5 = w5 &+ s1(w3) &+ w14 &+ s0(w6)
            t = c &+ bigS1(h) &+ ch(h, a, b) &+ 0x4a7484aa &+ w5; g = g &+ t; c = t &+ bigS0(d) &+ maj(d, e, f)
            w6 = w6 &+ s1(w4) &+ w15 &+ s0(w7)
            t = b &+ bigS1(g) &+ ch(g, h, a) &+ 0x5cb0a9dc &+ w6; f = f &+ t; b = t &+ bigS0(c) &+ maj(c, d, e)
            w7 = w7 &+ s1(w5) &+ w0 &+ s0(w8)
            t = a &+ bigS1(f) &+ ch(f, g, h) &+ 0x76f988da &+ w7; e = e &+ t; a = t &+ bigS0(b) &+ maj(b, c, d)
            w8 = w8 &+ s1(w6) &+ w1 &+ s0(w9)
            t = h &+ bigS1(e) &+ ch(e, f, g) &+ 0x983e5152 &+ w8; d = d &+ t; h = t &+ bigS0(a) &+ maj(a, b, c)
            w9 = w9 &+ s1(w7) &+ w2 &+ s0(w10)
            t = g &+ bigS1(d) &+ ch(d, e, f) &+ 0xa831c66d &+ w9; c = c &+ t; g = t &+ bigS0(h) &+ maj(h, a, b)
            w10 = w10 &+ s1(w8) &+ w3 &+ s0(w11)
            t = f &+ bigS1(c) &+ ch(c, d, e) &+ 0xb00327c8 &+ w10; b = b &+ t; f = t &+ bigS0(g) &+ maj(g, h, a)
            w11 = w11 &+ s1(w9) &+ w4 &+ s0(w12)
            t = e &+ bigS1(b) &+ ch(b, c, d) &+ 0xbf597fc7 &+ w11; a = a &+ t; e = t &+ bigS0(f) &+ maj(f, g, h)
            w12 = w12 &+ s1(w10) &+ w5 &+ s0(w13)
            t = d &+ bigS1(a) &+ ch(a, b, c) &+ 0xc6e00bf3 &+ w12; h = h &+ t; d = t &+ bigS0(e) &+ maj(e, f, g)
            w13 = w13 &+ s1(w11) &+ w6 &+ s0(w14)
            t = c &+ bigS1(h) &+ ch(h, a, b) &+ 0xd5a79147 &+ w13; g = g &+ t; c = t &+ bigS0(d) &+ maj(d, e, f)
            w14 = w14 &+ s1(w12) &+ w7 &+ s0(w15)
            t = b &+ bigS1(g) &+ ch(g, h, a) &+ 0x06ca6351 &+ w14; f = f &+ t; b = t &+ bigS0(c) &+ maj(c, d, e)
            w15 = w15 &+ s1(w13) &+ w8 &+ s0(w0)
            t = a &+ bigS1(f) &+ ch(f, g, h) &+ 0x14292967 &+ w15; e = e &+ t; a = t &+ bigS0(b) &+ maj(b, c, d)
            w0 = w0 &+ s1(w14) &+ w9 &+ s0(w1)
            t = h &+ bigS1(e) &+ ch(e, f, g) &+ 0x27b70a85 &+ w0; d = d &+ t; h = t &+ bigS0(a) &+ maj(a, b, c)
            w1 = w1 &+ s1(w15) &+ w10 &+ s0(w2)
            t = g &+ bigS1(d) &+ ch(d, e, f) &+ 0x2e1b2138 &+ w1; c = c &+ t; g = t &+ bigS0(h) &+ maj(h, a, b)
            w2 = w2 &+ s1(w0) &+ w11 &+ s0(w3)
            t = f &+ bigS1(c) &+ ch(c, d, e) &+ 0x4d2c6dfc &+ w2; b = b &+ t; f = t &+ bigS0(g) &+ maj(g, h, a)
            w3 = w3 &+ s1(w1) &+ w12 &+ s0(w4)
            t = e &+ bigS1(b) &+ ch(b, c, d) &+ 0x53380d13 &+ w3; a = a &+ t; e = t &+ bigS0(f) &+ maj(f, g, h)
            w4 = w4 &+ s1(w2) &+ w13 &+ s0(w5)
            t = d &+ bigS1(a) &+ ch(a, b, c) &+ 0x650a7354 &+ w4; h = h &+ t; d = t &+ bigS0(e) &+ maj(e, f, g)
            w5 = w5 &+ s1(w3) &+ w14 &+ s0(w6)
            t = c &+ bigS1(h) &+ ch(h, a, b) &+ 0x766a0abb &+ w5; g = g &+ t; c = t &+ bigS0(d) &+ maj(d, e, f)
            w6 = w6 &+ s1(w4) &+ w15 &+ s0(w7)
            t = b &+ bigS1(g) &+ ch(g, h, a) &+ 0x81c2c92e &+ w6; f = f &+ t; b = t &+ bigS0(c) &+ maj(c, d, e)
            w7 = w7 &+ s1(w5) &+ w0 &+ s0(w8)
            t = a &+ bigS1(f) &+ ch(f, g, h) &+ 0x92722c85 &+ w7; e = e &+ t; a = t &+ bigS0(b) &+ maj(b, c, d)
            w8 = w8 &+ s1(w6) &+ w1 &+ s0(w9)
            t = h &+ bigS1(e) &+ ch(e, f, g) &+ 0xa2bfe8a1 &+ w8; d = d &+ t; h = t &+ bigS0(a) &+ maj(a, b, c)
            w9 = w9 &+ s1(w7) &+ w2 &+ s0(w10)
            t = g &+ bigS1(d) &+ ch(d, e, f) &+ 0xa81a664b &+ w9; c = c &+ t; g = t &+ bigS0(h) &+ maj(h, a, b)
            w10 = w10 &+ s1(w8) &+ w3 &+ s0(w11)
            t = f &+ bigS1(c) &+ ch(c, d, e) &+ 0xc24b8b70 &+ w10; b = b &+ t; f = t &+ bigS0(g) &+ maj(g, h, a)
            w11 = w11 &+ s1(w9) &+ w4 &+ s0(w12)
            t = e &+ bigS1(b) &+ ch(b, c, d) &+ 0xc76c51a3 &+ w11; a = a &+ t; e = t &+ bigS0(f) &+ maj(f, g, h)
            w12 = w12 &+ s1(w10) &+ w5 &+ s0(w13)
            t = d &+ bigS1(a) &+ ch(a, b, c) &+ 0xd192e819 &+ w12; h = h &+ t; d = t &+ bigS0(e) &+ maj(e, f, g)
            w13 = w13 &+ s1(w11) &+ w6 &+ s0(w14)
            t = c &+ bigS1(h) &+ ch(h, a, b) &+ 0xd6990624 &+ w13; g = g &+ t; c = t &+ bigS0(d) &+ maj(d, e, f)
            w14 = w14 &+ s1(w12) &+ w7 &+ s0(w15)
            t = b &+ bigS1(g) &+ ch(g, h, a) &+ 0xf40e3585 &+ w14; f = f &+ t; b = t &+ bigS0(c) &+ maj(c, d, e)
            w15 = w15 &+ s1(w13) &+ w8 &+ s0(w0)
            t = a &+ bigS1(f) &+ ch(f, g, h) &+ 0x106aa070 &+ w15; e = e &+ t; a = t &+ bigS0(b) &+ maj(b, c, d)
            w0 = w0 &+ s1(w14) &+ w9 &+ s0(w1)
            t = h &+ bigS1(e) &+ ch(e, f, g) &+ 0x19a4c116 &+ w0; d = d &+ t; h = t &+ bigS0(a) &+ maj(a, b, c)
            w1 = w1 &+ s1(w15) &+ w10 &+ s0(w2)
            t = g &+ bigS1(d) &+ ch(d, e, f) &+ 0x1e376c08 &+ w1; c = c &+ t; g = t &+ bigS0(h) &+ maj(h, a, b)
            w2 = w2 &+ s1(w0) &+ w11 &+ s0(w3)
            t = f &+ bigS1(c) &+ ch(c, d, e) &+ 0x2748774c &+ w2; b = b &+ t; f = t &+ bigS0(g) &+ maj(g, h, a)
            w3 = w3 &+ s1(w1) &+ w12 &+ s0(w4)
            t = e &+ bigS1(b) &+ ch(b, c, d) &+ 0x34b0bcb5 &+ w3; a = a &+ t; e = t &+ bigS0(f) &+ maj(f, g, h)
            w4 = w4 &+ s1(w2) &+ w13 &+ s0(w5)
            t = d &+ bigS1(a) &+ ch(a, b, c) &+ 0x391c0cb3 &+ w4; h = h &+ t; d = t &+ bigS0(e) &+ maj(e, f, g)
            w5 = w5 &+ s1(w3) &+ w14 &+ s0(w6)
            t = c &+ bigS1(h) &+ ch(h, a, b) &+ 0x4ed8aa4a &+ w5; g = g &+ t; c = t &+ bigS0(d) &+ maj(d, e, f)
            w6 = w6 &+ s1(w4) &+ w15 &+ s0(w7)
            t = b &+ bigS1(g) &+ ch(g, h, a) &+ 0x5b9cca4f &+ w6; f = f &+ t; b = t &+ bigS0(c) &+ maj(c, d, e)
            w7 = w7 &+ s1(w5) &+ w0 &+ s0(w8)
            t = a &+ bigS1(f) &+ ch(f, g, h) &+ 0x682e6ff3 &+ w7; e = e &+ t; a = t &+ bigS0(b) &+ maj(b, c, d)
            w8 = w8 &+ s1(w6) &+ w1 &+ s0(w9)
            t = h &+ bigS1(e) &+ ch(e, f, g) &+ 0x748f82ee &+ w8; d = d &+ t; h = t &+ bigS0(a) &+ maj(a, b, c)
            w9 = w9 &+ s1(w7) &+ w2 &+ s0(w10)
            t = g &+ bigS1(d) &+ ch(d, e, f) &+ 0x78a5636f &+ w9; c = c &+ t; g = t &+ bigS0(h) &+ maj(h, a, b)
            w10 = w10 &+ s1(w8) &+ w3 &+ s0(w11)
            t = f &+ bigS1(c) &+ ch(c, d, e) &+ 0x84c87814 &+ w10; b = b &+ t; f = t &+ bigS0(g) &+ maj(g, h, a)
            w11 = w11 &+ s1(w9) &+ w4 &+ s0(w12)
            t = e &+ bigS1(b) &+ ch(b, c, d) &+ 0x8cc70208 &+ w11; a = a &+ t; e = t &+ bigS0(f) &+ maj(f, g, h)
            w12 = w12 &+ s1(w10) &+ w5 &+ s0(w13)
            t = d &+ bigS1(a) &+ ch(a, b, c) &+ 0x90befffa &+ w12; h = h &+ t; d = t &+ bigS0(e) &+ maj(e, f, g)
            w13 = w13 &+ s1(w11) &+ w6 &+ s0(w14)
            t = c &+ bigS1(h) &+ ch(h, a, b) &+ 0xa4506ceb &+ w13; g = g &+ t; c = t &+ bigS0(d) &+ maj(d, e, f)
            w14 = w14 &+ s1(w12) &+ w7 &+ s0(w15)
            t = b &+ bigS1(g) &+ ch(g, h, a) &+ 0xbef9a3f7 &+ w14; f = f &+ t; b = t &+ bigS0(c) &+ maj(c, d, e)
            w15 = w15 &+ s1(w13) &+ w8 &+ s0(w0)
            t = a &+ bigS1(f) &+ ch(f, g, h) &+ 0xc67178f2 &+ w15; e = e &+ t; a = t &+ bigS0(b) &+ maj(b, c, d)
            state.a &+= a; state.b &+= b; state.c &+= c; state.d &+= d
            state.e &+= e; state.f &+= f; state.g &+= g; state.h &+= h
            p += blockSize
        }
    }
}
