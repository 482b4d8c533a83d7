import Foundation
import DiffusionEngine

/// The variational bound of a discrete variance-preserving diffusion, term by term (Sohl-Dickstein et al. 2015,
/// arXiv 1503.03585; Ho et al. 2020, arXiv 2006.11239, Eq. 5), in nats per sample:
///
///   −log p_θ(x₀) ≤ L_T + Σ_{t=2}^{T} L_{t−1} + L_0,
///   L_T     = KL(q(x_T | x₀) ‖ N(0, I))                       = ½Σ_d (ᾱ_T·x₀² − ᾱ_T − log(1 − ᾱ_T)),
///   L_{t−1} = KL(q(x_{t−1} | x_t, x₀) ‖ p_θ(x_{t−1} | x_t))   = ½Σ_d (r − 1 − log r) + c₀(t)²/(2σ_t²)·‖x̂₀ − x₀‖²,
///   L_0     = −log N(x₀; x̂₀(x₁), σ_dec²)                      = ½Σ_d log(2πσ_dec²) + ‖x̂₀ − x₀‖²/(2σ_dec²),
///
/// with Ho's indices t = 1…T (our training index n = t − 1, ᾱ₀ = 1), β_t = 1 − ᾱ_t/ᾱ_{t−1}, the posterior
/// q(x_{t−1} | x_t, x₀) = N(c₀x₀ + c_t x_t, β̃_t), c₀ = √ᾱ_{t−1}β_t/(1 − ᾱ_t), c_t = √(1 − β_t)(1 − ᾱ_{t−1})/(1 − ᾱ_t),
/// β̃_t = (1 − ᾱ_{t−1})β_t/(1 − ᾱ_t), the model p_θ(x_{t−1} | x_t) = N(c₀x̂₀ + c_t x_t, σ_t²) with σ_t² = β̃_t or β_t,
/// and r = β̃_t/σ_t². With σ_t² = β̃_t the weight on ‖x̂₀ − x₀‖² is ½(SNR(t − 1) − SNR(t)) (Kingma et al. 2021,
/// arXiv 2107.00630): the bound is a weighted x₀ loss. L_0 uses a continuous Gaussian decoder (σ_dec² = β_1 by
/// default), the density analogue of Ho et al.'s discretised decoder, so the bound is on a density.
///
/// As an objective it is the unbiased one-term estimate L_T + T·L_{t−1} with t uniform on 1…T (L_0 when t = 1).
public struct VariationalBound: Objective, Sendable {
    public enum ReverseVariance: String, Sendable { case posterior, beta }
    public let process: DiscreteVP
    public let reverseVariance: ReverseVariance
    public let decoderVariance: Double

    public init(process: DiscreteVP = .linear(), reverseVariance: ReverseVariance = .posterior, decoderVariance: Double? = nil) {
        precondition(process.T >= 2, "the bound needs T ≥ 2")
        self.process = process
        self.reverseVariance = reverseVariance
        self.decoderVariance = decoderVariance ?? (1 - process.alphasCumprod[0])
        precondition(self.decoderVariance > 0, "the decoder variance must be positive")
    }

    public var T: Int { process.T }
    /// ᾱ_t for t = 0…T (ᾱ₀ = 1).
    public func alphaBar(_ t: Int) -> Double { t == 0 ? 1 : process.alphasCumprod[t - 1] }
    public func beta(_ t: Int) -> Double { 1 - alphaBar(t) / alphaBar(t - 1) }
    /// β̃_t, the variance of q(x_{t−1} | x_t, x₀).
    public func posteriorVariance(_ t: Int) -> Double { (1 - alphaBar(t - 1)) * beta(t) / (1 - alphaBar(t)) }
    /// (c₀, c_t): the posterior mean is c₀·x₀ + c_t·x_t.
    public func posteriorCoefficients(_ t: Int) -> (c0: Double, ct: Double) {
        let d = 1 - alphaBar(t)
        return (alphaBar(t - 1).squareRoot() * beta(t) / d, (1 - beta(t)).squareRoot() * (1 - alphaBar(t - 1)) / d)
    }
    /// σ_t², the variance of p_θ(x_{t−1} | x_t).
    public func reverseVarianceValue(_ t: Int) -> Double { reverseVariance == .posterior ? posteriorVariance(t) : beta(t) }
    /// The weight w_t of ‖x̂₀ − x₀‖² in L_{t−1}: c₀²/(2σ_t²).
    public func weight(_ t: Int) -> Double { let c = posteriorCoefficients(t).c0; return c * c / (2 * reverseVarianceValue(t)) }
    /// ½Σ_d(r − 1 − log r) per dimension: the part of L_{t−1} that no mean can remove.
    public func varianceMismatch(_ t: Int) -> Double {
        let r = posteriorVariance(t) / reverseVarianceValue(t)
        return 0.5 * (r - 1 - log(r))
    }

