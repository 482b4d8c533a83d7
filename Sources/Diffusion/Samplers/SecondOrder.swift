import Foundation
import DiffusionEngine

extension Sampling {
    /// Heun's method with EDM churn (Karras et al. 2022, arXiv 2206.00364, Algorithm 2): an Euler step from the
    /// churned level σ̂, corrected with the slope at the new point; the last step (to σ = 0) stays Euler.
    /// Order 2; 2 calls per step, 2N − 1 in all.
    public static func heun(_ model: some Denoiser, _ x: Tensor, sigmas: [Double], churn: Churn = .none, noise: NoiseSource? = nil) -> Tensor {
        check(sigmas, "heun")
        var x = x
        let N = sigmas.count - 1
        for i in 0..<N {
            let (x̂, σ̂) = churn.apply(x, sigmas[i], step: i, of: N, noise: noise)
            let σNext = sigmas[i + 1]
            let denoised = model.denoise(x̂, sigma: σ̂)
            if σNext == 0 { x = denoised; continue }
            let d = derivative(x̂, denoised, σ̂)
            let euler = x̂ + d * Float(σNext - σ̂)
            let d2 = derivative(euler, model.denoise(euler, sigma: σNext), σNext)
            x = x̂ + (d + d2) * Float(0.5 * (σNext - σ̂))
        }
        return x
    }

    /// DPM-Solver-2 in k-diffusion's form (Lu et al. 2022, arXiv 2206.00927, Algorithm 1 with r = ½): the slope at
    /// the midpoint in log σ, σ_mid = √(σ·σ_next), carries the whole step. The last step (to σ = 0) is Euler.
    /// Order 2; 2 calls per step, 2N − 1 in all.
    public static func dpm2(_ model: some Denoiser, _ x: Tensor, sigmas: [Double]) -> Tensor {
        check(sigmas, "dpm2")
        var x = x
        for i in 0..<(sigmas.count - 1) {
            let (σ, σNext) = (sigmas[i], sigmas[i + 1])
            let denoised = model.denoise(x, sigma: σ)
            if σNext == 0 { x = denoised; continue }
            let d = derivative(x, denoised, σ)
            let σMid = exp(0.5 * (log(σ) + log(σNext)))
            let xMid = x + d * Float(σMid - σ)
            let dMid = derivative(xMid, model.denoise(xMid, sigma: σMid), σMid)
            x = x + dMid * Float(σNext - σ)
        }
        return x
    }
}
