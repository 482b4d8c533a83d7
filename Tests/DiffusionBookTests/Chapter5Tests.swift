import Diffusion
import DiffusionEngine
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 5 (book/ch05-sde.md): every computed answer is recomputed here independently of the experiment code (plain
/// Double formulas: analytic derivatives of the mixture density, linear-Gaussian recursions written from each sampler's
/// update rule, posterior covariances), the claims the text makes about the figures hold for the numbers the library
/// produced, the chapter's listings run, the chapter has the structure BOOK-STYLE.md asks for, and its page renders.
@Suite("Chapter 5: computed answers, claims about the figures, listings, structure, rendered page")
struct Chapter5Tests: ExperimentChecks {
    static let source = Fixtures.realBook.appendingPathComponent("ch05-sde.md")

    // MARK: Independent references (plain Double, no library code)

    /// β(t) = 0.1 + 19.9t, B(t) = ∫β.
    static func beta(_ t: Double) -> Double { 0.1 + 19.9 * t }
    static func B(_ t: Double) -> Double { 0.1 * t + 9.95 * t * t }

    /// p_t(x), ∂p/∂t, ∂p/∂x and ∂²p/∂x² of the 1-D example mixture under the VP SDE, all analytic.
    static func density1D(_ x: Double, _ t: Double) -> (p: Double, dt: Double, dx: Double, dxx: Double) {
        let (w, mu, s) = ([0.5, 0.3, 0.2], [-1.5, 0.5, 2.0], [0.3, 0.2, 0.4])
        let a = exp(-0.5 * B(t)), b = beta(t)
        var out = (p: 0.0, dt: 0.0, dx: 0.0, dxx: 0.0)
        for k in 0..<3 {
            let m = a * mu[k], v = a * a * s[k] * s[k] + 1 - a * a
            let dm = -0.5 * b * m, dv = b * a * a * (1 - s[k] * s[k])
            let r = x - m
            let phi = w[k] * exp(-r * r / (2 * v)) / (2 * Double.pi * v).squareRoot()
            out.p += phi
            out.dt += phi * (r / v * dm + (r * r / (2 * v * v) - 1 / (2 * v)) * dv)
            out.dx += -phi * r / v
            out.dxx += phi * (r * r / (v * v) - 1 / v)
        }
        return out
    }

    /// The 2-D example mixture written out: log p and the posterior covariance Cov[x₀ | y] at α = 1, level σ.
    static let w2: [Double] = [0.2, 0.1, 0.15, 0.1, 0.2, 0.1, 0.15]
    static let mu2: [[Double]] = {
        var m: [[Double]] = []
        for k in 0..<6 {
            let a = Double(k) * Double.pi / 3
            m.append([2 * cos(a), 2 * sin(a)])
        }
        m.append([0, 0])
        return m
    }()
    static let s2: [[Double]] = [[0.2, 0.2], [0.3, 0.3], [0.15, 0.15], [0.25, 0.25], [0.2, 0.2], [0.3, 0.3], [0.6, 0.15]]

    static func logDensity2D(_ y: [Double], sigma σ: Double) -> Double {
        var total = 0.0
        for k in 0..<7 {
            var l = log(w2[k])
            for j in 0..<2 {
                let v = s2[k][j] * s2[k][j] + σ * σ
                l -= 0.5 * ((y[j] - mu2[k][j]) * (y[j] - mu2[k][j]) / v + log(2 * .pi * v))
            }
            total += exp(l)
        }
        return log(total)
    }

    static func posteriorCovariance2D(_ y: [Double], sigma σ: Double) -> [[Double]] {
        var logr = [Double](repeating: 0, count: 7)
        var means = [[Double]](repeating: [0, 0], count: 7), vars = means
        for k in 0..<7 {
            var l = log(w2[k])
            for j in 0..<2 {
                let s = s2[k][j] * s2[k][j], v = s + σ * σ
                l -= 0.5 * ((y[j] - mu2[k][j]) * (y[j] - mu2[k][j]) / v + log(v))
                means[k][j] = mu2[k][j] + s / v * (y[j] - mu2[k][j])
                vars[k][j] = s * σ * σ / v
            }
            logr[k] = l
        }
        let top = logr.max()!
        let r = logr.map { exp($0 - top) }, total = r.reduce(0, +)
        var m = [0.0, 0.0]
        for k in 0..<7 { for j in 0..<2 { m[j] += r[k] / total * means[k][j] } }
        var cov = [[0.0, 0.0], [0.0, 0.0]]
        for k in 0..<7 {
            for i in 0..<2 {
                for j in 0..<2 { cov[i][j] += r[k] / total * ((i == j ? vars[k][i] : 0) + means[k][i] * means[k][j]) }
            }
        }
        for i in 0..<2 { for j in 0..<2 { cov[i][j] -= m[i] * m[j] } }
        return cov
    }

    /// One step y ↦ y' of each sampler on 1-D N(0, s²) data (D = c·y at level σ), written from the update rules; the
    /// map is linear in (y, z₁, z₂), so its coefficients come from evaluating it at unit inputs.
    static func step(_ name: String, _ y: Double, _ z1: Double, _ z2: Double, _ σ: Double, _ σn: Double, s: Double) -> Double {
        func D(_ y: Double, _ σ: Double) -> Double { s * s / (s * s + σ * σ) * y }
        switch name {
        case "euler-maruyama":
            return y + (σ * σ - σn * σn) * (D(y, σ) - y) / (σ * σ) + (σ * σ - σn * σn).squareRoot() * z1
        case "pc":
            let ε = 2 * 0.16 * 0.16 * σ * σ
            let yc = y + ε * (D(y, σ) - y) / (σ * σ) + (2 * ε).squareRoot() * z2
            return yc + (σ * σ - σn * σn) * (D(yc, σ) - yc) / (σ * σ) + (σ * σ - σn * σn).squareRoot() * z1
        case "ddpm":
            // The Gaussian posterior q(y_s | y_t, x₀ = D): mean (σn²/σ²)y + (1 − σn²/σ²)D, variance σn²(σ² − σn²)/σ².
            return σn * σn / (σ * σ) * y + (1 - σn * σn / (σ * σ)) * D(y, σ) + (σn * σn * (σ * σ - σn * σn) / (σ * σ)).squareRoot() * z1
        default:   // Euler on dy/dσ = (y − D)/σ
            return y + (σn - σ) * (y - D(y, σ)) / σ
        }
    }

    static func outputVariance(_ name: String, s: Double, levels: [Double]) -> Double {
        var v = s * s + levels[0] * levels[0]
        for i in 0..<(levels.count - 1) {
            let (σ, σn) = (levels[i], levels[i + 1])
            let a = step(name, 1, 0, 0, σ, σn, s: s), b1 = step(name, 0, 1, 0, σ, σn, s: s), b2 = step(name, 0, 0, 1, σ, σn, s: s)
            v = a * a * v + b1 * b1 + b2 * b2
        }
        return v
    }

    /// EDM levels σ̃(t) = √(e^{B(t)} − 1) at uniform VP times 1 … 10⁻³.
    static func uniformLevels(_ N: Int) -> [Double] {
        (0...N).map { i in (expm1(B(1 - Double(i) / Double(N) * (1 - 1e-3)))).squareRoot() }
    }

    static func slope(_ xs: [Double], _ ys: [Double]) -> Double {
        let lx = xs.map { log($0) }, ly = ys.map { log($0) }
        let mx = lx.reduce(0, +) / Double(lx.count), my = ly.reduce(0, +) / Double(ly.count)
        return zip(lx, ly).map { ($0 - mx) * ($1 - my) }.reduce(0, +) / lx.map { ($0 - mx) * ($0 - mx) }.reduce(0, +)
    }

    // MARK: Processes and SDE coefficients

    @Test func theChaptersProcessesAndCoefficientsMatchTheirFormulas() {
        let vp = Chapter5.VPSDE()
        for t in [0.001, 0.1, 0.37, 0.5, 0.9, 1] {
            #expect(Self.close(vp.alpha(t), exp(-0.5 * Self.B(t)), rel: 1e-13))
            #expect(Self.close(vp.sigma(t) * vp.sigma(t), 1 - exp(-Self.B(t)), rel: 1e-12))
            #expect(Self.close(vp.t(logSNR: vp.logSNR(t)), t, rel: 1e-9), "t(λ(t)) = t at \(t)")
            let (f, g2) = Chapter5.sdeCoefficients(vp, at: t)
            #expect(Self.close(f, -0.5 * Self.beta(t), rel: 1e-12) && Self.close(g2, Self.beta(t), rel: 1e-10), "VP: f = −β/2, g² = β")
            let (sf, sg2) = Chapter5.sdeCoefficients(Chapter5.SubVPSDE(), at: t)
            #expect(Self.close(sf, -0.5 * Self.beta(t), rel: 1e-12))
            #expect(Self.close(sg2, Self.beta(t) * (1 - exp(-2 * Self.B(t))), rel: 1e-9), "sub-VP g² at \(t)")
            // g² = −σ²·dλ/dt (central difference of λ).
            let h = 1e-6, dλ = (vp.logSNR(Swift.min(1, t + h)) - vp.logSNR(t - h)) / (Swift.min(1, t + h) - t + h)
            #expect(Self.close(-vp.sigma(t) * vp.sigma(t) * dλ, g2, rel: 1e-5))
        }
        let ve = VEProcess(sigmaMin: 0.01, sigmaMax: 50)
        let (f, g2) = Chapter5.sdeCoefficients(ve, at: 0.3)
        #expect(f == 0 && Self.close(g2, 2 * pow(ve.sigma(0.3), 2) * log(5000), rel: 1e-12))
        // The uniform-time levels are σ̃ = √(e^B − 1), strictly descending.
        let levels = Chapter5.uniformTimeLevels(16)
        for (a, b) in zip(levels, Self.uniformLevels(16)) { #expect(Self.close(a, b, rel: 1e-10)) }
        #expect(zip(levels, levels.dropFirst()).allSatisfy { $0 > $1 })
    }

    // MARK: Computed answers

    @Test func limitAndCoefficientNumbersMatchAnIndependentComputation() throws {
        let n = try Self.run("ch5-numbers")
        #expect(Self.close(n["B1"], 10.05, rel: 1e-12))
        var gaps: [Double] = []
        for T in [50, 100, 1000, 10_000] {
            var logAbar = 0.0
            for i in 1...T { logAbar += log1p(-(0.1 + 19.9 * Double(i - 1) / Double(T - 1)) / Double(T)) }
            #expect(Self.close(n["logabar_T\(T)"], logAbar, rel: 1e-10), "T = \(T)")
            gaps.append(Swift.abs(logAbar + 10.05))
        }
        #expect(Self.close(n["gap_slope"], -Self.slope([50, 100, 1000, 10_000], gaps), rel: 1e-6))
        #expect(Swift.abs(n["gap_slope"]! - 1) < 0.1, "the gap shrinks like 1/T")
        // The second-order prediction −(1/2T)∫β² is within 2% at T = 1000 (exercise 5.3).
        let intBeta2 = 0.01 + 0.1 * 19.9 + 19.9 * 19.9 / 3
        #expect(Self.close(n["int_beta2"], intBeta2, rel: 1e-12) && Self.close(n["gap_predicted_T1000"], -intBeta2 / 2000, rel: 1e-12))
        #expect(Swift.abs(n["gap_T1000"]! / n["gap_predicted_T1000"]! - 1) < 0.02)
        #expect(Self.close(n["abar_cont"], exp(-10.05), rel: 1e-12))
        #expect(n["abar_T1000"]! < n["abar_cont"]! && n["abar_T1000"]! / n["abar_cont"]! > 0.9, "about 7% apart")
        #expect(n["alpha_maxdiff_T10000"]! < n["alpha_maxdiff_T1000"]! / 5)

        // VP and sub-VP variances, sub-VP coefficients, VE diffusion.
        for (t, tag) in [(0.1, "0p1"), (0.5, "0p5")] {
            #expect(Self.close(n["var_vp_\(tag)"], -expm1(-Self.B(t)), rel: 1e-12))
            #expect(Self.close(n["var_subvp_\(tag)"], pow(-expm1(-Self.B(t)), 2), rel: 1e-12))
            #expect(n["var_subvp_\(tag)"]! < n["var_vp_\(tag)"]!)
            #expect(Self.close(n["subvp_g2_\(tag)"], Self.beta(t) * (1 - exp(-2 * Self.B(t))), rel: 1e-9))
        }
        #expect(Self.close(n["ve_g2_0p5"], 2 * 0.5 * log(5000), rel: 1e-12))      // σ(0.5)² = 0.01·50 = 0.5

        // Cosine schedule: β(t) = π/(1 + s)·tan(π/2·(t + s)/(1 + s)); the library's rates are central differences.
        let sc = 0.008, u = Double.pi / 2 * (0.5 + sc) / (1 + sc)
        #expect(Self.close(n["cosine_beta_closed"], Double.pi / (1 + sc) * tan(u), rel: 1e-12))
        #expect(Self.close(n["cosine_g2"], n["cosine_beta_closed"]!, rel: 1e-6) && Self.close(n["cosine_f"], -0.5 * n["cosine_beta_closed"]!, rel: 1e-6))
        #expect(Self.close(-n["cosine_sigma2"]! * n["cosine_lambda_rate"]!, n["cosine_g2"]!, rel: 1e-5))
    }

    @Test func likelihoodLangevinHutchinsonAndCovarianceAnswersMatchTheFormulas() throws {
        let n = try Self.run("ch5-numbers")
        let s = 0.5, (σmin, σmax) = (1e-3, 80.0)
        // Exercise 5.7: the PF-ODE likelihood of N(0, s² I) at (0.3, −0.2).
        let r2 = 0.13
        let exact = 0.5 * r2 / (s * s + σmin * σmin) + log(2 * .pi * (s * s + σmin * σmin))
        #expect(Self.close(n["gauss_nll_exact"], exact, rel: 1e-7))   // the point enters as Float32
        let integral = log((s * s + σmax * σmax) / (s * s + σmin * σmin))
        #expect(Self.close(n["gauss_div_integral"], integral, rel: 1e-12))
        let y1 = r2 * (s * s + σmax * σmax) / (s * s + σmin * σmin)
        let odeClosed = 0.5 * y1 / (σmax * σmax) + log(2 * .pi * σmax * σmax) - integral
        #expect(Self.close(n["gauss_nll_ode_closed"], odeClosed, rel: 1e-10))
        // The text: both errors (Runge–Kutta, prior) are below 1e-4 nat.
        #expect(Swift.abs(n["gauss_nll_ode"]! - odeClosed) < 1e-4 && Swift.abs(odeClosed - exact) < 1e-4)

        // Exercise 5.8: discretised Langevin with ε = τ/4 has stationary variance 8τ/7; the Monte Carlo agrees.
        let τ = s * s + 1
        #expect(Self.close(n["langevin_stationary"], 8 * τ / 7, rel: 1e-12) && Self.close(n["langevin_step"], τ / 4, rel: 1e-12))
        #expect(Swift.abs(n["langevin_mc"]! - 8 * τ / 7) < 4 * n["langevin_mc_se"]!, "MC \(n["langevin_mc"]!) vs \(8 * τ / 7)")
        #expect(Swift.abs(n["langevin_mc"]! - τ) > 4 * n["langevin_mc_se"]!, "the bias is visible")

        // Exercise 5.9: the Jacobian of the example2D denoiser is Cov[x₀ | y]/σ² (second-order Tweedie).
        let cov = Self.posteriorCovariance2D([1, 0.4], sigma: 0.5)
        for i in 0..<2 { for j in 0..<2 { #expect(Self.close(n["jac_\(i)\(j)"], cov[i][j] / 0.25, rel: 1e-5, abs: 1e-7), "J[\(i)][\(j)]") } }
        let trace = (cov[0][0] + cov[1][1]) / 0.25
        #expect(Self.close(n["jac_trace_tweedie"], trace, rel: 1e-6) && Self.close(n["jac_trace"], trace, rel: 1e-6))   // Float32 input
        let J01 = cov[0][1] / 0.25
        #expect(Self.close(n["hutch_var_rademacher"], 4 * J01 * J01, rel: 1e-4))
        #expect(Self.close(n["hutch_var_gauss"], 2 * (pow(cov[0][0] / 0.25, 2) + pow(cov[1][1] / 0.25, 2) + 2 * J01 * J01), rel: 1e-5))
        #expect(n["hutch_var_gauss"]! > 100 * n["hutch_var_rademacher"]!, "three orders of magnitude apart")

        // §5.4.2 and exercise 5.13: two-time covariances; Euler–Maruyama's mean map telescopes exactly.
        #expect(Self.close(n["cov_forward"], 1.25, rel: 1e-12) && Self.close(n["cov_ode"], (1.25 * 9.25).squareRoot(), rel: 1e-12))
        for M in [10, 100, 1000] {
            var A = 1.0
            for i in 0..<M {
                let (a, b) = (3 * pow(1.0 / 3, Double(i) / Double(M)), 3 * pow(1.0 / 3, Double(i + 1) / Double(M)))
                A *= (s * s + b * b) / (s * s + a * a)
            }
            #expect(Self.close(n["cov_em_\(M)"], A * 9.25, rel: 1e-12) && Self.close(n["cov_em_\(M)"], 1.25, rel: 1e-12))
        }
    }

    @Test func fokkerPlanckHoldsAndTheExperimentSeesIt() throws {
        // Independent check with analytic derivatives: the VP SDE's Fokker–Planck equation holds for the mixture.
        for t in [0.05, 0.2, 0.5] {
            var worst = 0.0, scale = 0.0
            for i in 0...120 {
                let x = -3 + Double(i) * 0.05
                let d = Self.density1D(x, t)
                let rhs = 0.5 * Self.beta(t) * (d.p + x * d.dx) + 0.5 * Self.beta(t) * d.dxx
                worst = Swift.max(worst, Swift.abs(d.dt - rhs))
                scale = Swift.max(scale, Swift.abs(d.dt))
            }
            #expect(worst < 1e-12 * scale + 1e-14, "t = \(t): residual \(worst)")
        }
        let n = try Self.run("ch5-fokker-planck")
        for k in 0..<3 {
            let t = n["time_\(k)"]!
            #expect(Self.close(n["f_\(k)"], -0.5 * Self.beta(t), rel: 1e-10) && Self.close(n["g2_\(k)"], Self.beta(t), rel: 1e-8))
            #expect(n["residual_\(k)"]! < 1e-4)
            var scale = 0.0
            for i in 0...300 { scale = Swift.max(scale, Swift.abs(Self.density1D(-3 + Double(i) * 0.02, t).dt)) }
            #expect(Self.close(n["scale_\(k)"], scale, rel: 1e-4), "max |∂p/∂t| at t = \(t)")
        }
        #expect(n["residual_max"]! < 1e-5, "the summary quotes the largest residual")
    }

    @Test func samplerNumbersMatchIndependentRecursions() throws {
        let n = try Self.run("ch5-samplers")
        let s = 0.5
        for (name, key) in [("euler-maruyama", "euler_maruyama"), ("pc", "pc"), ("ddpm", "ddpm"), ("euler", "euler")] {
            var errs: [Double] = []
            let steps = [4, 8, 16, 32, 64, 128, 256, 512, 1024]
            for N in steps {
                let levels = Self.uniformLevels(N)
                let e = Swift.abs(Self.outputVariance(name, s: s, levels: levels) - (s * s + levels[N] * levels[N]))
                errs.append(e)
                #expect(Self.close(n["weak_\(key)_\(N)"], e, rel: 1e-6), "\(name) N = \(N)")
            }
            let slope = -Self.slope(steps.suffix(4).map(Double.init), Array(errs.suffix(4)))
            #expect(Self.close(n["weak_slope_\(key)"], slope, abs: 1e-6))
            #expect(Swift.abs(slope - 1) < 0.15, "weak order 1: \(name) slope \(slope)")
            // The library's sampler on 20000 samples agrees with the recursion (relative standard error √(2/n)).
            let rec = Self.outputVariance(name, s: s, levels: Self.uniformLevels(16))
            #expect(Self.close(n["rec_var_\(key)"], rec, rel: 1e-9))
            #expect(Swift.abs(n["mc_var_\(key)"]! / rec - 1) < 5 * (2.0 / 20000).squareRoot(), "\(name): MC \(n["mc_var_\(key)"]!) vs \(rec)")
        }
        // The caption: few steps hurt Euler–Maruyama and PC several times more than DDPM and the ODE.
        #expect(n["weak_euler_maruyama_4"]! > 4 * n["weak_ddpm_4"]! && n["weak_pc_8"]! > 2 * n["weak_euler_8"]!)
        // Right panel: PC is worst at 8 and 16 calls; everyone is near the floor at 64; the text's 8-call comparison.
        let floor = n["ed_floor"]!
        for b in [8, 16] { for k in ["euler_maruyama", "ddpm", "euler"] { #expect(n["ed_pc_\(b)"]! > n["ed_\(k)_\(b)"]!) } }
        for k in ["euler_maruyama", "pc", "ddpm", "euler"] {
            #expect(n["ed_\(k)_64"]! < 1.4 * floor, "\(k) at 64 calls")
            #expect(n["calls_\(k)_64"] == 64)
        }
        #expect(n["ed_ddpm_8"]! > n["ed_euler_maruyama_8"]!)
    }

    @Test func pathAndLikelihoodNumbersSupportTheText() throws {
        let p = try Self.run("ch5-paths")
        // Exact forward simulation: the end has std √(α²Var x₀ + σ²) ≈ 1 (1000 samples).
        let varData = 0.5 * (0.09 + 2.25) + 0.3 * (0.04 + 0.25) + 0.2 * (0.16 + 4) - 0.04
        #expect(Self.close(p["data_std"], varData.squareRoot(), rel: 1e-12) && Self.close(p["data_mean"], -0.2, rel: 1e-12))
        #expect(Swift.abs(p["forward_end_std"]! - p["forward_end_std_exact"]!) < 0.05)
        for k in ["sde", "ode"] {
            #expect(Swift.abs(p["\(k)_mean"]! - p["data_mean"]!) < 0.1 && Swift.abs(p["\(k)_std"]! - p["data_std"]!) < 0.1)
            #expect(p["ed_\(k)"]! < 2 * p["ed_floor"]!)
        }
        #expect(p["ode_paths_check"]! < 1e-3)

        let n = try Self.run("ch5-likelihood")
        // The exact −log p recomputed with an independent mixture density at the same samples.
        let x = GaussianMixture.example2D.sample(100, seed: 0).scalars.map(Double.init)
        let exact = (0..<100).map { -Self.logDensity2D([x[2 * $0], x[2 * $0 + 1]], sigma: 1e-3) }
        #expect(Self.close(n["exact_mean_nll"], exact.reduce(0, +) / 100, rel: 1e-9))
        #expect(n["err_main"]! < 1e-3 && n["maxerr_main"]! < 1e-2)
        #expect(Swift.abs(n["slope_steps"]! - 4) < 0.4, "classical Runge–Kutta")
        #expect(n["err_steps_64"]! < n["err_steps_32"]! && n["err_steps_32"]! < n["err_steps_16"]!)
        #expect(n["autograd_vs_closed"]! < 1e-3)
        let ratio = n["hutch_sd_4"]! / n["hutch_sd_1"]!
        #expect(ratio > 0.35 && ratio < 0.7, "standard deviation ∝ 1/√probes: \(ratio)")
        for P in [1, 4] { #expect(Swift.abs(n["hutch_bias_\(P)"]!) < 4 * n["hutch_bias_se_\(P)"]!, "unbiased with \(P) probes") }
        #expect(n["err_main"]! < n["hutch_sd_1"]! / 100, "the caption: the probe error dominates")
        #expect(Self.close(n["bpd_main"], n["mean_nll_main"]! / (2 * log(2)), rel: 1e-12))
    }

    @Test func stochasticityNumbersSupportTheText() throws {
        let n = try Self.run("ch5-stochasticity")
        // Late error: the coupled distance grows like 1 + η² (F ≈ 1).
        #expect(Swift.abs(n["rms_late_1"]! / n["rms_late_0"]! - 2) < 0.15)
        #expect(Swift.abs(n["rms_late_0p5"]! / n["rms_late_0"]! - 1.25) < 0.1)
        // Middle: the ODE is better; early: the SDE is better; the early coupled distance barely moves.
        #expect(n["ed_middle_1"]! > 2 * n["ed_middle_0"]! && n["rms_middle_1"]! > n["rms_middle_0"]!)
        #expect(n["ed_early_1"]! < 0.8 * n["ed_early_0"]!)
        #expect(Swift.abs(n["rms_early_1"]! / n["rms_early_0"]! - 1) < 0.2)
        for k in ["0", "0p5", "1"] { #expect(n["ed_exact_\(k)"]! < 2.5 * n["ed_floor"]!) }
    }

    // MARK: Listings and the chapter's helpers

    /// Exercise 5.10's listing, verbatim in substance.
    static func reverseVPEulerMaruyama(_ m: GaussianMixture, n: Int, steps N: Int, tMin: Double = 1e-3, seed: UInt64) -> Tensor {
        let vp = Chapter5.VPSDE()
        let noise = NoiseSource(seed: seed)
        var x = noise.prior([n, m.dimension])
        let dt = (1 - tMin) / Double(N)
        for i in 0..<N {
            let t = 1 - Double(i) * dt
            let score = m.score(x, at: vp.level(t))
            let beta = vp.beta(t)
            x = x + (x * Float(0.5 * beta) + score * Float(beta)) * Float(dt)
                + noise.normal(like: x, step: i) * Float((beta * dt).squareRoot())
        }
        return m.denoise(x, at: vp.level(tMin))
    }

    @Test func theChaptersListingsAndHelpersRun() throws {
        let m = GaussianMixture.example2D
        let floor = SampleMetric.energy.expectedFloor(n: 500, points: 1000) { k, s in m.sample(k, seed: s) }!
        let vpem = Self.reverseVPEulerMaruyama(m, n: 500, steps: 200, seed: 3)
        #expect(Metrics.energyDistance(vpem, m.sample(500, seed: 9)) < 3 * floor)
        let lib = Sampling.eulerMaruyama(m, NoiseSource(seed: 3).prior([500, 2], sigma: Chapter5.uniformTimeLevels(200)[0]),
                                         sigmas: Chapter5.uniformTimeLevels(200) + [0], noise: NoiseSource(seed: 4))
        #expect(Metrics.energyDistance(lib, m.sample(500, seed: 9)) < 3 * floor)

        // The η-sampler at η = 1 is Sampling.eulerMaruyama (same noise), up to single-precision rounding.
        let sig = Schedule.karras(steps: 12)
        let x0 = NoiseSource(seed: 5).prior([256, 2], sigma: sig[0])
        let a = Chapter5.etaSampler(m, x0, sigmas: sig, eta: 1, noise: NoiseSource(seed: 6))
        let b = Sampling.eulerMaruyama(m, x0, sigmas: sig, noise: NoiseSource(seed: 6))
        #expect(zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max()! < 1e-4)

        // The differentiable mixture equals the exact denoiser, at α = 1 and at VP levels.
        let dm = Chapter5.DifferentiableMixture(m)
        let x = NoiseSource(seed: 7).prior([64, 2], sigma: 1.5)
        for level in [NoiseLevel(alpha: 1, sigma: 0.05), NoiseLevel(alpha: 1, sigma: 2), NoiseLevel(alpha: 0.6, sigma: 0.8)] {
            let diff = zip(dm.denoise(x, at: level).scalars, m.denoise(x, at: level).scalars).map { Swift.abs($0 - $1) }.max()!
            #expect(diff < 1e-4, "\(level): \(diff)")
        }
        // The perturbed denoiser moves D by σ·bias only inside its window.
        let pert = Chapter5.perturbed(m, bias: [0.2, 0], window: 1...2)
        let inside = pert.denoise(x, sigma: 1.5) - m.denoise(x, sigma: 1.5), outside = pert.denoise(x, sigma: 3) - m.denoise(x, sigma: 3)
        #expect(inside.scalars.enumerated().allSatisfy { Swift.abs($0.element - ($0.offset % 2 == 0 ? 0.3 : 0)) < 1e-5 })
        #expect(outside.scalars.allSatisfy { $0 == 0 })
    }

    // MARK: Structure of the source

    static let style = ChapterStyle(number: "5", file: "ch05-sde.md", experiments: Chapter5.experiments, programmingNames: ["Sampling.", "Likelihood.", "Chapter5."])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws { try Self.style.checkSource() }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws { try Self.style.checkPage() }
}
