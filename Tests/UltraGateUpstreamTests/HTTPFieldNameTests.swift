import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP
@testable import UltraGateUpstream

/// The upstream side's case-insensitive header-name match.
@Suite struct HTTPFieldNameTests {
    @Test func fieldNamesMatchCaseInsensitivelyAndOnlyWhole() {
        #expect(HTTPFieldName.matches("Content-Length", "content-length"))
        #expect(HTTPFieldName.matches("CONTENT-LENGTH", "content-length"))
        #expect(!HTTPFieldName.matches("Content-Lengths", "content-length"))
        #expect(!HTTPFieldName.matches("Content-Lengt", "content-length"))
        #expect(!HTTPFieldName.matches("Content_Length", "content-length"))
        #expect(!HTTPFieldName.matches("", "content-length"))
        #expect(HTTPFieldName.firstValue([HTTPHeaderField("X-A", "1"), HTTPHeaderField("content-type", "a/b")], "content-type") == "a/b")
    }
}
