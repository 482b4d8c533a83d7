import Diffusion
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 3 (book/ch03-ddpm.md): every computed answer is recomputed here independently of the experiment code
/// (plain Double formulas and our own quadrature, no VariationalBound or GaussianMixture quadrature), the library's
/// posterior agrees with the chapter's identities, the chapter's listings run, the source has the structure
/// BOOK-STYLE.md asks for, and the page renders cleanly.
@Suite("Chapter 3: computed answers, structure, rendered page")
struct Chapter3Tests: ExperimentChecks {
    static let source = Fixtures.realBook.appendingPathComponent("ch03-ddpm.md")

    // MARK: Independent reference values

    /// ᾱ_0 … ᾱ_T of the linear schedule with β scaled by 1000/T (β₁ = 10⁻⁴·s, β_T = 0.02·s, s = 1000/T); [0] = 1.
    static func alphaBars(T: Int) -> [Double] {
        let s = 1000 / Double(T), (b1, bT) = (1e-4 * s, 0.02 * s)
        var p = 1.0
        return [1] + (1...T).map { t in p *= 1 - (b1 + (bT - b1) * Double(t - 1) / Double(T - 1)); return p }
    }

    /// Posterior coefficients written out from the theorem (t ≥ 2): (a_t, b_t, β̃_t, β_t).
    static func posterior(_ ab: [Double], _ t: Int) -> (a: Double, b: Double, tilde: Double, beta: Double) {
        let beta = 1 - ab[t] / ab[t - 1]
        return (ab[t - 1].squareRoot() * beta / (1 - ab[t]), (1 - beta).squareRoot() * (1 - ab[t - 1]) / (1 - ab[t]),
                (1 - ab[t - 1]) / (1 - ab[t]) * beta, beta)
    }

    static func snr(_ ab: Double) -> Double { ab / (1 - ab) }

    /// A 1-D Gaussian mixture (weights, means, stds), handled with our own formulas.
    struct Mixture1D {
        let w: [Double], mu: [Double], s: [Double]
        static let example = Mixture1D(w: [0.5, 0.3, 0.2], mu: [-1.5, 0.5, 2], s: [0.3, 0.2, 0.4])

        /// (p(x), E[x₀ | x], Var[x₀ | x]) at x = α·x₀ + σ·ε.
        func posterior(_ x: Double, alpha a: Double, sigma sg: Double) -> (p: Double, mean: Double, variance: Double) {
            var dens = [Double](), m = [Double](), v = [Double]()
            for k in w.indices {
                let varX = a * a * s[k] * s[k] + sg * sg
                let r = x - a * mu[k]
                dens.append(w[k] * exp(-0.5 * r * r / varX) / (2 * Double.pi * varX).squareRoot())
                m.append(mu[k] + a * s[k] * s[k] / varX * r)
                v.append(s[k] * s[k] * sg * sg / varX)
            }
            let p = dens.reduce(0, +)
            let mean = zip(dens, m).map { $0 * $1 }.reduce(0, +) / p
            let variance = w.indices.map { dens[$0] * (v[$0] + (m[$0] - mean) * (m[$0] - mean)) }.reduce(0, +) / p
            return (p, mean, variance)
        }

        /// ∫ p(x) f(x) dx by the trapezoid rule with spacing (narrowest std)/10 over ±14 widest stds.
        func integrate(alpha a: Double, sigma sg: Double, _ f: (Double, (p: Double, mean: Double, variance: Double)) -> Double) -> Double {
            let widths = w.indices.map { (a * a * s[$0] * s[$0] + sg * sg).squareRoot() }
            let lo = w.indices.map { a * mu[$0] }.min()! - 14 * widths.max()!
            let hi = w.indices.map { a * mu[$0] }.max()! + 14 * widths.max()!
            let n = Int(((hi - lo) / (widths.min()! / 10)).rounded(.up))
            let h = (hi - lo) / Double(n)
            var total = 0.0
            for i in 0...n {
                let x = lo + Double(i) * h
                let post = posterior(x, alpha: a, sigma: sg)
                total += (i == 0 || i == n ? 0.5 : 1) * post.p * f(x, post)
            }
            return total * h
        }

        /// The Bayes error E Var[x₀ | x_t] at (α, σ).
        func mmse(alpha a: Double, sigma sg: Double) -> Double {
            sg == 0 ? 0 : integrate(alpha: a, sigma: sg) { _, post in post.variance }
        }

