import Foundation
import DiffusionEngine

/// Denoising score matching over many noise levels (NCSN; Song & Ermon 2019, arXiv 1907.05600, Eq. 5–6;
/// Vincent 2011): a level σ_i drawn uniformly from `sigmas`, x = x₀ + σ_i·ε, loss ½·λ(σ_i)·‖ŝ(x; σ_i) + ε/σ_i‖²
/// with λ(σ) = σ², which makes every level's loss O(1). At the optimum ŝ = ∇ log p_σ the loss is
/// ½·E tr Var[ε | x] (the conditional variance of the noise).
public struct DenoisingScoreMatching: Objective, Sendable {
    public let sigmas: [Double]

    public init(sigmas: [Double]) {
        precondition(!sigmas.isEmpty && sigmas.allSatisfy { $0 > 0 && $0.isFinite }, "DSM needs positive, finite noise levels")
        self.sigmas = sigmas
    }

    /// L levels geometric from σ_max down to σ_min (the paper uses L = 10 from 1 to 0.01).
    public init(sigmaMax: Double = 1, sigmaMin: Double = 0.01, levels L: Int = 10) {
        precondition(L >= 1 && 0 < sigmaMin && sigmaMin <= sigmaMax, "DSM needs L ≥ 1 and 0 < σ_min ≤ σ_max")
        self.init(sigmas: L == 1 ? [sigmaMax] : (0..<L).map { sigmaMax * pow(sigmaMin / sigmaMax, Double($0) / Double(L - 1)) })
    }

    public func callAsFunction(_ model: some NoisePredictor, _ x0: Tensor, labels: Tensor?, rng: inout RandomGenerator) -> Tensor {
        let n = x0.shape[0]
        let σ = rng.integers([n], in: 0..<sigmas.count).scalars.map { sigmas[Int($0)] }
        let levels = LevelBatch(alpha: Array(repeating: 1, count: n), sigma: σ)
        let ε = rng.normal(x0.shape)
        let x = x0 + ε * LevelBatch.column(σ, rank: x0.rank)
        let target = BatchParametrization.target(.score, x0: x0, epsilon: ε, levels: levels)
        return perSampleLoss(model.predict(.score, x, at: levels, labels: labels), target, weights: σ.map { 0.5 * $0 * $0 })
    }

    public func irreducibleLoss(for mixture: GaussianMixture) -> Double? {
        sigmas.map { 0.5 * mixture.minimumMeanSquaredError(at: NoiseLevel(alpha: 1, sigma: $0)) / ($0 * $0) }.reduce(0, +) / Double(sigmas.count)
    }
}

/// Sliced score matching (Song, Garg, Shi & Ermon 2019, arXiv 1905.07088): with random projections v,
/// J = vᵀ∇ₓ(vᵀŝ(x)) + ½(vᵀŝ(x))², or ½‖ŝ(x)‖² in the variance-reduced form (SSM-VR, Gaussian or Rademacher v with
/// E vvᵀ = I). Equal, up to a constant, to ½E‖ŝ − ∇ log p‖² (Hyvärinen 2005), so its minimum is −½·E‖∇ log p‖².
///
/// The directional derivative vᵀ∇ₓŝ·v is a central difference vᵀ(ŝ(x + hv) − ŝ(x − hv))/(2h) (finite-difference
/// SSM, Pang et al. 2020, arXiv 2007.03317): our autograd is first order, and this form stays differentiable in
/// the parameters at the cost of two extra model calls. The data are perturbed at a fixed level σ (x = x₀ + σε,
/// the model is asked at σ); σ = 0 trains on clean data if the model accepts σ = 0.
public struct SlicedScoreMatching: Objective, Sendable {
    public enum Projection: String, Sendable { case rademacher, gaussian }
    public let sigma: Double
    public let projection: Projection
    public let varianceReduced: Bool
    public let h: Double

    public init(sigma: Double = 0.1, projection: Projection = .rademacher, varianceReduced: Bool = true, h: Double = 1e-2) {
        precondition(sigma >= 0 && h > 0, "SSM needs σ ≥ 0 and h > 0")
        (self.sigma, self.projection, self.varianceReduced, self.h) = (sigma, projection, varianceReduced, h)
    }

    public func callAsFunction(_ model: some NoisePredictor, _ x0: Tensor, labels: Tensor?, rng: inout RandomGenerator) -> Tensor {
        let n = x0.shape[0]
        let levels = LevelBatch(NoiseLevel(alpha: 1, sigma: sigma), count: n)
        let x = sigma == 0 ? x0 : x0 + rng.normal(x0.shape) * Float(sigma)
        let v: Tensor = switch projection {
        case .gaussian: rng.normal(x0.shape)
        case .rademacher: (rng.uniform(x0.shape) .< 0.5) * 2 - 1
        }
        let s = model.predict(.score, x, at: levels, labels: labels)
        let step = v * Float(h)
        let ds = model.predict(.score, x + step, at: levels, labels: labels) - model.predict(.score, x - step, at: levels, labels: labels)
        let curvature = (v * ds).reshaped([n, -1]).sum(axis: 1) * Float(1 / (2 * h))
        let quadratic = varianceReduced ? s.squaredNormPerSample() * 0.5 : (v * s).reshaped([n, -1]).sum(axis: 1).square() * 0.5
        return curvature + quadratic
    }

    public func irreducibleLoss(for mixture: GaussianMixture) -> Double? {
        -0.5 * mixture.fisherInformation(at: NoiseLevel(alpha: 1, sigma: sigma))
    }
}
