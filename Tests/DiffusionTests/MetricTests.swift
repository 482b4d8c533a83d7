import Foundation
import Testing
@testable import Diffusion

@Suite("Metrics: exact values and noise floors")
struct MetricTests {
    @Test("1-D Wasserstein between small empirical measures of different sizes, by hand")
    func wassersteinByHand() {
        let a = Tensor([0, 1], shape: [2, 1]), b = Tensor([0.5, 0.5, 2], shape: [3, 1])
        #expect(abs(Metrics.slicedWasserstein(a, b, p: 1) - 2.0 / 3) < 1e-6)      // ¼ + 1/12 + ⅓
        #expect(abs(Metrics.slicedWasserstein(a, b, p: 2) - 0.5.squareRoot()) < 1e-6)  // √(⅛ + 1/24 + ⅓)
        #expect(Metrics.slicedWasserstein(a, a) == 0)
    }

    @Test("a shift by c gives SW₂ = ‖c‖/√d: exactly in 2-D (even angles), within Monte Carlo in 3-D")
    func slicedShift() {
        let x = GaussianMixture.example2D.sample(300, seed: 1)
        let shifted = x + Tensor([0.3, -0.4])
        #expect(abs(Metrics.slicedWasserstein(x, shifted) - 0.5 / 2.0.squareRoot()) < 1e-5)
        var rng = RandomGenerator(seed: 2)
        let y = rng.normal([200, 3])
        let sw = Metrics.slicedWasserstein(y, y + Tensor([0, 0, 1.2]), projections: 2000)
        #expect(abs(sw - 1.2 / 3.0.squareRoot()) < 0.03)
    }

    @Test("MMD: the biased value of two points by hand; the unbiased estimate matches the closed form for two Gaussians")
    func mmdValues() {
        let a = Tensor([0], shape: [1, 1]), b = Tensor([1], shape: [1, 1])
        #expect(abs(Metrics.mmd(a, b, bandwidths: [1], unbiased: false) - (2 - 2 * exp(-0.5))) < 1e-12)
        // N(0, s²I) vs N(μ, s²I) in d = 2 with one bandwidth h: 2(h²/(h² + 2s²))^{d/2}·(1 − exp(−‖μ‖²/(2(h² + 2s²)))).
        let (s, h, shift) = (0.5, 0.7, 0.6)
        var rng = RandomGenerator(seed: 3)
        let x = rng.normal([3000, 2]) * Float(s), y = rng.normal([3000, 2]) * Float(s) + Tensor([Float(shift), 0])
        let c = h * h / (h * h + 2 * s * s)
        let exact = 2 * c * (1 - exp(-shift * shift / (2 * (h * h + 2 * s * s))))
        let estimate = Metrics.mmd(x, y, bandwidths: [h])
        #expect(abs(estimate - exact) < 0.1 * exact, "\(estimate) vs \(exact)")
        #expect(abs(Metrics.mmd(x, rng.normal([3000, 2]) * Float(s), bandwidths: [h])) < 0.1 * exact)
    }

    @Test("noise floors: positive, shrinking like 1/n, and a shifted sample sits far above its floor", arguments: SampleMetric.allCases)
    func floors(_ metric: SampleMetric) {
        let data = ToyDataset.moons
        let sample = { (n: Int, seed: UInt64) in data.sample(n, seed: seed).points }
        let small = metric.noiseFloor(n: 200, repeats: 4, sample: sample), large = metric.noiseFloor(n: 800, repeats: 4, sample: sample)
        print("floor \(metric.rawValue): n = 200 → \(small), n = 800 → \(large)")
        #expect(small > 0 && large > 0 && large < small)
        if let expected = metric.expectedFloor(n: 200, sample: sample) {
            let many = metric.noiseFloor(n: 200, repeats: 200, sample: sample)
            print("floor \(metric.rawValue) at n = 200: expected \(expected), mean of 200 pairs \(many)")
            #expect(abs(many / expected - 1) < 0.15)
        }
        let bad = sample(800, 99) * 0.8 + 0.2
        #expect(metric(bad, sample(800, 98)) > 3 * large)
    }
}

/// D(x; σ) = μ + s²/(s² + σ²)·(x − μ) for N(μ, s²I), written with engine ops so autograd sees it.
struct GaussianDenoiser: Denoiser {
    let mu: Tensor, s2: Double
    func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        let σ2 = level.sigma * level.sigma / (level.alpha * level.alpha)
        return mu + (x * Float(1 / level.alpha) - mu) * Float(s2 / (s2 + σ2))
    }
}

