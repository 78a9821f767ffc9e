import UltraGateJSON
import UltraGateSupport
#if canImport(Glibc)
import Glibc
#endif

/// A resolved socket address (IPv4 or IPv6), copied out of getaddrinfo so it can cross threads.
package struct BenchAddress: Sendable {
    package let family: Int32
    private let storage: [UInt8]

    package static func resolve(host: String, port: Int) -> BenchAddress? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        // Prefer IPv4 for "localhost", like most load tools do.
        var chosen = first
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let a = p {
            if a.pointee.ai_family == AF_INET { chosen = a; break }
            p = a.pointee.ai_next
        }
        let bytes = UnsafeRawBufferPointer(start: chosen.pointee.ai_addr, count: Int(chosen.pointee.ai_addrlen))
        return BenchAddress(family: chosen.pointee.ai_family, storage: Array(bytes))
    }

    package func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        storage.withUnsafeBytes { body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) }
    }
}
