import Foundation

/// A discrete-time variance-preserving process given by its table ᾱ_n = ∏_{k≤n} (1 − β_k), n = 0..<T
/// (Ho et al. 2020, arXiv 2006.11239). Index n sits at time t_n = (n + 1)/T; t = 0 is clean data (ᾱ = 1).
/// Between grid times α = √ᾱ is interpolated linearly in t, which keeps λ monotone and also works when the
/// last entry is 0 (zero terminal SNR). σ = √(1 − α²).
public struct DiscreteVP: NoiseProcess {
    public let name: String
    /// ᾱ_n for n = 0..<T.
    public let alphasCumprod: [Double]

    public init(alphasCumprod: [Double], name: String = "vp-discrete") {
        precondition(!alphasCumprod.isEmpty, "a discrete process needs at least one step")
        precondition(zip(alphasCumprod, alphasCumprod.dropFirst()).allSatisfy { $0 > $1 }, "ᾱ must decrease strictly")
        precondition(alphasCumprod[0] < 1 && alphasCumprod.last! >= 0, "ᾱ must lie in [0, 1)")
        self.alphasCumprod = alphasCumprod
        self.name = name
    }

    /// From β_1 … β_T: ᾱ by cumulative product.
    public init(betas: [Double], name: String = "vp-discrete") {
        var prod = 1.0
        self.init(alphasCumprod: betas.map { prod *= 1 - $0; return prod }, name: name)
    }

    /// DDPM's linear β schedule from β₁ = 10⁻⁴ to β_T = 0.02 over T = 1000 steps (Ho et al. 2020).
    public static func linear(steps T: Int = 1000, betaStart: Double = 1e-4, betaEnd: Double = 0.02) -> DiscreteVP {
        let betas = (0..<T).map { T == 1 ? betaStart : betaStart + (betaEnd - betaStart) * Double($0) / Double(T - 1) }
        return DiscreteVP(betas: betas, name: "vp-linear")
    }

    /// The cosine schedule of Nichol & Dhariwal 2021 (arXiv 2102.09672): ᾱ(t) = f(t)/f(0),
    /// f(t) = cos²(π/2 · (t + s)/(1 + s)), with β clipped at `maxBeta` so that ᾱ_T stays positive.
    public static func cosine(steps T: Int = 1000, s: Double = 0.008, maxBeta: Double = 0.999) -> DiscreteVP {
        func f(_ t: Double) -> Double { let c = cos((t + s) / (1 + s) * .pi / 2); return c * c }
        let betas = (0..<T).map { n in Swift.min(maxBeta, 1 - f(Double(n + 1) / Double(T)) / f(Double(n) / Double(T))) }
        return DiscreteVP(betas: betas, name: "vp-cosine")
    }

    /// Lin et al. 2023 (arXiv 2305.08891, Algorithm 1): shift √ᾱ so the last step is 0 and scale so the first
    /// step keeps its value. The result has zero terminal SNR; ε-prediction is then rejected.
    public func rescaledToZeroTerminalSNR() -> DiscreteVP {
        let s = alphasCumprod.map { $0.squareRoot() }
        let (first, last) = (s[0], s[s.count - 1])
        let rescaled = s.map { ($0 - last) * first / (first - last) }
        return DiscreteVP(alphasCumprod: rescaled.map { $0 * $0 }, name: name + "-ztsnr")
    }

    public var discreteSteps: Int? { alphasCumprod.count }
    public var T: Int { alphasCumprod.count }

    /// The training index n of grid time t_n = (n + 1)/T (fractional between grid times).
    public func index(_ t: Double) -> Double { t * Double(T) - 1 }

    public func alpha(_ t: Double) -> Double {
        let u = Swift.min(Swift.max(t, 0), 1) * Double(T)   // u = n + 1 on the grid
        if u <= 1 { return 1 + (alphasCumprod[0].squareRoot() - 1) * u }
        let i = Swift.min(Int(u.rounded(.down)), T - 1)     // between grid u = i and u = i + 1
        let a = alphasCumprod[i - 1].squareRoot(), b = alphasCumprod[i].squareRoot()
        let w = Swift.min(u - Double(i), 1)
        return a + (b - a) * w
    }

    public func sigma(_ t: Double) -> Double { let a = alpha(t); return Swift.max(0, 1 - a * a).squareRoot() }
}

