import Diffusion
import DiffusionEngine
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 4 (book/ch04-score.md): every computed answer is recomputed here independently of the experiment code
/// (closed forms, plain Double quadrature and hand-written mixtures), the chapter has the structure BOOK-STYLE.md
/// asks for, and its page renders cleanly.
@Suite("Chapter 4: computed answers, structure, rendered page")
struct Chapter4Tests: ExperimentChecks {
    static let source = Fixtures.realBook.appendingPathComponent("ch04-score.md")

    // MARK: Independent reference values (plain Double, no library code)

    /// GaussianMixture.example2D written out: weights, means (six on a ring of radius 2, one at 0), per-axis stds.
    static let w2 = [0.2, 0.1, 0.15, 0.1, 0.2, 0.1, 0.15]
    static let mu2: [[Double]] = {
        var m: [[Double]] = []
        for k in 0..<6 {
            let angle = Double(k) * Double.pi / 3
            m.append([2 * cos(angle), 2 * sin(angle)])
        }
        return m + [[0.0, 0.0]]
    }()
    static let s2: [[Double]] = [[0.2, 0.2], [0.3, 0.3], [0.15, 0.15], [0.25, 0.25], [0.2, 0.2], [0.3, 0.3], [0.6, 0.15]]

    /// ∇log p_σ(x) of example2D at x (α = 1), by responsibilities of the noisy components.
    static func score2D(_ x: [Double], sigma σ: Double) -> [Double] {
        var logs: [Double] = [], grads: [[Double]] = []
        for k in 0..<7 {
            var l = log(w2[k]), g = [0.0, 0.0]
            for j in 0..<2 {
                let v = s2[k][j] * s2[k][j] + σ * σ
                l += -0.5 * (x[j] - mu2[k][j]) * (x[j] - mu2[k][j]) / v - 0.5 * log(2 * .pi * v)
                g[j] = -(x[j] - mu2[k][j]) / v
            }
            logs.append(l); grads.append(g)
        }
        let top = logs.max()!
        let r = logs.map { exp($0 - top) }, total = r.reduce(0, +)
        return [0, 1].map { j in (0..<7).reduce(0) { $0 + r[$1] / total * grads[$1][j] } }
    }

    /// The 1-D example mixture at level σ: density and its derivative.
    static func mixture1D(_ x: Double, sigma σ: Double) -> (p: Double, dp: Double) {
        let (w, mu, s) = ([0.5, 0.3, 0.2], [-1.5, 0.5, 2.0], [0.3, 0.2, 0.4])
        var p = 0.0, dp = 0.0
        for k in 0..<3 {
            let v = s[k] * s[k] + σ * σ
            let n = w[k] * exp(-(x - mu[k]) * (x - mu[k]) / (2 * v)) / (2 * .pi * v).squareRoot()
            p += n; dp += -(x - mu[k]) / v * n
        }
        return (p, dp)
    }

    /// Fisher information ∫ p′²/p of the 1-D mixture at σ, trapezoid rule on [−8, 9].
    static func fisher1D(sigma σ: Double) -> Double {
        let (lo, hi, n) = (-8.0, 9.0, 40_000)
        let h = (hi - lo) / Double(n)
        var total = 0.0
        for i in 0...n {
            let (p, dp) = mixture1D(lo + Double(i) * h, sigma: σ)
            total += (i == 0 || i == n ? 0.5 : 1) * (p > 0 ? dp * dp / p : 0)
        }
        return total * h
    }

    static func normalCDF(_ z: Double) -> Double { 0.5 * (1 + erf(z / 2.0.squareRoot())) }

    // MARK: Computed answers