@Suite("Exact likelihood through the probability-flow ODE")
struct LikelihoodTests {
    @Test("the PF-ODE NLL of the exact mixture denoiser equals −log p(x₀) (closed-form divergence)", arguments: [false, true])
    func mixtureNLL(_ twoD: Bool) {
        let gm = twoD ? GaussianMixture.example2D : GaussianMixture.example1D
        let x0 = gm.sample(48, seed: 5)
        let d = gm.dimension
        let mean = (0..<d).map { j in zip(gm.weights, gm.means).reduce(0) { $0 + $1.0 * $1.1[j] } }
        let variance = gm.totalVariance / Double(d)
        let truth = gm.logDensity(x0, at: NoiseLevel(alpha: 1, sigma: 0)).map { -$0 }
        for steps in [40, 150] {
            let nll = Likelihood.negativeLogLikelihood(gm, x0, steps: steps, dataMean: mean, dataVariance: variance)
            let worst = zip(nll, truth).map { abs($0 - $1) }.max()!
            print("PF-ODE NLL (d = \(d), \(steps) steps): mean \(nll.reduce(0, +) / 48) vs true \(truth.reduce(0, +) / 48), worst error \(worst)")
            if steps == 150 { #expect(worst < 1e-3) }
        }
        // The plain N(0, σ_max²) prior is off by about ‖m‖/(σ_max·std); a larger σ_max removes it.
        let plain = Likelihood.negativeLogLikelihood(gm, x0, sigmaMax: 2000, steps: 200)
        let worstPlain = zip(plain, truth).map { abs($0 - $1) }.max()!
        print("PF-ODE NLL (d = \(d), N(0, σ²) prior, σ_max = 2000): worst error \(worstPlain)")
        #expect(worstPlain < 5e-3)
    }

    @Test("autograd divergence equals the closed form; the NLL of a Gaussian through autograd and Hutchinson")
    func autogradAndHutchinson() {
        let g = GaussianDenoiser(mu: Tensor([0.5, -0.3]), s2: 0.36)
        var rng = RandomGenerator(seed: 1)
        let x = rng.normal([16, 2])
        let level = NoiseLevel(alpha: 1, sigma: 0.4)
        let (_, div) = Likelihood.denoiseWithDivergence(g, x, level, .exact)
        #expect(div.allSatisfy { abs($0 - 2 * 0.36 / (0.36 + 0.16)) < 1e-5 })
        let x0 = rng.normal([16, 2]) * 0.6 + Tensor([0.5, -0.3])
        let truth = GaussianMixture(weights: [1], means: [[0.5, -0.3]], std: [0.6]).logDensity(x0, at: NoiseLevel(alpha: 1, sigma: 0)).map { -$0 }
        let exact = Likelihood.negativeLogLikelihood(g, x0, steps: 100, divergence: .exact, dataMean: [0.5, -0.3], dataVariance: 0.36)
        #expect(zip(exact, truth).allSatisfy { abs($0 - $1) < 2e-3 }, "\(zip(exact, truth).map { $0 - $1 })")
        // For a diagonal Jacobian vᵀJv = Σ J_jj v_j² = tr J with Rademacher v: Hutchinson is exact here.
        let hutch = Likelihood.negativeLogLikelihood(g, x0, steps: 100, divergence: .hutchinson(probes: 1, seed: 3), dataMean: [0.5, -0.3], dataVariance: 0.36)
        #expect(zip(hutch, truth).allSatisfy { abs($0 - $1) < 2e-3 }, "\(zip(hutch, truth).map { $0 - $1 })")
        #expect(abs(Likelihood.bitsPerDimension(2 * log(2), dimension: 2) - 1) < 1e-12)
    }

    @Test("Hutchinson is unbiased for a non-diagonal Jacobian")
    func hutchinsonUnbiased() {
        // D(x) = A·x with A = [[1, 2], [−1, 0.5]]: tr = 1.5, vᵀAv = 1.5 + v₀v₁ for Rademacher v.
        let A = Tensor([1, -1, 2, 0.5], shape: [2, 2])
        let linear = ClosureDenoiser { x, _ in x.matmul(A) }
        let x = Tensor.zeros([4, 2])
        var mean = 0.0
        for k in 0..<400 { mean += Likelihood.denoiseWithDivergence(linear, x, NoiseLevel(alpha: 1, sigma: 1), .hutchinson(probes: 1, seed: UInt64(k))).1[0] / 400 }
        #expect(abs(mean - 1.5) < 0.15)
        #expect(abs(Likelihood.denoiseWithDivergence(linear, x, NoiseLevel(alpha: 1, sigma: 1), .exact).1[0] - 1.5) < 1e-6)
    }
}
