import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
/// How an ensemble turns its members' answers into one.
public enum EnsemblePattern: String, Sendable, CaseIterable {
    /// Merge the best of every answer into one (the default).
    case synthesize
    /// Members rank each other's anonymized answers; the synthesizer writes from answers and rankings.
    case critique
    /// Majority of the normalized short answers (self-consistency); ties go to the synthesizer.
    case vote
    /// A judge picks the single best answer, returned verbatim.
    case best
}
