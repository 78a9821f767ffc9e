import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateJSON
@testable import UltraGateCache

@Suite struct RequestKeyMemoTests {
    let key = CacheKey.make(namespace: "default", route: "mock/mock-gpt", request: ["messages": []])

    @Test func remembersByExactBytesAndNamespace() {
        let memo = RequestKeyMemo()
        let body = Array(#"{"model":"m","messages":[]}"#.utf8)
        let digest = RequestKeyMemo.Digest(namespace: "default", body: body)
        #expect(memo.entry(for: digest) == nil)
        memo.remember(.init(key: key, model: "m", stream: true, includeUsage: false), for: digest)
        let found = memo.entry(for: RequestKeyMemo.Digest(namespace: "default", body: body))
        #expect(found?.key == key && found?.stream == true && found?.model == "m")
        // One byte more, or another namespace, is another request.
        #expect(memo.entry(for: RequestKeyMemo.Digest(namespace: "default", body: body + [0x20])) == nil)
        #expect(memo.entry(for: RequestKeyMemo.Digest(namespace: "tenant-b", body: body)) == nil)
        // The same bytes on another API (a Messages body) are another request too.
        #expect(memo.entry(for: RequestKeyMemo.Digest(namespace: "default", body: body, dialect: 1)) == nil)
        #expect(RequestKeyMemo.Digest(namespace: "default", body: body, dialect: 1)
                != RequestKeyMemo.Digest(namespace: "default", body: body, dialect: 2))
    }

    @Test func staysBounded() {
        let memo = RequestKeyMemo(capacity: 64, shardCount: 1)
        for i in 0..<1000 {
            memo.remember(.init(key: key, model: "m", stream: false, includeUsage: false),
                          for: RequestKeyMemo.Digest(namespace: "n", body: Array("\(i)".utf8)))
        }
        let remembered = (0..<1000).filter { memo.entry(for: RequestKeyMemo.Digest(namespace: "n", body: Array("\($0)".utf8))) != nil }
        #expect(remembered.count <= 64 && remembered.contains(999))
    }
}