    @Test func scoreFieldNumbersMatchTheirApproximationsAndBounds() throws {
        let n = try Self.run("ch4-score-field")
        for (i, σ) in [0.1, 0.5, 2.0].enumerated() {
            // Exercise 4.6 (b): separated-component approximation, written out.
            var sep = 0.0
            for k in 0..<7 { for j in 0..<2 { sep += Self.w2[k] / (Self.s2[k][j] * Self.s2[k][j] + σ * σ) } }
            #expect(Self.close(n["fisher_sep_\(i)"], sep, rel: 1e-12))
            // Exercise 4.6 (a): tr (Cov(x₀) + σ²I)⁻¹, covariance from the law of total variance.
            let m = [0, 1].map { j in (0..<7).reduce(0.0) { $0 + Self.w2[$1] * Self.mu2[$1][j] } }
            func cov(_ a: Int, _ b: Int) -> Double {
                var c = 0.0
                for k in 0..<7 {
                    let within: Double = a == b ? Self.s2[k][a] * Self.s2[k][a] : 0
                    let between: Double = (Self.mu2[k][a] - m[a]) * (Self.mu2[k][b] - m[b])
                    c += Self.w2[k] * (within + between)
                }
                return c
            }
            let (a11, a22, a12) = (cov(0, 0) + σ * σ, cov(1, 1) + σ * σ, cov(0, 1))
            let gauss = (a11 + a22) / (a11 * a22 - a12 * a12)
            #expect(Self.close(n["fisher_gauss_\(i)"], gauss, rel: 1e-10))
            // The Monte-Carlo Fisher information respects the Gaussian lower bound (up to sampling error).
            #expect(n["fisher_\(i)"]! > 0.98 * gauss)
        }
        // The regimes the exercise describes: separation is accurate at σ = 0.1, the Gaussian bound at σ = 2.
        #expect(Self.close(n["fisher_0"], n["fisher_sep_0"]!, rel: 0.03))
        #expect(Self.close(n["fisher_2"], n["fisher_gauss_2"]!, rel: 0.05))
        #expect(n["fisher_sep_2"]! > 1.3 * n["fisher_2"]!)
        // Tweedie: the two code paths agree to Float32 rounding.
        #expect(n["tweedie_maxdiff"]! < 1e-5)

        // The Monte-Carlo value against an independent estimate with our own score (σ = 0.5).
        let x = GaussianMixture.example2D.sample(4000, seed: 123).scalars.map(Double.init)
        let z = Tensor.randomNormal([4000, 2], seed: 321).scalars.map(Double.init)
        var total = 0.0
        for i in 0..<4000 {
            let s = Self.score2D([x[2 * i] + 0.5 * z[2 * i], x[2 * i + 1] + 0.5 * z[2 * i + 1]], sigma: 0.5)
            total += s[0] * s[0] + s[1] * s[1]
        }
        #expect(Self.close(n["fisher_1"], total / 4000, rel: 0.05))
    }

