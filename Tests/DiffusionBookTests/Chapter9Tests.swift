import Diffusion
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 9 (book/ch09-guidance.md): every computed answer is recomputed here independently of the experiment code
/// (closed forms, a different quadrature, plain Double mixtures, samplers and a Runge–Kutta reference), the claims
/// the text makes about the figures and tables hold for the numbers the library produced, the chapter's listings run,
/// it has the structure BOOK-STYLE.md asks for, and its page renders cleanly.
@Suite("Chapter 9: computed answers, claims about the figures, listings, structure, rendered page")
struct Chapter9Tests: ExperimentChecks {
    // MARK: Independent references (Double, no library code)

    /// A diagonal Gaussian mixture in α = 1 coordinates: density, denoiser.
    struct Mixture {
        let w: [Double], mu: [[Double]], s: [[Double]]
        var d: Int { mu[0].count }

        func logComponents(_ x: [Double], _ σ: Double) -> [Double] {
            (0..<w.count).map { k in
                var l = log(w[k])
                for j in 0..<d {
                    let v = s[k][j] * s[k][j] + σ * σ
                    l -= 0.5 * ((x[j] - mu[k][j]) * (x[j] - mu[k][j]) / v + log(2 * .pi * v))
                }
                return l
            }
        }

        func logDensity(_ x: [Double], _ σ: Double) -> Double {
            let l = logComponents(x, σ), m = l.max()!
            return m + log(l.map { exp($0 - m) }.reduce(0, +))
        }

        func denoise(_ x: [Double], _ σ: Double) -> [Double] {
            let l = logComponents(x, σ), m = l.max()!
            let r = l.map { exp($0 - m) }, total = r.reduce(0, +)
            var out = [Double](repeating: 0, count: d)
            for k in 0..<w.count {
                for j in 0..<d {
                    let v = s[k][j] * s[k][j] + σ * σ
                    out[j] += r[k] / total * (mu[k][j] + s[k][j] * s[k][j] / v * (x[j] - mu[k][j]))
                }
            }
            return out
        }
    }

    /// The running example written out: class y's mixture (weights within the class) and the whole mixture.
    static let classes: [Mixture] = [
        Mixture(w: [0.5, 0.5], mu: [[-2.2, 0], [-0.6, 0]], s: [[0.3, 0.3], [0.3, 0.3]]),
        Mixture(w: [1], mu: [[1.4, 0.9]], s: [[0.5, 0.5]]),
        Mixture(w: [1], mu: [[1.4, -0.9]], s: [[0.5, 0.5]]),
    ]
    static let classWeights = [0.4, 0.3, 0.3]
    static let marginal = Mixture(w: [0.2, 0.2, 0.3, 0.3], mu: [[-2.2, 0], [-0.6, 0], [1.4, 0.9], [1.4, -0.9]],
                                  s: [[0.3, 0.3], [0.3, 0.3], [0.5, 0.5], [0.5, 0.5]])

    /// log p_σ(y | x) from the class densities.
    static func logClassifier(_ x: [Double], _ σ: Double, _ y: Int) -> Double {
        let joint = (0..<3).map { log(classWeights[$0]) + classes[$0].logDensity(x, σ) }
        let m = joint.max()!
        return joint[y] - (m + log(joint.map { exp($0 - m) }.reduce(0, +)))
    }

    /// Karras levels written out (N + 1 values, last 0).
    static func karras(_ N: Int, _ lo: Double = 0.002, _ hi: Double = 80, rho: Double = 7) -> [Double] {
        let (a, b) = (pow(hi, 1 / rho), pow(lo, 1 / rho))
        var levels: [Double] = (0..<N).map { i -> Double in
            let f = Double(i) / Double(N - 1)
            return pow(a + f * (b - a), rho)
        }
        levels.append(0)
        return levels
    }

    // MARK: §9.4.3 — the one-dimensional Gaussian: closed forms and a second quadrature

