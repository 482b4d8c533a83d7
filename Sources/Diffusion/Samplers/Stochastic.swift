import DiffusionEngine

extension Sampling {
    /// Euler–Maruyama on the reverse-time SDE (Song et al. 2021, arXiv 2011.13456, Eq. 6) of the α = 1 process,
    /// whose diffusion is g² dt = d(σ²): x_next = x + (σ² − σ_next²)·ŝ + √(σ² − σ_next²)·z with ŝ = (D − x)/σ².
    /// (This is also the "reverse diffusion" predictor of that paper.) The step to σ = 0 takes the mean, i.e. D.
    /// Weak order 1, one call per step.
    public static func eulerMaruyama(_ model: some Denoiser, _ x: Tensor, sigmas: [Double], noise: NoiseSource) -> Tensor {
        check(sigmas, "eulerMaruyama")
        var x = x
        for i in 0..<(sigmas.count - 1) {
            let (σ, σNext) = (sigmas[i], sigmas[i + 1])
            let denoised = model.denoise(x, sigma: σ)
            if σNext == 0 { x = denoised; continue }
            let dv = σ * σ - σNext * σNext
            x = x + (denoised - x) * Float(dv / (σ * σ)) + noise.normal(like: x, step: i) * Float(dv.squareRoot())
        }
        return x
    }

    /// One Langevin corrector step at level σ, x ← x + ε·ŝ + √(2ε)·z, with ε = 2(r·σ)². Song et al. 2021
    /// (arXiv 2011.13456, Algorithm 4) set ε = 2(r·‖z‖/‖ŝ‖)² with norms over the whole batch; in high dimension
    /// ‖z‖ ≈ √d and ‖ŝ‖ ≈ √d/σ, which gives this ε. The closed form keeps a sample independent of its batch and stays
    /// stable in low dimension, where a per-sample ‖ŝ‖ near 0 (at a mode) would make the step explode.
    static func langevinCorrect(_ model: some Denoiser, _ x: Tensor, sigma σ: Double, snr r: Double, z: Tensor) -> Tensor {
        let ŝ = (model.denoise(x, sigma: σ) - x) * Float(1 / (σ * σ))
        let ε = 2 * (r * σ) * (r * σ)
        return x + ŝ * Float(ε) + z * Float((2 * ε).squareRoot())
    }

    /// Predictor–corrector sampling (Song et al. 2021, arXiv 2011.13456, Algorithm 2): at each level, `correctorSteps`
    /// Langevin steps with signal-to-noise ratio `snr`, then a reverse-diffusion (Euler–Maruyama) step to the next
    /// level; the step to σ = 0 takes the mean. 1 + correctorSteps calls per step.
    public static func predictorCorrector(_ model: some Denoiser, _ x: Tensor, sigmas: [Double], noise: NoiseSource, correctorSteps M: Int = 1, snr: Double = 0.16) -> Tensor {
        check(sigmas, "predictorCorrector")
        var x = x
        for i in 0..<(sigmas.count - 1) {
            let (σ, σNext) = (sigmas[i], sigmas[i + 1])
            for j in 0..<M { x = langevinCorrect(model, x, sigma: σ, snr: snr, z: noise.normal(like: x, step: i, draw: j + 1)) }
            let denoised = model.denoise(x, sigma: σ)
            if σNext == 0 { x = denoised; continue }
            let dv = σ * σ - σNext * σNext
            x = x + (denoised - x) * Float(dv / (σ * σ)) + noise.normal(like: x, step: i) * Float(dv.squareRoot())
        }
        return x
    }

    /// Annealed Langevin dynamics (Song & Ermon 2019, arXiv 1907.05600, Algorithm 1): at every positive level σ_i,
    /// T steps x ← x + (a_i/2)·ŝ + √a_i·z with a_i = ε·σ_i²/σ_L² (σ_L the smallest positive level). If the list ends
    /// at 0, a final denoising step x ← D(x; σ_L) (Jolicoeur-Martineau et al. 2021, arXiv 2009.05475) removes the
    /// last noise. `epsilon` defaults to 0.2·σ_L², i.e. a_i = 0.2·σ_i². T calls per level, plus one.
    public static func annealedLangevin(_ model: some Denoiser, _ x: Tensor, sigmas: [Double], noise: NoiseSource, stepsPerLevel T: Int = 20, epsilon: Double? = nil) -> Tensor {
        check(sigmas, "annealedLangevin")
        let levels = sigmas.filter { $0 > 0 }
        let σL = levels[levels.count - 1]
        let ε = epsilon ?? 0.2 * σL * σL
        var x = x
        for (i, σ) in levels.enumerated() {
            let a = ε * σ * σ / (σL * σL)
            for t in 0..<T {
                let ŝ = (model.denoise(x, sigma: σ) - x) * Float(1 / (σ * σ))
                x = x + ŝ * Float(a / 2) + noise.normal(like: x, step: i, draw: t) * Float(a.squareRoot())
            }
        }
        return sigmas.last == 0 ? model.denoise(x, sigma: σL) : x
    }
}
