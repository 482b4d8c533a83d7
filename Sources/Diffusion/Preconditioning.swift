import Foundation
import DiffusionEngine

/// The four scalars of a preconditioned denoiser D(x; σ) = c_skip·x + c_out·F(c_in·x; c_noise)
/// (Karras et al. 2022, arXiv 2206.00364, Table 1).
public struct PreconditioningCoefficients: Sendable, Hashable {
    public var c_skip: Double, c_out: Double, c_in: Double, c_noise: Double
    public init(c_skip: Double, c_out: Double, c_in: Double, c_noise: Double) {
        (self.c_skip, self.c_out, self.c_in, self.c_noise) = (c_skip, c_out, c_in, c_noise)
    }
}

/// A preconditioning: the coefficients at EDM noise level σ.
public protocol Preconditioning: Sendable {
    func callAsFunction(_ σ: Double) -> PreconditioningCoefficients
}

extension Preconditioning {
    /// The regression target for F, (x₀ − c_skip·x)/c_out, that makes D(x; σ) = x₀.
    public func target(x0: Tensor, noisy x: Tensor, sigma σ: Double) -> Tensor {
        let c = self(σ)
        return (x0 - x * Float(c.c_skip)) * Float(1 / c.c_out)
    }
}

/// EDM: c_skip = σ_d²/(σ² + σ_d²), c_out = σσ_d/√(σ² + σ_d²), c_in = 1/√(σ² + σ_d²), c_noise = ¼ ln σ.
/// Its loss weight λ(σ) = 1/c_out² makes the effective weight on F equal to one.
public struct EDMPreconditioning: Preconditioning {
    public let σ_data: Double
    public init(σ_data: Double = 0.5) { self.σ_data = σ_data }
    public func callAsFunction(_ σ: Double) -> PreconditioningCoefficients {
        let s2 = σ * σ + σ_data * σ_data
        return PreconditioningCoefficients(c_skip: σ_data * σ_data / s2, c_out: σ * σ_data / s2.squareRoot(),
                                           c_in: 1 / s2.squareRoot(), c_noise: 0.25 * log(σ))
    }
    /// λ(σ) = (σ² + σ_d²)/(σσ_d)².
    public func lossWeight(_ σ: Double) -> Double { (σ * σ + σ_data * σ_data) / (σ * σ_data * σ * σ_data) }
}

/// The VP row of EDM Table 1 (an ε-network of Song et al. 2021): c_skip = 1, c_out = −σ, c_in = 1/√(σ² + 1),
/// c_noise = (M − 1)·t(σ) with t(σ) the inverse of σ(t) = √(exp(½β_d t² + β_min t) − 1).
public struct VPPreconditioning: Preconditioning {
    public let beta_d: Double, beta_min: Double, M: Double
    public init(beta_d: Double = 19.9, beta_min: Double = 0.1, M: Double = 1000) {
        (self.beta_d, self.beta_min, self.M) = (beta_d, beta_min, M)
    }
    public func callAsFunction(_ σ: Double) -> PreconditioningCoefficients {
        let t = ((beta_min * beta_min + 2 * beta_d * log1p(σ * σ)).squareRoot() - beta_min) / beta_d
        return PreconditioningCoefficients(c_skip: 1, c_out: -σ, c_in: 1 / (σ * σ + 1).squareRoot(), c_noise: (M - 1) * t)
    }
}

/// The VE row of EDM Table 1 (NCSN++): c_skip = 1, c_out = σ, c_in = 1, c_noise = ln(σ/2).
public struct VEPreconditioning: Preconditioning {
    public init() {}
    public func callAsFunction(_ σ: Double) -> PreconditioningCoefficients {
        PreconditioningCoefficients(c_skip: 1, c_out: σ, c_in: 1, c_noise: log(0.5 * σ))
    }
}

/// D(x; σ) = c_skip·x + c_out·F(c_in·x; c_noise) with a raw network F(input, c_noise). Requests at (α, σ) are
/// served in EDM coordinates x/α at level σ/α.
public struct PreconditionedDenoiser<P: Preconditioning>: Denoiser {
    public let preconditioning: P
    public let F: (Tensor, Double) -> Tensor
    public init(_ preconditioning: P, F: @escaping (Tensor, Double) -> Tensor) {
        self.preconditioning = preconditioning
        self.F = F
    }
    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        precondition(level.alpha > 0, "EDM preconditioning works at finite σ/α; got α = 0")
        let x̃ = level.alpha == 1 ? x : x * Float(1 / level.alpha)
        let σ = level.edmSigma
        if σ == 0 { return x̃ }
        let c = preconditioning(σ)
        return x̃ * Float(c.c_skip) + F(x̃ * Float(c.c_in), c.c_noise) * Float(c.c_out)
    }
}