    /// L_T for every sample.
    public func priorTerm(_ x0: Tensor) -> Tensor {
        let a = alphaBar(T), d = Double(x0.count / x0.shape[0])
        return x0.squaredNormPerSample() * Float(0.5 * a) + Float(0.5 * d * (-a - log1p(-a)))
    }

    /// L_{t−1} (t ≥ 2) or L_0 (t = 1) for every sample from the model's x̂₀ at x_t.
    public func term(_ t: Int, x0: Tensor, x0Hat: Tensor) -> Tensor {
        precondition((1...T).contains(t), "t must lie in 1…\(T)")
        let d = Double(x0.count / x0.shape[0])
        let err = (x0Hat - x0).squaredNormPerSample()
        if t == 1 { return err * Float(1 / (2 * decoderVariance)) + Float(0.5 * d * log(2 * .pi * decoderVariance)) }
        return err * Float(weight(t)) + Float(d * varianceMismatch(t))
    }

    /// Draws x_t ~ q(x_t | x₀) and returns that term for every sample.
    public func term(_ t: Int, _ model: some NoisePredictor, x0: Tensor, labels: Tensor? = nil, rng: inout RandomGenerator) -> Tensor {
        let levels = LevelBatch(process: process, times: Array(repeating: Double(t) / Double(T), count: x0.shape[0]))
        let x = levels.noisy(x0: x0, epsilon: rng.normal(x0.shape))
        return term(t, x0: x0, x0Hat: model.denoised(x, at: levels, labels: labels))
    }

    /// Every term for every sample: `terms[0]` = L_0, `terms[t − 1]` = L_{t−1}, one model call per t.
    public func terms(_ model: some NoisePredictor, x0: Tensor, labels: Tensor? = nil, rng: inout RandomGenerator) -> (prior: Tensor, terms: [Tensor]) {
        (priorTerm(x0), (1...T).map { term($0, model, x0: x0, labels: labels, rng: &rng) })
    }

    /// The whole bound per sample (T model calls).
    public func bound(_ model: some NoisePredictor, x0: Tensor, labels: Tensor? = nil, rng: inout RandomGenerator) -> Tensor {
        let (prior, terms) = terms(model, x0: x0, labels: labels, rng: &rng)
        return terms.reduce(prior, +)
    }

    public func callAsFunction(_ model: some NoisePredictor, _ x0: Tensor, labels: Tensor?, rng: inout RandomGenerator) -> Tensor {
        let n = x0.shape[0]
        let ts = rng.integers([n], in: 1..<(T + 1)).scalars.map { Int($0) }
        let levels = LevelBatch(process: process, times: ts.map { Double($0) / Double(T) })
        let x = levels.noisy(x0: x0, epsilon: rng.normal(x0.shape))
        let err = (model.denoised(x, at: levels, labels: labels) - x0).squaredNormPerSample()
        let d = Double(x0.count / n)
        let w = ts.map { Float(Double(T) * ($0 == 1 ? 1 / (2 * decoderVariance) : weight($0))) }
        let c = ts.map { Float(Double(T) * ($0 == 1 ? 0.5 * d * log(2 * .pi * decoderVariance) : d * varianceMismatch($0))) }
        return priorTerm(x0) + err * Tensor(w) + Tensor(c)
    }

    /// The expected terms with the exact denoiser: E L_T, and E L_{t−1} for t = 1…T (index t − 1).
    public func expectedTerms(for mixture: GaussianMixture) -> (prior: Double, terms: [Double]) {
        let a = alphaBar(T), d = Double(mixture.dimension)
        let prior = 0.5 * (a * mixture.secondMoment - d * a - d * log1p(-a))
        let terms = (1...T).map { t -> Double in
            let mmse = mixture.minimumMeanSquaredError(at: process.level(Double(t) / Double(T)))
            return t == 1 ? 0.5 * d * log(2 * .pi * decoderVariance) + mmse / (2 * decoderVariance)
                : d * varianceMismatch(t) + weight(t) * mmse
        }
        return (prior, terms)
    }

    public func irreducibleLoss(for mixture: GaussianMixture) -> Double? {
        let (prior, terms) = expectedTerms(for: mixture)
        return terms.reduce(prior, +)
    }
}
