import DiffusionEngine

extension Sampling {
    /// Multistep consistency sampling (Song et al. 2023, arXiv 2303.01469, Algorithm 1): x ← f(x, σ_max) from the
    /// prior sample x = σ_max·z, then for each τ in `sigmas` (descending, σ_min < τ < σ_max) re-noise to
    /// x_τ = x + √(τ² − σ_min²)·z′ and map back, x ← f(x_τ, τ). One call per level; `sigmas` empty is one step.
    /// Noise for re-noising step i is draw 0 of step i of `noise`.
    public static func consistency(_ f: some ConsistencyFunction, _ x: Tensor, sigmaMax: Double, sigmas: [Double] = [],
                                   noise: NoiseSource? = nil) -> Tensor {
        precondition(sigmaMax > f.sigmaMin, "σ_max must exceed σ_min")
        precondition(zip(sigmas, sigmas.dropFirst()).allSatisfy { $0 > $1 } && sigmas.allSatisfy { f.sigmaMin < $0 && $0 < sigmaMax },
                     "re-noising levels must descend strictly inside (σ_min, σ_max)")
        precondition(sigmas.isEmpty || noise != nil, "multistep consistency sampling needs a NoiseSource")
        var x = withNoGrad { f.consistency(x, sigma: sigmaMax) }
        for (i, τ) in sigmas.enumerated() {
            let xτ = x + noise!.normal(like: x, step: i) * Float((τ * τ - f.sigmaMin * f.sigmaMin).squareRoot())
            x = withNoGrad { f.consistency(xτ, sigma: τ) }
        }
        return x
    }
}
