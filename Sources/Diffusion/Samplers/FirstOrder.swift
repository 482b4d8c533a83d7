import DiffusionEngine

extension Sampling {
    /// Euler's method on the probability-flow ODE dx/dσ = (x − D(x; σ))/σ (Karras et al. 2022, arXiv 2206.00364,
    /// Algorithm 1 with first-order steps), optionally with churn. Order 1, one call per step.
    public static func euler(_ model: some Denoiser, _ x: Tensor, sigmas: [Double], churn: Churn = .none, noise: NoiseSource? = nil) -> Tensor {
        check(sigmas, "euler")
        var x = x
        let N = sigmas.count - 1
        for i in 0..<N {
            let (x̂, σ̂) = churn.apply(x, sigmas[i], step: i, of: N, noise: noise)
            let denoised = model.denoise(x̂, sigma: σ̂)
            if sigmas[i + 1] == 0 { x = denoised; continue }
            x = x̂ + derivative(x̂, denoised, σ̂) * Float(sigmas[i + 1] - σ̂)
        }
        return x
    }

    /// Euler ancestral (k-diffusion): a deterministic Euler step to σ_down, then fresh noise of std σ_up·s_noise.
    /// With η = 1 this is DDPM ancestral sampling. Order 1, one call per step.
    public static func eulerAncestral(_ model: some Denoiser, _ x: Tensor, sigmas: [Double], noise: NoiseSource, eta η: Double = 1, s_noise: Double = 1) -> Tensor {
        check(sigmas, "eulerAncestral")
        var x = x
        for i in 0..<(sigmas.count - 1) {
            let σ = sigmas[i]
            let denoised = model.denoise(x, sigma: σ)
            let (down, up) = ancestralStep(σ, sigmas[i + 1], eta: η)
            x = down == 0 ? denoised : x + derivative(x, denoised, σ) * Float(down - σ)
            if up > 0 { x = x + noise.normal(like: x, step: i) * Float(up * s_noise) }
        }
        return x
    }

    /// DDIM (Song, Meng & Ermon 2021, arXiv 2010.02502, Eq. 12) in α = 1 coordinates:
    /// x_next = x̂₀ + √(σ_next² − c²)·ε̂ + c·z with ε̂ = (x − x̂₀)/σ and c = η·σ_next·√(1 − σ_next²/σ²).
    /// η = 0 is deterministic and equals Euler in σ (Karras et al. 2022, §3); η = 1 is DDPM. One call per step.
    public static func ddim(_ model: some Denoiser, _ x: Tensor, sigmas: [Double], eta η: Double = 0, noise: NoiseSource? = nil) -> Tensor {
        check(sigmas, "ddim")
        precondition(η == 0 || noise != nil, "ddim with η > 0 needs a NoiseSource")
        var x = x
        for i in 0..<(sigmas.count - 1) {
            let (σ, σNext) = (sigmas[i], sigmas[i + 1])
            let x̂0 = model.denoise(x, sigma: σ)
            if σNext == 0 { x = x̂0; continue }
            let ε̂ = (x - x̂0) * Float(1 / σ)
            let c = η * σNext * (1 - σNext * σNext / (σ * σ)).squareRoot()
            x = x̂0 + ε̂ * Float((σNext * σNext - c * c).squareRoot())
            if c > 0, let noise { x = x + noise.normal(like: x, step: i) * Float(c) }
        }
        return x
    }

    /// DDPM ancestral sampling (Ho et al. 2020, arXiv 2006.11239): draw from the Gaussian posterior
    /// q(x_s | x_t, x₀ = x̂₀), which in α = 1 coordinates has mean (σ_s²/σ_t²)·x_t + (1 − σ_s²/σ_t²)·x̂₀ and variance
    /// σ_s²(σ_t² − σ_s²)/σ_t² (the β̃ choice; Kingma et al. 2021, arXiv 2107.00630, App. A). One call per step.
    public static func ddpm(_ model: some Denoiser, _ x: Tensor, sigmas: [Double], noise: NoiseSource) -> Tensor {
        check(sigmas, "ddpm")
        var x = x
        for i in 0..<(sigmas.count - 1) {
            let (σt, σs) = (sigmas[i], sigmas[i + 1])
            let x̂0 = model.denoise(x, sigma: σt)
            if σs == 0 { x = x̂0; continue }
            let r = σs * σs / (σt * σt)
            x = x * Float(r) + x̂0 * Float(1 - r) + noise.normal(like: x, step: i) * Float((σs * σs * (1 - r)).squareRoot())
        }
        return x
    }
}
