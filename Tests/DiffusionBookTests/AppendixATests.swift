import Diffusion
import DiffusionEngine
import Foundation
import Testing
@testable import DiffusionBook

/// Appendix A (book/appendix-a-measure.md): every computed number is recomputed here by independent Double code
/// (its own Lévy construction from the same Philox draws, its own Euler–Maruyama and Milstein loops, closed forms and
/// quadrature), the statistical claims the text makes hold within their standard errors, the appendix has the
/// structure BOOK-STYLE.md asks for, and its page renders.
@Suite("Appendix A: computed answers, claims about the figures, structure, rendered page")
struct AppendixATests: ExperimentChecks {
    static let source = Fixtures.realBook.appendingPathComponent("appendix-a-measure.md")

    /// |estimate − truth| within k standard errors.
    static func within(_ estimate: Double?, _ truth: Double, se: Double?, k: Double = 4) -> Bool {
        guard let estimate, let se else { return false }
        return Swift.abs(estimate - truth) <= k * se
    }

    static func normals(_ count: Int, seed: UInt64, stream: UInt64) -> [Double] {
        Tensor.randomNormal([count], seed: seed, stream: stream).scalars.map(Double.init)
    }

    static func meanVar(_ v: [Double]) -> (mean: Double, variance: Double) {
        let m = v.reduce(0, +) / Double(v.count)
        return (m, v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1))
    }

    static func slope(_ xs: [Double], _ ys: [Double]) -> Double {
        let lx = xs.map { log($0) }, ly = ys.map { log($0) }
        let mx = lx.reduce(0, +) / Double(lx.count), my = ly.reduce(0, +) / Double(ly.count)
        return zip(lx, ly).map { ($0 - mx) * ($1 - my) }.reduce(0, +) / lx.map { ($0 - mx) * ($0 - mx) }.reduce(0, +)
    }

    // MARK: An independent Lévy construction (recursive bisection, written differently from the library's loop)

    /// Path p at level L: W(1) = Z₀[p]; the j-th midpoint of level n is ½(left + right) + 2^{−(n+1)/2}·Zₙ[p·2^{n−1} + j].
    static func levy(path p: Int, of P: Int, levels L: Int, seed: UInt64) -> [Double] {
        let draws = (0...L).map { n in normals(P * (n == 0 ? 1 : 1 << (n - 1)), seed: seed, stream: UInt64(n)) }
        var w = [Double](repeating: 0, count: (1 << L) + 1)
        w[1 << L] = draws[0][p]
        func fill(_ lo: Int, _ hi: Int, level n: Int, index j: Int) {
            guard n <= L else { return }
            let mid = (lo + hi) / 2
            w[mid] = (w[lo] + w[hi]) / 2 + pow(2, -Double(n + 1) / 2) * draws[n][p * (1 << (n - 1)) + j]
            fill(lo, mid, level: n + 1, index: 2 * j)
            fill(mid, hi, level: n + 1, index: 2 * j + 1)
        }
        fill(0, 1 << L, level: 1, index: 0)
        return w
    }

    // MARK: Brownian motion

    @Test func levyConstructionIsConsistentAndItsNumbersMatch() throws {
        // The library's construction equals the independent one, and refining or adding paths changes nothing.
        let lib = AppendixA.levyPaths(paths: 7, levels: 10, seed: 3)
        for p in [0, 4, 6] {
            let mine = Self.levy(path: p, of: 7, levels: 10, seed: 3)
            #expect(zip(lib[p], mine).allSatisfy { Swift.abs($0 - $1) < 1e-12 }, "path \(p)")
        }
        let finer = AppendixA.levyPaths(paths: 9, levels: 12, seed: 3)
        #expect((0...(1 << 10)).allSatisfy { lib[2][$0] == finer[2][4 * $0] }, "a coarser level is a sub-sample of a finer one")

        let n = try Self.run("appa-levy")
        let (P, L) = (200, 14)
        var Q: [Double] = [], V: [Double] = []
        let paths = AppendixA.levyPaths(paths: P, levels: L, seed: 0)
        #expect(Self.levy(path: 0, of: P, levels: L, seed: 0) == paths[0] || zip(Self.levy(path: 0, of: P, levels: L, seed: 0), paths[0]).allSatisfy { Swift.abs($0 - $1) < 1e-12 })
        for w in paths {
            var q = 0.0, v = 0.0
            for j in 0..<(1 << L) { let d = w[j + 1] - w[j]; q += d * d; v += Swift.abs(d) }
            Q.append(q); V.append(v)
        }
        #expect(Self.close(n["qv_path0"], Q[0], rel: 1e-12) && Self.close(n["w1_path0"], paths[0][1 << L], rel: 1e-12))
        let (mq, vq) = Self.meanVar(Q)
        #expect(Self.close(n["qv_mean"], mq, rel: 1e-12) && Self.close(n["qv_sd"], vq.squareRoot(), rel: 1e-10))
        #expect(Self.close(n["tv_mean"], Self.meanVar(V).mean, rel: 1e-12))
        // Theory: E Q = 1, sd Q = √(2/2^L), E V = √(2·2^L/π).
        #expect(Self.close(n["qv_sd_theory"], (2.0 / 16384).squareRoot()) && Self.close(n["tv_theory"], (2 * 16384 / Double.pi).squareRoot()))
        #expect(Swift.abs(mq - 1) < 4 * vq.squareRoot() / Double(P).squareRoot(), "E Q_L = 1")
        #expect(Swift.abs(n["qv_sd"]! / n["qv_sd_theory"]! - 1) < 0.25)
        #expect(Swift.abs(n["qv_sd_slope"]! + 0.5) < 0.1 && Swift.abs(n["tv_slope"]! - 0.5) < 0.03)
        #expect(Swift.abs(n["tv_mean"]! / n["tv_theory"]! - 1) < 0.02)
        #expect(n["qv_max_dev"]! < 0.06, "every path's Q_L is within a few standard deviations of 1")
        // The covariance min(s, t) on 20000 two-level paths (standard errors ≈ 0.005, 0.0035, 0.0025).
        #expect(Swift.abs(n["var_half"]! - 0.5) < 0.02 && Swift.abs(n["cov_quarters"]! - 0.25) < 0.014 && Swift.abs(n["cov_increment"]!) < 0.01)
        #expect(n["max_quotient_path0"]! > 200, "difference quotients are huge at h = 2^-14")
    }

    @Test func riemannSumsOfWdWMatchAnIndependentComputation() throws {
        let n = try Self.run("appa-ito")
        let L = 14, k = 13
        let w = Self.levy(path: 0, of: 200, levels: L, seed: 0)
        var l = 0.0, m = 0.0, r = 0.0, q = 0.0
        let s = 1 << (L - k)
        for j in 0..<(1 << k) {
            let d = w[(j + 1) * s] - w[j * s]
            l += w[j * s] * d; m += w[j * s + s / 2] * d; r += w[(j + 1) * s] * d; q += d * d
        }
        let w1 = w[1 << L]
        #expect(Self.close(n["left_path0"], l, rel: 1e-10) && Self.close(n["mid_path0"], m, rel: 1e-10) && Self.close(n["right_path0"], r, rel: 1e-10))
        #expect(Self.close(n["ito_limit_path0"], (w1 * w1 - 1) / 2, rel: 1e-12) && Self.close(n["strat_limit_path0"], w1 * w1 / 2, rel: 1e-12))
        // right − left = Σ(ΔW)² on every partition; the sums sit near their limits.
        #expect(Self.close(n["right_minus_left_path0"], q, rel: 1e-9) && Self.close(n["qv_path0_sum_level"], q, rel: 1e-12))
        #expect(Swift.abs(l - (w1 * w1 - 1) / 2) < 0.05 && Swift.abs(m - w1 * w1 / 2) < 0.05 && Swift.abs(r - (w1 * w1 + 1) / 2) < 0.05)
        // RMS distances: exact rates 1/√(2·2ⁿ) (left) and 1/(2√2ⁿ) (midpoint).
        #expect(Self.close(n["rms_left_theory"], 1 / (2 * 8192.0).squareRoot()) && Self.close(n["rms_mid_theory"], 1 / (2 * 8192.0.squareRoot())))
        #expect(Swift.abs(n["rms_left"]! / n["rms_left_theory"]! - 1) < 0.2 && Swift.abs(n["rms_mid"]! / n["rms_mid_theory"]! - 1) < 0.2)
        #expect(Swift.abs(n["rms_left_slope"]! + 0.5) < 0.1 && Swift.abs(n["rms_mid_slope"]! + 0.5) < 0.1)
    }

    // MARK: Conditional expectation

    /// E[x₀ | y] and Var[x₀ | y] for the 1-D example mixture observed as y = x₀ + σε, written out.
    static func posterior(_ y: Double, sigma σ: Double) -> (mean: Double, variance: Double, density: Double) {
        let (w, mu, s) = ([0.5, 0.3, 0.2], [-1.5, 0.5, 2.0], [0.3, 0.2, 0.4])
        var p = 0.0, m1 = 0.0, m2 = 0.0
        for k in 0..<3 {
            let v = s[k] * s[k] + σ * σ
            let lik = w[k] * exp(-(y - mu[k]) * (y - mu[k]) / (2 * v)) / (2 * Double.pi * v).squareRoot()
            let cm = mu[k] + s[k] * s[k] / v * (y - mu[k]), cv = s[k] * s[k] * σ * σ / v
            p += lik; m1 += lik * cm; m2 += lik * (cv + cm * cm)
        }
        return (m1 / p, m2 / p - (m1 / p) * (m1 / p), p)
    }

    @Test func projectionNumbersMatchAnIndependentComputation() throws {
        let n = try Self.run("appa-projection")
        let σ = 0.6, N = 20000
        let x0 = GaussianMixture.example1D.sample(N, seed: 0).scalars.map(Double.init)
        let eps = Tensor.randomNormal([N], seed: 0, stream: 7).scalars.map(Double.init)
        let y = zip(x0, eps).map { $0 + σ * $1 }
        let D = y.map { Self.posterior(Double(Float($0)), sigma: σ).mean }
        let mse = zip(D, x0).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(N)
        #expect(Self.close(n["mse_cond"], mse, rel: 1e-5), "the library's denoiser runs in Float32")
        let mu = 0.5 * -1.5 + 0.3 * 0.5 + 0.2 * 2, varX = 0.5 * (0.09 + 2.25) + 0.3 * (0.04 + 0.25) + 0.2 * (0.16 + 4) - mu * mu
        #expect(Self.close(n["data_var"], varX, rel: 1e-12) && Self.close(n["mse_linear_exact"], varX * σ * σ / (varX + σ * σ), rel: 1e-12))
        // The Bayes error by the trapezoid rule on a fine grid.
        var bayes = 0.0
        let h = 0.001
        for i in 0...16000 { let yy = -8 + Double(i) * h; let post = Self.posterior(yy, sigma: σ); bayes += post.density * post.variance * h }
        #expect(Self.close(n["mmse_exact"], bayes, rel: 1e-6))
        // Nested subspaces: errors never rise with the degree, and approach the Bayes error from above.
        let poly = (0...9).map { n["poly_mse_\($0)"]! }
        #expect(zip(poly, poly.dropFirst()).allSatisfy { $1 <= $0 + 1e-9 })
        let xbar = x0.reduce(0, +) / Double(N)
        #expect(Self.close(n["poly_mse_0"], x0.reduce(0) { $0 + ($1 - xbar) * ($1 - xbar) } / Double(N), rel: 1e-9))
        #expect(n["poly_mse_0"]! <= n["mse_const"]!)
        #expect(n["mse_const"]! > n["mse_linear"]! && n["mse_linear"]! > 1.2 * n["mse_cond"]!)
        #expect(Swift.abs(n["mse_cond"]! / bayes - 1) < 0.05 && poly[9] < 1.1 * bayes)
        #expect(Swift.abs(n["mse_linear"]! / n["mse_linear_exact"]! - 1) < 0.05)
        // Pythagoras on the samples (the cross term is a mean-zero average), orthogonality of the residual.
        #expect(Swift.abs(n["pythagoras_gap"]! / n["pythagoras_leg"]! - 1) < 0.1)
        #expect(n["orthogonality_max_z"]! < 4)
    }

    // MARK: Euler–Maruyama and Milstein

    @Test func strongAndWeakErrorsMatchAnIndependentComputation() throws {
        let n = try Self.run("appa-em")
        let (μ, σ, M, fine) = (1.0, 0.7, 2000, 1024)
        let z = Tensor.randomNormal([M, fine], seed: 0, stream: 0).scalars
        var em = [Double](repeating: 0, count: 11), mil = em
        for q in 0..<M {
            var W = [0.0]
            for j in 0..<fine { W.append(W[j] + Double(z[q * fine + j]) / 32) }
            let exact = exp(μ - σ * σ / 2 + σ * W[fine])
            for k in 1...10 {
                let N = 1 << k, s = fine / N, h = 1 / Double(N)
                var (a, b) = (1.0, 1.0)
                for j in 0..<N {
                    let d = W[(j + 1) * s] - W[j * s]
                    a *= 1 + μ * h + σ * d
                    b *= 1 + μ * h + σ * d + σ * σ / 2 * (d * d - h)
                }
                em[k] += Swift.abs(a - exact) / Double(M); mil[k] += Swift.abs(b - exact) / Double(M)
            }
        }
        for k in 1...10 {
            let N = 1 << k
            #expect(Self.close(n["strong_em_\(N)"], em[k], rel: 1e-9) && Self.close(n["strong_milstein_\(N)"], mil[k], rel: 1e-9), "N = \(N)")
            // Weak errors: E X_N = (1 + μh)^N exactly (the increments are independent of X_n).
            #expect(Self.close(n["weak_mean_\(N)"], Swift.abs(exp(Double(N) * log1p(μ / Double(N))) - exp(μ)), rel: 1e-9))
            let second = exp(Double(N) * log(pow(1 + μ / Double(N), 2) + σ * σ / Double(N)))
            #expect(Self.close(n["weak_second_\(N)"], Swift.abs(second - exp(2 * μ + σ * σ)), rel: 1e-9))
        }
        #expect(Swift.abs(n["strong_slope_em"]! - 0.5) < 0.1 && Swift.abs(n["strong_slope_milstein"]! - 1) < 0.12)
        #expect(Swift.abs(n["weak_slope_mean"]! - 1) < 0.03 && Swift.abs(n["weak_slope_second"]! - 1) < 0.1)
        #expect(Swift.abs(n["weak_mean_64"]! / n["weak_mean_pred_64"]! - 1) < 0.05, "first-order term μ²Te^{μT}h/2")
        #expect(Self.within(n["xT_mean_mc"], exp(μ), se: n["xT_mean_se"]))
        #expect(Self.close(n["mc_floor"], (exp(2 * μ) * (exp(σ * σ) - 1) / Double(M)).squareRoot(), rel: 1e-12))
        // The caption: at the finest steps the weak error of E X is far below what M paths can resolve.
        #expect(n["weak_mean_1024"]! < n["mc_floor"]! / 10 && n["strong_em_1024"]! > n["weak_mean_1024"]! * 10)
    }

    // MARK: Girsanov

    @Test func girsanovNumbersMatchAnIndependentComputation() throws {
        let n = try Self.run("appa-girsanov")
        let (θ, x0, T, N) = (2.0, 1.5, 1.0, 200)
        let h = T / Double(N)
        // ½θ²∫₀ᵀ E X_t² dt by Simpson's rule on the OU second moment.
        func m2(_ t: Double) -> Double { x0 * x0 * exp(-2 * θ * t) + (1 - exp(-2 * θ * t)) / (2 * θ) }
        var simpson = m2(0) + m2(T)
        for i in 1..<2000 { simpson += (i % 2 == 1 ? 4 : 2) * m2(Double(i) * T / 2000) }
        let formula = 0.5 * θ * θ * simpson * T / 6000
        #expect(Self.close(n["kl_formula"], formula, rel: 1e-10))
        // The chains' exact KL from an explicit moment loop.
        var (m, v, kl) = (x0, 0.0, 0.0)
        for _ in 0..<N { kl += 0.5 * θ * θ * h * (m * m + v); m -= θ * h * m; v = pow(1 - θ * h, 2) * v + h }
        #expect(Self.close(n["kl_discrete"], kl, rel: 1e-12) && Self.close(n["p_mean_discrete"], m, rel: 1e-12) && Self.close(n["p_var_discrete"], v, rel: 1e-12))
        #expect(Swift.abs(kl / formula - 1) < 0.02, "the discrete chains are within O(h) of the SDEs")
        // Monte Carlo under P agrees with the chains' KL (both estimators), the marginal KL is smaller.
        #expect(Self.within(n["kl_mc_quad"], kl, se: n["kl_mc_quad_se"]) && Self.within(n["kl_mc_full"], kl, se: n["kl_mc_full_se"]))
        let vT = (1 - exp(-2 * θ)) / (2 * θ), mT = x0 * exp(-θ)
        let marginal = 0.5 * (log(T / vT) + (vT + (mT - x0) * (mT - x0)) / T - 1)
        #expect(Self.close(n["kl_marginal"], marginal, rel: 1e-12) && marginal < formula)
        // Reweighted Brownian paths reproduce the OU chain's law of X_T; the weights average to 1.
        #expect(Self.within(n["weight_mean"], 1, se: n["weight_mean_se"]))
        #expect(Self.within(n["rw_mean_unnormalised"], m, se: n["rw_mean_unnormalised_se"]))
        #expect(Swift.abs(n["rw_mean"]! - m) < 0.05 && Swift.abs(n["rw_var"]! / v - 1) < 0.1)
        #expect(Swift.abs(n["q_mean"]! - x0) < 0.06 && Swift.abs(n["q_var"]! - T) < 0.1)
        #expect(n["ess_fraction"]! > 0.05 && n["ess_fraction"]! < 0.6)
    }

    // MARK: Numbers of the exercises

    @Test func exerciseNumbersMatchClosedForms() throws {
        let n = try Self.run("appa-numbers")
        // KL(N(0,1) ‖ N(1,4)) = log 2 + (1 + 1)/8 − ½; the reverse is −log 2 + (4 + 1)/2 − ½.
        #expect(Self.close(n["kl_pq"], log(2) + 0.25 - 0.5, rel: 1e-12) && Self.close(n["kl_qp"], -log(2) + 2.5 - 0.5, rel: 1e-12))
        #expect(Self.within(n["kl_pq_mc"], log(2) - 0.25, se: n["kl_pq_se"]) && Self.within(n["kl_qp_mc"], 2 - log(2), se: n["kl_qp_se"]))
        // Optional stopping: P(hit b first) = a/(a + b), E τ = ab.
        #expect(n["exit_b_exact"] == 0.375 && n["exit_time_exact"] == 15)
        #expect(Self.within(n["exit_b_mc"], 0.375, se: n["exit_b_se"]) && Self.within(n["exit_time_mc"], 15, se: n["exit_time_se"]))
        // Itô isometry on 64 steps: variance (1 − 1/64)/2.
        #expect(Self.close(n["isometry_exact"], 63.0 / 128, rel: 1e-12))
        #expect(Self.within(n["isometry_var"], 63.0 / 128, se: n["isometry_var_se"]) && Self.within(n["isometry_mean"], 0, se: n["isometry_mean_se"]))
        // P(W₁ > 3) = Φ(−3) from a series for the normal tail (independent of erfc).
        var tail = 0.0
        let dx = 1e-4
        for i in 0..<200_000 { let x = 3 + (Double(i) + 0.5) * dx; tail += exp(-x * x / 2) * dx }
        tail /= (2 * Double.pi).squareRoot()
        #expect(Self.close(n["rare_exact"], tail, rel: 1e-7))
        #expect(Self.within(n["rare_is"], tail, se: n["rare_is_se"]) && Self.within(n["rare_plain"], tail, se: n["rare_plain_se_theory"]))
        #expect(n["rare_variance_ratio"]! > 50, "importance sampling by a drift change pays")
    }

    // MARK: Structure of the source

    static let style = ChapterStyle(number: "A", file: "appendix-a-measure.md", experiments: AppendixA.experiments,
                                    programmingNames: ["AppendixA."], summary: "## 本附录小结", arxivLeads: 4)

    @Test func appendixHasTheStructureTheStyleGuideAsksFor() throws {
        let text = try Self.style.checkAppendixSource()
        for line in text.components(separatedBy: "\n") where line.hasPrefix("#") { #expect(!line.contains("$"), "math in a heading: \(line)") }
        // Chapter 5 is referred to, not repeated.
        for label in ["@sec:sde-ito", "@thm:sde-ito", "@thm:sde-fp", "@thm:sde-reverse", "@sec:unification"] { #expect(text.contains(label), "no reference to \(label)") }
    }

    @Test func renderedAppendixPageIsComplete() throws {
        try Self.style.checkPage()
        let figures = SiteChecker.sections(Fixtures.page(try Fixtures.real(), "appendix-a.html"), open: "<figure class=\"figure\"", close: "</figure>")
        #expect(figures.count >= 5)
    }
}