    /// ∫₀^U f(u) du with the substitution u = s²(e^r − 1) (s² = 0.25), composite trapezoid on r — a different rule and
    /// grid from the experiment's Simpson in log u.
    static func integrate(_ U: Double, _ f: (Double) -> Double) -> Double {
        let s2 = 0.25, R = log1p(U / s2), M = 20_000
        let h = R / Double(M)
        var total = 0.0
        for i in 0...M {
            let r = Double(i) * h, u = s2 * expm1(r)
            total += (i == 0 || i == M ? 0.5 : 1) * f(u) * s2 * exp(r)
        }
        return total * h
    }

    @Test func gaussianOutputsMatchClosedFormsAndAnIndependentQuadrature() throws {
        let n = try Self.run("ch9-gauss")
        let (muC, sC, sU, U) = (1.5, 0.5, 1.0, 6400.0)
        for w in [1.0, 1.5, 2, 3, 4, 5] {
            let t = w == 1.5 ? "1p5" : String(Int(w))
            let a = { (u: Double) in 1 / (sC * sC + u) }, b = { (u: Double) in 1 / (sU * sU + u) }
            let P0 = w * a(0) + (1 - w) * b(0)
            let I = { (u: Double) in w * log(1 + u / (sC * sC)) + (1 - w) * log(1 + u / (sU * sU)) }
            let r = { (u: Double) in w * a(u) * muC }
            #expect(Self.close(n["tilted_mean_\(t)"], w * a(0) * muC / P0, rel: 1e-12))
            #expect(Self.close(n["tilted_std_\(t)"], (1 / P0).squareRoot(), rel: 1e-12))
            #expect(Self.close(n["ode_std_limit_\(t)"], pow(sC, w) * pow(sU, 1 - w), rel: 1e-12))
            #expect(Self.close(n["ode_std_theory_\(t)"], (U * exp(-I(U))).squareRoot(), rel: 1e-10))
            let odeMean = 0.5 * Self.integrate(U) { exp(-0.5 * I($0)) * r($0) }
            let sdeMean = Self.integrate(U) { exp(-I($0)) * r($0) }
            let sdeVar = U * exp(-2 * I(U)) + Self.integrate(U) { exp(-2 * I($0)) }
            #expect(Self.close(n["ode_mean_theory_\(t)"], odeMean, rel: 1e-5), "w = \(w): \(n["ode_mean_theory_\(t)"]!) vs \(odeMean)")
            #expect(Self.close(n["sde_mean_theory_\(t)"], sdeMean, rel: 1e-5))
            #expect(Self.close(n["sde_std_theory_\(t)"], sdeVar.squareRoot(), rel: 1e-5))
            // The library's samples (2000 each) against the theory: Monte-Carlo and discretisation tolerance.
            #expect(Self.close(n["ode_std_\(t)"], n["ode_std_theory_\(t)"]!, rel: 0.04), "ODE std at w = \(w)")
            #expect(Self.close(n["sde_std_\(t)"], n["sde_std_theory_\(t)"]!, rel: 0.05), "SDE std at w = \(w)")
            #expect(Self.close(n["ode_mean_\(t)"], odeMean, abs: 0.03) && Self.close(n["sde_mean_\(t)"], sdeMean, abs: 0.03))
            // The ordering the text states: ODE narrowest, the tilted target widest; ODE pushed furthest.
            if w > 1 {
                #expect(n["ode_std_theory_\(t)"]! < n["sde_std_theory_\(t)"]! && n["sde_std_theory_\(t)"]! < n["tilted_std_\(t)"]!)
                #expect(n["ode_mean_theory_\(t)"]! > n["sde_mean_theory_\(t)"]! && n["sde_mean_theory_\(t)"]! > n["tilted_mean_\(t)"]!)
            }
        }
        // Theorem 9.1: the limits of 1/P − u, and the threshold where it turns negative.
        for w in [1.0, 2, 3, 5] {
            let t = String(Int(w))
            #expect(Self.close(n["excess_high_\(t)"], w * sC * sC + (1 - w) * sU * sU))
            #expect(Self.close(n["excess_zero_\(t)"], 1 / (w / (sC * sC) + (1 - w) / (sU * sU)), rel: 1e-12))
        }
        #expect(Self.close(n["w_negative_excess"], 4.0 / 3, rel: 1e-12))
        // Exercise 9.13 (c): 64 ancestral steps leave the variance clearly too small, 1024 do not.
        let coarse = try Self.run("ch9-gauss", ["sde_steps": "64", "scales": "1"])
        #expect(coarse["sde_std_1"]! < 0.48 && n["sde_std_1"]! > coarse["sde_std_1"]!)
        // §9.4.3: at w = 3 the ODE mean lies more than one s_c beyond μ_c.
        #expect(n["ode_mean_theory_3"]! > muC + sC)
    }

