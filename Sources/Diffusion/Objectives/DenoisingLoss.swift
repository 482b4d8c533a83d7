import Foundation
import DiffusionEngine

/// The weighted denoising regression w(t)·‖k̂ − k‖² in one prediction space k on any process: DDPM's ε-MSE
/// (Ho et al. 2020, arXiv 2006.11239, L_simple), the x₀ loss, the v loss (Salimans & Ho 2022, arXiv 2202.00512),
/// each optionally with min-SNR-γ weighting. The model may predict any kind; its output is converted to k.
public struct DenoisingLoss: Objective, Sendable {
    public let process: any NoiseProcess
    public let space: Prediction
    public let weighting: LossWeighting
    /// Continuous processes draw t ∈ (tMin, 1].
    public let tMin: Double

    public init(process: any NoiseProcess, space: Prediction, weighting: LossWeighting = .uniform, tMin: Double = 0) {
        precondition(space != .velocity || process.discreteSteps == nil, "use FlowMatching for velocity losses")
        (self.process, self.space, self.weighting, self.tMin) = (process, space, weighting, tMin)
    }

    /// DDPM's L_simple: ‖ε̂ − ε‖² at a uniform training index of the linear-β process.
    public static func ddpm(_ process: any NoiseProcess = DiscreteVP.linear(), weighting: LossWeighting = .uniform) -> DenoisingLoss {
        DenoisingLoss(process: process, space: .epsilon, weighting: weighting)
    }

    public func callAsFunction(_ model: some NoisePredictor, _ x0: Tensor, labels: Tensor?, rng: inout RandomGenerator) -> Tensor {
        let n = x0.shape[0]
        let levels = LevelBatch(process: process, times: TimeSampling.draw(process, count: n, tMin: tMin, rng: &rng))
        let ε = rng.normal(x0.shape)
        let x = levels.noisy(x0: x0, epsilon: ε)
        let out = model.predict(space, x, at: levels, labels: labels)
        let target = BatchParametrization.target(space, x0: x0, epsilon: ε, levels: levels)
        return perSampleLoss(out, target, weights: (0..<n).map { weighting.weight(space, level: levels[$0], rates: levels.rates($0)) })
    }

    public func irreducibleLoss(for mixture: GaussianMixture) -> Double? {
        TimeSampling.expectation(process, tMin: tMin) { t in
            let level = process.level(t), rates = process.rates(t)
            return weighting.weight(space, level: level, rates: rates) * BatchParametrization.x0Factor(space, level: level, rates: rates)
                * mixture.minimumMeanSquaredError(at: level)
        }
    }
}

/// The EDM loss (Karras et al. 2022, arXiv 2206.00364, §5 and Table 1): ln σ ~ N(P_mean, P_std²), x = x₀ + σ·ε,
/// loss λ(σ)·‖D(x; σ) − x₀‖² with λ(σ) = (σ² + σ_d²)/(σ·σ_d)², so that a preconditioned network's own target has
/// unit weight. Levels have α = 1 and no process time.
public struct EDMLoss: Objective, Sendable {
    public let pMean: Double, pStd: Double, sigmaData: Double
    public init(pMean: Double = -1.2, pStd: Double = 1.2, sigmaData: Double = 0.5) {
        precondition(pStd > 0 && sigmaData > 0, "EDM loss needs P_std > 0 and σ_data > 0")
        (self.pMean, self.pStd, self.sigmaData) = (pMean, pStd, sigmaData)
    }

    public func weight(_ σ: Double) -> Double { (σ * σ + sigmaData * sigmaData) / (σ * sigmaData * σ * sigmaData) }

    public func callAsFunction(_ model: some NoisePredictor, _ x0: Tensor, labels: Tensor?, rng: inout RandomGenerator) -> Tensor {
        let n = x0.shape[0]
        let σ = rng.normal([n]).scalars.map { Foundation.exp(pMean + pStd * Double($0)) }
        let levels = LevelBatch(alpha: Array(repeating: 1, count: n), sigma: σ)
        let x = x0 + rng.normal(x0.shape) * LevelBatch.column(σ, rank: x0.rank)
        return perSampleLoss(model.denoised(x, at: levels, labels: labels), x0, weights: σ.map(weight))
    }

    public func irreducibleLoss(for mixture: GaussianMixture) -> Double? {
        // ∫ φ(z)·λ(σ(z))·mmse(σ(z)) dz by the midpoint rule on z ∈ [−7, 7].
        let m = 400, width = 14.0
        return (0..<m).map { i -> Double in
            let z = -7 + width * (Double(i) + 0.5) / Double(m)
            let σ = Foundation.exp(pMean + pStd * z)
            return Foundation.exp(-0.5 * z * z) / (2 * Double.pi).squareRoot() * weight(σ) * mixture.minimumMeanSquaredError(at: NoiseLevel(alpha: 1, sigma: σ))
        }.reduce(0, +) * width / Double(m)
    }
}
