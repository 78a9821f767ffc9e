import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// What a model costs, in USD per million tokens. `cachedInputPerMillion` is the provider's price
/// for prompt tokens served from its own prompt cache (OpenAI's `cached_tokens`).
public struct ModelPrice: Sendable, Equatable {
    public var inputPerMillion: Double
    public var outputPerMillion: Double
    public var cachedInputPerMillion: Double

    public init(inputPerMillion: Double, outputPerMillion: Double, cachedInputPerMillion: Double? = nil) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
        self.cachedInputPerMillion = cachedInputPerMillion ?? inputPerMillion
    }

    /// The cost of one call. `cached` is the part of `prompt` that the provider served from its
    /// prompt cache (OpenAI counts it inside `prompt_tokens`), so it is billed at the cached rate
    /// and the rest of the prompt at the input rate.
    public func cost(prompt: Int, completion: Int, cached: Int) -> Double {
        let cachedTokens = min(max(cached, 0), max(prompt, 0))
        let uncached = max(prompt, 0) - cachedTokens
        return (Double(uncached) * inputPerMillion
            + Double(cachedTokens) * cachedInputPerMillion
            + Double(max(completion, 0)) * outputPerMillion) / 1_000_000
    }
}
