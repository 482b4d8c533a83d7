import DiffusionEngine

/// Image editing with a pretrained denoiser and no retraining, in the α = 1 coordinates of the samplers.
public enum Editing {
    /// SDEdit (Meng et al. 2021, arXiv 2108.01073): perturb a guide x_g to the level σ₀ = `sigmas[0]`,
    /// x = x_g + σ₀·z (z from `noise.prior`), then run `sampler` down the rest of `sigmas`. Small σ₀ stays faithful to
    /// the guide, large σ₀ forgets it and gives a realistic sample; σ₀ is the `strength` of img2img pipelines.
    /// Passing the levels from σ₀ down (e.g. `Schedule.karras(steps:sigmaMax: σ₀)`) avoids strength ↔ step arithmetic.
    public static func sdedit(_ model: any Denoiser, guide: Tensor, sigmas: [Double], noise: NoiseSource,
                              sampler: Sampler = Sampler.named("euler")!) -> Tensor {
        Sampling.check(sigmas, "sdedit")
        return sampler(model, guide + noise.prior(guide.shape, sigma: sigmas[0]), sigmas: sigmas, noise: noise)
    }

    /// DDIM inversion (Song, Meng & Ermon 2021, arXiv 2010.02502, §4.3; Dhariwal & Nichol 2021, arXiv 2105.05233):
    /// the deterministic DDIM step run upwards along ascending levels σ_0 < σ_1 < … < σ_N (σ_0 > 0),
    /// x_{i+1} = x̂₀(x_i; σ_i) + σ_{i+1}·ε̂(x_i; σ_i), i.e. Euler on the probability-flow ODE with the derivative taken
    /// at the start of each step. That is not the exact inverse of the DDIM step down (whose derivative is taken at
    /// σ_{i+1}), so `Sampling.ddim` on the reversed levels returns x only up to O(1/N). With `fixedPointIterations`
    /// k > 0 each step instead solves the implicit equation x_{i+1} = x_i + (σ_{i+1} − σ_i)·ε̂(x_{i+1}; σ_{i+1}) by k
    /// fixed-point iterations (as in AIDI, Pan et al. 2023, arXiv 2309.04907): the exact inverse of the DDIM step, to
    /// the iteration's tolerance. Costs N·(1 + k) calls.
    public static func ddimInversion(_ model: any Denoiser, _ x: Tensor, sigmas: [Double], fixedPointIterations k: Int = 0) -> Tensor {
        precondition(k >= 0, "fixedPointIterations must be ≥ 0")
        let down = Array(sigmas.reversed())
        Sampling.check(down, "ddimInversion")
        precondition(sigmas[0] > 0, "ddimInversion starts at a level σ_0 > 0 (ε̂ is undefined at σ = 0)")
        var x = x
        for i in 0..<(sigmas.count - 1) {
            let (σ, σNext) = (sigmas[i], sigmas[i + 1])
            let ε̂ = model.epsilon(x, at: NoiseLevel(alpha: 1, sigma: σ))
            var next = x + ε̂ * Float(σNext - σ)
            for _ in 0..<k { next = x + model.epsilon(next, at: NoiseLevel(alpha: 1, sigma: σNext)) * Float(σNext - σ) }
            x = next
        }
        return x
    }
}
