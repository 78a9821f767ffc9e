/// Safe by default: a gateway without a master key spends the operator's provider keys for anyone
/// who reaches it, so it serves only on loopback unless told otherwise.
package enum ExposureCheck {
    /// Whether `host` (the listen address) is reachable only from this machine: `localhost`, the
    /// IPv4 loopback net `127.0.0.0/8`, or `::1` (in any spelling IPv6 allows, e.g. `0:0::1`).
    package static func isLoopback(_ host: String) -> Bool {
        var h = host.lowercased()
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h == "localhost" { return true }
        let octets = h.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }), octets[0] == "127" { return true }
        if h.contains(":") {
            // ::1 in full or compressed spelling: every group zero but a last group of 1.
            let groups = h.split(separator: ":", omittingEmptySubsequences: true)
            guard let last = groups.last, UInt16(last, radix: 16) == 1 else { return false }
            return groups.dropLast().allSatisfy { UInt16($0, radix: 16) == 0 }
        }
        return false
    }

    /// Why the gateway must not start (one line, saying how to fix it), or nil.
    package static func refusal(host: String, auth: AuthSettings) -> String? {
        guard auth.masterKey == nil, !auth.allowUnauthenticated, !isLoopback(host) else { return nil }
        return "refusing to listen on \(host) without authentication: anyone who reaches it could spend your provider keys. "
            + "Set ULTRAGATE_MASTER_KEY (or auth.master_key), or pass --allow-unauthenticated (auth.allow_unauthenticated: true) "
            + "if a proxy in front authenticates clients."
    }

    /// The warning logged at start when serving a non-loopback address without a key on purpose.
    package static func warning(host: String, auth: AuthSettings) -> String? {
        guard auth.masterKey == nil, !isLoopback(host) else { return nil }
        return "warning: serving \(host) without authentication (allow_unauthenticated): every client that reaches it uses your provider keys"
    }
}
