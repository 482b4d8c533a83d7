import Foundation
import DiffusionEngine

/// A training loss with one call shape, like the loss classes of NVlabs/edm: given a model, a clean batch
/// (leading axis = samples), optional labels and a random generator, it draws noise levels and noise, runs the
/// model once (or a fixed number of times) and returns the per-sample losses, shape [n]. Squared errors are
/// summed over the data dimensions (‖·‖² as in the papers); average over the batch for a training step.
///
/// `irreducibleLoss(for:)` is the expected loss of the Bayes-optimal model on a Gaussian mixture, computed by
/// quadrature: plugging `ExactMixtureModel` in must reproduce it (within Monte-Carlo error), which checks the
/// sampling of levels, the targets and the weights at once.
public protocol Objective: Sendable {
    func callAsFunction(_ model: some NoisePredictor, _ x0: Tensor, labels: Tensor?, rng: inout RandomGenerator) -> Tensor
    /// The minimum expected per-sample loss on data from `mixture` (d ≤ 2), or nil where no closed form is known.
    func irreducibleLoss(for mixture: GaussianMixture) -> Double?
}

extension Objective {
    public func callAsFunction(_ model: some NoisePredictor, _ x0: Tensor, rng: inout RandomGenerator) -> Tensor {
        self(model, x0, labels: nil, rng: &rng)
    }
}

/// How an objective draws training times of a process.
public enum TimeSampling {
    /// For a discrete process a uniform training index n (t = (n + 1)/T); otherwise t = 1 − u, u ~ U[0, 1), scaled
    /// into (tMin, 1].
    static func draw(_ process: any NoiseProcess, count n: Int, tMin: Double, rng: inout RandomGenerator) -> [Double] {
        if let T = process.discreteSteps {
            return rng.integers([n], in: 0..<T).scalars.map { (Double($0) + 1) / Double(T) }
        }
        return rng.uniform([n]).scalars.map { 1 - (1 - tMin) * Double($0) }
    }

    /// E_t[f(t)] under `draw`: the mean over the T grid times, or a 400-point midpoint rule on (tMin, 1].
    static func expectation(_ process: any NoiseProcess, tMin: Double, _ f: (Double) -> Double) -> Double {
        if let T = process.discreteSteps {
            return (0..<T).map { f((Double($0) + 1) / Double(T)) }.reduce(0, +) / Double(T)
        }
        let m = 400
        return (0..<m).map { f(tMin + (1 - tMin) * (Double($0) + 0.5) / Double(m)) }.reduce(0, +) / Double(m)
    }
}

/// How the per-level losses are weighted.
public enum LossWeighting: Sendable, Hashable {
    /// The plain squared error in the loss's own space.
    case uniform
    /// Min-SNR-γ (Hang et al. 2023, arXiv 2303.09556): the x₀-space weight min(SNR, γ), expressed in the loss's
    /// space, i.e. min(SNR, γ)/SNR for ε, min(SNR, γ)/(SNR + 1) for v on a VP process.
    case minSNR(gamma: Double)

    /// The weight on ‖k̂ − k‖² at one level, for a loss in space k.
    public func weight(_ space: Prediction, level: NoiseLevel, rates: NoiseRates?) -> Double {
        switch self {
        case .uniform: return 1
        case .minSNR(let γ):
            let snr = level.alpha * level.alpha / (level.sigma * level.sigma)
            return Swift.min(snr, γ) / BatchParametrization.x0Factor(space, level: level, rates: rates)
        }
    }
}

/// w_i·‖prediction_i − target_i‖² per sample.
func perSampleLoss(_ prediction: Tensor, _ target: Tensor, weights: [Double]) -> Tensor {
    (prediction - target).squaredNormPerSample() * Tensor(weights.map(Float.init))
}
