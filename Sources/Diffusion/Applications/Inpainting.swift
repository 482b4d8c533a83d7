import Foundation
import DiffusionEngine

/// Inpainting with an unconditional denoiser, in the α = 1 coordinates of the samplers.
public enum Inpainting {
    /// RePaint (Lugmayr et al. 2022, arXiv 2201.09865) with jump length 1. The state starts at σ_0·z. For each step
    /// σ_i → σ_{i+1}, repeated `resampling` = U times: the unknown part takes a DDPM ancestral step (posterior
    /// q(x_{σ_{i+1}} | x_{σ_i}, x̂₀)), the known part is the observation noised afresh, y + σ_{i+1}·z', the two are
    /// joined through the mask (1 = known), and — except after the last repeat — the joined state is noised back to
    /// σ_i by adding √(σ_i² − σ_{i+1}²)·z''. U = 1 is plain replacement (Song et al. 2021, arXiv 2011.13456, App. I).
    /// `mask` broadcasts against the state ([d] or [n, d] for rows); noise draws (3u, 3u + 1, 3u + 2) of step i.
    /// Costs N·U calls.
    public static func repaint(_ model: any Denoiser, known y: Tensor, mask: Tensor, sigmas: [Double], noise: NoiseSource,
                               resampling U: Int = 10) -> Tensor {
        Sampling.check(sigmas, "repaint")
        precondition(U >= 1, "repaint needs resampling ≥ 1")
        let keep = 1 - mask
        var x = noise.prior(y.shape, sigma: sigmas[0])
        for i in 0..<(sigmas.count - 1) {
            let (σ, σNext) = (sigmas[i], sigmas[i + 1])
            for u in 0..<U {
                let x̂0 = model.denoise(x, sigma: σ)
                var unknown = x̂0
                if σNext > 0 {
                    let r = σNext * σNext / (σ * σ)
                    unknown = x * Float(r) + x̂0 * Float(1 - r)
                        + noise.normal(like: x, step: i, draw: 3 * u) * Float((σNext * σNext * (1 - r)).squareRoot())
                }
                let observed = σNext > 0 ? y + noise.normal(like: x, step: i, draw: 3 * u + 1) * Float(σNext) : y
                x = observed * mask + unknown * keep
                if u < U - 1 {
                    x = x + noise.normal(like: x, step: i, draw: 3 * u + 2) * Float((σ * σ - σNext * σNext).squareRoot())
                }
            }
        }
        return x
    }
}

extension GaussianMixture {
    /// The exact conditional p(x_u | x_k = values) over the other coordinates u, where k = `indices`: with diagonal
    /// components, component k keeps its mean and std on u and its weight becomes ∝ w_k·N(values; μ_{k,known}, s²_{k,known}).
    public func conditioned(on indices: [Int], values: [Double]) -> GaussianMixture {
        precondition(indices.count == values.count && !indices.isEmpty && indices.count < dimension
                     && Set(indices).count == indices.count && indices.allSatisfy { (0..<dimension).contains($0) },
                     "condition on distinct coordinates in 0..<\(dimension), one value each, leaving at least one free")
        let free = (0..<dimension).filter { !indices.contains($0) }
        var logw = (0..<componentCount).map { k -> Double in
            var l = log(weights[k])
            for (j, v) in zip(indices, values) {
                let s = stds[k][j], r = v - means[k][j]
                l -= 0.5 * (r * r / (s * s) + log(2 * .pi * s * s))
            }
            return l
        }
        let m = logw.max()!
        logw = logw.map { exp($0 - m) }
        // Components whose weight underflows to zero are dropped (GaussianMixture needs positive weights).
        let kept = (0..<componentCount).filter { logw[$0] > 0 }
        return GaussianMixture(weights: kept.map { logw[$0] }, means: kept.map { k in free.map { means[k][$0] } },
                               stds: kept.map { k in free.map { stds[k][$0] } })
    }
}
