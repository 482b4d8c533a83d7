import Foundation

/// One noise level of a Gaussian noising process: x = α·x₀ + σ·ε with ε ~ N(0, I).
///
/// The log signal-to-noise ratio λ = log(α²/σ²) orders levels: λ = +∞ is clean data, λ = −∞ is pure noise.
/// The EDM noise level σ/α (Karras et al. 2022, arXiv 2206.00364) is the σ of the equivalent α = 1 process
/// x/α = x₀ + (σ/α)·ε; all σ-space samplers work in that coordinate.
public struct NoiseLevel: Sendable, Hashable, CustomStringConvertible {
    public var alpha: Double
    public var sigma: Double

    public init(alpha: Double, sigma: Double) {
        precondition(alpha >= 0 && sigma >= 0 && (alpha > 0 || sigma > 0), "a noise level needs α, σ ≥ 0, not both 0 (α = \(alpha), σ = \(sigma))")
        self.alpha = alpha
        self.sigma = sigma
    }

    /// The level σ of the α = 1 (EDM, variance-exploding) parametrisation.
    public init(edmSigma σ: Double) { self.init(alpha: 1, sigma: σ) }

    /// λ = log(α²/σ²); +∞ for clean data, −∞ for pure noise.
    public var logSNR: Double { 2 * (Foundation.log(alpha) - Foundation.log(sigma)) }
    /// σ/α, the noise level of the equivalent α = 1 process (+∞ for pure noise).
    public var edmSigma: Double { sigma / alpha }

    public var description: String { "(α = \(alpha), σ = \(sigma))" }
}

/// Time derivatives (dα/dt, dσ/dt) of a process, needed to convert flow-velocity outputs.
public struct NoiseRates: Sendable, Hashable {
    public var dAlpha: Double
    public var dSigma: Double
    public init(dAlpha: Double, dSigma: Double) { self.dAlpha = dAlpha; self.dSigma = dSigma }
}

/// A forward noising process x_t = α_t·x₀ + σ_t·ε over continuous time t ∈ [0, 1] (t = 0 cleanest).
///
/// Conforming types give α(t) and σ(t); log-SNR λ(t) and its inverse t(λ) have defaults (the inverse by
/// bisection, since λ decreases in t) that types override with closed forms where they exist. Discrete-time
/// processes (DDPM's T steps) are continuous processes that report `discreteSteps` and whose grid times are
/// t_n = (n + 1)/T for the training index n = 0..<T.
public protocol NoiseProcess: Sendable {
    /// A short name for listings ("vp-linear", "cosine", "flow", …).
    var name: String { get }
    func alpha(_ t: Double) -> Double
    func sigma(_ t: Double) -> Double
    /// λ(t) = log(α²/σ²).
    func logSNR(_ t: Double) -> Double
    /// The time with log-SNR λ, clamped to [0, 1].
    func t(logSNR λ: Double) -> Double
    /// (dα/dt, dσ/dt).
    func rates(_ t: Double) -> NoiseRates
    /// Number of training steps T of a discrete-time process, nil for continuous time.
    var discreteSteps: Int? { get }
}

extension NoiseProcess {
    public var discreteSteps: Int? { nil }

    public func logSNR(_ t: Double) -> Double { 2 * (Foundation.log(alpha(t)) - Foundation.log(sigma(t))) }

    /// Bisection on the decreasing λ(t); 100 halvings reach Double resolution.
    public func t(logSNR λ: Double) -> Double {
        if λ >= logSNR(0) { return 0 }
        if λ <= logSNR(1) { return 1 }
        var (lo, hi) = (0.0, 1.0)
        for _ in 0..<100 {
            let mid = 0.5 * (lo + hi)
            if logSNR(mid) > λ { lo = mid } else { hi = mid }
            if hi - lo <= 1e-15 { break }
        }
        return 0.5 * (lo + hi)
    }

    /// Central differences (one-sided at the ends of [0, 1]).
    public func rates(_ t: Double) -> NoiseRates {
        let h = 1e-6
        let (a, b) = (Swift.max(0, t - h), Swift.min(1, t + h))
        return NoiseRates(dAlpha: (alpha(b) - alpha(a)) / (b - a), dSigma: (sigma(b) - sigma(a)) / (b - a))
    }

    public func level(_ t: Double) -> NoiseLevel { NoiseLevel(alpha: alpha(t), sigma: sigma(t)) }

    /// σ_t/α_t, the EDM noise level of time t (+∞ where α = 0).
    public func edmSigma(_ t: Double) -> Double { sigma(t) / alpha(t) }

    /// The time whose EDM noise level σ/α equals `σ` (λ = −2 log σ).
    public func t(edmSigma σ: Double) -> Double { t(logSNR: -2 * Foundation.log(σ)) }

    /// True when the process reaches pure noise (α = 0, λ = −∞) at t = 1, as after zero-terminal-SNR
    /// rescaling (Lin et al. 2023, arXiv 2305.08891). ε- and score-prediction cannot be used there.
    public var hasZeroTerminalSNR: Bool { alpha(1) == 0 }

    /// EDM noise levels σ/α at the grid times of a discrete process (index n = 0..<T), or nil.
    public var discreteSigmas: [Double]? {
        guard let T = discreteSteps else { return nil }
        return (0..<T).map { edmSigma(Double($0 + 1) / Double(T)) }
    }
}

/// Errors a user can provoke by combining incompatible choices.
public enum DiffusionError: Error, CustomStringConvertible, Equatable {
    /// ε- (or score-) prediction on a process whose terminal SNR is zero: x̂₀ = (x − σ·ε̂)/α divides by α = 0.
    case predictionUndefinedAtZeroTerminalSNR(prediction: String, process: String)
    /// A noise-level list that is not strictly descending, non-negative and finite.
    case invalidNoiseLevels(String)

    public var description: String {
        switch self {
        case let .predictionUndefinedAtZeroTerminalSNR(p, process):
            "\(p)-prediction cannot be used with the zero-terminal-SNR process '\(process)': at t = 1, α = 0, so "
                + "x̂₀ = (x − σ·ε̂)/α divides by zero and sampling produces NaN (Lin et al. 2023, arXiv 2305.08891, §3.2). "
                + "Use v-, x₀- or flow-velocity prediction, or a process whose terminal α is positive."
        case let .invalidNoiseLevels(why): "invalid noise levels: \(why)"
        }
    }
}
