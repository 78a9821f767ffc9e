import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateCache

private func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(hex.utf8).makeIterator()
    func nibble(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10 }
    while let hi = chars.next(), let lo = chars.next() { out.append(nibble(hi) << 4 | nibble(lo)) }
    return out
}

@Suite struct SHA256Tests {
    /// FIPS 180-4 / NIST "Examples with intermediate values" (SHA256.pdf): one-block, empty,
    /// two-block (448-bit), 896-bit and the one-million-'a' messages.
    static let fipsExamples: [(message: [UInt8], digest: String)] = [
        (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        (Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8),
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        ([UInt8](repeating: 0x61, count: 1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ]

    /// The backends this CPU can run: software always, hardware where the CPU has SHA instructions.
    static let backends: [SHA256.Backend] = SHA256.hardwareAvailable ? [.software, .hardware] : [.software]

    @Test(arguments: backends) func fipsExamples(backend: SHA256.Backend) {
        for v in Self.fipsExamples {
            let digest = v.message.withUnsafeBytes { SHA256.hash($0, backend: backend) }
            #expect(SHA256.hex(digest) == v.digest, "\(v.message.count)-byte message")
        }
    }

    /// `finalize(into:)` (no allocation, what the access gate uses) writes the same digest.
    @Test func finalizeIntoABufferMatchesFIPSExamples() {
        for v in Self.fipsExamples {
            var sha = SHA256()
            v.message.withUnsafeBytes { sha.update($0) }
            var out = [UInt8](repeating: 0, count: 40)
            out.withUnsafeMutableBytes { sha.finalize(into: $0) }
            #expect(SHA256.hex(out.prefix(32)) == v.digest && out.suffix(8).allSatisfy { $0 == 0 }, "\(v.message.count)-byte message")
        }
    }

    @Test func publicAPIMatchesFIPSExamples() {
        #expect(SHA256.hex(SHA256.hash("abc")) == Self.fipsExamples[0].digest)
        #expect(SHA256.hex(SHA256.hash("")) == Self.fipsExamples[1].digest)
        #expect(SHA256.hex(SHA256.hash(Self.fipsExamples[4].message)) == Self.fipsExamples[4].digest)
    }

    /// Byte-oriented vectors from NIST CAVP SHA256ShortMsg.rsp and SHA256LongMsg.rsp
    /// (https://csrc.nist.gov/CSRC/media/Projects/Cryptographic-Algorithm-Validation-Program/documents/shs/shabytetestvectors.zip):
    /// lengths 8, 32, 64, 504 (one byte short of a block) and 512 bits, and the LongMsg Len = 1304 entry.
    static let cavsVectors: [(message: String, digest: String)] = [
        ("d3", "28969cdfa74a12c82f3bad960b0b000aca2ac329deea5c2328ebc6f2ba9802c1"),
        ("74ba2521", "b16aa56be3880d18cd41e68384cf1ec8c17680c45a02b1575dc1518923ae8b0e"),
        ("5738c929c4f4ccb6", "963bb88f27f512777aab6c8b1a02c70ec0ad651d428f870036e1917120fb48bf"),
        ("e2f76e97606a872e317439f1a03fcd92e632e5bd4e7cbc4e97f1afc19a16fde92d77cbe546416b51640cddb92af996534dfd81edb17c4424cf1ac4d75aceeb",
         "18041bd4665083001fba8c5411d2d748e8abbfdcdfd9218cb02b68a78e7d4c23"),
        ("5a86b737eaea8ee976a0a24da63e7ed7eefad18a101c1211e2b3650c5187c2a8a650547208251f6d4237e661c7bf4c77f335390394c37fa1a9f9be836ac28509",
         "42e61e174fbb3897d6dd6cef3dd2802fe67b331953b06114a65c772859dfc1aa"),
        ("451101250ec6f26652249d59dc974b7361d571a8101cdfd36aba3b5854d3ae086b5fdd4597721b66e3c0dc5d8c606d9657d0e323283a5217d1f53f2f284f57b85c8a61ac8924711f895c5ed90ef17745ed2d728abd22a5f7a13479a462d71b56c19a74a40b655c58edfe0a188ad2cf46cbf30524f65d423c837dd1ff2bf462ac4198007345bb44dbb7b1c861298cdf61982a833afc728fae1eda2f87aa2c9480858bec",
         "3c593aa539fdcdae516cdf2f15000f6634185c88f505b39775fb9ab137a10aa2"),
    ]

    @Test(arguments: backends) func cavsVectors(backend: SHA256.Backend) {
        for v in Self.cavsVectors {
            let digest = bytes(hex: v.message).withUnsafeBytes { SHA256.hash($0, backend: backend) }
            #expect(SHA256.hex(digest) == v.digest, "message \(v.message.prefix(16))…")
        }
    }

    /// Where the CPU has SHA instructions, the default backend is the hardware one.
    @Test func defaultBackendFollowsCPU() {
        #expect(SHA256.defaultBackend == (SHA256.hardwareAvailable ? .hardware : .software))
    }

    /// Differential test: hardware and software digests agree on random messages of 0–5000 bytes
    /// fed in three random pieces (so whole blocks reach the compressor both buffered and directly,
    /// in runs of many blocks). A fixed seed keeps failures reproducible.
    @Test(.enabled(if: SHA256.hardwareAvailable)) func hardwareMatchesSoftwareOnRandomInput() {
        var rng = ShaTestRandom(seed: 0x5EED_5A25_6D1F_F000)
        var pool = [UInt8](repeating: 0, count: 5000)
        for i in pool.indices { pool[i] = UInt8(truncatingIfNeeded: rng.next()) }
        for round in 0..<3000 {
            let length = round < 200 ? round : Int(rng.next() % 5001)
            let start = Int(rng.next() % UInt64(pool.count - length + 1))
            let message = pool[start..<(start + length)]
            let cut1 = Int(rng.next() % UInt64(length + 1))
            let cut2 = cut1 + Int(rng.next() % UInt64(length - cut1 + 1))
            var software = SHA256(backend: .software)
            var hardware = SHA256(backend: .hardware)
            for piece in [message[..<(message.startIndex + cut1)],
                          message[(message.startIndex + cut1)..<(message.startIndex + cut2)],
                          message[(message.startIndex + cut2)...]] {
                piece.withUnsafeBytes { software.update($0); hardware.update($0) }
            }
            let expected = software.finalize()
            let actual = hardware.finalize()
            #expect(actual == expected, "length \(length), cuts \(cut1)/\(cut2)")
            if actual != expected { return }
        }
    }

    /// Any split of the input into two `update` calls (and byte-at-a-time feeding) gives the
    /// one-shot digest; 200 bytes cover splits inside, at and across block boundaries.
    @Test func incrementalSplitsAtEveryOffset() {
        let message = (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let expected = SHA256.hash(message)
        for split in 0...message.count {
            var hasher = SHA256()
            hasher.update(Array(message[..<split]))
            hasher.update(Array(message[split...]))
            #expect(hasher.finalize() == expected, "split at \(split)")
        }
        var bytewise = SHA256()
        for b in message { bytewise.update([b]) }
        #expect(bytewise.finalize() == expected)
    }

    @Test func hexSpelling() {
        #expect(SHA256.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(SHA256.hash("abc").count == 32)
    }
}

/// Deterministic 64-bit generator (ShaTestRandom, Steele et al.), so a failing input can be replayed.
private struct ShaTestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }
}
