import Foundation
import Testing
@testable import Diffusion

/// Mean and standard error of per-sample losses.
func meanAndError(_ t: Tensor) -> (mean: Double, se: Double) {
    let v = t.scalars.map(Double.init)
    let m = v.reduce(0, +) / Double(v.count)
    let s2 = v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)
    return (m, (s2 / Double(v.count)).squareRoot())
}

@Suite("Objectives: exact minima with the exact mixture model")
struct ObjectiveTests {
    static let gm = GaussianMixture.example1D
    static let n = 20_000

    /// (name, objective, the kind the exact model reports — exercising the conversions).
    static let cases: [(String, any Objective, Prediction)] = [
        ("ddpm ε-MSE", DenoisingLoss.ddpm(), .epsilon),
        ("ddpm ε-MSE from an x₀ model", DenoisingLoss.ddpm(), .sample),
        ("x₀ loss, continuous cosine, v model", DenoisingLoss(process: CosineProcess(), space: .sample), .v),
        ("v loss, min-SNR-5, cosine table, ε model", DenoisingLoss(process: DiscreteVP.cosine(), space: .v, weighting: .minSNR(gamma: 5)), .epsilon),
        ("ε loss, min-SNR-5", DenoisingLoss.ddpm(weighting: .minSNR(gamma: 5)), .sample),
        ("EDM loss", EDMLoss(), .sample),
        ("NCSN DSM", DenoisingScoreMatching(), .score),
        ("NCSN DSM from an ε model", DenoisingScoreMatching(sigmaMax: 2, sigmaMin: 0.05, levels: 6), .epsilon),
        ("sliced SM (VR, Rademacher)", SlicedScoreMatching(sigma: 0.2), .score),
        ("sliced SM (Gaussian v)", SlicedScoreMatching(sigma: 0.3, projection: .gaussian, varianceReduced: false), .score),
        ("flow matching", FlowMatching(), .velocity),
        ("flow matching from a v model on the flow", FlowMatching(), .sample),
        ("variational bound (one-term estimator)", VariationalBound(process: .linear(steps: 50)), .epsilon),
    ]

    @Test("E[loss] of the Bayes-optimal model = the quadrature minimum (within 4 standard errors)", arguments: 0..<cases.count)
    func irreducible(_ i: Int) throws {
        let (name, objective, kind) = Self.cases[i]
        var rng = RandomGenerator(seed: 100 + UInt64(i))
        let x0 = Self.gm.sample(Self.n, seed: 7 + UInt64(i))
        let (mean, se) = meanAndError(objective(ExactMixtureModel(Self.gm, prediction: kind), x0, rng: &rng))
        let exact = try #require(objective.irreducibleLoss(for: Self.gm))
        print("objective \(name): MC \(String(format: "%.5f ± %.5f", mean, se)), exact \(String(format: "%.5f", exact))")
        #expect(abs(mean - exact) < 4 * se + 1e-4 * abs(exact), "\(name): \(mean) ± \(se) vs \(exact)")
        // The one-term bound estimator T·L_{t−1} is noisy by design; the bound is checked term by term elsewhere.
        let power = objective is VariationalBound ? 0.1 : 0.05
        #expect(se < power * max(abs(exact), 0.1), "\(name): the check has power only if the error is small, se = \(se)")
    }

    @Test("a perturbed model does worse than the optimum, on the same draws (the checks have power)", arguments: [0, 3, 5, 6, 8, 10])
    func perturbedIsWorse(_ i: Int) {
        let (name, objective, kind) = Self.cases[i]
        let exact = ExactMixtureModel(Self.gm, prediction: kind)
        let off = ClosurePredictor(prediction: kind) { x, levels, y in exact.predict(x, at: levels, labels: y) * 0.9 + 0.05 }
        let x0 = Self.gm.sample(Self.n, seed: 3)
        var (r1, r2) = (RandomGenerator(seed: 5), RandomGenerator(seed: 5))
        let (gap, se) = meanAndError(objective(off, x0, rng: &r1) - objective(exact, x0, rng: &r2))
        #expect(gap > 4 * se, "\(name): perturbed − optimal = \(gap) ± \(se)")
    }

    @Test("every squared error is a weighted x₀ error: ‖k̂ − k‖² = factor·‖x̂₀ − x₀‖²")
    func x0Factors() {
        let process = DiscreteVP.cosine()
        let times = [0.003, 0.1, 0.5, 0.9, 0.999]
        let levels = LevelBatch(process: process, times: times)
        var rng = RandomGenerator(seed: 1)
        let x0 = rng.normal([5, 3]), ε = rng.normal([5, 3]), x̂0 = x0 + rng.normal([5, 3]) * 0.1
        let x = levels.noisy(x0: x0, epsilon: ε)
        let base = (x̂0 - x0).squaredNormPerSample().scalars
        for kind in Prediction.allCases {
            let err = (BatchParametrization.prediction(kind, x0: x̂0, x: x, levels: levels)
                - BatchParametrization.target(kind, x0: x0, epsilon: ε, levels: levels)).squaredNormPerSample().scalars
            for i in 0..<5 {
                let f = BatchParametrization.x0Factor(kind, level: levels[i], rates: process.rates(times[i]))
                #expect(abs(Double(err[i]) - f * Double(base[i])) <= 2e-3 * f * Double(base[i]) + 1e-6, "\(kind) at t = \(times[i])")
            }
        }
    }

