import Foundation
import DiffusionEngine

/// Samplers: one short function each, over an explicit descending list of EDM noise levels
/// `sigmas = [σ_0 > σ_1 > … > σ_N]` (normally ending at σ_N = 0, see `Schedule`). The state x lives in the
/// α = 1 coordinates x = x₀ + σ·ε, so the starting sample is σ_0·z (`NoiseSource.prior`), and every sampler
/// calls only `Denoiser.denoise(_:sigma:)`. Style after k-diffusion's sampling.py (Crowson) and EDM (Karras et
/// al. 2022, arXiv 2206.00364). Noise levels and step coefficients are computed in Double; tensors are Float32.
///
/// Whenever a step lands on σ = 0 the sampler returns the denoised value exactly (no residual noise), and a
/// second-order method takes that last step with Euler, so N steps cost 2N − 1 calls.
public enum Sampling {
    /// Stops with a clear message unless the levels are strictly descending, non-negative and finite.
    static func check(_ sigmas: [Double], _ who: String) {
        do { try Schedule.validate(sigmas) } catch { preconditionFailure("\(who): \(error)") }
    }

    /// The ODE derivative dx/dσ = (x − D(x; σ))/σ of the probability flow (Karras et al. 2022, Eq. 3 with α = 1).
    static func derivative(_ x: Tensor, _ denoised: Tensor, _ σ: Double) -> Tensor { (x - denoised) * Float(1 / σ) }

    /// k-diffusion's ancestral split of a step σ → σ_next into a deterministic part to σ_down and fresh noise σ_up,
    /// σ_up = min(σ_next, η·√(σ_next²(σ² − σ_next²)/σ²)), σ_down = √(σ_next² − σ_up²). With η = 1 the noise is the
    /// DDPM posterior's (Ho et al. 2020, arXiv 2006.11239).
    static func ancestralStep(_ σ: Double, _ σNext: Double, eta η: Double) -> (down: Double, up: Double) {
        if σNext == 0 || η == 0 { return (σNext, 0) }
        let up = Swift.min(σNext, η * (σNext * σNext * (σ * σ - σNext * σNext) / (σ * σ)).squareRoot())
        return ((σNext * σNext - up * up).squareRoot(), up)
    }
}

/// EDM's stochastic "churn" (Karras et al. 2022, Algorithm 2): before step i, if S_tmin ≤ σ_i ≤ S_tmax, raise the
/// level to σ̂ = σ_i(1 + γ) with γ = min(S_churn/N, √2 − 1) by adding noise of std √(σ̂² − σ_i²)·S_noise.
public struct Churn: Sendable, Hashable {
    public var S_churn: Double, S_tmin: Double, S_tmax: Double, S_noise: Double
    public init(S_churn: Double, S_tmin: Double = 0, S_tmax: Double = .infinity, S_noise: Double = 1) {
        (self.S_churn, self.S_tmin, self.S_tmax, self.S_noise) = (S_churn, S_tmin, S_tmax, S_noise)
    }
    public static let none = Churn(S_churn: 0)

    /// (x̂, σ̂) for step i of N; noise from draw 0 of step i.
    func apply(_ x: Tensor, _ σ: Double, step i: Int, of N: Int, noise: NoiseSource?) -> (Tensor, Double) {
        let γ = S_tmin <= σ && σ <= S_tmax ? Swift.min(S_churn / Double(N), 2.0.squareRoot() - 1) : 0
        if γ <= 0 { return (x, σ) }
        guard let noise else { preconditionFailure("churn needs a NoiseSource") }
        let σ̂ = σ * (1 + γ)
        return (x + noise.normal(like: x, step: i) * Float((σ̂ * σ̂ - σ * σ).squareRoot() * S_noise), σ̂)
    }
}