    // MARK: §9.2 — the exact classifier and the equivalences

    @Test func classifierNumbersMatchAnIndependentClassifier() throws {
        let n = try Self.run("ch9-classifier")
        for key in ["0p1", "1", "10"] {
            #expect(n["cg_exact_rms_\(key)"]! < 1e-5, "CG(w = 1) vs the exact conditional denoiser at σ = \(key)")
            #expect(n["cfg_cg_rms_\(key)"]! < 1e-4, "CFG vs CG at σ = \(key)")
        }
        #expect(n["guidance_rms_1"]! > 1)
        // min/max of p_σ(1 | x) over the figure's 56 × 48 grid, recomputed in Double.
        for (k, σ) in [0.3, 1, 3].enumerated() {
            var lo = 1.0, hi = 0.0
            for j in 0..<48 {
                for i in 0..<56 {
                    let x = [-3.5 + (Double(i) + 0.5) / 56 * 7, -3 + (Double(j) + 0.5) / 48 * 6]
                    let p = exp(Self.logClassifier(x, σ, 1))
                    lo = min(lo, p); hi = max(hi, p)
                }
            }
            #expect(Self.close(n["p_max_\(k)"], hi, rel: 1e-4) && Self.close(n["p_min_\(k)"], lo, rel: 2e-3, abs: 1e-12), "σ = \(σ): \(lo) … \(hi)")
        }
        #expect(n["grad_max_0"]! > n["grad_max_1"]! && n["grad_max_1"]! > n["grad_max_2"]!)
        #expect(n["p_max_2"]! < 0.6 && n["p_min_2"]! > 0.1, "the caption: at σ = 3 the classifier is a gentle slope")
    }

    // MARK: §9.4.1–9.4.2 — sharpening, precision and recall

