import Foundation

/// α_t for discrete diffusion on t ∈ [0, 1]: the probability that a token is still uncorrupted at time t
/// (α_0 = 1, α_1 = 0). MDLM (Sahoo et al. 2024, arXiv 2406.07524) and MD4 (Shi et al. 2024, arXiv 2406.04329)
/// write the continuous-time masked-diffusion ELBO with the weight −α'_t / (1 − α_t) on the masked tokens' cross-entropy.
public enum DiscreteSchedule: String, Sendable, Hashable, Codable, CaseIterable {
    /// α_t = 1 − t (the weight is 1/t).
    case linear
    /// α_t = cos(πt/2) (MaskGIT's cosine).
    case cosine
    /// α_t = 1 − t² (slow at first, fast at the end).
    case quadratic

    public func alpha(_ t: Double) -> Double {
        switch self {
        case .linear: return 1 - t
        case .cosine: return t >= 1 ? 0 : cos(Double.pi / 2 * t)
        case .quadratic: return 1 - t * t
        }
    }

    /// dα_t/dt.
    public func alphaDerivative(_ t: Double) -> Double {
        switch self {
        case .linear: return -1
        case .cosine: return -Double.pi / 2 * sin(Double.pi / 2 * t)
        case .quadratic: return -2 * t
        }
    }

    /// The masked-diffusion ELBO weight −α'_t / (1 − α_t) (for t in (0, 1]).
    public func weight(_ t: Double) -> Double {
        switch self {
        case .linear: return 1 / t
        case .cosine: return Double.pi / 2 * sin(Double.pi / 2 * t) / (1 - cos(Double.pi / 2 * t))
        case .quadratic: return 2 / t
        }
    }

    /// ᾱ_0 … ᾱ_T on the grid t = k/T (ᾱ_0 = 1, ᾱ_T = 0).
    public func grid(steps: Int) -> [Double] {
        precondition(steps >= 1, "a discrete schedule needs at least one step, got \(steps)")
        return (0...steps).map { k in k == 0 ? 1 : k == steps ? 0 : alpha(Double(k) / Double(steps)) }
    }
}
