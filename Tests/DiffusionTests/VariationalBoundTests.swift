import Foundation
import Testing
@testable import Diffusion

/// ∫ q log(q/p) for 1-D Gaussians by the trapezoid rule on ±14 standard deviations of q.
func numericKL(_ mq: Double, _ vq: Double, _ mp: Double, _ vp: Double) -> Double {
    let s = vq.squareRoot(), m = 40_000
    let h = 28 * s / Double(m)
    func logN(_ y: Double, _ mu: Double, _ v: Double) -> Double { -0.5 * ((y - mu) * (y - mu) / v + log(2 * .pi * v)) }
    var total = 0.0
    for i in 0...m {
        let y = mq - 14 * s + Double(i) * h
        let lq = logN(y, mq, vq)
        total += (i == 0 || i == m ? 0.5 : 1) * exp(lq) * (lq - logN(y, mp, vp))
    }
    return total * h
}

@Suite("Variational bound, term by term")
struct VariationalBoundTests {
    /// A short, strongly noising process so every term matters.
    static let process = DiscreteVP(betas: [0.05, 0.1, 0.2, 0.3, 0.5, 0.7])
    static let gaussian = GaussianMixture(weights: [1], means: [[0.5]], std: [0.8])

    @Test("q(x_{t−1} | x_t, x₀) from Bayes' rule has mean c₀x₀ + c_t x_t and variance β̃_t; w_t = ½(SNR(t−1) − SNR(t))")
    func posterior() {
        let vb = VariationalBound(process: Self.process)
        for t in 2...vb.T {
            let (ab, abPrev, β) = (vb.alphaBar(t), vb.alphaBar(t - 1), vb.beta(t))
            let precision = 1 / (1 - abPrev) + (1 - β) / β
            let (x0, xt) = (0.3, -0.8)
            let mean = (abPrev.squareRoot() * x0 / (1 - abPrev) + (1 - β).squareRoot() * xt / β) / precision
            let (c0, ct) = vb.posteriorCoefficients(t)
            #expect(abs(c0 * x0 + ct * xt - mean) < 1e-12)
            #expect(abs(vb.posteriorVariance(t) - 1 / precision) < 1e-12)
            let snr = { (a: Double) in a / (1 - a) }
            #expect(abs(vb.weight(t) - 0.5 * (snr(abPrev) - snr(ab))) < 1e-9 * vb.weight(t))
        }
    }

    @Test("each term equals its definition: KLs by numerical integration, L_0 as a Gaussian log-density",
          arguments: [VariationalBound.ReverseVariance.posterior, .beta])
    func termsAgainstDefinitions(_ variance: VariationalBound.ReverseVariance) {
        let vb = VariationalBound(process: Self.process, reverseVariance: variance, decoderVariance: 0.03)
        let (x0, x0Hat, xt) = (0.3, 0.55, 0.7)
        let X0 = Tensor([Float(x0)], shape: [1, 1]), X0Hat = Tensor([Float(x0Hat)], shape: [1, 1])
        for t in 2...vb.T {
            let (c0, ct) = vb.posteriorCoefficients(t)
            let kl = numericKL(c0 * x0 + ct * xt, vb.posteriorVariance(t), c0 * x0Hat + ct * xt, vb.reverseVarianceValue(t))
            #expect(abs(Double(vb.term(t, x0: X0, x0Hat: X0Hat).item) - kl) < 1e-5 + 1e-5 * kl, "t = \(t): \(kl)")
        }
        let ab = vb.alphaBar(vb.T)
        #expect(abs(Double(vb.priorTerm(X0).item) - numericKL(ab.squareRoot() * x0, 1 - ab, 0, 1)) < 1e-6)
        let nll = 0.5 * (x0 - x0Hat) * (x0 - x0Hat) / 0.03 + 0.5 * log(2 * .pi * 0.03)
        #expect(abs(Double(vb.term(1, x0: X0, x0Hat: X0Hat).item) - nll) < 1e-5)
        // Terms add over dimensions.
        let two = Tensor([0.3, -0.2], shape: [1, 2]), twoHat = Tensor([0.55, 0.1], shape: [1, 2])
        let split = vb.term(3, x0: two.slice(axis: 1, 0, 1), x0Hat: twoHat.slice(axis: 1, 0, 1)).item
            + vb.term(3, x0: two.slice(axis: 1, 1, 2), x0Hat: twoHat.slice(axis: 1, 1, 2)).item
        #expect(abs(vb.term(3, x0: two, x0Hat: twoHat).item - split) < 1e-5)
    }

    @Test("on Gaussian data the exact model's expected terms have closed forms, and Monte Carlo matches each term")
    func expectedTermsOnAGaussian() {
        let vb = VariationalBound(process: Self.process)
        let (μ, s2) = (0.5, 0.64)
        let (prior, terms) = vb.expectedTerms(for: Self.gaussian)
        let abT = vb.alphaBar(vb.T)
        #expect(abs(prior - 0.5 * (abT * (μ * μ + s2) - abT - log(1 - abT))) < 1e-12)
        for t in 1...vb.T {
            let ab = vb.alphaBar(t)
            let posteriorVar = s2 * (1 - ab) / (ab * s2 + 1 - ab)      // Var[x₀ | x_t] for a Gaussian
            let expected = t == 1 ? 0.5 * log(2 * .pi * vb.decoderVariance) + posteriorVar / (2 * vb.decoderVariance)
                : vb.varianceMismatch(t) + vb.weight(t) * posteriorVar
            #expect(abs(terms[t - 1] - expected) < 1e-9 * max(1, abs(expected)), "t = \(t)")
        }
        var rng = RandomGenerator(seed: 11)
        let x0 = Self.gaussian.sample(20_000, seed: 4)
        let (mcPrior, mcTerms) = vb.terms(ExactMixtureModel(Self.gaussian, prediction: .epsilon), x0: x0, rng: &rng)
        let p = meanAndError(mcPrior)
        #expect(abs(p.mean - prior) < 4 * p.se)
        for t in 1...vb.T {
            let m = meanAndError(mcTerms[t - 1])
            #expect(abs(m.mean - terms[t - 1]) < 4 * m.se + 1e-6, "t = \(t): \(m.mean) ± \(m.se) vs \(terms[t - 1])")
        }
    }

    @Test("the bound is above the true NLL and tightens with more steps")
    func boundAboveEntropy() throws {
        let entropy = Self.gaussian.entropy                      // −E log p(x₀) = ½ log(2πe s²)
        #expect(abs(entropy - 0.5 * log(2 * .pi * M_E * 0.64)) < 1e-9)
        // DDPM's linear schedule with β scaled by 1000/T: the same continuous-time process, discretised more finely.
        let bounds = try [25, 100, 1000].map { T in
            let s = 1000 / Double(T)
            return try #require(VariationalBound(process: .linear(steps: T, betaStart: 1e-4 * s, betaEnd: 0.02 * s)).irreducibleLoss(for: Self.gaussian))
        }
        print("variational bound on N(0.5, 0.8²): T = 25, 100, 1000 → \(bounds.map { String(format: "%.4f", $0) }), entropy \(String(format: "%.4f", entropy))")
        #expect(bounds.allSatisfy { $0 > entropy })
        #expect(bounds[0] > bounds[1] && bounds[1] > bounds[2])
    }
}