    @Test func tiltedMomentsAndTheTradeOffTheTextDescribes() throws {
        let n = try Self.run("ch9-sharpen")
        // The tilted density's moments by an independent quadrature (a finer, shifted grid).
        for (w, t) in [(1.0, "1"), (3, "3"), (8, "8")] {
            var z = 0.0, mx = 0.0, my = 0.0, sxx = 0.0
            var logs: [(Double, Double, Double)] = []
            let (M, L) = (420, 360)
            for j in 0..<L {
                for i in 0..<M {
                    let x = [-3.5 + (Double(i) + 0.5) / Double(M) * 7, -3 + (Double(j) + 0.5) / Double(L) * 6]
                    logs.append((x[0], x[1], Self.classes[1].logDensity(x, 0) + (w - 1) * Self.logClassifier(x, 0, 1)))
                }
            }
            let top = logs.map(\.2).max()!
            for (a, b, l) in logs { let p = exp(l - top); z += p; mx += p * a; my += p * b }
            mx /= z; my /= z
            for (a, b, l) in logs { sxx += exp(l - top) * ((a - mx) * (a - mx) + (b - my) * (b - my)) }
            #expect(Self.close(n["tv_tilted_\(t)"], sxx / z, rel: 3e-3), "w = \(w): \(n["tv_tilted_\(t)"]!) vs \(sxx / z)")
            #expect(Self.close(n["mean_y_tilted_\(t)"], my, abs: 3e-3) && Self.close(n["mean_x_tilted_\(t)"], mx, abs: 3e-3))
        }
        // The three stages of §9.4.2.
        #expect(n["precision_0"]! < 0.6 && n["precision_1"]! > n["precision_floor"]! - 0.02 && n["recall_1"]! > n["recall_floor"]! - 0.02)
        #expect(n["ed_1"]! < 2 * n["ed_floor"]!)
        let ws = ["1", "1p5", "2", "3", "4", "6", "8"]
        for (a, b) in zip(ws, ws.dropFirst()) {
            #expect(n["recall_\(b)"]! < n["recall_\(a)"]!, "recall falls from w = \(a) to \(b)")
            #expect(n["confidence_\(b)"]! >= n["confidence_\(a)"]! - 1e-4)
            #expect(n["tv_\(b)"]! < n["tv_\(a)"]!)
        }
        for w in ["1p5", "2", "3", "4"] { #expect(n["precision_\(w)"]! > n["precision_floor"]! - 0.03, "precision stays near the floor at w = \(w)") }
        #expect(n["recall_4"]! < 0.5 && n["precision_8"]! < n["precision_4"]! - 0.1)
        #expect(Self.close(n["confidence_1"], n["confidence_data"]!, abs: 0.02))
        // CFG samples move and shrink far more than the tilted target does.
        #expect(n["mean_y_8"]! - n["mean_y_1"]! > 0.8 && n["mean_y_tilted_8"]! - n["mean_y_tilted_1"]! < 0.2)
        for w in ["2", "3", "4", "6", "8"] { #expect(n["tv_\(w)"]! < 0.8 * n["tv_tilted_\(w)"]!) }
    }

    // MARK: §9.5 — saturation

    /// The pattern data written out: four shapes, two placements, three contrasts.
    static func patternMeans() -> [[[Double]]] {
        func bump(_ d: Double, _ s: Double) -> Double { exp(-d * d / (2 * s * s)) }
        let profiles: [[(Double, Double) -> Double]] = [
            [2.5, 4.5].map { r0 in { r, _ in bump(r - r0, 0.9) } },
            [2.5, 4.5].map { c0 in { _, c in bump(c - c0, 0.9) } },
            [2.0, 2.8].map { R in { r, c in bump(hypot(r - 3.5, c - 3.5) - R, 0.7) } },
            [-1.5, 1.5].map { k in { r, c in bump(r - c - k, 0.9) } },
        ]
        return profiles.map { fs in fs.flatMap { f in [0.35, 0.65, 0.95].map { c in (0..<64).map { k in c * (1.8 * f(Double(k / 8), Double(k % 8)) - 0.9) } } } }
    }

    @Test func saturationTableSupportsTheText() throws {
        let n = try Self.run("ch9-saturation")
        // The patterns are what the text says: means in [−0.9c, 0.9c], the library's mixture has these means.
        let means = Self.patternMeans()
        let lib = Chapter9.patterns()
        for y in 0..<4 { for k in 0..<6 { for j in 0..<64 { #expect(Swift.abs(lib.classes[y].means[k][j] - means[y][k][j]) < 1e-12) } } }
        // x̂₀ at σ = 80 is about μ + w(μ_y − μ): its largest entry, from the written-out means.
        let global = (0..<64).map { j in means.flatMap { $0 }.map { $0[j] }.reduce(0, +) / 24 }
        var extreme = 0.0
        for y in 0..<4 {
            for j in 0..<64 {
                let classMean = means[y].map { $0[j] }.reduce(0, +) / 6
                extreme = max(extreme, Swift.abs(global[j] + 8 * (classMean - global[j])))
            }
        }
        #expect(Self.close(n["x0_max_cfg_80"], extreme, rel: 0.15), "\(n["x0_max_cfg_80"]!) vs \(extreme)")
        // Thresholding keeps everything in range; guidance pushes to the highest contrast; the fixes pull back.
        #expect(n["outside_static"] == 0 && n["outside_dynamic"] == 0 && n["max_abs_static"]! <= 1 && n["max_abs_dynamic"]! <= 1)
        for σ in ["80", "2", "0p5"] { #expect(n["x0_max_static_\(σ)"]! <= 1 + 1e-6 && n["x0_max_dynamic_\(σ)"]! <= 1 + 1e-6) }
        #expect(n["x0_max_cfg_2"]! > 5 && n["x0_max_plain_2"]! < 1)
        #expect(n["outside_cfg"]! > 3 * n["outside_plain"]! && n["outside_cfg"]! < 0.1)
        #expect(n["high_contrast_cfg"]! > 0.9 && Self.close(n["high_contrast_plain"], n["high_contrast_data"]!, abs: 0.1))
        #expect(n["high_contrast_rescale"]! < 0.7 && n["high_contrast_dynamic"]! < 0.7 && n["high_contrast_static"]! > 0.75)
        #expect(n["contrast_cfg"]! > n["contrast_plain"]! + 0.15 && n["contrast_rescale"]! < n["contrast_cfg"]! && n["contrast_dynamic"]! < n["contrast_cfg"]!)
        for k in ["plain", "mid", "cfg", "rescale", "static", "dynamic"] { #expect(n["accuracy_\(k)"] == 1) }
    }

    // MARK: §9.6 — negative prompts

    @Test func negativePromptsShiftEqualVarianceClassesExactly() throws {
        let n = try Self.run("ch9-negative")
        let w = n["w"]!
        // Exercise 9.6: equal variances ⇒ an exact shift by (w − 1)(μ₁ − μ₂) = (w − 1)(0, 1.8), covariance unchanged.
        #expect(Self.close(n["mean_y_neg2"], 0.9 + (w - 1) * 1.8, abs: 0.06) && Self.close(n["mean_x_neg2"], 1.4, abs: 0.05))
        #expect(Swift.abs(n["tv_neg2"]! - n["tv_plain"]!) < 2e-3)
        #expect(n["p2_neg2"]! < n["p2_null"]! && n["mean_x_null"]! > n["mean_x_plain"]! + 0.1)
        // A narrower negative class: the target cannot be normalised (w/0.25 − (w − 1)/0.09 < 0), samples run away.
        #expect(w / 0.25 - (w - 1) / 0.09 < 0 && n["runaway_neg0"]! > 0.9 && n["runaway_neg2"] == 0)
    }

    // MARK: §9.7 — guidance intervals

    @Test func intervalCallsModeSharesAndTheHighNoiseTarget() throws {
        let n = try Self.run("ch9-interval")
        // Calls: one per DDIM step, plus one wherever w(σ_i) ≠ 1 (levels from the Karras formula).
        let σ = Array(Self.karras(40).dropLast())
        #expect(n["calls_none"] == 40 && n["calls_all"] == 80)
        #expect(n["calls_interval"] == Double(40 + σ.filter { 0.3 <= $0 && $0 <= 1 }.count))
        #expect(n["calls_high"] == Double(40 + σ.filter { $0 > 1 }.count) && n["calls_low"] == Double(40 + σ.filter { $0 < 0.3 }.count))
        // §9.7.1: the data mean, the class mean and D̃'s high-noise target.
        #expect(Self.close(n["mean_x1"], 0.28, rel: 1e-12) && Self.close(n["class_mean_x1"], -1.4, rel: 1e-12))
        #expect(Self.close(n["target_x1"], 0.28 + 3 * (-1.4 - 0.28), rel: 1e-12))
        // The table's story: the high-noise part drops mode B, the low-noise part does nothing, the interval keeps B.
        #expect(n["share_b_all"]! < 0.02 && n["share_b_high"]! < 0.02)
        #expect(Self.close(n["share_b_low"], n["share_b_none"]!, abs: 0.03) && Self.close(n["share_b_interval"], n["share_b_data"]!, abs: 0.06))
        #expect(n["recall_interval"]! > n["recall_all"]! + 0.05 && n["precision_interval"]! >= n["precision_none"]!)
        let g = ["0p1", "0p3", "1", "3", "10"]
        for (a, b) in zip(g, g.dropFirst()) { #expect(n["gap_\(a)"]! < n["gap_\(b)"]!) }
        #expect(n["gap_0p1"]! < 0.01)
        // Exercise 9.9 (b).
        let wide = try Self.run("ch9-interval", ["high": "3"]), lower = try Self.run("ch9-interval", ["low": "0.1"])
        #expect(wide["share_b_interval"]! < n["share_b_interval"]! - 0.15)
        #expect(Self.close(lower["share_b_interval"], n["share_b_interval"]!, abs: 0.05))
    }

    @Test func modesPerpendicularToThePushSurviveGuidance() {
        // Exercise 9.15 (c): class 0's two modes symmetric about the class mean, perpendicular to E[x₀|y] − E[x₀].
        let m = LabelledMixture(classWeights: [0.4, 0.3, 0.3], classes: [
            GaussianMixture(weights: [0.5, 0.5], means: [[-1.4, 0.8], [-1.4, -0.8]], std: [0.3, 0.3]),
            GaussianMixture(weights: [1], means: [[1.4, 0.9]], std: [0.5]),
            GaussianMixture(weights: [1], means: [[1.4, -0.9]], std: [0.5]),
        ])
        let sigmas = Schedule.karras(steps: 40)
        let x = Sampling.ddim(ClassifierFreeGuidance(m, labels: Tensor.full([400], 0), scale: 3),
                              NoiseSource(seed: 0).prior([400, 2], sigma: sigmas[0]), sigmas: sigmas).scalars
        let up = stride(from: 1, to: x.count, by: 2).filter { x[$0] > 0 }.count
        #expect(Swift.abs(Double(up) / 400 - 0.5) < 0.1, "upper mode share \(Double(up) / 400)")
    }

    // MARK: §9.8 — samplers under guidance

    /// The guided denoiser of class 1, written out.
    static func guided(_ x: [Double], _ σ: Double, _ w: Double) -> [Double] {
        let c = classes[1].denoise(x, σ), u = marginal.denoise(x, σ)
        return zip(c, u).map { $1 + w * ($0 - $1) }
    }

    @Test func samplerErrorsMatchAnIndependentDDIMAndRungeKutta() throws {
        let n = try Self.run("ch9-numbers")
        #expect(n["reference_check_1"]! < 1e-3 && n["reference_check_3"]! < 1e-3 && n["reference_check_7"]! < 1e-3)
        // DDIM at w = 3 with 16 steps against RK4 on dx/d(ln σ) = x − D̃ (400 steps to σ = 0.002, then D̃), 64 points.
        let start = NoiseSource(seed: 0).prior([256, 2], sigma: 80).scalars.map(Double.init)
        let levels = Self.karras(16)
        var s = 0.0
        let count = 64
        for i in 0..<count {
            var x = [start[2 * i], start[2 * i + 1]]
            for k in 0..<16 {
                let d = Self.guided(x, levels[k], 3)
                x = levels[k + 1] == 0 ? d : zip(x, d).map { $1 + levels[k + 1] / levels[k] * ($0 - $1) }
            }
            var y = [start[2 * i], start[2 * i + 1]]
            let h = (log(0.002) - log(80)) / 400
            var u = log(80.0)
            func f(_ y: [Double], _ u: Double) -> [Double] { zip(y, Self.guided(y, exp(u), 3)).map { $0 - $1 } }
            for _ in 0..<400 {
                let k1 = f(y, u)
                let k2 = f(zip(y, k1).map { $0 + h / 2 * $1 }, u + h / 2)
                let k3 = f(zip(y, k2).map { $0 + h / 2 * $1 }, u + h / 2)
                let k4 = f(zip(y, k3).map { $0 + h * $1 }, u + h)
                for j in 0..<2 { y[j] += h / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]) }
                u += h
            }
            let exact = Self.guided(y, 0.002, 3)
            for j in 0..<2 { s += (x[j] - exact[j]) * (x[j] - exact[j]) }
        }
        let rmsFirst64 = (s / Double(2 * count)).squareRoot()
        // The experiment averages over 256 points; the first 64 give the same size of error.
        #expect(Self.close(n["err_ddim_3_16"], rmsFirst64, rel: 0.35), "\(n["err_ddim_3_16"]!) vs \(rmsFirst64)")
        // The text's claims about the table.
        #expect(n["err_dpmpp_2m_7_8"]! > 3 * n["err_ddim_7_8"]! && n["err_dpmpp_2m_1_8"]! < 0.7 * n["err_ddim_1_8"]!)
        #expect(n["err_dpmpp_2m_7_32"]! < n["err_ddim_7_32"]! && n["err_heun_7_8"]! > n["err_dpmpp_2m_7_8"]!)
        for b in ["8", "16"] {
            #expect(n["err_dpmpp_2m_1_\(b)"]! < n["err_dpmpp_2m_3_\(b)"]! && n["err_dpmpp_2m_3_\(b)"]! < n["err_dpmpp_2m_7_\(b)"]!)
            #expect(n["err_heun_1_\(b)"]! < n["err_heun_7_\(b)"]!)
        }
        #expect(n["err_ddim_7_16"]! < 1.3 * n["err_ddim_1_16"]!)
        // Exercise 9.8: dynamic thresholding of one eight-pixel image, by hand.
        let pixels = [0.3, -0.9, 1.6, 2.4, -1.2, 0.8, -0.1, 1.1]
        let sorted = pixels.map { Swift.abs($0) }.sorted()
        let threshold = max(1, sorted[Int((0.75 * 8).rounded(.up)) - 1])
        #expect(Self.close(n["threshold_s"], threshold, rel: 1e-6))
        for (i, v) in pixels.enumerated() { #expect(Self.close(n["threshold_out_\(i)"], min(threshold, max(-threshold, v)) / threshold, abs: 1e-6)) }
        #expect(Self.close(n["gauss_tilted_mean_3"], 1.8, rel: 1e-12) && Self.close(n["gauss_tilted_std_3"], 1 / 10.0.squareRoot(), rel: 1e-12))
    }

    // MARK: The chapter's listings

    @Test func theChaptersListingsRun() {
        // §9.3.3.
        let toy = Chapter9.toy
        let labels = Tensor.full([800], 1)
        let guided = ClassifierFreeGuidance(toy, labels: labels, scale: 3)
        let sigmas = Schedule.karras(steps: 32)
        let start = NoiseSource(seed: 0).prior([800, 2], sigma: sigmas[0])
        let samples = Sampling.dpmSolverPP2M(guided, start, sigmas: sigmas)
        #expect(samples.shape == [800, 2] && samples.scalars.allSatisfy(\.isFinite))
        // §9.7.2: the interval and the ramp.
        let interval = ScheduledGuidance.interval(toy, labels: labels, scale: 3, sigmaLow: 0.3, sigmaHigh: 1)
        let ramp = ScheduledGuidance(toy, labels: labels) { σ in 1 + 2 * max(0, 1 - σ / 10) }
        #expect(ramp.scale(0) == 3 && ramp.scale(10) == 1 && interval.scale(0.5) == 3 && interval.scale(2) == 1)
        // Exercise 9.9: the counting wrapper's tally equals the experiment's.
        final class Counted<Base: ConditionalDenoiser>: ConditionalDenoiser {
            let base: Base
            var calls = 0
            init(_ base: Base) { self.base = base }
            func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor { calls += 1; return base.denoise(x, at: level) }
            func denoise(_ x: Tensor, at level: NoiseLevel, labels: Tensor?) -> Tensor { calls += 1; return base.denoise(x, at: level, labels: labels) }
        }
        let counted = Counted(Chapter9.toy)
        let zeros = Tensor.full([200], 0)
        let model = ScheduledGuidance.interval(counted, labels: zeros, scale: 3, sigmaLow: 0.3, sigmaHigh: 1)
        let levels = Schedule.karras(steps: 40)
        _ = Sampling.ddim(model, NoiseSource(seed: 0).prior([200, 2], sigma: levels[0]), sigmas: levels)
        #expect(counted.calls == 40 + levels.filter { 0.3 <= $0 && $0 <= 1 }.count)
        // Exercise 9.3: the theory type the answer names.
        let th = Chapter9.GaussTheory(muC: 1.5, sC: 0.5, muU: 0, sU: 1, w: 3)
        #expect(Self.close(th.tiltedMean, 1.8, rel: 1e-12) && Self.close(th.odeStdLimit, 0.125, rel: 1e-12))
    }

    // MARK: Structure of the source and the rendered page

    static let style = ChapterStyle(number: "9", file: "ch09-guidance.md", experiments: Chapter9.experiments, lab: "L9",
                                    programmingNames: ["L9", "ScheduledGuidance", "ClassifierFreeGuidance", "Sampling."])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws { try Self.style.checkSource() }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws {
        try Self.style.checkPage()
        let page = Fixtures.page(try Fixtures.real(), "ch09.html")
        #expect(SiteChecker.sections(page, open: "<figure class=\"figure\"", close: "</figure>").count >= 6)
    }
}