        var entropy: Double { integrate(alpha: 1, sigma: 0) { _, post in -log(post.p) } }
        var secondMoment: Double { w.indices.map { w[$0] * (mu[$0] * mu[$0] + s[$0] * s[$0]) }.reduce(0, +) }
    }

    /// The three bounds (posterior, β, optimal variance) of the exact model on a 1-D mixture, from our MMSEs.
    static func bounds(_ m: Mixture1D, T: Int) -> (post: Double, beta: Double, opt: Double, prior: Double, firstTen: Double, diff: Double,
                                                      above: [Int], mmse: [Double]) {
        let ab = alphaBars(T: T)
        let mmse = (0...T).map { t in t == 0 ? 0 : m.mmse(alpha: ab[t].squareRoot(), sigma: (1 - ab[t]).squareRoot()) }
        let prior = 0.5 * (ab[T] * m.secondMoment - ab[T] - log(1 - ab[T]))
        let beta1 = 1 - ab[1]
        let dec = 0.5 * log(2 * Double.pi * beta1) + mmse[1] / (2 * beta1)
        let decOpt = 0.5 * log(2 * Double.pi * mmse[1]) + 0.5
        func kl(_ tilde: Double, _ k2: Double, _ a: Double, _ M: Double) -> Double {
            let r = tilde / k2
            return 0.5 * (r - 1 - log(r)) + a * a * M / (2 * k2)
        }
        var (post, beta, opt) = (prior + dec, prior + dec, prior + decOpt)
        var (firstTen, diff) = (0.0, 0.0)
        var above: [Int] = []
        for t in 2...T {
            let c = posterior(ab, t)
            let (lp, lb) = (kl(c.tilde, c.tilde, c.a, mmse[t]), kl(c.tilde, c.beta, c.a, mmse[t]))
            let k2 = c.tilde + c.a * c.a * mmse[t]
            post += lp; beta += lb; opt += kl(c.tilde, k2, c.a, mmse[t])
            diff += lp - lb
            if t <= 11 { firstTen += lp - lb }
            if k2 > c.beta { above.append(t) }
        }
        return (post, beta, opt, prior, firstTen, diff, above, mmse)
    }

    // MARK: Computed answers

    @Test func weightsAndPosteriorNumbersMatchTheFormulas() throws {
        let n = try Self.run("ch3-weights")
        let ab = Self.alphaBars(T: 1000)
        for t in [2, 10, 100, 500, 1000] {
            let c = Self.posterior(ab, t)
            #expect(Self.close(n["a_\(t)"], c.a, rel: 1e-12), "a_\(t)")
            #expect(Self.close(n["b_\(t)"], c.b, rel: 1e-12), "b_\(t)")
            #expect(Self.close(n["beta_tilde_\(t)"], c.tilde, rel: 1e-10), "β̃_\(t)")
            #expect(Self.close(n["beta_\(t)"], 1e-4 + (0.02 - 1e-4) * Double(t - 1) / 999, rel: 1e-10), "β_\(t)")
            #expect(Self.close(n["ratio_\(t)"], (1 - ab[t - 1]) / (1 - ab[t]), rel: 1e-10), "ratio \(t)")
            // Equation (3.13) and (3.15): w_t = ½(SNR(t−1) − SNR(t)), λ_t = β_t/(2(1 − β_t)(1 − ᾱ_{t−1})).
            #expect(Self.close(n["w_\(t)"], 0.5 * (Self.snr(ab[t - 1]) - Self.snr(ab[t])), rel: 1e-9), "w_\(t)")
            #expect(Self.close(n["lambda_\(t)"], c.beta / (2 * (1 - c.beta) * (1 - ab[t - 1])), rel: 1e-9), "λ_\(t)")
        }
        #expect(Self.close(n["lambda_1"], 1 / (2 * (1 - 1e-4)), rel: 1e-10))
        let lambdas = (2...1000).map { t -> Double in let c = Self.posterior(ab, t); return c.beta / (2 * (1 - c.beta) * (1 - ab[t - 1])) }
        #expect(Self.close(n["lambda_ratio"], lambdas[0] / lambdas[998], rel: 1e-9))
        #expect(Self.close(n["lambda_mean"], lambdas.reduce(0, +) / 999, rel: 1e-9))
        #expect(Self.close(n["lambda_rel_2"], lambdas[0] / (lambdas.reduce(0, +) / 999), rel: 1e-9))
        #expect(n["t_gamma"] == Double((1...1000).last { Self.snr(ab[$0]) >= 5 }!))
        #expect(n["t_snr1"] == Double((1...1000).first { Self.snr(ab[$0]) < 1 }!))
        #expect(Self.close(n["snr_1"], Self.snr(ab[1]), rel: 1e-10) && Self.close(n["snr_10"], Self.snr(ab[10]), rel: 1e-10))
        // The text's claims: β̃/β is far below 1 only at the start; λ is largest at the start.
        #expect(n["ratio_2"]! < 0.5 && n["ratio_100"]! > 0.98 && n["lambda_ratio"]! > 50)
    }