    @Test("conversions between every pair of kinds round-trip")
    func conversions() {
        let levels = LevelBatch(process: RectifiedFlow(), times: [0.05, 0.3, 0.7, 0.95])
        var rng = RandomGenerator(seed: 2)
        let o = rng.normal([4, 2]), x = rng.normal([4, 2])
        for a in Prediction.allCases where a != .epsilon && a != .score {     // ε, score need α bounded away from 0
            for b in Prediction.allCases {
                let back = BatchParametrization.convert(BatchParametrization.convert(o, from: a, to: b, x: x, levels: levels), from: b, to: a, x: x, levels: levels)
                #expect(rms(back, o) < 1e-4, "\(a) → \(b) → \(a)")
            }
        }
    }

    @Test("min-SNR-γ weights: min(SNR, γ)/SNR for ε, min(SNR, γ)/(SNR + 1) for v on VP, min(SNR, γ) for x₀")
    func minSNR() {
        let w = LossWeighting.minSNR(gamma: 5)
        for (α2, expected) in [(0.9, (5.0 / 9, 5.0 / 10, 5.0)), (0.5, (1.0, 0.5, 1.0)), (0.1, (1.0, 0.1, 1.0 / 9))] {
            let level = NoiseLevel(alpha: α2.squareRoot(), sigma: (1 - α2).squareRoot())
            #expect(abs(w.weight(.epsilon, level: level, rates: nil) - expected.0) < 1e-12)
            #expect(abs(w.weight(.v, level: level, rates: nil) - expected.1) < 1e-12)
            #expect(abs(w.weight(.sample, level: level, rates: nil) - expected.2) < 1e-12)
        }
        #expect(LossWeighting.uniform.weight(.v, level: NoiseLevel(alpha: 0.6, sigma: 0.8), rates: nil) == 1)
    }

    @Test("EDM weight λ(σ) = (σ² + σ_d²)/(σσ_d)² = 1/c_out²")
    func edmWeight() {
        let loss = EDMLoss(), pre = EDMPreconditioning()
        for σ in [0.002, 0.1, 0.5, 3, 80] {
            let c = pre(σ).c_out
            #expect(abs(loss.weight(σ) * c * c - 1) < 1e-12)
        }
    }

    @Test("quadrature minima: a single Gaussian has mmse = s²σ²/(α²s² + σ²) and Fisher information 1/(α²s² + σ²)")
    func quadratureClosedForms() {
        let g = GaussianMixture(weights: [1], means: [[0.7]], std: [0.4])
        for level in [NoiseLevel(alpha: 1, sigma: 0.05), NoiseLevel(alpha: 0.6, sigma: 0.8), NoiseLevel(alpha: 0.01, sigma: 1)] {
            let v = level.alpha * level.alpha * 0.16 + level.sigma * level.sigma
            #expect(abs(g.minimumMeanSquaredError(at: level) - 0.16 * level.sigma * level.sigma / v) < 1e-10)
            #expect(abs(g.fisherInformation(at: level) - 1 / v) < 1e-9 / v)
        }
        let g2 = GaussianMixture(weights: [1], means: [[0.7, -1]], stds: [[0.4, 0.2]])
        let level = NoiseLevel(alpha: 0.8, sigma: 0.3)
        let expected = [0.16, 0.04].map { $0 * 0.09 / (0.64 * $0 + 0.09) }.reduce(0, +)
        #expect(abs(g2.minimumMeanSquaredError(at: level) - expected) < 1e-9)
        #expect(abs(g.entropy - 0.5 * log(2 * .pi * M_E * 0.16)) < 1e-9)
    }
}

@Suite("Minibatch optimal transport")
struct AssignmentTests {
    static func permutations(_ n: Int) -> [[Int]] {
        if n == 0 { return [[]] }
        return permutations(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
    }

    @Test("the Hungarian solution equals brute force over all permutations")
    func bruteForce() {
        let perms = Self.permutations(6)
        for seed in 0..<20 {
            var rng = RandomGenerator(seed: UInt64(seed))
            let c = rng.uniform([6, 6]).scalars.map(Double.init)
            let cost = (0..<6).map { Array(c[($0 * 6)..<($0 * 6 + 6)]) }
            let π = Assignment.solve(cost)
            #expect(Set(π) == Set(0..<6))
            let best = perms.map { Assignment.cost(cost, $0) }.min()!
            #expect(abs(Assignment.cost(cost, π) - best) < 1e-12, "seed \(seed)")
        }
        #expect(Assignment.solve([[0, 5, 9], [5, 0, 9], [9, 9, 0]]) == [0, 1, 2])
        #expect(Assignment.solve([[1, 0], [0, 1]]) == [1, 0])
    }

    @Test("OT coupling permutes the noise and lowers the transport cost below the independent coupling's")
    func coupling() {
        var rng = RandomGenerator(seed: 4)
        let x0 = GaussianMixture.example2D.sample(128, seed: 1), ε = rng.normal([128, 2])
        let coupled = FlowMatching(coupling: .minibatchOT).couple(x0, ε)
        #expect(coupled.scalars.sorted() == ε.scalars.sorted())
        let cost = { (e: Tensor) in (x0 - e).squaredNormPerSample().scalars.reduce(0, +) }
        #expect(cost(coupled) < 0.6 * cost(ε))
        #expect(FlowMatching().couple(x0, ε).scalars == ε.scalars)
    }
}