    @Test func scoreMatchingObjectivesDifferByTheDerivedConstants() throws {
        let n = try Self.run("ch4-objectives")
        let σ = 0.3
        let F = Self.fisher1D(sigma: σ)
        #expect(Self.close(n["fisher"], F, rel: 1e-6))
        #expect(Self.close(n["offset_ism_theory"], -F / 2, rel: 1e-6))
        #expect(Self.close(n["offset_dsm_theory"], 0.5 * (1 / (σ * σ) - F), rel: 1e-6))
        #expect(Self.close(n["ssm_min_library"], -F / 2, rel: 1e-6))
        // Exercise 4.7: MMSE/(2σ⁴) = ½(d/σ² − F), two routes to the DSM minimum.
        #expect(Self.close(n["dsm_min_library"], 0.5 * (1 / (σ * σ) - F), rel: 1e-6))
        #expect(Self.close(n["mmse"]! / (2 * pow(σ, 4)), 0.5 * (1 / (σ * σ) - F), rel: 1e-6))
        // Monte Carlo agrees with the constants and the minima sit at c = 1, b = 0.
        #expect(Self.close(n["offset_ism_mc"], -F / 2, abs: 0.05))
        #expect(Self.close(n["offset_dsm_mc"], 0.5 * (1 / (σ * σ) - F), abs: 0.15))
        #expect(n["offset_ism_spread"]! < 0.2 && n["offset_dsm_spread"]! < 0.3)
        for key in ["argmin_c_ism", "argmin_c_dsm"] { #expect(Self.close(n[key], 1, abs: 0.05), "\(key)") }
        for key in ["argmin_b_ism", "argmin_b_dsm"] { #expect(Self.close(n[key], 0, abs: 0.08), "\(key)") }
    }

    @Test func langevinBiasAndModeWeightsAreAsDerived() throws {
        // Equation (4.20): s²/(1 − a/(4s²)) with s² = 1 + 0.01².
        let u = try Self.run("ch4-ula")
        let nChains = u["n"]!
        for (i, a) in [0.1, 0.5, 1.0].enumerated() {
            let s2 = 1 + 1e-4
            let theory = s2 / (1 - a / (4 * s2))
            #expect(Self.close(u["theory_\(i)"], theory, rel: 1e-12))
            #expect(Self.close(u["var_\(i)"], theory, abs: 4 * theory * (2 / nChains).squareRoot()), "a = \(a)")
        }
        // The two-mode experiment: plain Langevin keeps the start's split, annealing recovers the weights.
        let m = try Self.run("ch4-langevin-modes")
        #expect(Self.close(m["frac_langevin"], m["frac_init"]!, abs: 0.03))
        #expect(Self.close(m["frac_annealed"], 0.8, abs: 0.04))
        #expect(Self.close(m["frac_data"], 0.8, abs: 0.04))
        // Barrier: log p(−2.5, 0) − log p(0, 0) for the 0.8/0.2 mixture at variance 0.25 + 0.01².
        let v = 0.25 + 1e-4
        func p(_ x: Double) -> Double {
            (0.8 * exp(-(x + 2.5) * (x + 2.5) / (2 * v)) + 0.2 * exp(-(x - 2.5) * (x - 2.5) / (2 * v))) / (2 * .pi * v)
        }
        #expect(Self.close(m["barrier"], log(p(-2.5)) - log(p(0)), rel: 1e-9))
    }

    @Test func noiseLevelTechniquesMatchAnIndependentSolution() throws {
        let n = try Self.run("ch4-noise-scales")
        // Technique 2 by our own bisection on [1, 2].
        for d in [3072, 12288, 196_608] {
            let r = (2 * Double(d)).squareRoot()
            func f(_ g: Double) -> Double { Self.normalCDF(r * (g - 1) + 3 * g) - Self.normalCDF(r * (g - 1) - 3 * g) - 0.5 }
            var (lo, hi) = (1.0, 2.0)
            for _ in 0..<100 { let mid = (lo + hi) / 2; if f(mid) > 0 { lo = mid } else { hi = mid } }
            let γ = (lo + hi) / 2
            #expect(Self.close(n["gamma_\(d)"], γ, rel: 1e-9), "γ for d = \(d)")
            #expect(n["levels_\(d)"] == (1 + log(5000) / log(γ)).rounded(.up))
            // Large-d approximation γ − 1 ≈ 3/√(2d) of exercise 4.15 (b).
            #expect(Self.close(γ - 1, 3 / (r - 3), rel: 0.05))
        }
        #expect(n["no_gamma_2"] == 1 && n["no_gamma_4"] == 1 && n["gamma_5"]! > 10)
        // Technique 4: a dense grid search of r^T(γ² − c) + c.
        let γ2 = n["gamma2_3072"]!
        func ratio(_ e: Double, _ T: Int) -> Double {
            let r = (1 - e / 2) * (1 - e / 2), c = 1 / (1 - e / 4)
            return pow(r, Double(T)) * (γ2 - c) + c
        }
        for T in [1, 5, 20, 100] {
            let es = (1...20_000).map { Double($0) * 1e-4 }
            let best = es.min { ratio($0, T) < ratio($1, T) }!
            #expect(Self.close(n["e_star_T\(T)"], best, abs: 2e-4), "e* for T = \(T)")
            #expect(Self.close(n["ratio_star_T\(T)"], ratio(best, T), rel: 1e-6))
            #expect(n["ratio_star_T\(T)"]! > 1)
        }
        #expect(Self.close(n["stationary_default"], 1 / 0.95, rel: 1e-9))
        // The library's sampler on one-point data against the recursion, iterated here level by level.
        let (L, T, e, γ) = (Int(n["sim_levels"]!), Int(n["sim_T"]!), n["sim_e"]!, n["sim_gamma"]!)
        var v = pow(0.01 * pow(γ, Double(L - 1)), 2)
        for i in 0..<L {
            let σ = 0.01 * pow(γ, Double(L - 1 - i))
            let target = (σ * σ + 1e-8) / (1 - e / 4)
            v = pow((1 - e / 2) * (1 - e / 2), Double(T)) * (v - target) + target
        }
        #expect(Self.close(n["sim_predicted"], v / 1e-4, rel: 1e-9))
        let samples = n["sim_n"]! * n["sim_d"]!
        #expect(Self.close(n["sim_measured"], n["sim_predicted"]!, rel: 4 * (2 / samples).squareRoot()))
        // Technique 1: the largest distance is at least the ring's diameter and bounded by the data's reach.
        #expect(n["max_distance"]! > 4 && n["max_distance"]! < 7)
    }

    @Test func annealedLangevinAndTheTinyNetworkBehaveAsTheTextSays() throws {
        let a = try Self.run("ch4-annealed")
        #expect(a["ed"]! < 5 * a["ed_floor"]!, "annealed Langevin is close to the data")
        #expect(a["spread_ratio"]! > 1.1, "T = 20 leaves the components too wide")
        #expect(a["spread_T100_a0"]! < a["spread_T20_a0"]! && a["spread_T100_a0"]! < 1.1)
        #expect(a["ed_T20_a1"]! > 10 * a["ed_T20_a0"]!, "a ten times smaller step needs more steps")
        #expect(a["ed_T1_a0"]! > a["ed_T10_a0"]! && a["ed_T10_a0"]! > a["ed_T50_a0"]!)
        #expect(Self.close(a["ratio"], pow(500, 1.0 / 9), rel: 1e-9))

        let t = try Self.run("ch4-dsm-train")
        // The loss of the exact score, recomputed: E over the 100 levels of ½‖σ·s*(x₀ + σε) + ε‖².
        let levels = (0..<100).map { 10 * pow(0.001, Double($0) / 99) }
        let x0 = GaussianMixture.example2D.sample(4000, seed: 5).scalars.map(Double.init)
        let z = Tensor.randomNormal([4000, 2], seed: 6).scalars.map(Double.init)
        var total = 0.0
        for i in 0..<4000 {
            let σ = levels[i % 100]
            let x = [x0[2 * i] + σ * z[2 * i], x0[2 * i + 1] + σ * z[2 * i + 1]]
            let s = Self.score2D(x, sigma: σ)
            total += 0.5 * (pow(σ * s[0] + z[2 * i], 2) + pow(σ * s[1] + z[2 * i + 1], 2))
        }
        #expect(Self.close(t["irreducible_loss"], total / 4000, rel: 0.05))
        #expect(t["final_loss"]! > t["irreducible_loss"]! && t["final_loss"]! < 1.1 * t["irreducible_loss"]!)
        #expect(t["rel_err_0"]! < 0.15 && t["rel_err_3"]! < t["rel_err_0"]!)
        #expect(t["ed_learned"]! < 3 * t["ed_floor"]!)
    }

    @Test func theChaptersListingsAndIdentitiesHold() throws {
        // §4.3: Parametrization.score is Tweedie's formula, for any α.
        let m = GaussianMixture.example1D
        let level = NoiseLevel(alpha: 0.8, sigma: 0.6)
        let x = Tensor((0..<41).map { Float(-4 + 0.2 * Double($0)) }, shape: [41, 1])
        let viaDenoiser = Parametrization.score(x0: m.denoise(x, at: level), x: x, level: level).scalars
        let direct = m.score(x, at: level).scalars
        for (a, b) in zip(viaDenoiser, direct) { #expect(Swift.abs(a - b) < 1e-4 * Swift.max(1, Swift.abs(b))) }
        // §4.7, equation (4.29): σ²‖s + ε/σ‖² = ‖ε − ε̂‖² with ε̂ = −σ·s, for an arbitrary "model" s.
        let s = Tensor.randomNormal([64, 3], seed: 1), eps = Tensor.randomNormal([64, 3], seed: 2)
        let σ: Float = 0.37
        let lhs = ((s + eps / σ) * σ).square().sum().item
        let rhs = (eps - s * (-σ)).square().sum().item
        #expect(Swift.abs(lhs - rhs) < 1e-3 * rhs)
        // §4.5.3: the lab's step convention equals the library's (one level, no final denoising).
        let g = GaussianMixture(weights: [1], means: [[0]], std: [1])
        let noise = NoiseSource(seed: 3)
        let start = noise.prior([5, 1])
        var y = start
        for t in 0..<4 {
            let sc = (g.denoise(y, sigma: 0.5) - y) * Float(1 / 0.25)
            y = y + sc * Float(0.1 / 2) + noise.normal(like: y, step: 0, draw: t) * Float(0.1.squareRoot())
        }
        // One level σ = 0.5 ending at 0: a = ε (σ_L = σ), then the final denoising step x ← D(x; 0.5).
        let lib = Sampling.annealedLangevin(g, start, sigmas: [0.5, 0], noise: noise, stepsPerLevel: 4, epsilon: 0.1)
        let manual = g.denoise(y, sigma: 0.5)
        for (p, q) in zip(lib.scalars, manual.scalars) { #expect(Swift.abs(p - q) < 1e-5) }
    }

    // MARK: Structure of the source

    static let style = ChapterStyle(number: "4", file: "ch04-score.md", experiments: Chapter4.experiments, lab: "L4", programmingNames: ["L4", "Sampling."])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws { try Self.style.checkSource() }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws { try Self.style.checkPage() }
}
