import UltraGateHTTP
import UltraGateSupport
import CCurl
import Foundation

/// A libcurl easy handle and its error buffer. Created, configured, reset and destroyed only on
/// the thread driving its `CurlMultiCore`; reused across transfers so a request costs no `curl_easy_init`.
package final class CurlEasyHandle {
    package let raw: UnsafeMutableRawPointer
    package let errorBuffer: UnsafeMutablePointer<CChar>

    package init?() {
        guard let raw = curl_easy_init() else { return nil }
        self.raw = raw
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer[0] = 0
    }

    deinit {
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }

    package var errorDetail: String { String(cString: errorBuffer) }

    /// Back to defaults for the next transfer; live connections stay in the multi's cache.
    package func reset() {
        curl_easy_reset(raw)
        errorBuffer[0] = 0
        configured = .fresh
    }

    package enum Configured { case fresh, plainPost, other }
    /// What the handle was last configured for. After a plain POST the shared options are set and
    /// the next plain POST overwrites every per-request option, so it can skip `curl_easy_reset`
    /// and the shared options (~6k instructions of a ~340k miss); anything else resets first.
    package private(set) var configured = Configured.fresh
    /// The CA file the shared options were set with (nil: the system's); a plain POST that wants
    /// another one cannot take the fast path.
    private var configuredCABundle: String?

    /// Between transfers: forgets the pointers into the finished transfer (its header list and
    /// callback context) but keeps the shared options.
    package func park() {
        _ = ug_easy_setopt_slist(raw, CURLOPT_HTTPHEADER, nil)
        _ = ug_easy_setopt_pointer(raw, CURLOPT_WRITEDATA, nil)
        _ = ug_easy_setopt_pointer(raw, CURLOPT_HEADERDATA, nil)
        _ = ug_easy_setopt_pointer(raw, CURLOPT_PRIVATE, nil)
        errorBuffer[0] = 0
    }

    /// Applies everything a request needs. Returns the header list, which must stay alive until
    /// the transfer ends (then `curl_slist_free_all`).
    package func configure(for request: UpstreamRequest, options: CurlTransport.Options,
                   context: UnsafeMutableRawPointer) throws(UpstreamError) -> UnsafeMutablePointer<curl_slist>? {
        let h = raw
        var failed: CURLcode = CURLE_OK
        func check(_ code: CURLcode) { if code != CURLE_OK && failed == CURLE_OK { failed = code } }

        let method = Self.isUppercase(request.method) ? request.method : request.method.uppercased()
        let plainPost = method == "POST" && !request.body.isEmpty
        let caBundlePath = request.caBundlePath ?? options.caBundlePath
        if !(plainPost && configured == .plainPost && configuredCABundle == caBundlePath) {
            if configured != .fresh { reset() }
            check(ug_easy_setopt_pointer(h, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer)))
            check(ug_easy_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https"))
            check(ug_easy_setopt_long(h, CURLOPT_NOSIGNAL, 1))
            check(ug_easy_setopt_long(h, CURLOPT_TCP_NODELAY, 1))
            check(ug_easy_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1))
            check(ug_easy_setopt_long(h, CURLOPT_TCP_KEEPIDLE, 30))
            check(ug_easy_setopt_long(h, CURLOPT_TCP_KEEPINTVL, 15))
            // HTTP/2 over TLS when the server offers it via ALPN, HTTP/1.1 in clear text.
            check(ug_easy_setopt_long(h, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)))
            check(ug_easy_setopt_long(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1))
            // Empty string: advertise every encoding libcurl can decode, and decode it.
            check(ug_easy_setopt_string(h, CURLOPT_ACCEPT_ENCODING, ""))
            if !Self.proxyInEnvironment {
                // No proxy variable was set at start: say so, instead of libcurl reading the
                // environment again (seven getenv calls) on every transfer.
                check(ug_easy_setopt_string(h, CURLOPT_PROXY, ""))
                check(ug_easy_setopt_string(h, CURLOPT_NOPROXY, ""))
            }
            if let userAgent = options.userAgent { check(ug_easy_setopt_string(h, CURLOPT_USERAGENT, userAgent)) }
            // Peer and host name verification are libcurl's defaults; said here so no path turns them off.
            check(ug_easy_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1))
            check(ug_easy_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2))
            if let caBundlePath {
                // Only this file's CAs, not the system's directory of them as well.
                check(ug_easy_setopt_string(h, CURLOPT_CAINFO, caBundlePath))
                check(ug_easy_setopt_string(h, CURLOPT_CAPATH, nil))
            }
            configuredCABundle = caBundlePath
            check(ug_easy_setopt_data_callback(h, CURLOPT_WRITEFUNCTION, curlWriteCallback))
            check(ug_easy_setopt_data_callback(h, CURLOPT_HEADERFUNCTION, curlHeaderCallback))
        }
        // Only a plain POST may leave its per-request options for the next one to overwrite.
        configured = plainPost ? .plainPost : .other

        // Set on every request (0 is libcurl's default): a reused handle keeps the last values.
        check(ug_easy_setopt_string(h, CURLOPT_URL, request.url))
        // Over TLS, wait for a connection's ALPN answer and multiplex on it rather than opening
        // more. Not in clear text: there, HTTP/1.1 is certain and waiting would serialise requests.
        check(ug_easy_setopt_long(h, CURLOPT_PIPEWAIT, Self.isHTTPS(request.url) ? 1 : 0))
        check(ug_easy_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS,
                                  request.timeouts.connect > 0 ? Self.milliseconds(request.timeouts.connect) : 0))
        check(ug_easy_setopt_long(h, CURLOPT_TIMEOUT_MS,
                                  request.timeouts.total > 0 ? Self.milliseconds(request.timeouts.total) : 0))

        switch method {
        case "GET" where request.body.isEmpty:
            check(ug_easy_setopt_long(h, CURLOPT_HTTPGET, 1))
        case "HEAD" where request.body.isEmpty:
            check(ug_easy_setopt_long(h, CURLOPT_NOBODY, 1))
        default:
            if method != "POST" || !request.body.isEmpty {
                // The size must be set before COPYPOSTFIELDS so libcurl copies exactly that much.
                check(ug_easy_setopt_off_t(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
                check(request.body.withUnsafeBytes { bytes in
                    ug_easy_setopt_pointer(h, CURLOPT_COPYPOSTFIELDS,
                                           UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(Self.emptyBody)))
                })
            } else {
                check(ug_easy_setopt_off_t(h, CURLOPT_POSTFIELDSIZE_LARGE, 0))
                check(ug_easy_setopt_pointer(h, CURLOPT_POSTFIELDS, Self.emptyBody))
            }
            if method != "POST" { check(ug_easy_setopt_string(h, CURLOPT_CUSTOMREQUEST, method)) }
        }

        var list: UnsafeMutablePointer<curl_slist>?
        var hasContentType = false
        func append(_ line: String) {
            if let grown = curl_slist_append(list, line) { list = grown } else { failed = CURLE_OUT_OF_MEMORY }
        }
        // One buffer for every `Name: value` line (libcurl copies each), not a string apiece.
        var line: [CChar] = []
        line.reserveCapacity(256)
        func append(_ field: HTTPHeaderField) {
            line.removeAll(keepingCapacity: true)
            Self.appendCString(field.name, to: &line)
            // `Name;` is libcurl's syntax for a header with an empty value (`Name:` removes it).
            if field.value.isEmpty {
                line.append(CChar(UInt8(ascii: ";")))
            } else {
                line.append(CChar(UInt8(ascii: ":")))
                line.append(CChar(UInt8(ascii: " ")))
                Self.appendCString(field.value, to: &line)
            }
            line.append(0)
            if let grown = curl_slist_append(list, line) { list = grown } else { failed = CURLE_OUT_OF_MEMORY }
        }
        for field in request.headers {
            guard Self.isSafe(field.name, isName: true), Self.isSafe(field.value, isName: false) else {
                configured = .other
                curl_slist_free_all(list)
                throw .transport("invalid characters in request header \(Self.printableName(field.name))")
            }
            if HTTPFieldName.matches(field.name, "content-length") || HTTPFieldName.matches(field.name, "transfer-encoding")
                || HTTPFieldName.matches(field.name, "expect") {
                continue  // libcurl frames the body itself
            }
            if HTTPFieldName.matches(field.name, "content-type") { hasContentType = true }
            append(field)
        }
        // An empty `Expect:` stops libcurl from waiting for `100 Continue` before large bodies.
        append("Expect:")
        // Otherwise libcurl labels every POST body `application/x-www-form-urlencoded`.
        if !hasContentType { append("Content-Type:") }
        check(ug_easy_setopt_slist(h, CURLOPT_HTTPHEADER, list))

        check(ug_easy_setopt_pointer(h, CURLOPT_WRITEDATA, context))
        check(ug_easy_setopt_pointer(h, CURLOPT_HEADERDATA, context))
        check(ug_easy_setopt_pointer(h, CURLOPT_PRIVATE, context))

        if failed != CURLE_OK {
            configured = .other
            curl_slist_free_all(list)
            throw .transport(CurlErrorMapping.describe(code: failed, detail: ""))
        }
        return list
    }

    /// Whether any variable libcurl takes a proxy from is set (read once, at first use).
    package static let proxyInEnvironment: Bool = {
        let names = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
        return names.contains { ProcessInfo.processInfo.environment[$0].map { !$0.isEmpty } ?? false }
    }()

    private nonisolated(unsafe) static let emptyBody = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

    private static func isHTTPS(_ url: String) -> Bool {
        var scheme = url.utf8.prefix(6).makeIterator()
        for expected in "https:".utf8 {
            guard let b = scheme.next(), b | 0x20 == expected | 0x20 else { return false }
        }
        return true
    }

    private static func milliseconds(_ seconds: Double) -> Int {
        let ms = (seconds * 1000).rounded(.up)
        return ms >= Double(Int32.max) ? Int(Int32.max) : max(1, Int(ms))
    }

    /// CR, LF and NUL would let a value smuggle extra header lines; a name must also be a token.
    private static func isSafe(_ text: String, isName: Bool) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            for b in bytes {
                if b == 13 || b == 10 || b == 0 { return false }
                if isName && (b == UInt8(ascii: ":") || b <= 32 || b == 127) { return false }
            }
            return !isName || !bytes.isEmpty
        }
    }

    private static func appendCString(_ text: String, to out: inout [CChar]) {
        var text = text
        text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { out.append(contentsOf: $0) }
        }
    }

    private static func isUppercase(_ method: String) -> Bool {
        method.utf8.allSatisfy { $0 < UInt8(ascii: "a") || $0 > UInt8(ascii: "z") }
    }

    private static func printableName(_ name: String) -> String {
        String(name.unicodeScalars.filter { $0.value > 32 && $0.value < 127 && $0 != ":" }.prefix(64))
    }
}

/// libcurl's body callback: `userdata` is the `CurlTransfer` passed as CURLOPT_WRITEDATA.
/// Returning less than `size * nmemb` aborts the transfer (used when nobody is listening, and
/// past the body's size limit); CURL_WRITEFUNC_PAUSE pauses it.
private let curlWriteCallback: ug_data_callback = { data, size, count, userdata in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
    let n = size * count
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: n))
}

/// libcurl's header callback: one call per complete header line, including the blank one.
/// Returning less than `size * nmemb` aborts the transfer (used past the head's size limit).
private let curlHeaderCallback: ug_data_callback = { data, size, count, userdata in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
    let n = size * count
    return transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: n))
}
