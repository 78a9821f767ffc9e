#if canImport(Glibc)
import Glibc
#endif

/// What the access gate worked out for the key a connection presented last: the field's value as
/// presented, the key's SHA-256 and its grant. A client sends the same field on every request of
/// a connection, so from the second request on the gate compares the field's bytes with the
/// memo's instead of reading the key out of them, hashing it and looking the hash up under the key
/// store's lock.
///
/// The comparison takes the same time wherever the bytes differ (only the length, which is public,
/// decides early), so the memo tells a client that sends other keys on the same connection nothing
/// about the key it holds. The grant is reused only while the key store hands out the same grants
/// (`KeyStore.grantsVersion`): a revocation or change is seen as soon as the store reloads.
///
/// One per connection (`HTTPResponder.connectionMemo`), touched only on that connection's loop
/// thread; it holds the key as long as the connection, as the connection's own buffers do, and
/// zeroes it when replaced or freed.
package final class CredentialMemo {
    /// The presented field's whole value, and whether it was `Authorization` (else `x-api-key`).
    private var value: [UInt8] = []
    private var bearer = false
    private var hash: KeyHash?
    private var grant: KeyGrant?
    private var grantsVersion: UInt64 = 0

    package init() {}

    deinit { forgetValue() }

    /// The hash `digest` makes of the key in a field's `value` (`bearer`: an `Authorization`
    /// field): remembered if the same field and value were presented last. Nil (and nothing
    /// remembered) when the value holds no key.
    func hash(ofField value: UnsafeBufferPointer<UInt8>, bearer: Bool,
              _ digest: (UnsafeBufferPointer<UInt8>) -> KeyHash?) -> KeyHash? {
        if let hash, self.bearer == bearer, Self.equal(self.value, value) { return hash }
        guard let made = digest(value) else { return nil }
        forgetValue()
        self.value = Array(value)
        self.bearer = bearer
        hash = made
        grant = nil
        return made
    }

    /// The grant remembered for `hash` (the hash remembered last), if the store still hands out
    /// the grants it handed out then (`version`).
    func grant(for hash: KeyHash, version: UInt64) -> KeyGrant? {
        grantsVersion == version && self.hash == hash ? grant : nil
    }

    /// Remembers the grant the store gave for `hash` while at `version` (nothing, unless `hash`
    /// is the hash remembered last).
    func remember(_ grant: KeyGrant, for hash: KeyHash, version: UInt64) {
        guard self.hash == hash else { return }
        self.grant = grant
        grantsVersion = version
    }

    /// Whether `a` and `b` hold the same bytes, in a time that depends only on their lengths.
    static func equal(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count, let bBase = b.baseAddress else { return a.count == b.count }
        return a.withUnsafeBytes { a in
            let b = UnsafeRawPointer(bBase)
            var difference: UInt64 = 0
            var i = 0
            while i + 8 <= a.count {  // eight bytes at a time, then the rest
                difference |= a.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < a.count {
                difference |= UInt64(a[i] ^ b.load(fromByteOffset: i, as: UInt8.self))
                i += 1
            }
            return difference == 0
        }
    }

    private func forgetValue() {
        value.withUnsafeMutableBytes { if let base = $0.baseAddress { explicit_bzero(base, $0.count) } }
        value = []
    }
}
