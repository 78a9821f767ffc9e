/// Who sent a request, as the access gate established it.
package enum Caller: Sendable {
    /// No authentication is configured (a loopback-only gateway, or `allow_unauthenticated`).
    case open
    /// The master key: everything, including `/admin/*`; the shared cache namespace.
    case master
    /// The read-only metrics key: `/metrics` and `/v1/stats` only.
    case metricsReader
    /// A virtual key.
    case key(KeyGrant)

    /// How the access log names the caller: the key's name, `master`, `metrics`, or nil (open).
    package var logName: String? {
        switch self {
        case .open: return nil
        case .master: return "master"
        case .metricsReader: return "metrics"
        case .key(let grant): return grant.key.name
        }
    }

    /// The virtual key's team, if any.
    package var team: String? {
        if case .key(let grant) = self { return grant.key.team }
        return nil
    }

    package var virtualKey: VirtualKey? {
        if case .key(let grant) = self { return grant.key }
        return nil
    }
}
