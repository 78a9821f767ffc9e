import Testing
@testable import UltraGateSupport
@testable import UltraGateTesting
@testable import UltraGateHTTP

@Suite struct HostSyntaxTests {
    /// Host = uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2–3.2.3); RFC 9112 §3.2 makes an
    /// invalid value a 400.
    @Test(arguments: [
        // Valid: reg-name (a dotted quad is one too), IP-literal, empty parts.
        ("", true), ("localhost", true), ("localhost:8080", true), ("h:", true), (":", true), ("127.0.0.1:80", true),
        ("999.1.1.1", true), ("xn--caf-dma.example", true), ("a%41b", true), ("!$&'()*+;=-._~", true),
        ("[::1]", true), ("[::1]:8080", true), ("[::]", true), ("[1::]", true), ("[2001:DB8::ff00:42:8329]", true),
        ("[1:2:3:4:5:6:7:8]", true), ("[1:2:3:4:5:6:7::]", true), ("[::2:3:4:5:6:7:8]", true),
        ("[::ffff:192.0.2.1]:443", true), ("[1:2:3:4:5:6:1.2.3.4]", true), ("[v1.fe80::a+en1]", true), ("[V1F.x]", true),
        // Invalid port.
        ("x:abc", false), ("x:80:90", false), ("x: 80", false),
        // Invalid reg-name characters or pct-encoding.
        ("%zz", false), ("%4", false), ("a%4", false), ("x\"y", false), ("x\\y", false), ("x{y", false), ("x<y", false),
        ("caf\u{E9}", false), ("u@x", false), ("x/y", false), ("x?y", false), ("x#y", false), ("a b", false),
        // Several values in one (a list is more than one Host).
        ("a,b", false),
        // Invalid IP-literal.
        ("[::1", false), ("[::1]x", false), ("[::1]:x", false), ("[]", false), ("[1.2.3.4]", false), ("[::1::2]", false),
        ("[1:2:3:4:5:6:7:8:9]", false), ("[1:2:3:4:5:6:7:8::]", false), ("[1:2:3:4:5:6:7]", false), ("[12345::]", false),
        ("[:1::]", false), ("[1:]", false), ("[:::]", false), ("[g::]", false), ("[::1.2.3.256]", false),
        ("[::1.2.3.04]", false), ("[::1.2.3]", false), ("[::1.2.3.4:5]", false), ("[::1.2.3.4.5]", false),
        ("[v1.]", false), ("[v.x]", false), ("[vz.x]", false), ("[v1x]", false), ("[v1.a/b]", false),
    ])
    func hostValues(value: String, valid: Bool) {
        let status = parseErrorStatus("GET / HTTP/1.1\r\nHost: \(value)\r\n\r\n")
        #expect(status == (valid ? nil : 400))
    }

    @Test func hostIsCheckedInHTTP10Too() {
        #expect(parseErrorStatus("GET / HTTP/1.0\r\nHost: x:abc\r\n\r\n") == 400)
        #expect(parseErrorStatus("GET / HTTP/1.0\r\nHost: [::1]:80\r\n\r\n") == nil)
    }
}
