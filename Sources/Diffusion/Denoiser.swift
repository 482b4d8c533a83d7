import DiffusionEngine
import Synchronization

/// The one interface every sampler uses: D(x; α, σ) ≈ E[x₀ | x] for x = α·x₀ + σ·ε.
///
/// σ-space samplers call it with α = 1 (the EDM denoiser D(x; σ), Karras et al. 2022, arXiv 2206.00364);
/// flow samplers with α = 1 − t, σ = t. `ModelDenoiser` turns any network output (ε, x₀, v, score, velocity) on
/// any `NoiseProcess` into this form and `PreconditionedDenoiser` does the same for EDM's c_skip/c_out/c_in/c_noise,
/// so every sampler works with every parametrisation. `GaussianMixture` is an exact denoiser.
public protocol Denoiser {
    /// x̂₀ for the batch `x` (leading axis = samples) at `level`.
    func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor
}

extension Denoiser {
    /// D(x; σ) with α = 1.
    public func denoise(_ x: Tensor, sigma σ: Double) -> Tensor { denoise(x, at: NoiseLevel(alpha: 1, sigma: σ)) }

    /// ε̂ = (x − α·x̂₀)/σ.
    public func epsilon(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        Parametrization.epsilon(x0: denoise(x, at: level), x: x, level: level)
    }

    /// ŝ = ∇ log p(x) = (α·x̂₀ − x)/σ².
    public func score(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        Parametrization.score(x0: denoise(x, at: level), x: x, level: level)
    }
}

/// A denoiser from a closure (x, level) ↦ x̂₀.
public struct ClosureDenoiser: Denoiser {
    public let body: (Tensor, NoiseLevel) -> Tensor
    public init(_ body: @escaping (Tensor, NoiseLevel) -> Tensor) { self.body = body }
    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor { body(x, level) }
}

/// Counts calls (one per batch evaluation) to a wrapped denoiser.
public final class CountingDenoiser<Base: Denoiser>: Denoiser {
    public let base: Base
    private let counter = Mutex(0)
    public init(_ base: Base) { self.base = base }
    public var calls: Int { counter.withLock { $0 } }
    public func reset() { counter.withLock { $0 = 0 } }
    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        counter.withLock { $0 += 1 }
        return base.denoise(x, at: level)
    }
}

/// A network trained on a `NoiseProcess` with some `Prediction`, seen as a denoiser at any level.
///
/// A request at level (α, σ) is mapped to the process time with the same log-SNR, t = t(λ); the input is rescaled
/// to the process's own coordinates, x_t = x·σ_t/σ; the network is called as `network(x_t, t)` and its output
/// converted to x̂₀. For discrete processes t is continuous; the training index is `DiscreteVP.index(t)`.
/// Levels beyond the process's range are clamped to its ends (t ∈ [0, 1]).
public struct ModelDenoiser: Denoiser {
    public let process: any NoiseProcess
    public let prediction: Prediction
    public let network: (Tensor, Double) -> Tensor

    /// Throws `DiffusionError.predictionUndefinedAtZeroTerminalSNR` for ε- or score-prediction on a process
    /// whose terminal SNR is zero (Lin et al. 2023, arXiv 2305.08891).
    public init(process: any NoiseProcess, prediction: Prediction, network: @escaping (Tensor, Double) -> Tensor) throws(DiffusionError) {
        if prediction.dividesByAlpha && process.hasZeroTerminalSNR {
            throw .predictionUndefinedAtZeroTerminalSNR(prediction: prediction.rawValue, process: process.name)
        }
        self.process = process
        self.prediction = prediction
        self.network = network
    }

    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        if level.sigma == 0 { return x * Float(1 / level.alpha) }
        let t = process.t(logSNR: level.logSNR)
        let native = process.level(t)
        let xt = x * Float(native.sigma / level.sigma)
        let rates: NoiseRates? = prediction == .velocity ? process.rates(t) : nil
        return Parametrization.x0(from: network(xt, t), prediction, x: xt, level: native, rates: rates)
    }
}
