/// Why a change to the virtual keys was refused: the admin API answers 400, 409, 404 or 500, the
/// command line exits with 2 or 1.
package enum KeyAdminError: Error, Equatable, CustomStringConvertible {
    /// A field of the key's description cannot be used.
    case invalid(KeySpecError)
    /// A key with that name exists already.
    case exists(String)
    /// No key has that name.
    case notFound(String)
    /// The key store could not be read or written (never holds a secret).
    case storage(String)

    package var description: String {
        switch self {
        case .invalid(let error): return error.description
        case .exists(let name): return "a key named `\(name)` exists already"
        case .notFound(let name): return "no key is named \(Self.shown(name))"
        case .storage(let reason): return "the key store failed: \(reason)"
        }
    }

    /// A name as messages show it: a name that could not be one is not echoed, since it may be a
    /// secret pasted into the wrong place.
    package static func shown(_ name: String) -> String { KeySpecValidator.isValidName(name) ? "`\(name)`" : "so" }
}
