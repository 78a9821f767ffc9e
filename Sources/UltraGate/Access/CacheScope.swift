/// Whose cached answers a virtual key may receive: only its own (`key`), its team's (`team`), or
/// everyone's in the gateway namespace (`shared`). The scope is part of every cache key and flight
/// key, so no tenant gets another's answer, nor learns by timing that another asked the same.
package enum CacheScope: String, Sendable, Equatable, CaseIterable {
    case key
    case team
    case shared
}