/// The continuous cosine schedule (Nichol & Dhariwal 2021, arXiv 2102.09672): ᾱ(t) = f(t)/f(0),
/// f(t) = cos²(π/2 · (t + s)/(1 + s)). ᾱ is clipped below at `clipMin` (as in Chen 2023, arXiv 2301.10972),
/// so the terminal SNR is small but positive; wrap in `ZeroTerminalSNR` for exactly zero.
public struct CosineProcess: NoiseProcess {
    public let s: Double
    public let clipMin: Double
    public init(s: Double = 0.008, clipMin: Double = 1e-9) { self.s = s; self.clipMin = clipMin }
    public var name: String { "cosine" }

    func f(_ t: Double) -> Double { let c = cos((t + s) / (1 + s) * .pi / 2); return c * c }
    public func alphaBar(_ t: Double) -> Double { Swift.min(1, Swift.max(clipMin, f(t) / f(0))) }
    public func alpha(_ t: Double) -> Double { alphaBar(t).squareRoot() }
    public func sigma(_ t: Double) -> Double { (1 - alphaBar(t)).squareRoot() }
    public func logSNR(_ t: Double) -> Double { let a = alphaBar(t); return log(a) - log1p(-a) }

    public func t(logSNR λ: Double) -> Double {
        let abar = 1 / (1 + exp(-λ))                          // ᾱ = sigmoid(λ)
        if abar <= clipMin { return 1 }
        let c = (abar * f(0)).squareRoot()
        return Swift.min(1, Swift.max(0, acos(Swift.min(1, c)) * 2 / .pi * (1 + s) - s))
    }
}

/// The sigmoid schedule (Jabri et al. 2022, arXiv 2212.11972; Chen 2023, arXiv 2301.10972):
/// ᾱ(t) = (S(end/τ) − S((t(end − start) + start)/τ)) / (S(end/τ) − S(start/τ)), S the logistic function,
/// clipped below at `clipMin`.
public struct SigmoidProcess: NoiseProcess {
    public let start: Double, end: Double, tau: Double, clipMin: Double
    public init(start: Double = -3, end: Double = 3, tau: Double = 1, clipMin: Double = 1e-9) {
        precondition(end > start && tau > 0, "the sigmoid schedule needs end > start and τ > 0")
        (self.start, self.end, self.tau, self.clipMin) = (start, end, tau, clipMin)
    }
    public var name: String { "sigmoid" }

    static func logistic(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
    public func alphaBar(_ t: Double) -> Double {
        let (v0, v1) = (Self.logistic(start / tau), Self.logistic(end / tau))
        let v = Self.logistic((t * (end - start) + start) / tau)
        return Swift.min(1, Swift.max(clipMin, (v1 - v) / (v1 - v0)))
    }
    public func alpha(_ t: Double) -> Double { alphaBar(t).squareRoot() }
    public func sigma(_ t: Double) -> Double { (1 - alphaBar(t)).squareRoot() }
    public func logSNR(_ t: Double) -> Double { let a = alphaBar(t); return log(a) - log1p(-a) }
}

/// Zero-terminal-SNR rescaling of a continuous variance-preserving process (Lin et al. 2023, arXiv 2305.08891):
/// α'(t) = (α(t) − α(1)) / (1 − α(1)), σ' = √(1 − α'²). α' = 1 at t = 0 and α' = 0 at t = 1, so the last level is
/// pure noise and ε-prediction is rejected (`DiffusionError.predictionUndefinedAtZeroTerminalSNR`).
/// For discrete tables use `DiscreteVP.rescaledToZeroTerminalSNR()`, which keeps the first training step.
public struct ZeroTerminalSNR<Base: NoiseProcess>: NoiseProcess {
    public let base: Base
    public init(_ base: Base) {
        precondition(base.alpha(1) < base.alpha(0), "zero-terminal-SNR rescaling needs α(1) < α(0)")
        self.base = base
    }
    public var name: String { base.name + "-ztsnr" }
    public var discreteSteps: Int? { base.discreteSteps }
    public func alpha(_ t: Double) -> Double {
        let (a0, a1) = (base.alpha(0), base.alpha(1))
        return Swift.max(0, (base.alpha(t) - a1) / (a0 - a1))
    }
    public func sigma(_ t: Double) -> Double { let a = alpha(t); return Swift.max(0, 1 - a * a).squareRoot() }
}
