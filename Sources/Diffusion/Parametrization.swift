import DiffusionEngine

/// What a network predicts at a noisy input x = α·x₀ + σ·ε.
///
/// | case       | target                          | x̂₀ from output o                         |
/// |------------|---------------------------------|-------------------------------------------|
/// | `epsilon`  | ε                               | (x − σ·o)/α            (needs α > 0)      |
/// | `sample`   | x₀                              | o                                          |
/// | `v`        | α·ε − σ·x₀                      | (α·x − σ·o)/(α² + σ²)                      |
/// | `score`    | ∇ log p(x) = −ε/σ                | (x + σ²·o)/α           (needs α > 0)      |
/// | `velocity` | dx/dt = α̇·x₀ + σ̇·ε               | (σ̇·x − σ·o)/(σ̇·α − σ·α̇)                   |
///
/// v-prediction is Salimans & Ho 2022 (arXiv 2202.00512); the velocity is the flow-matching target
/// (Lipman et al. 2022, arXiv 2210.02747), ε − x₀ for the rectified flow. The score form is Tweedie's formula
/// (Efron 2011). All conversions are exact identities, so any of them defines the same denoiser.
public enum Prediction: String, Sendable, CaseIterable, Codable {
    case epsilon, sample, v, score, velocity

    /// Whether x̂₀ needs a division by α, which fails at zero terminal SNR.
    public var dividesByAlpha: Bool { self == .epsilon || self == .score }
}

/// Conversions between the parametrisations, all at one noise level.
public enum Parametrization {
    /// x̂₀ from a model output `o` of kind `kind` at input x and level (α, σ); `rates` (dα/dt, dσ/dt) are needed
    /// for `.velocity` only.
    public static func x0(from o: Tensor, _ kind: Prediction, x: Tensor, level: NoiseLevel, rates: NoiseRates? = nil) -> Tensor {
        let (α, σ) = (level.alpha, level.sigma)
        switch kind {
        case .sample:
            return o
        case .epsilon:
            precondition(α > 0, "ε-prediction needs α > 0: x̂₀ = (x − σε̂)/α (zero terminal SNR?)")
            return (x - o * Float(σ)) * Float(1 / α)
        case .v:
            return (x * Float(α) - o * Float(σ)) * Float(1 / (α * α + σ * σ))
        case .score:
            precondition(α > 0, "score prediction needs α > 0: x̂₀ = (x + σ²s)/α (zero terminal SNR?)")
            return (x + o * Float(σ * σ)) * Float(1 / α)
        case .velocity:
            guard let r = rates else { preconditionFailure("velocity prediction needs the process rates dα/dt, dσ/dt") }
            let det = r.dSigma * α - σ * r.dAlpha
            precondition(det != 0, "velocity prediction is not invertible at this level (σ̇α − σα̇ = 0)")
            return (x * Float(r.dSigma) - o * Float(σ)) * Float(1 / det)
        }
    }

    /// The training target of kind `kind` for a clean sample x₀ and its noise ε at level (α, σ).
    public static func target(_ kind: Prediction, x0: Tensor, epsilon ε: Tensor, level: NoiseLevel, rates: NoiseRates? = nil) -> Tensor {
        let (α, σ) = (level.alpha, level.sigma)
        switch kind {
        case .sample: return x0
        case .epsilon: return ε
        case .v: return ε * Float(α) - x0 * Float(σ)
        case .score: return ε * Float(-1 / σ)
        case .velocity:
            guard let r = rates else { preconditionFailure("velocity targets need the process rates dα/dt, dσ/dt") }
            return x0 * Float(r.dAlpha) + ε * Float(r.dSigma)
        }
    }

    /// The noisy sample x = α·x₀ + σ·ε.
    public static func noisy(x0: Tensor, epsilon ε: Tensor, level: NoiseLevel) -> Tensor {
        x0 * Float(level.alpha) + ε * Float(level.sigma)
    }

    /// ε̂ = (x − α·x̂₀)/σ (needs σ > 0).
    public static func epsilon(x0: Tensor, x: Tensor, level: NoiseLevel) -> Tensor {
        precondition(level.sigma > 0, "ε̂ is undefined at σ = 0")
        return (x - x0 * Float(level.alpha)) * Float(1 / level.sigma)
    }

    /// The score ∇ log p(x) = (α·x̂₀ − x)/σ² (Tweedie).
    public static func score(x0: Tensor, x: Tensor, level: NoiseLevel) -> Tensor {
        precondition(level.sigma > 0, "the score is undefined at σ = 0")
        return (x0 * Float(level.alpha) - x) * Float(1 / (level.sigma * level.sigma))
    }

    /// v = α·ε̂ − σ·x̂₀.
    public static func v(x0: Tensor, x: Tensor, level: NoiseLevel) -> Tensor {
        epsilon(x0: x0, x: x, level: level) * Float(level.alpha) - x0 * Float(level.sigma)
    }

    /// The flow velocity α̇·x̂₀ + σ̇·ε̂.
    public static func velocity(x0: Tensor, x: Tensor, level: NoiseLevel, rates: NoiseRates) -> Tensor {
        x0 * Float(rates.dAlpha) + epsilon(x0: x0, x: x, level: level) * Float(rates.dSigma)
    }
}