    @Test func theLibrarysPosteriorSatisfiesTheChaptersIdentities() {
        // Exercise 3.2: a_t + b_t·α_t = α_{t−1} and β̃_t + b_t²σ_t² = σ²_{t−1}, for every step of two schedules; and the
        // skip posterior (3.5) reduces to (3.4) at s = t − 1.
        for process in [DiscreteVP.linear(), DiscreteVP.cosine()] {
            let vb = VariationalBound(process: process)
            for t in 2...vb.T {
                let (a, b) = vb.posteriorCoefficients(t)
                let (abT, abS) = (vb.alphaBar(t), vb.alphaBar(t - 1))
                #expect(Swift.abs(a + b * abT.squareRoot() - abS.squareRoot()) < 1e-12, "\(process.name) t = \(t)")
                #expect(Swift.abs(vb.posteriorVariance(t) + b * b * (1 - abT) - (1 - abS)) < 1e-12, "\(process.name) t = \(t)")
                let s2 = 1 - abT / abS
                #expect(Swift.abs(abS.squareRoot() * s2 / (1 - abT) - a) < 1e-12)
                #expect(Swift.abs(s2 * (1 - abS) / (1 - abT) - vb.posteriorVariance(t)) < 1e-15)
            }
        }
    }

    @Test func boundNumbersMatchAnIndependentQuadrature() throws {
        let n = try Self.run("ch3-vlb")
        let m = Mixture1D.example
        let entropy = m.entropy
        #expect(Self.close(n["entropy"], entropy, rel: 1e-8))
        #expect(Self.close(n["second_moment"], 2.089, rel: 1e-12) && Self.close(n["variance"], 2.049, rel: 1e-12))
        for T in [25, 1000] {
            let b = Self.bounds(m, T: T)
            #expect(Self.close(n["bound_post_\(T)"], b.post, rel: 1e-6), "bound β̃, T = \(T): \(n["bound_post_\(T)"]!) vs \(b.post)")
            #expect(Self.close(n["bound_beta_\(T)"], b.beta, rel: 1e-6), "bound β, T = \(T)")
            #expect(Self.close(n["bound_opt_\(T)"], b.opt, rel: 1e-6), "bound κ*, T = \(T)")
            #expect(Self.close(n["prior_\(T)"], b.prior, rel: 1e-9))
            #expect(Self.close(n["gap_opt_\(T)"], b.opt - entropy, rel: 1e-4, abs: 1e-7))
            // Every bound is above the entropy and the optimum is the best of the three.
            #expect(b.opt > entropy && b.opt <= b.beta && b.opt <= b.post)
            if T == 1000 {
                #expect(Self.close(n["share_first10"], b.firstTen / b.diff, rel: 1e-5))
                #expect(n["opt_above_beta_first"] == Double(b.above.first!) && n["opt_above_beta_count"] == Double(b.above.count))
                for t in [2, 10, 100, 500, 1000] { #expect(Self.close(n["mmse_\(t)"], b.mmse[t], rel: 1e-7), "mmse_\(t)") }
                // Exercise 3.7: the three smallest losses; min L_v = min L_ε + min L_x₀.
                let ab = Self.alphaBars(T: 1000)
                let minEps = (1...1000).map { Self.snr(ab[$0]) * b.mmse[$0] }.reduce(0, +) / 1000
                let minX0 = b.mmse[1...].reduce(0, +) / 1000
                #expect(Self.close(n["min_eps"], minEps, rel: 1e-6) && Self.close(n["min_x0"], minX0, rel: 1e-7))
                #expect(Self.close(n["min_v"], minEps + minX0, rel: 1e-6))
            }
        }
        // The gaps shrink with T (discretisation) and β̃ is far worse than β at the first steps (the text's claims).
        #expect(n["gap_post_25"]! > n["gap_post_100"]! && n["gap_post_100"]! > n["gap_post_1000"]!)
        #expect(n["gap_opt_25"]! > 10 * n["gap_opt_1000"]!)
        #expect(n["gap_post_1000"]! > 50 * n["gap_beta_1000"]! && n["share_first10"]! > 0.5)
        // Exercise 3.14: for Gaussian data the bound with κ* exceeds the entropy by exactly D_KL(q(x_T) ‖ N(0, 1)).
        #expect(Self.close(n["gauss_entropy"], 0.5 * log(2 * Double.pi * M_E * 0.64), rel: 1e-9))
        for T in [25, 50, 100, 200, 1000] {
            let ab = Self.alphaBars(T: T)
            let (mT, vT) = (ab[T].squareRoot() * 0.5, ab[T] * 0.64 + 1 - ab[T])
            let kl = 0.5 * (vT + mT * mT - 1 - log(vT))
            #expect(Self.close(n["gauss_prior_kl_\(T)"], kl, rel: 1e-9))
            #expect(Self.close(n["gauss_gap_opt_\(T)"], kl, rel: 1e-3, abs: 1e-9), "T = \(T): \(n["gauss_gap_opt_\(T)"]!) vs \(kl)")
        }
    }

    @Test func reverseKernelNumbersMatchAnIndependentGrid() throws {
        let n = try Self.run("ch3-reverse-kernel")
        let m = Mixture1D.example
        let ab = Self.alphaBars(T: 1000)
        let xt = try #require(n["xt"])
        for i in 1...3 {
            let (t, s) = (Int(n["t_\(i)"]!), Int(n["s_\(i)"]!))
            let (aTS2, sT2, sS2) = (ab[t] / ab[s], 1 - ab[t], 1 - ab[s])
            let sTS2 = 1 - aTS2
            // Gaussian approximations from (3.5) and (3.6) with our posterior moments of x₀.
            let post = m.posterior(xt, alpha: ab[t].squareRoot(), sigma: sT2.squareRoot())
            let a = ab[s].squareRoot() * sTS2 / sT2, b = aTS2.squareRoot() * sS2 / sT2
            let mean = a * post.mean + b * xt, k2 = sTS2 * sS2 / sT2, matched = k2 + a * a * post.variance
            #expect(Self.close(n["mean_gauss_\(i)"], mean, rel: 1e-9, abs: 1e-12))
            #expect(Self.close(n["var_ddpm_\(i)"], k2, rel: 1e-9) && Self.close(n["var_matched_\(i)"], matched, rel: 1e-8))
            // The true kernel q(x_s | x_t) ∝ N(x_t; α_{t|s}x_s, σ²_{t|s})·p_s(x_s) on our own, wider and finer grid.
            let half = 9 * matched.squareRoot(), N = 6000, h = 2 * half / Double(N)
            let grid = (0...N).map { mean - half + Double($0) * h }
            let dens = grid.map { x -> Double in
                let r = xt - aTS2.squareRoot() * x
                return exp(-0.5 * r * r / sTS2) * m.posterior(x, alpha: ab[s].squareRoot(), sigma: sS2.squareRoot()).p
            }
            let trap = { (f: [Double]) in h * (f.reduce(0, +) - 0.5 * (f[0] + f[N])) }
            let z = trap(dens)
            let p = dens.map { $0 / z }
            let mu = trap(zip(grid, p).map { $0 * $1 })
            let varTrue = trap(zip(grid, p).map { ($0 - mu) * ($0 - mu) * $1 })
            // The exact moments are those of (3.6): mean a·E[x₀|x_t] + b·x_t, variance β̃ + a²·Var[x₀|x_t].
            #expect(Self.close(mu, mean, rel: 1e-7, abs: 1e-9) && Self.close(varTrue, matched, rel: 1e-7))
            #expect(Self.close(n["mean_truth_\(i)"], mu, rel: 1e-6, abs: 1e-8) && Self.close(n["var_truth_\(i)"], varTrue, rel: 1e-6))
            func kl(_ v: Double) -> Double {
                trap(zip(grid, p).map { x, q in
                    q > 0 ? q * (log(q) + 0.5 * (x - mean) * (x - mean) / v + 0.5 * log(2 * Double.pi * v)) : 0
                })
            }
            #expect(Self.close(n["kl_ddpm_\(i)"], kl(k2), rel: 1e-4, abs: 1e-8), "panel \(i): \(n["kl_ddpm_\(i)"]!) vs \(kl(k2))")
            #expect(Self.close(n["kl_matched_\(i)"], kl(matched), rel: 1e-4, abs: 1e-8), "panel \(i)")
        }
        // What the caption says: one step is nearly Gaussian, the long jump is trimodal and far from any Gaussian.
        #expect(n["kl_ddpm_1"]! < 1e-3 && n["modes_1"] == 1 && n["modes_3"] == 3)
        #expect(n["kl_ddpm_3"]! > 1 && n["kl_matched_3"]! > 0.1 && n["kl_matched_2"]! < n["kl_ddpm_2"]!)
    }

    @Test func theTrainedModelReachesTheBayesFloor() throws {
        let n = try Self.run("ch3-train")
        // Our own Monte Carlo estimate of the optimal model's L_simple on gmm-2d: ε̂ = (x_t − α·E[x₀|x_t])/σ with the
        // posterior mean written out for the 2-D mixture (diagonal components).
        let g = GaussianMixture.example2D
        let count = 20_000
        let x0 = g.sample(count, seed: 4242).scalars.map(Double.init)
        let eps = Tensor.randomNormal([count, 2], seed: 4243).scalars.map(Double.init)
        let steps = Tensor.randomUniform([count], seed: 4244).scalars.map { Swift.min(999, Int(Double($0) * 1000)) + 1 }
        let ab = Self.alphaBars(T: 1000)
        var losses = [Double]()
        for i in 0..<count {
            let (a, s) = (ab[steps[i]].squareRoot(), (1 - ab[steps[i]]).squareRoot())
            let x = [a * x0[2 * i] + s * eps[2 * i], a * x0[2 * i + 1] + s * eps[2 * i + 1]]
            var logw = [Double](), means = [[Double]]()
            for k in 0..<g.componentCount {
                var lw = log(g.weights[k]), mk = [0.0, 0.0]
                for j in 0..<2 {
                    let v = a * a * g.stds[k][j] * g.stds[k][j] + s * s, r = x[j] - a * g.means[k][j]
                    lw -= 0.5 * (r * r / v + log(v))
                    mk[j] = g.means[k][j] + a * g.stds[k][j] * g.stds[k][j] / v * r
                }
                logw.append(lw); means.append(mk)
            }
            let top = logw.max()!
            let r = logw.map { exp($0 - top) }, total = r.reduce(0, +)
            var loss = 0.0
            for j in 0..<2 {
                let d = (0..<r.count).map { r[$0] * means[$0][j] }.reduce(0, +) / total
                let e = (x[j] - a * d) / s - eps[2 * i + j]
                loss += e * e
            }
            losses.append(loss)
        }
        let mean = losses.reduce(0, +) / Double(count)
        let se = (losses.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(count - 1) / Double(count)).squareRoot()
        let floor = try #require(n["loss_floor"]), floorSE = try #require(n["loss_floor_se"])
        #expect(Swift.abs(floor - mean) < 5 * (se * se + floorSE * floorSE).squareRoot(), "floor \(floor) vs our \(mean) ± \(se)")
        // The text's claims: the loss falls from far above the floor to within a few per cent of it; the samples of
        // the trained model and of the exact denoiser are at the noise floor of the energy distance; noise is not.
        #expect(n["loss_first"]! > 2 * floor && Swift.abs(n["loss_last"]! - floor) < 0.05 * floor, "\(n["loss_last"]!) vs \(floor)")
        #expect(n["ed_model"]! < 3 * n["ed_floor"]! && n["ed_exact"]! < 3 * n["ed_floor"]!, "\(n)")
        #expect(n["ed_prior"]! > 20 * n["ed_model"]!)
        // The floor is the expected real-vs-real value 2·E‖X − X′‖/n.
        #expect(Self.close(n["ed_floor"], Metrics.expectedEnergyDistanceFloor(n: 2000) { k, s in g.sample(k, seed: s) }, rel: 1e-12))
    }

    @Test func theChaptersListingsRun() throws {
        // §3.4.2 and exercise 3.5: Ho's update (3.18) with κ² = β̃ and Sampling.ddpm agree point by point from the same
        // x_T with the same noise (a 50-step schedule, every step taken).
        let T = 50
        let process = Chapter3.scaledLinear(steps: T)
        let ab = [1] + process.alphasCumprod
        let g = GaussianMixture.example2D
        let noise = NoiseSource(seed: 3)
        let xT = noise.prior([200, 2])
        var x = xT
        for (i, t) in (1...T).reversed().enumerated() {
            let beta = 1 - ab[t] / ab[t - 1]
            let level = NoiseLevel(alpha: ab[t].squareRoot(), sigma: (1 - ab[t]).squareRoot())
            let epsHat = g.epsilon(x, at: level)
            let mean = (x - epsHat * Float(beta / (1 - ab[t]).squareRoot())) * Float(1 / (1 - beta).squareRoot())
            x = t == 1 ? mean : mean + noise.normal(like: x, step: i) * Float(((1 - ab[t - 1]) / (1 - ab[t]) * beta).squareRoot())
        }
        let sigmas = Schedule.discrete(steps: T, process: process, spacing: .trailing)
        let y = Sampling.ddpm(g, xT * Float(1 / ab[T].squareRoot()), sigmas: sigmas, noise: noise)
        let diff = zip(x.scalars, y.scalars).map { Swift.abs($0 - $1) }.max()!
        #expect(diff < 2e-3, "Ho's sampler and Sampling.ddpm differ by \(diff)")

        // §3.4.3: the ToyTrainer listing (fewer steps here).
        var config = TrainingConfig()
        config.data = "gmm-2d"
        config.objective = "ddpm"
        config.steps = 40
        let trainer = try ToyTrainer(config)
        var seen: [Int] = []
        trainer.train(onStep: { step, _ in if step % 20 == 0 { seen.append(step) } })
        #expect(seen == [20, 40])
        let model = trainer.samplingModel()
        let sigmas10 = Schedule.discrete(steps: 10, process: DiscreteVP.linear(), spacing: .trailing)
        let noise10 = NoiseSource(seed: 0)
        let start = noise10.prior([50, 2], sigma: sigmas10[0])
        let samples = withNoGrad { Sampling.ddpm(model, start, sigmas: sigmas10, noise: noise10) }
        #expect(samples.shape == [50, 2] && samples.scalars.allSatisfy(\.isFinite))
        #expect(Swift.abs(sigmas10[0] - ((1 - Self.alphaBars(T: 1000)[1000]) / Self.alphaBars(T: 1000)[1000]).squareRoot()) < 1e-9,
                "the trailing list starts at step T")

        // Exercise 3.12 samples with SamplingOptions (the CLI's path).
        var options = SamplingOptions()
        options.sampler = "ddpm"
        options.schedule = "trailing"
        options.steps = 10
        options.count = 50
        #expect(try options.sample(model, config: config).points.shape == [50, 2])

        // Exercise 3.12: the comparison loop, shortened (one run, two levels).
        let data = GaussianMixture.example2D
        let lin = DiscreteVP.linear()
        var c2 = TrainingConfig()
        c2.data = "gmm-2d"
        c2.objective = "v"
        c2.minSNRGamma = 5
        c2.steps = 20
        let t2 = try ToyTrainer(c2)
        t2.train()
        let m2 = t2.samplingModel()
        for t in [10, 900] {
            let level = lin.level(Double(t) / Double(lin.T))
            let x0 = data.sample(400, seed: UInt64(t))
            let eps = Tensor.randomNormal(x0.shape, seed: 99)
            let xt = x0 * Float(level.alpha) + eps * Float(level.sigma)
            let errModel = (m2.denoise(xt, at: level) - x0).squaredNormPerSample().mean().item
            let errExact = (data.denoise(xt, at: level) - x0).squaredNormPerSample().mean().item
            #expect(errModel.isFinite && errExact >= 0)
        }

        // §3.2.2: the listing's posteriorCoefficients is VariationalBound's.
        let vb = VariationalBound(process: .linear())
        #expect(Swift.abs(vb.posteriorCoefficients(500).c0 - Self.posterior(Self.alphaBars(T: 1000), 500).a) < 1e-15)
    }

    // MARK: Structure of the source

    static let style = ChapterStyle(number: "3", file: "ch03-ddpm.md", experiments: Chapter3.experiments, lab: "L3", programmingNames: ["L3", "ToyTrainer"])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws { try Self.style.checkSource() }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws { try Self.style.checkPage() }
}
