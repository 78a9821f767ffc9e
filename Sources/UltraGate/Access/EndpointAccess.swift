/// Which callers an endpoint admits when authentication is on.
package enum EndpointAccess: Sendable, Equatable {
    /// Anyone (the liveness probe).
    case open
    /// The master key or the read-only metrics key.
    case metricsReaders
    /// The master key only.
    case masterOnly
    /// Any valid key: the master key or a virtual key.
    case anyKey
}

extension Endpoint {
    /// Listed case by case, with no default: a new endpoint does not compile until someone decides
    /// who may call it.
    package var access: EndpointAccess {
        switch self {
        case .health: return .open
        // The deep check asks every configured model (upstream calls outside any key's model list,
        // limits and budget) and reports them all: for the operator's keys only.
        case .metrics, .stats, .deepHealth: return .metricsReaders
        case .chatCompletions, .listModels, .model: return .anyKey
        case .responses, .response, .responseInputItems, .messages, .countTokens, .embeddings: return .anyKey
        case .adminKeys, .adminKey, .adminKeyUsage: return .masterOnly
        // An unknown path or method still needs a key: the 404 or 405 must not tell a stranger
        // which paths exist.
        case .notFound, .methodNotAllowed: return .anyKey
        }
    }
}
