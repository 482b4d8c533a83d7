import Foundation

/// The variance-exploding process of NCSN (Song & Ermon 2019, arXiv 1907.05600; Song et al. 2021,
/// arXiv 2011.13456): α = 1, σ(t) = σ_min·(σ_max/σ_min)^t, geometric in t. t = 0 is σ_min, not clean data;
/// schedules append the final σ = 0.
public struct VEProcess: NoiseProcess {
    public let sigmaMin: Double, sigmaMax: Double
    public init(sigmaMin: Double = 0.01, sigmaMax: Double = 50) {
        precondition(0 < sigmaMin && sigmaMin < sigmaMax, "VE needs 0 < σ_min < σ_max")
        (self.sigmaMin, self.sigmaMax) = (sigmaMin, sigmaMax)
    }
    public var name: String { "ve" }
    public func alpha(_ t: Double) -> Double { 1 }
    public func sigma(_ t: Double) -> Double { sigmaMin * pow(sigmaMax / sigmaMin, t) }
    public func logSNR(_ t: Double) -> Double { -2 * log(sigma(t)) }
    public func t(logSNR λ: Double) -> Double {
        Swift.min(1, Swift.max(0, (-λ / 2 - log(sigmaMin)) / log(sigmaMax / sigmaMin)))
    }
    public func rates(_ t: Double) -> NoiseRates { NoiseRates(dAlpha: 0, dSigma: sigma(t) * log(sigmaMax / sigmaMin)) }
}

/// The EDM process (Karras et al. 2022, arXiv 2206.00364): α = 1 and σ runs from σ_min to σ_max.
/// Time is the ρ-warped coordinate of the paper's step schedule, σ(t) = (σ_min^{1/ρ} + t(σ_max^{1/ρ} − σ_min^{1/ρ}))^ρ,
/// so uniform t is the Karras schedule.
public struct EDMProcess: NoiseProcess {
    public let sigmaMin: Double, sigmaMax: Double, rho: Double
    public init(sigmaMin: Double = 0.002, sigmaMax: Double = 80, rho: Double = 7) {
        precondition(0 < sigmaMin && sigmaMin < sigmaMax && rho > 0, "EDM needs 0 < σ_min < σ_max and ρ > 0")
        (self.sigmaMin, self.sigmaMax, self.rho) = (sigmaMin, sigmaMax, rho)
    }
    public var name: String { "edm" }
    public func alpha(_ t: Double) -> Double { 1 }
    public func sigma(_ t: Double) -> Double {
        let (a, b) = (pow(sigmaMin, 1 / rho), pow(sigmaMax, 1 / rho))
        return pow(a + t * (b - a), rho)
    }
    public func logSNR(_ t: Double) -> Double { -2 * log(sigma(t)) }
    public func t(logSNR λ: Double) -> Double {
        let (a, b) = (pow(sigmaMin, 1 / rho), pow(sigmaMax, 1 / rho))
        return Swift.min(1, Swift.max(0, (exp(-λ / (2 * rho)) - a) / (b - a)))
    }
    public func rates(_ t: Double) -> NoiseRates {
        let (a, b) = (pow(sigmaMin, 1 / rho), pow(sigmaMax, 1 / rho))
        return NoiseRates(dAlpha: 0, dSigma: rho * pow(a + t * (b - a), rho - 1) * (b - a))
    }
}

/// The rectified-flow / flow-matching linear interpolant (Liu et al. 2022, arXiv 2209.03003; Lipman et al. 2022,
/// arXiv 2210.02747): x_t = (1 − t)·x₀ + t·ε, so α = 1 − t, σ = t, λ = 2 log((1 − t)/t) and t(λ) = 1/(1 + e^{λ/2}).
/// t = 1 is pure noise (zero terminal SNR).
public struct RectifiedFlow: NoiseProcess {
    public init() {}
    public var name: String { "flow" }
    public func alpha(_ t: Double) -> Double { 1 - t }
    public func sigma(_ t: Double) -> Double { t }
    public func logSNR(_ t: Double) -> Double { 2 * (log1p(-t) - log(t)) }
    public func t(logSNR λ: Double) -> Double { 1 / (1 + exp(λ / 2)) }
    public func rates(_ t: Double) -> NoiseRates { NoiseRates(dAlpha: -1, dSigma: 1) }
}
