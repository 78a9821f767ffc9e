import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport

/// One input item of an embeddings request: a text, or token ids of the model's tokenizer.
public enum EmbeddingInput: Sendable, Hashable {
    case text(String)
    case tokens([Int])

    public var isTokens: Bool { if case .tokens = self { return true } else { return false } }

    /// About how many tokens the item is: a token array's length; a text's count by
    /// `MockTokenEstimator` (the gateway has no provider's tokenizer). At least 1.
    public var estimatedTokens: Int {
        switch self {
        case .text(let text): return max(1, MockTokenEstimator.count(text))
        case .tokens(let ids): return max(1, ids.count)
        }
    }
}

/// What the gateway asks an embeddings provider: the items, as given, for one provider model.
public struct EmbeddingCall: Sendable {
    /// The provider's own model name.
    public var model: String
    public var inputs: [EmbeddingInput]
    /// The vector length asked for (OpenAI `dimensions`, Gemini `outputDimensionality`).
    public var dimensions: Int?
    /// OpenAI's end-user id.
    public var user: String?
    /// The request's other fields (OpenAI-compatible servers' own options), passed on as given
    /// where the provider's API has a place for them.
    public var options: JSONObject
    public var requestID: String
    public var timeouts: UpstreamTimeouts

    public init(model: String, inputs: [EmbeddingInput], dimensions: Int? = nil, user: String? = nil, options: JSONObject = [:],
                requestID: String = "", timeouts: UpstreamTimeouts = UpstreamTimeouts()) {
        self.model = model
        self.inputs = inputs
        self.dimensions = dimensions
        self.user = user
        self.options = options
        self.requestID = requestID
        self.timeouts = timeouts
    }
}

/// A provider's answer to an `EmbeddingCall`: one vector per input, in input order, and the
/// tokens charged for each (the call's total split over its inputs: see `apportion`).
public struct EmbeddingAnswer: Sendable, Equatable {
    public var vectors: [[Float]]
    public var tokens: [Int]

    public init(vectors: [[Float]], tokens: [Int]) {
        self.vectors = vectors
        self.tokens = tokens
    }

    /// What is wrong with the vectors of a call that asked for `dimensions` (nil: any length), if
    /// anything: they must all have one length (that one, when asked), and hold finite numbers
    /// only. A wrong answer is refused (a 502), never served or cached item by item.
    public func problem(dimensions: Int?) -> String? {
        guard let length = dimensions ?? vectors.first?.count else { return nil }
        for (index, vector) in vectors.enumerated() {
            if vector.count != length {
                return "embedding \(index) has \(vector.count) dimensions, not \(length)"
                    + (dimensions == nil ? " like the first" : " as asked")
            }
            if !vector.allSatisfy(\.isFinite) { return "embedding \(index) holds a number that is not finite" }
        }
        return nil
    }

    /// Splits a call's `total` tokens over its inputs in proportion to their estimated sizes, by
    /// largest remainder, so the parts add up to exactly what the provider charged: each item is
    /// cached with its share, and a later request answered from the cache reports the usage the
    /// call would have. Providers report one total per call (OpenAI's `usage.prompt_tokens`), so
    /// a single-item call's share is exact. Without a total, the estimates stand. O(n log n).
    public static func apportion(_ total: Int?, over inputs: [EmbeddingInput]) -> [Int] {
        let weights = inputs.map(\.estimatedTokens)
        guard let reported = total, reported >= 0, !inputs.isEmpty else { return weights }
        // An upstream's number is not trusted to be sane: capped so the products below cannot
        // overflow (a weight is at most a request body's length).
        let total = min(reported, 1 << 32)
        let sum = weights.reduce(0, +)
        var shares = [Int](repeating: 0, count: weights.count)
        var remainders: [(remainder: Int, index: Int)] = []
        remainders.reserveCapacity(weights.count)
        var given = 0
        for (i, w) in weights.enumerated() {
            let (quotient, remainder) = (total * w).quotientAndRemainder(dividingBy: sum)
            shares[i] = quotient
            given += quotient
            remainders.append((remainder, i))
        }
        remainders.sort { $0.remainder != $1.remainder ? $0.remainder > $1.remainder : $0.index < $1.index }
        for k in 0..<min(max(0, total - given), remainders.count) { shares[remainders[k].index] += 1 }
        return shares
    }
}

/// A provider that turns items into vectors: the embeddings capability beside `ChatProvider`.
/// Adapters translate to the provider's API and back; errors are `ProviderError`s, as for chat.
public protocol EmbeddingProvider: Sendable {
    /// Most inputs one upstream call may carry (OpenAI's 2048, Gemini's 100): larger batches are
    /// split into several calls.
    var embeddingBatchLimit: Int { get }

    /// Why `input` cannot be sent to this provider (token ids to a provider whose tokenizer the
    /// gateway does not have), nil when it can. The request is then a 400 naming `input`.
    func embeddingInputProblem(_ input: EmbeddingInput) -> String?

    /// The vectors of `call.inputs`, in order, with the tokens charged for each.
    func embed(_ call: EmbeddingCall) async throws -> EmbeddingAnswer
}

extension EmbeddingProvider {
    public func embeddingInputProblem(_ input: EmbeddingInput) -> String? { nil }
}

/// Reading vectors out of upstream answers.
package enum EmbeddingVectors {
    /// A vector given as JSON numbers or as base64 of little-endian float32 (OpenAI's two
    /// `encoding_format`s); nil when it is neither.
    package static func decode(_ value: JSON?) -> [Float]? {
        switch value {
        case .string(let text)?:
            guard let bytes = Base64.decode(text.utf8), bytes.count % 4 == 0 else { return nil }
            return bytes.withUnsafeBytes { LittleEndianFloats.floats($0) }
        case .array(let numbers)?:
            var out = [Float]()
            out.reserveCapacity(numbers.count)
            for number in numbers {
                guard let d = number.doubleValue, d.isFinite else { return nil }
                out.append(Float(d))
            }
            return out
        default:
            return nil
        }
    }

    package static func invalid(_ provider: String, _ message: String) -> ProviderError {
        ProviderError(kind: .invalidResponse, provider: provider, message: message)
    }
}
