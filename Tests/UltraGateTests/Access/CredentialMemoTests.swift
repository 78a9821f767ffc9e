import Foundation
import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateHTTP
@testable import UltraGate

/// The per-connection memo of the last key presented (`CredentialMemo`): what it remembers must
/// never outlive a change of key on the connection, nor a revocation or change in the key store.
@Suite(.serialized) struct CredentialMemoTests {
    static let master = "master-key-0123456789"

    @Test func comparesTheWholeTokenWhateverItsLength() {
        let token: [UInt8] = Array("ug-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG".utf8)
        for length in 0...token.count {
            let a = Array(token[0..<length])
            #expect(a.withUnsafeBufferPointer { CredentialMemo.equal(a, $0) })
            for flip in 0..<length {  // one bit changed anywhere, in the word-wise part or the tail
                var b = a
                b[flip] ^= 0x20
                #expect(!b.withUnsafeBufferPointer { CredentialMemo.equal(a, $0) }, "length \(length), byte \(flip)")
            }
            if length > 0 {
                let shorter = Array(a.dropLast())
                #expect(!shorter.withUnsafeBufferPointer { CredentialMemo.equal(a, $0) })
            }
        }
    }

    @Test func rememberedHashesFollowTheFieldPresented() {
        let memo = CredentialMemo()
        var digests = 0
        func hash(_ value: String, bearer: Bool = true) -> KeyHash? {
            Array(value.utf8).withUnsafeBufferPointer { raw in
                memo.hash(ofField: raw, bearer: bearer) { value in
                    digests += 1
                    return AccessGate.tokenRange(in: value, bearer: bearer).map {
                        KeyHash(digestOf: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: value[$0])))
                    }
                }
            }
        }
        #expect(hash("Bearer ug-first") == KeyHash(digestOf: "ug-first"))
        #expect(hash("Bearer ug-first") == KeyHash(digestOf: "ug-first") && digests == 1, "remembered")
        #expect(hash("Bearer ug-second") == KeyHash(digestOf: "ug-second"))
        #expect(hash("Bearer ug-firsu") == KeyHash(digestOf: "ug-firsu"))
        #expect(hash("bearer  ug-first ") == KeyHash(digestOf: "ug-first"), "another spelling of the same key")
        // The same bytes as x-api-key are another key: the scheme is part of it there.
        #expect(hash("bearer  ug-first ", bearer: false) == KeyHash(digestOf: "bearer  ug-first"))
        #expect(hash("Basic dTpw") == nil)
        #expect(hash("bearer  ug-first ") == KeyHash(digestOf: "ug-first") && digests == 7,
                "a field without a key is not remembered, nor does it change what is")
    }

    /// One keep-alive connection, as an SDK's pooled connection: its requests switch keys, and the
    /// key it uses is revoked and changed in the LMDB key store between requests.
    @Test func aConnectionSeesKeySwitchesRevocationsAndChanges() async throws {
        let provider = ScriptedChatProvider()
        let harness = try GatewayHarness(routes: [route("m", provider), route("other", provider)]) { config in
            config.auth.masterKey = CredentialMemoTests.master
        }
        let store = try #require(harness.gateway.keyStore)
        let alice = try store.create(["name": "alice"]).secret
        let bob = try store.create(["name": "bob", "models": ["other"]]).secret
        try await blocking {
            let c = try harness.client()
            func chat(_ key: String, model: String = "m") throws -> Int {
                c.post("/v1/chat/completions", json: GatewayHarness.body(model, "memo"), headers: ["Authorization": "Bearer \(key)"])
                return try c.readResponse().status
            }
            #expect(try chat(alice) == 200)
            #expect(try chat(alice) == 200)
            #expect(try chat(bob) == 403, "bob's list does not hold m: his key, not alice's remembered one, decides")
            #expect(try chat(bob, model: "other") == 200)
            #expect(try chat(alice) == 200)
            #expect(try chat(CredentialMemoTests.master) == 200)
            #expect(try chat(alice + "x") == 401)
            #expect(try chat(String(alice.dropLast())) == 401)
            #expect(try chat(alice) == 200)
            // Changed in the store: the next request on the same connection sees the change.
            _ = try store.update(name: "alice", ["models": ["other"]])
            #expect(try chat(alice) == 403)
            #expect(try chat(alice, model: "other") == 200)
            try store.revoke(name: "alice")
            #expect(try chat(alice, model: "other") == 401)
            #expect(try chat(bob, model: "other") == 200)
        }
    }

    /// A change made by another process reaches this one by the store's refresh, which must also
    /// retire what connections remembered.
    @Test func aRevocationByAnotherProcessEndsTheRememberedGrant() async throws {
        let provider = ScriptedChatProvider()
        let harness = try GatewayHarness(routes: [route("m", provider)]) { config in
            config.auth.masterKey = CredentialMemoTests.master
        }
        let store = try #require(harness.gateway.keyStore)
        let alice = try store.create(["name": "alice"]).secret
        // "Another process": a second store on the same directory (the CLI's `keys revoke`).
        var options = LMDBKeyStore.Options()
        options.background = false
        let other = try LMDBKeyStore(directory: harness.cacheDir, mapSize: 64 << 20, options: options)
        defer { other.close() }
        try await blocking {
            let c = try harness.client()
            func chat() throws -> Int {
                c.post("/v1/chat/completions", json: GatewayHarness.body("m", "memo"), headers: ["Authorization": "Bearer \(alice)"])
                return try c.readResponse().status
            }
            #expect(try chat() == 200)
            try other.revoke(name: "alice")
            store.refresh()  // what the gateway's store does every 0.25 s
            #expect(try chat() == 401)
        }
    }
}
