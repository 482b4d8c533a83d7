import Diffusion
import DiffusionEngine
import DiffusionPlot
import Foundation

/// The experiments of chapter 5 (book/ch05-sde.md): continuous-time diffusion on Gaussian mixtures, where every
/// marginal density and score is exact — sample paths of the forward SDE, the reverse SDE and the probability-flow
/// ODE over the exact density; the Fokker–Planck equation checked term by term; exact likelihoods through the
/// PF-ODE (closed-form and Hutchinson divergence); Euler–Maruyama, predictor–corrector and friends against the
/// exact answer; and the numbers the exercises quote.
///
/// Conventions: continuous time t ∈ [0, 1]; the VP SDE of Song et al. 2021 (arXiv 2011.13456) with linear
/// β(t) = β_min + t(β_max − β_min), β_min = 0.1, β_max = 20 (`VPSDE`). The library's samplers work in α = 1
/// coordinates y = x/α at EDM level σ̃ = σ/α; a VP state is x = α·y.
public enum Chapter5 {
    public static let experiments: [BookExperiment] = [paths, fokkerPlanck, likelihood, samplers, stochasticity, numbers]

    // MARK: Processes and SDE coefficients

    /// Song et al.'s VP SDE dx = −½β(t)x dt + √β(t) dW with β(t) = β_min + t(β_max − β_min):
    /// B(t) = ∫₀ᵗβ = β_min·t + ½(β_max − β_min)t², α = e^{−B/2}, σ² = 1 − e^{−B}.
    public struct VPSDE: NoiseProcess {
        public let betaMin: Double, betaMax: Double
        public init(betaMin: Double = 0.1, betaMax: Double = 20) {
            precondition(0 < betaMin && betaMin < betaMax, "the VP SDE needs 0 < β_min < β_max")
            (self.betaMin, self.betaMax) = (betaMin, betaMax)
        }
        public var name: String { "vp-sde" }
        public func beta(_ t: Double) -> Double { betaMin + t * (betaMax - betaMin) }
        /// B(t) = ∫₀ᵗ β(s) ds.
        public func integral(_ t: Double) -> Double { betaMin * t + 0.5 * (betaMax - betaMin) * t * t }
        public func alpha(_ t: Double) -> Double { exp(-0.5 * integral(t)) }
        public func sigma(_ t: Double) -> Double { (-expm1(-integral(t))).squareRoot() }
        public func logSNR(_ t: Double) -> Double { let b = integral(t); return -b - log(-expm1(-b)) }
        /// e^{−B} = sigmoid(λ), so B = log(1 + e^{−λ}); then the quadratic B(t) = B.
        public func t(logSNR λ: Double) -> Double {
            let b = λ > 0 ? log1p(exp(-λ)) : -λ + log1p(exp(λ))
            let a = 0.5 * (betaMax - betaMin)
            return Swift.min(1, Swift.max(0, (-betaMin + (betaMin * betaMin + 4 * a * b).squareRoot()) / (2 * a)))
        }
        public func rates(_ t: Double) -> NoiseRates {
            let b = integral(t)
            return NoiseRates(dAlpha: -0.5 * beta(t) * alpha(t), dSigma: 0.5 * beta(t) * exp(-b) / sigma(t))
        }
    }

    /// The sub-VP SDE of Song et al. 2021: dx = −½β x dt + √(β(1 − e^{−2B})) dW; same mean α = e^{−B/2} as the VP
    /// SDE, variance σ² = (1 − e^{−B})².
    public struct SubVPSDE: NoiseProcess {
        public let vp: VPSDE
        public init(betaMin: Double = 0.1, betaMax: Double = 20) { vp = VPSDE(betaMin: betaMin, betaMax: betaMax) }
        public var name: String { "subvp-sde" }
        public func alpha(_ t: Double) -> Double { vp.alpha(t) }
        public func sigma(_ t: Double) -> Double { -expm1(-vp.integral(t)) }
        public func logSNR(_ t: Double) -> Double { let b = vp.integral(t); return -b - 2 * log(-expm1(-b)) }
        public func rates(_ t: Double) -> NoiseRates {
            NoiseRates(dAlpha: -0.5 * vp.beta(t) * alpha(t), dSigma: vp.beta(t) * exp(-vp.integral(t)))
        }
    }

    /// The linear SDE dx = f(t)·x dt + g(t) dW whose marginals are those of a process x_t = α_t x₀ + σ_t ε:
    /// f = α̇/α and g² = dσ²/dt − 2fσ² (= −σ²·dλ/dt), from the process's `rates`.
    public static func sdeCoefficients(_ p: some NoiseProcess, at t: Double) -> (f: Double, g2: Double) {
        let (a, s, r) = (p.alpha(t), p.sigma(t), p.rates(t))
        let f = r.dAlpha / a
        return (f, 2 * s * r.dSigma - 2 * f * s * s)
    }

    /// N + 1 EDM levels σ̃(t) = σ_t/α_t of the VP SDE at uniform times 1 = t_0 > … > t_N = tMin (no final 0).
    public static func uniformTimeLevels(_ N: Int, tMin: Double = 1e-3, process: VPSDE = VPSDE()) -> [Double] {
        (0...N).map { process.edmSigma(1 - Double($0) / Double(N) * (1 - tMin)) }
    }

    // MARK: Small helpers

    static func moments(_ xs: [Float]) -> (mean: Double, std: Double) {
        let v = xs.map(Double.init)
        let mean = v.reduce(0, +) / Double(v.count)
        let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)
        return (mean, variance.squareRoot())
    }

    /// Mean and standard deviation of a 1-D mixture.
    static func mixtureMoments(_ m: GaussianMixture) -> (mean: Double, std: Double) {
        let mean = zip(m.weights, m.means).reduce(0) { $0 + $1.0 * $1.1[0] }
        return (mean, m.totalVariance.squareRoot())
    }

    /// A step line through a histogram of `xs` on [lo, hi] with `bins` bins, normalised to a density.
    static func histogramLine(_ xs: [Double], lo: Double, hi: Double, bins: Int) -> [Point] {
        var counts = [Double](repeating: 0, count: bins)
        let w = (hi - lo) / Double(bins)
        for x in xs { let i = Int(((x - lo) / w).rounded(.down)); if (0..<bins).contains(i) { counts[i] += 1 } }
        var pts: [Point] = []
        for (i, c) in counts.enumerated() {
            let y = c / (Double(xs.count) * w)
            pts.append(Point(lo + Double(i) * w, y))
            pts.append(Point(lo + Double(i + 1) * w, y))
        }
        return pts
    }

    /// A 1-D energy distance of two Float samples.
    static func energy1D(_ a: [Float], _ b: [Float]) -> Double {
        Metrics.energyDistance(Tensor(a, shape: [a.count, 1]), Tensor(b, shape: [b.count, 1]))
    }

    /// Least-squares slope of log y against log x.
    public static func logLogSlope(_ xs: [Double], _ ys: [Double]) -> Double { Chapter8.logLogSlope(xs, ys) }

    // MARK: Figure — paths of the forward SDE, the reverse SDE and the PF-ODE over the exact density

    static let paths = BookExperiment(
        name: "ch5-paths",
        summary: "GaussianMixture.example1D under the VP SDE: forward paths (exact, as time-changed Brownian motion), reverse-SDE paths (Sampling.eulerMaruyama one step at a time) and PF-ODE paths from the same starting noise, over the exact density p_t(x); histograms of the endpoints against p_0.",
        defaults: ["seed": "0", "paths": "12", "n": "1000", "steps": "200", "t_min": "0.001"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let shown = try p.int("paths", in: 1...100)
        let n = try p.int("n", in: shown...20_000)
        let N = try p.int("steps", in: 10...4000)
        let tMin = try p.double("t_min")
        guard tMin > 0 && tMin < 0.5 else { throw ExperimentError("t_min must lie in (0, 0.5)") }
        let m = GaussianMixture.example1D, vp = VPSDE()
        var numbers: [String: Double] = ["n": Double(n), "steps": Double(N), "t_min": tMin, "paths": Double(shown)]

        // Background: the exact density p_t(x) in VP coordinates on a (t, x) grid.
        let (cols, rows, lo, hi) = (120, 110, -3.5, 3.5)
        let xs = (0..<rows).map { lo + (Double($0) + 0.5) * (hi - lo) / Double(rows) }
        let grid = Tensor(xs.map(Float.init), shape: [rows, 1])
        var heat = [[Double]](repeating: [Double](repeating: 0, count: cols), count: rows)
        for c in 0..<cols {
            let t = (Double(c) + 0.5) / Double(cols)
            let dens = m.logDensity(grid, at: vp.level(t)).map { exp($0) }
            for r in 0..<rows { heat[r][c] = dens[r] }
        }
        func panel(_ title: String) -> Plot {
            var pl = Plot(width: 300, height: 270, title: title, x: Axis("时间 t", range: 0...1), y: Axis("x", range: lo...hi))
            pl.heatmap(heat, xRange: 0...1, yRange: lo...hi, gamma: 0.6)
            pl.showLegend = false
            return pl
        }

        // Forward: in α = 1 coordinates the VP SDE is Brownian motion run on the clock σ̃², so
        // y(t_{k+1}) = y(t_k) + √(σ̃²_{k+1} − σ̃²_k)·z is exact at the grid times; x = α·y.
        let fwdTimes = (0...N).map { Double($0) / Double(N) }
        let (x0, _) = m.sampleWithComponents(n, seed: seed)
        var y = x0
        var fwd = [[Point]](repeating: [], count: shown)
        func record(_ into: inout [[Point]], _ y: Tensor, _ t: Double, scale: Double) {
            let v = y.scalars
            for j in 0..<shown { into[j].append(Point(t, scale * Double(v[j]))) }
        }
        record(&fwd, y, 0, scale: 1)
        let noise = NoiseSource(seed: seed + 1)
        for k in 0..<N {
            let (a, b) = (vp.edmSigma(fwdTimes[k]), vp.edmSigma(fwdTimes[k + 1]))
            y = y + noise.normal(like: y, step: k) * Float((b * b - a * a).squareRoot())
            record(&fwd, y, fwdTimes[k + 1], scale: vp.alpha(fwdTimes[k + 1]))
        }
        let xEnd = (y * Float(vp.alpha(1))).scalars
        let fe = moments(xEnd)
        numbers["forward_end_mean"] = fe.mean
        numbers["forward_end_std"] = fe.std
        // Exact: x_1 = α(1)x₀ + σ(1)ε has variance α²·Var x₀ + σ².
        let data = mixtureMoments(m)
        numbers["forward_end_std_exact"] = (vp.alpha(1) * vp.alpha(1) * data.std * data.std + vp.sigma(1) * vp.sigma(1)).squareRoot()

        // Reverse: start at x_1 ~ N(0, 1) (y = x/α(1)); uniform VP times down to t_min, then the denoiser.
        let times = (0...N).map { 1 - Double($0) / Double(N) * (1 - tMin) }
        let levels = times.map { vp.edmSigma($0) } + [0]
        let start = NoiseSource(seed: seed + 2).prior([n, 1]) * Float(1 / vp.alpha(1))
        var sde = start, ode = start.slice(axis: 0, 0, shown)
        var revPaths = [[Point]](repeating: [], count: shown), odePaths = revPaths
        record(&revPaths, sde, 1, scale: vp.alpha(1))
        record(&odePaths, ode, 1, scale: vp.alpha(1))
        for i in 0..<(levels.count - 1) {
            // One Euler–Maruyama step of the library's sampler; a fresh noise seed per step keeps the draws independent.
            sde = Sampling.eulerMaruyama(m, sde, sigmas: [levels[i], levels[i + 1]], noise: NoiseSource(seed: (seed + 3) << 20 + UInt64(i)))
            let t = i + 1 < times.count ? times[i + 1] : 0
            record(&revPaths, sde, t, scale: levels[i + 1] == 0 ? 1 : vp.alpha(t))
            // The PF-ODE between the same levels by classical Runge–Kutta; the last step is the denoiser.
            ode = levels[i + 1] == 0 ? m.denoise(ode, sigma: levels[i]) : m.probabilityFlow(ode, from: levels[i], to: levels[i + 1], steps: 2)
            record(&odePaths, ode, t, scale: levels[i + 1] == 0 ? 1 : vp.alpha(t))
        }
        // ODE endpoints of all n samples (one converged solve to t_min, then the denoiser).
        let odeAll = m.denoise(m.probabilityFlow(start, from: levels[0], to: levels[N], steps: 120), sigma: levels[N])
        let fresh = m.sample(n, seed: seed + 4).scalars
        let (sm, om) = (moments(sde.scalars), moments(odeAll.scalars))
        numbers["data_mean"] = data.mean
        numbers["data_std"] = data.std
        numbers["sde_mean"] = sm.mean
        numbers["sde_std"] = sm.std
        numbers["ode_mean"] = om.mean
        numbers["ode_std"] = om.std
        numbers["ed_sde"] = energy1D(sde.scalars, fresh)
        numbers["ed_ode"] = energy1D(odeAll.scalars, fresh)
        numbers["ed_floor"] = SampleMetric.energy.expectedFloor(n: n, points: 2000) { k, s in m.sample(k, seed: s) }!
        // The drawn ODE paths agree with the converged solve (2 RK4 steps per interval are plenty).
        let odeCheck = m.denoise(m.probabilityFlow(start.slice(axis: 0, 0, shown), from: levels[0], to: levels[N], steps: 600), sigma: levels[N])
        numbers["ode_paths_check"] = Chapter8.rms(ode, odeCheck)

        var a = panel("前向 SDE：数据 → 噪声")
        a.trajectories(fwd, colour: 1, endpoints: false)
        var b = panel("逆时 SDE：噪声 → 数据")
        b.trajectories(revPaths, colour: 3, endpoints: false)
        var c = panel("概率流 ODE：噪声 → 数据")
        c.trajectories(odePaths, colour: 2, endpoints: false)
        var d = Plot(width: 300, height: 270, title: "终点的直方图与 p₀", x: Axis("x", range: lo...hi), y: Axis("密度", range: 0...1.05))
        let dens = m.logDensity(grid, at: NoiseLevel(alpha: 1, sigma: 0)).map { exp($0) }
        d.line(x: xs, y: dens, colour: 7, width: 2.4, label: "精确密度 p₀")
        d.line(histogramLine(sde.scalars.map(Double.init), lo: lo, hi: hi, bins: 56), colour: 3, width: 1.3, label: "逆时 SDE")
        d.line(histogramLine(odeAll.scalars.map(Double.init), lo: lo, hi: hi, bins: 56), colour: 2, style: .dashed, width: 1.3, label: "概率流 ODE")
        return ExperimentResult(svg: Figure([a, b, c, d], columns: 2).svg(title: "VP SDE 下的一维三峰混合：背景是精确密度 p_t(x)"), numbers: numbers)
    }

    // MARK: Figure — the Fokker–Planck equation, term by term

    static let fokkerPlanck = BookExperiment(
        name: "ch5-fokker-planck",
        summary: "For GaussianMixture.example1D under the VP SDE: ∂p/∂t (central difference in t) against the drift term −∂ₓ(f x p) and the diffusion term ½g²∂ₓ²p of the Fokker–Planck equation at three times, with the relative residual; and the reverse-time drifts of the reverse SDE and the PF-ODE.",
        defaults: ["times": "0.05,0.2,0.5", "dt": "1e-4", "dx": "1e-3", "drift_time": "0.2"]
    ) { p in
        let times = p.string("times").split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !times.isEmpty, times.allSatisfy({ $0 > 0.001 && $0 < 0.999 }) else { throw ExperimentError("times must be comma-separated numbers in (0.001, 0.999)") }
        let (h, δ, tDrift) = (try p.double("dt"), try p.double("dx"), try p.double("drift_time"))
        guard h > 0 && h < 1e-2 && δ > 0 && δ < 0.1 && tDrift > 0 && tDrift < 1 else { throw ExperimentError("need 0 < dt < 0.01, 0 < dx < 0.1, 0 < drift_time < 1") }
        let m = GaussianMixture.example1D, vp = VPSDE()
        let xs = (0...300).map { -3 + Double($0) * 0.02 }
        func post(_ x: Double, _ t: Double) -> MixturePosterior { m.posteriorDetails([x], at: vp.level(t)) }
        var numbers: [String: Double] = ["dt": h, "dx": δ]
        var panels: [Plot] = []
        for (k, t) in times.enumerated() {
            let (f, g2) = sdeCoefficients(vp, at: t)
            var dpdt: [Double] = [], drift: [Double] = [], diffusion: [Double] = []
            for x in xs {
                let pc = post(x, t)
                let pval = exp(pc.logDensity)
                dpdt.append((exp(post(x, t + h).logDensity) - exp(post(x, t - h).logDensity)) / (2 * h))
                // ∂ₓp = p·s exactly; ∂ₓ²p = p(s² + ∂ₓs) with ∂ₓs by a central difference of the exact score.
                let s = pc.score[0]
                let ds = (post(x + δ, t).score[0] - post(x - δ, t).score[0]) / (2 * δ)
                drift.append(-f * (pval + x * pval * s))
                diffusion.append(0.5 * g2 * pval * (s * s + ds))
            }
            let sum = zip(drift, diffusion).map { $0 + $1 }
            let scale = dpdt.map { Swift.abs($0) }.max()!
            let residual = zip(dpdt, sum).map { Swift.abs($0 - $1) }.max()!
            numbers["residual_\(k)"] = residual / scale
            numbers["time_\(k)"] = t
            numbers["scale_\(k)"] = scale
            numbers["f_\(k)"] = f
            numbers["g2_\(k)"] = g2
            // The last panel gets head room for the legend.
            let top = dpdt.max()!, bottom = dpdt.min()!
            let yr: ClosedRange<Double>? = k == times.count - 1 ? Swift.min(bottom, diffusion.min()!, drift.min()!) * 1.1...Swift.max(top, diffusion.max()!, drift.max()!) * 2.6 : nil
            var pl = Plot(width: 300, height: 270, title: String(format: "t = %g", t), x: Axis("x", range: -3...3), y: Axis(range: yr))
            pl.line(x: xs, y: drift, colour: 1, style: .dashed, width: 1.5, label: "漂移项 −∂ₓ(f x p)")
            pl.line(x: xs, y: diffusion, colour: 2, style: .dotted, width: 1.8, label: "扩散项 ½g²∂ₓ²p")
            pl.line(x: xs, y: dpdt, colour: 0, width: 2.2, label: "∂p/∂t（时间差分）")
            pl.scatter(stride(from: 0, to: xs.count, by: 8).map { Point(xs[$0], sum[$0]) }, colour: 7, radius: 1.9, opacity: 1, label: "两项之和")
            pl.showLegend = k == times.count - 1
            panels.append(pl)
        }
        numbers["residual_max"] = (0..<times.count).map { numbers["residual_\($0)"]! }.max()!

        // Reverse-time velocities at one time: moving from t to t − dt, the reverse SDE drifts by −f x + g²∇log p
        // and the PF-ODE by −f x + ½g²∇log p (per unit of reverse time).
        let (f, g2) = sdeCoefficients(vp, at: tDrift)
        let xd = (0...240).map { -3 + Double($0) * 0.025 }
        let score = xd.map { post($0, tDrift).score[0] }
        var dr = Plot(width: 300, height: 270, title: String(format: "逆时漂移，t = %g", tDrift), x: Axis("x", range: -3...3), y: Axis())
        dr.line(x: xd, y: xd.map { -f * $0 }, colour: 7, style: .dotted, width: 1.6, label: "−f x")
        dr.line(x: xd, y: zip(xd, score).map { -f * $0 + g2 * $1 }, colour: 0, width: 1.8, label: "逆时 SDE")
        dr.line(x: xd, y: zip(xd, score).map { -f * $0 + 0.5 * g2 * $1 }, colour: 2, style: .dashed, width: 1.8, label: "概率流 ODE")
        for (k, mu) in m.means.enumerated() { numbers["mode_\(k)"] = vp.alpha(tDrift) * mu[0] }
        dr.scatter(m.means.map { Point(vp.alpha(tDrift) * $0[0], 0) }, colour: 7, radius: 3.2, opacity: 1, label: "分量中心 α_t μ_k")
        numbers["drift_time"] = tDrift
        numbers["drift_f"] = f
        numbers["drift_g2"] = g2
        panels.append(dr)
        return ExperimentResult(svg: Figure(panels, columns: 2).svg(title: "Fokker–Planck 方程逐项检验（VP SDE，一维三峰混合）"), numbers: numbers)
    }

    // MARK: Likelihood through the probability flow

    /// The exact mixture denoiser written with differentiable engine ops (Float32), so autograd and Hutchinson's
    /// estimator can differentiate it; values agree with `GaussianMixture.denoise` up to Float32 rounding.
    public struct DifferentiableMixture: Denoiser {
        public let mixture: GaussianMixture
        let logWeights: Tensor, means: Tensor, variances: Tensor   // [1, K], [1, K, d], [1, K, d]

        public init(_ m: GaussianMixture) {
            mixture = m
            let (K, d) = (m.componentCount, m.dimension)
            logWeights = Tensor(m.weights.map { Float(log($0)) }, shape: [1, K])
            means = Tensor(m.means.flatMap { $0.map(Float.init) }, shape: [1, K, d])
            variances = Tensor(m.stds.flatMap { $0.map { Float($0 * $0) } }, shape: [1, K, d])
        }

        public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
            let (n, K, d) = (x.shape[0], mixture.componentCount, mixture.dimension)
            let (a, s) = (Float(level.alpha), Float(level.sigma))
            let v = variances * (a * a) + s * s                                  // α²s_k² + σ²
            let r = x.reshaped([n, 1, d]) - means * a                            // x − α μ_k
            let logits = logWeights - ((r * r) / v + v.log() + Float(log(2 * Double.pi))).sum(axis: 2) * 0.5
            let resp = logits.softmax(axis: 1).reshaped([n, K, 1])               // r_k(x)
            let wiener = means + (variances * a / v) * r                         // E[x₀ | x, k]
            return (resp * wiener).sum(axis: 1)
        }
    }

    static let likelihood = BookExperiment(
        name: "ch5-likelihood",
        summary: "Likelihood.negativeLogLikelihood (PF-ODE, instantaneous change of variables) on GaussianMixture.example2D against the exact −log p: closed-form divergence at several step counts, autograd and Hutchinson divergence (1 and 4 probes, several seeds) on the differentiable mixture, and the prior's effect.",
        defaults: ["seed": "0", "n": "100", "steps": "2,4,8,16,32,64", "main_steps": "64", "repeats": "6", "probes": "1,4"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let n = try p.int("n", in: 2...2000)
        let steps = try p.ints("steps")
        let mainSteps = try p.int("main_steps", in: 1...2000)
        let R = try p.int("repeats", in: 2...50)
        let probes = try p.ints("probes")
        guard steps.allSatisfy({ (1...2000).contains($0) }), probes.allSatisfy({ (1...64).contains($0) }) else { throw ExperimentError("steps in 1…2000, probes in 1…64") }
        let m = GaussianMixture.example2D, dm = DifferentiableMixture(m)
        let x0 = m.sample(n, seed: seed)
        let σmin = 1e-3
        let exact = m.logDensity(x0, at: NoiseLevel(alpha: 1, sigma: σmin)).map { -$0 }
        // The moment-matched prior N(m, (σ_max² + v)I) with the data's exact mean and per-dimension variance.
        let mean = (0..<2).map { j in zip(m.weights, m.means).reduce(0) { $0 + $1.0 * $1.1[j] } }
        let v = m.totalVariance / 2
        func nll(_ model: some Denoiser, _ steps: Int, _ div: Likelihood.Divergence, matched: Bool = true) -> [Double] {
            Likelihood.negativeLogLikelihood(model, x0, sigmaMin: σmin, steps: steps, divergence: div,
                                             dataMean: matched ? mean : nil, dataVariance: matched ? v : 0)
        }
        func meanAbs(_ a: [Double]) -> Double { zip(a, exact).map { Swift.abs($0 - $1) }.reduce(0, +) / Double(n) }
        var numbers: [String: Double] = ["n": Double(n), "main_steps": Double(mainSteps), "repeats": Double(R), "sigma_min": σmin, "sigma_max": 80]
        numbers["exact_mean_nll"] = exact.reduce(0, +) / Double(n)
        numbers["entropy"] = m.entropy
        numbers["data_mean_norm"] = (mean[0] * mean[0] + mean[1] * mean[1]).squareRoot()

        // Error against the number of Runge–Kutta steps (closed-form divergence).
        var errs: [Double] = []
        var main: [Double] = []
        for s in steps {
            let r = nll(m, s, .automatic)
            errs.append(meanAbs(r))
            numbers["err_steps_\(s)"] = errs.last!
            if s == mainSteps { main = r }
        }
        if main.isEmpty { main = nll(m, mainSteps, .automatic) }
        numbers["err_main"] = meanAbs(main)
        numbers["maxerr_main"] = zip(main, exact).map { Swift.abs($0 - $1) }.max()!
        numbers["mean_nll_main"] = main.reduce(0, +) / Double(n)
        numbers["bpd_main"] = Likelihood.bitsPerDimension(numbers["mean_nll_main"]!, dimension: 2)
        let fit = Array(zip(steps, errs).suffix(3))
        numbers["slope_steps"] = -logLogSlope(fit.map { Double($0.0) }, fit.map { $0.1 })
        // The unmatched prior N(0, σ_max² I).
        numbers["err_unmatched"] = meanAbs(nll(m, mainSteps, .automatic, matched: false))

        // Autograd (d = 2 reverse passes) on the differentiable mixture equals the closed form.
        let auto = nll(dm, mainSteps, .exact)
        numbers["autograd_vs_closed"] = zip(auto, main).map { Swift.abs($0 - $1) }.max()!

        // Hutchinson: per point, the spread of the estimate over R probe seeds.
        var scatter: [Point] = []
        for P in probes {
            var runs: [[Double]] = []
            for r in 0..<R { runs.append(nll(dm, mainSteps, .hutchinson(probes: P, seed: 1000 + UInt64(r)))) }
            var sd = 0.0, bias = 0.0
            for i in 0..<n {
                let col = runs.map { $0[i] }
                let mu = col.reduce(0, +) / Double(R)
                sd += (col.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(R - 1)).squareRoot()
                bias += mu - main[i]
            }
            numbers["hutch_sd_\(P)"] = sd / Double(n)
            numbers["hutch_bias_\(P)"] = bias / Double(n)
            numbers["hutch_bias_se_\(P)"] = sd / Double(n) / Double(n * R).squareRoot()
            if P == probes[0] { scatter = (0..<n).map { Point(exact[$0], runs[0][$0]) } }
        }

        let lo = (exact.min()! - 0.5).rounded(.down), hi = (exact.max()! + 0.5).rounded(.up)
        var a = Plot(width: 340, height: 320, title: "PF-ODE 给出的 −log p 与精确值", x: Axis("精确的 −log p(x₀)", range: lo...hi), y: Axis("PF-ODE 估计", range: lo...hi))
        a.line(x: [lo, hi], y: [lo, hi], colour: 7, style: .dotted, width: 1.2, label: "y = x")
        a.scatter(scatter, colour: 1, radius: 2.2, opacity: 0.8, label: "Hutchinson，\(probes[0]) 个探针")
        a.scatter((0..<n).map { Point(exact[$0], main[$0]) }, colour: 0, radius: 2.2, opacity: 1, label: "闭式散度")
        var b = Plot(width: 340, height: 320, title: "误差与 Runge–Kutta 步数", x: Axis("步数", scale: .log), y: Axis("平均绝对误差（nat）", scale: .log, range: 1e-5...1e3))
        b.line(x: steps.map(Double.init), y: errs, colour: 0, label: String(format: "闭式散度，斜率 %.2f", -numbers["slope_steps"]!))
        b.scatter(zip(steps, errs).map { Point(Double($0), $1) }, colour: 0, radius: 2.4, opacity: 1)
        for (c, P) in probes.enumerated() {
            let sd = numbers["hutch_sd_\(P)"]!
            b.line(x: [Double(steps.min()!), Double(steps.max()!)], y: [sd, sd], colour: 1 + c, style: c == 0 ? .dashed : .dotted, width: 1.4, label: "Hutchinson \(P) 个探针的标准差")
        }
        return ExperimentResult(svg: Figure([a, b], columns: 2).svg(title: "用概率流 ODE 计算精确似然（二维七团混合）"), numbers: numbers)
    }

    // MARK: Samplers — exact weak error on a Gaussian, sample quality on a mixture

    /// Var of the output of a sampler on 1-D data N(0, s²) started from the exact N(0, s² + σ₀²), by propagating the
    /// variance through its linear steps (D = c·x with c = s²/(s² + σ²)). No final 0 in `sigmas`.
    public static func gaussianVariance(_ sampler: String, s: Double, sigmas: [Double], snr: Double = 0.16) -> Double {
        var v = s * s + sigmas[0] * sigmas[0]
        for i in 0..<(sigmas.count - 1) {
            let (σ, σn) = (sigmas[i], sigmas[i + 1])
            let τ = s * s + σ * σ                     // the exact variance at level σ
            switch sampler {
            case "euler-maruyama":
                let a = 1 - (σ * σ - σn * σn) / τ
                v = a * a * v + (σ * σ - σn * σn)
            case "pc":
                let ε = 2 * (snr * σ) * (snr * σ)
                let b = 1 - ε / τ
                v = b * b * v + 2 * ε
                let a = 1 - (σ * σ - σn * σn) / τ
                v = a * a * v + (σ * σ - σn * σn)
            case "ddpm":
                let r = σn * σn / (σ * σ), c = s * s / τ
                let a = r + (1 - r) * c
                v = a * a * v + σn * σn * (1 - r)
            case "euler":
                let a = 1 + (σn - σ) / σ * (1 - s * s / τ)
                v = a * a * v
            default: preconditionFailure("no variance recursion for \(sampler)")
            }
        }
        return v
    }

    static let samplerCases: [(name: String, label: String, calls: Int)] = [
        ("euler-maruyama", "Euler–Maruyama", 1), ("pc", "预测–校正（M = 1）", 2), ("ddpm", "DDPM 祖先采样", 1), ("euler", "概率流 ODE（Euler）", 1),
    ]

    static let samplers = BookExperiment(
        name: "ch5-samplers",
        summary: "Left: exact weak error |Var − (s² + σ_N²)| of Euler–Maruyama, predictor–corrector, DDPM ancestral and Euler on the PF-ODE for 1-D N(0, s²) against steps (variance recursion, checked by Monte Carlo with the library's samplers). Right: energy distance to fresh data against model calls on GaussianMixture.example2D, uniform VP-time levels.",
        defaults: ["seed": "0", "s": "0.5", "steps": "4,8,16,32,64,128,256,512,1024", "mc_steps": "16", "mc_n": "20000",
                   "n": "1000", "nfe": "8,16,32,64", "repeats": "4"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let s = try p.double("s")
        let steps = try p.ints("steps")
        let mcSteps = try p.int("mc_steps", in: 2...1000)
        let mcN = try p.int("mc_n", in: 100...200_000)
        let n = try p.int("n", in: 10...5000)
        let budgets = try p.ints("nfe")
        let R = try p.int("repeats", in: 1...20)
        guard s > 0, steps.allSatisfy({ (1...100_000).contains($0) }), budgets.allSatisfy({ (4...2000).contains($0) }) else {
            throw ExperimentError("need s > 0, steps in 1…100000, nfe in 4…2000")
        }
        var numbers: [String: Double] = ["s": s, "mc_steps": Double(mcSteps), "mc_n": Double(mcN), "n": Double(n), "repeats": Double(R)]

        // Left: weak error of the variance at the last positive level.
        var left = Plot(width: 340, height: 330, title: "一维高斯：方差的弱误差", x: Axis("步数 N", scale: .log), y: Axis("|方差 − 精确方差|", scale: .log, range: 1e-4...1e3))
        let styles: [LineStyle] = [.solid, .dashed, .solid, .dotted]
        for (c, sc) in samplerCases.enumerated() {
            var errs: [Double] = []
            for N in steps {
                let levels = uniformTimeLevels(N)
                let target = s * s + levels[N] * levels[N]
                errs.append(Swift.abs(gaussianVariance(sc.name, s: s, sigmas: levels) - target))
                numbers["weak_\(Chapter8.key(sc.name))_\(N)"] = errs.last!
            }
            let tail = Array(zip(steps, errs).suffix(4))
            let slope = -logLogSlope(tail.map { Double($0.0) }, tail.map { $0.1 })
            numbers["weak_slope_\(Chapter8.key(sc.name))"] = slope
            left.line(x: steps.map(Double.init), y: errs, colour: c, style: styles[c], label: String(format: "%@，斜率 %.2f", sc.label, slope))
        }
        // Monte Carlo check of the recursion with the library's samplers (N = mc_steps, no final 0).
        let gauss = GaussianMixture(weights: [1], means: [[0]], std: [s])
        let levels = uniformTimeLevels(mcSteps)
        let x = NoiseSource(seed: UInt64(seed) + 7).prior([mcN, 1]) * Float((s * s + levels[0] * levels[0]).squareRoot())
        for sc in samplerCases {
            let out = Sampler.named(sc.name)!(gauss, x, sigmas: levels, noise: NoiseSource(seed: UInt64(seed) + 8))
            let sd = moments(out.scalars).std
            numbers["mc_var_\(Chapter8.key(sc.name))"] = sd * sd
            numbers["rec_var_\(Chapter8.key(sc.name))"] = gaussianVariance(sc.name, s: s, sigmas: levels)
        }
        numbers["mc_target"] = s * s + levels[mcSteps] * levels[mcSteps]

        // Right: energy distance on the 2-D mixture against model calls.
        let m = GaussianMixture.example2D
        let floor = SampleMetric.energy.expectedFloor(n: n, points: 2000) { k, s in m.sample(k, seed: s) }!
        numbers["ed_floor"] = floor
        var right = Plot(width: 380, height: 330, title: "二维混合：能量距离与模型调用次数", x: Axis("模型调用次数 NFE", scale: .log), y: Axis("能量距离", scale: .log, range: 1e-3...10))
        for (c, sc) in samplerCases.enumerated() {
            var pts: [Point] = []
            for b in budgets {
                let N = Swift.max(1, b / sc.calls)
                let sigmas = Schedule.uniformTime(steps: N, process: VPSDE())
                var total = 0.0, calls = 0
                for r in 0..<R {
                    let counter = CountingDenoiser(m)
                    let start = NoiseSource(seed: UInt64(seed + r)).prior([n, 2], sigma: sigmas[0])
                    let out = Sampler.named(sc.name)!(counter, start, sigmas: sigmas, noise: NoiseSource(seed: UInt64(seed + 100 + r)))
                    total += Metrics.energyDistance(out, m.sample(n, seed: UInt64(seed + 1000 + r)))
                    calls = counter.calls
                }
                numbers["ed_\(Chapter8.key(sc.name))_\(b)"] = total / Double(R)
                numbers["calls_\(Chapter8.key(sc.name))_\(b)"] = Double(calls)
                pts.append(Point(Double(calls), total / Double(R)))
            }
            right.line(pts, colour: c, style: styles[c], label: sc.label)
            right.scatter(pts, colour: c, radius: 2.4, opacity: 1)
        }
        let xr = [Double(budgets.min()!) * 0.9, Double(budgets.max()!) * 1.1]
        right.line(x: xr, y: [floor, floor], colour: 7, style: .dotted, width: 1.4, label: "两批真实样本（期望值）")
        return ExperimentResult(svg: Figure([left, right], columns: 2).svg(title: "SDE 与 ODE 采样器：精确的弱误差与样本质量"), numbers: numbers)
    }

    // MARK: Figure — how much stochasticity: the η-family under a model error

    /// Euler–Maruyama on the η-family of reverse-time dynamics in α = 1 coordinates on the clock τ = σ²:
    /// dy = −½(1 + η²)∇log p dτ + η dW̄, i.e. y' = y + ½(1 + η²)(σ² − σ'²)ŝ + η√(σ² − σ'²)·z with ŝ = (D − y)/σ².
    /// η = 1 is `Sampling.eulerMaruyama`; η = 0 is Euler on the PF-ODE in σ². A step to σ' = 0 returns D.
    public static func etaSampler(_ model: some Denoiser, _ x: Tensor, sigmas: [Double], eta η: Double, noise: NoiseSource) -> Tensor {
        precondition(η >= 0, "η must be non-negative")
        var x = x
        for i in 0..<(sigmas.count - 1) {
            let (σ, σn) = (sigmas[i], sigmas[i + 1])
            let denoised = model.denoise(x, sigma: σ)
            if σn == 0 { x = denoised; continue }
            let dv = σ * σ - σn * σn
            x = x + (denoised - x) * Float(0.5 * (1 + η * η) * dv / (σ * σ))
            if η > 0 { x = x + noise.normal(like: x, step: i) * Float(η * dv.squareRoot()) }
        }
        return x
    }

    /// The exact mixture denoiser with a model error: inside the window lo ≤ σ ≤ hi its noise prediction
    /// ε̂ = (x − D)/σ is off by −`bias` (a constant vector), i.e. D is moved by σ·bias.
    public static func perturbed(_ m: GaussianMixture, bias: [Double], window: ClosedRange<Double>) -> ClosureDenoiser {
        let v = Tensor(bias.map(Float.init), shape: [1, bias.count])
        return ClosureDenoiser { x, level in
            let D = m.denoise(x, at: level)
            let σ = level.edmSigma
            return window.contains(σ) ? D + v * Float(σ) : D
        }
    }

    static let stochasticity = BookExperiment(
        name: "ch5-stochasticity",
        summary: "The η-family of reverse dynamics (η = 0: PF-ODE, η = 1: reverse SDE) on GaussianMixture.example2D with a denoiser whose noise prediction is biased inside an early, a middle or a late window of noise levels: RMS distance between coupled samples (same start, same noise) of the perturbed and the exact model — an upper bound on W₂ — and energy distances, against η.",
        defaults: ["seed": "0", "n": "1000", "steps": "100", "etas": "0,0.25,0.5,0.75,1", "repeats": "2", "bias": "0.2",
                   "early": "2,10", "middle": "0.3,1.5", "late": "0.02,0.1"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 10...5000)
        let N = try p.int("steps", in: 2...5000)
        let R = try p.int("repeats", in: 1...20)
        let bias = try p.double("bias")
        let etas = p.string("etas").split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        func window(_ name: String) throws -> ClosedRange<Double> {
            let v = p.string(name).split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == 2, 0 < v[0], v[0] < v[1] else { throw ExperimentError("\(name) must be two levels lo,hi with 0 < lo < hi") }
            return v[0]...v[1]
        }
        guard !etas.isEmpty, etas.allSatisfy({ (0...2).contains($0) }) else { throw ExperimentError("etas must be comma-separated numbers in [0, 2]") }
        let windows = [("early", try window("early")), ("middle", try window("middle")), ("late", try window("late"))]
        let m = GaussianMixture.example2D
        let sigmas = Schedule.karras(steps: N)
        let data = (0..<R).map { m.sample(n, seed: UInt64(seed + 1000 + $0)) }
        var numbers: [String: Double] = ["n": Double(n), "steps": Double(N), "repeats": Double(R), "bias": bias]
        numbers["ed_floor"] = SampleMetric.energy.expectedFloor(n: n, points: 2000) { k, s in m.sample(k, seed: s) }!
        for (key, w) in windows { numbers["\(key)_lo"] = w.lowerBound; numbers["\(key)_hi"] = w.upperBound }
        var rmsPts = [[Point]](repeating: [], count: windows.count)
        var edPts = [[Point]](repeating: [], count: windows.count + 1)
        for η in etas {
            let tag = String(format: "%g", η).replacingOccurrences(of: ".", with: "p")
            var rms = [Double](repeating: 0, count: windows.count), ed = [Double](repeating: 0, count: windows.count + 1)
            for r in 0..<R {
                let start = NoiseSource(seed: UInt64(seed + r)).prior([n, 2], sigma: sigmas[0])
                let noise = NoiseSource(seed: UInt64(seed + 100 + r))
                let exact = etaSampler(m, start, sigmas: sigmas, eta: η, noise: noise)
                ed[0] += Metrics.energyDistance(exact, data[r]) / Double(R)
                for (k, (_, w)) in windows.enumerated() {
                    let out = etaSampler(perturbed(m, bias: [bias, 0], window: w), start, sigmas: sigmas, eta: η, noise: noise)
                    rms[k] += Chapter8.rms(out, exact) * 2.0.squareRoot() / Double(R)     // per-sample distance: ×√d
                    ed[k + 1] += Metrics.energyDistance(out, data[r]) / Double(R)
                }
            }
            numbers["ed_exact_\(tag)"] = ed[0]
            edPts[0].append(Point(η, ed[0]))
            for (k, (key, _)) in windows.enumerated() {
                numbers["rms_\(key)_\(tag)"] = rms[k]
                numbers["ed_\(key)_\(tag)"] = ed[k + 1]
                rmsPts[k].append(Point(η, rms[k]))
                edPts[k + 1].append(Point(η, ed[k + 1]))
            }
        }
        let styles: [LineStyle] = [.solid, .dashed, .dotted]
        var a = Plot(width: 360, height: 330, title: "模型误差把样本推开了多远", x: Axis("η", range: -0.05...(etas.max()! + 0.05)), y: Axis("耦合样本的均方根距离", scale: .log, range: 3e-3...10))
        var b = Plot(width: 360, height: 330, title: "样本分布与数据的能量距离", x: Axis("η", range: -0.05...(etas.max()! + 0.05)), y: Axis("能量距离", scale: .log, range: 2e-3...0.5))
        for (k, (_, w)) in windows.enumerated() {
            let label = String(format: "误差在 σ ∈ [%g, %g]", w.lowerBound, w.upperBound)
            a.line(rmsPts[k], colour: k, style: styles[k], label: label)
            a.scatter(rmsPts[k], colour: k, radius: 2.6, opacity: 1)
            b.line(edPts[k + 1], colour: k, style: styles[k], label: label)
            b.scatter(edPts[k + 1], colour: k, radius: 2.6, opacity: 1)
        }
        b.line(edPts[0], colour: 7, style: .solid, width: 1.2, label: "精确去噪器")
        b.line(x: [-0.05, etas.max()! + 0.05], y: [numbers["ed_floor"]!, numbers["ed_floor"]!], colour: 7, style: .dotted, width: 1.2, label: "两批真实样本（期望值）")
        return ExperimentResult(svg: Figure([a, b], columns: 2).svg(title: "η 族：η = 0 是概率流 ODE，η = 1 是逆时 SDE"), numbers: numbers)
    }

    // MARK: Numbers for the text and the exercises

    static let numbers = BookExperiment(
        name: "ch5-numbers",
        summary: "Numbers the chapter and its exercises quote: DDPM's chain against the VP SDE as T grows, VP/sub-VP/VE coefficients, SDE coefficients of the cosine schedule from the library's rates, the PF-ODE likelihood of a Gaussian, the Langevin corrector's bias, Hutchinson's variance for the denoiser's Jacobian, and two-time covariances of the reverse SDE and the PF-ODE.",
        defaults: ["s": "0.5", "langevin_n": "4000", "langevin_steps": "60"]
    ) { p in
        let s = try p.double("s")
        let ln = try p.int("langevin_n", in: 100...100_000)
        let lsteps = try p.int("langevin_steps", in: 1...10_000)
        guard s > 0 else { throw ExperimentError("s must be positive") }
        var numbers: [String: Double] = ["s": s]
        let vp = VPSDE()

        // T → ∞: DDPM's linear chain with β_i = (β_min + (β_max − β_min)(i − 1)/(T − 1))/T against e^{−B(1)}.
        numbers["B1"] = vp.integral(1)
        var gaps: [Double] = []
        let Ts = [50, 100, 1000, 10_000]
        for T in Ts {
            let chain = DiscreteVP.linear(steps: T, betaStart: vp.betaMin / Double(T), betaEnd: vp.betaMax / Double(T))
            let logAbar = log(chain.alphasCumprod[T - 1])
            numbers["logabar_T\(T)"] = logAbar
            numbers["gap_T\(T)"] = logAbar + vp.integral(1)
            gaps.append(Swift.abs(logAbar + vp.integral(1)))
            // The largest difference of α over the grid t_i = i/T.
            var worst = 0.0
            for i in 1...T { worst = Swift.max(worst, Swift.abs(chain.alphasCumprod[i - 1].squareRoot() - vp.alpha(Double(i) / Double(T)))) }
            numbers["alpha_maxdiff_T\(T)"] = worst
        }
        numbers["gap_slope"] = -logLogSlope(Ts.map(Double.init), gaps)
        numbers["abar_T1000"] = DiscreteVP.linear().alphasCumprod[999]
        numbers["abar_cont"] = exp(-vp.integral(1))
        // The second-order term −½Σβ_i² ≈ −(1/2T)∫β² of log ᾱ_T.
        let intBeta2 = vp.betaMin * vp.betaMin + vp.betaMin * (vp.betaMax - vp.betaMin) + pow(vp.betaMax - vp.betaMin, 2) / 3
        numbers["int_beta2"] = intBeta2
        numbers["gap_predicted_T1000"] = -intBeta2 / 2000

        // VP against sub-VP variances, and the VE SDE's diffusion.
        for t in [0.1, 0.5] {
            let tag = String(format: "%g", t).replacingOccurrences(of: ".", with: "p")
            numbers["var_vp_\(tag)"] = pow(vp.sigma(t), 2)
            numbers["var_subvp_\(tag)"] = pow(SubVPSDE().sigma(t), 2)
            let (f, g2) = sdeCoefficients(SubVPSDE(), at: t)
            numbers["subvp_f_\(tag)"] = f
            numbers["subvp_g2_\(tag)"] = g2
        }
        let ve = VEProcess(sigmaMin: 0.01, sigmaMax: 50)
        let (veF, veG2) = sdeCoefficients(ve, at: 0.5)
        numbers["ve_f_0p5"] = veF
        numbers["ve_g2_0p5"] = veG2
        numbers["ve_sigma_0p5"] = ve.sigma(0.5)

        // SDE coefficients of the cosine schedule from the library's (finite-difference) rates, at t = 0.5.
        let cosine = CosineProcess()
        let (cf, cg2) = sdeCoefficients(cosine, at: 0.5)
        numbers["cosine_f"] = cf
        numbers["cosine_g2"] = cg2
        numbers["cosine_beta_closed"] = .pi / (1 + cosine.s) * tan(.pi / 2 * (0.5 + cosine.s) / (1 + cosine.s))
        numbers["cosine_lambda_rate"] = (cosine.logSNR(0.5 + 1e-6) - cosine.logSNR(0.5 - 1e-6)) / 2e-6
        numbers["cosine_sigma2"] = pow(cosine.sigma(0.5), 2)

        // The PF-ODE likelihood of N(0, s² I) in d = 2 at one point against the closed form.
        let g = GaussianMixture(weights: [1], means: [[0, 0]], std: [s])
        let pt = Tensor([0.3, -0.2], shape: [1, 2])
        let (σmin, σmax) = (1e-3, 80.0)
        numbers["gauss_nll_ode"] = Likelihood.negativeLogLikelihood(g, pt, sigmaMin: σmin, sigmaMax: σmax, steps: 64)[0]
        numbers["gauss_nll_exact"] = -g.logDensity(pt, at: NoiseLevel(alpha: 1, sigma: σmin))[0]
        numbers["gauss_div_integral"] = log((s * s + σmax * σmax) / (s * s + σmin * σmin))     // (d/2)·log(…) with d = 2
        // What the library computes if the ODE were integrated exactly: the linear flow y₁ = y₀·√((s² + σ_max²)/(s² + σ_min²)),
        // the default prior N(0, σ_max² I), plus the divergence integral.
        let grow = (s * s + σmax * σmax) / (s * s + σmin * σmin)
        let r2 = (0.3 * 0.3 + 0.2 * 0.2) * grow
        numbers["gauss_nll_ode_closed"] = -(-0.5 * r2 / (σmax * σmax) - log(2 * .pi * σmax * σmax) + numbers["gauss_div_integral"]!)

        // Discretised Langevin x ← x + ε∇log p + √(2ε)z on N(0, τ): stationary variance τ/(1 − ε/(2τ)); here ε = τ/4.
        // Checked with the library's annealed Langevin at one level σ = 1, whose step x + (a/2)ŝ + √a·z has a = 2ε
        // (the final denoiser multiplies by c = s²/τ, undone below).
        let σL = 1.0, τ = s * s + σL * σL, ε = τ / 4
        numbers["langevin_tau"] = τ
        numbers["langevin_step"] = ε
        numbers["langevin_stationary"] = τ / (1 - ε / (2 * τ))
        let gauss1 = GaussianMixture(weights: [1], means: [[0]], std: [s])
        let z = NoiseSource(seed: 11).prior([ln, 1]) * Float(τ.squareRoot())
        let out = Sampling.annealedLangevin(gauss1, z, sigmas: [σL, 0], noise: NoiseSource(seed: 12), stepsPerLevel: lsteps, epsilon: 2 * ε)
        let c = s * s / τ
        let sd = moments(out.scalars).std
        numbers["langevin_mc"] = sd * sd / (c * c)
        numbers["langevin_mc_se"] = numbers["langevin_mc"]! * (2.0 / Double(ln)).squareRoot()
        numbers["langevin_n"] = Double(ln)
        numbers["langevin_steps"] = Double(lsteps)

        // Hutchinson on the Jacobian J = ∂D/∂x of the example2D denoiser at one point (α = 1, σ = 0.5), J by central
        // differences of the exact denoiser: tr J, and the variances of the Rademacher and Gaussian estimators.
        let m2 = GaussianMixture.example2D
        let xp = [1.0, 0.4], lvl = NoiseLevel(alpha: 1, sigma: 0.5), e = 1e-5
        var J = [[Double]](repeating: [0, 0], count: 2)
        for j in 0..<2 {
            var up = xp, dn = xp
            up[j] += e; dn[j] -= e
            let (pu, pd) = (m2.posteriorDetails(up, at: lvl).mean, m2.posteriorDetails(dn, at: lvl).mean)
            for i in 0..<2 { J[i][j] = (pu[i] - pd[i]) / (2 * e) }
        }
        numbers["jac_00"] = J[0][0]; numbers["jac_01"] = J[0][1]; numbers["jac_10"] = J[1][0]; numbers["jac_11"] = J[1][1]
        numbers["jac_trace"] = J[0][0] + J[1][1]
        numbers["jac_trace_tweedie"] = m2.denoiserDivergence(Tensor(xp.map(Float.init), shape: [1, 2]), at: lvl)[0]
        numbers["hutch_var_rademacher"] = pow(J[0][1] + J[1][0], 2)   // ½Σ_{i≠j}(J_ij + J_ji)² over the two ordered pairs
        numbers["hutch_var_gauss"] = 2 * (J[0][0] * J[0][0] + J[1][1] * J[1][1] + 0.5 * pow(J[0][1] + J[1][0], 2))

        // Two-time covariance in α = 1 coordinates for data N(0, s²): forward Cov(y_a, y_b) = s² + σ_a² (σ_a < σ_b);
        // the reverse SDE (Euler–Maruyama, many steps) reproduces it, the PF-ODE gives √((s² + σ_a²)(s² + σ_b²)).
        let (σa, σb) = (1.0, 3.0)
        numbers["cov_forward"] = s * s + σa * σa
        numbers["cov_ode"] = ((s * s + σa * σa) * (s * s + σb * σb)).squareRoot()
        for M in [10, 100, 1000] {
            let lv = (0...M).map { σb * pow(σa / σb, Double($0) / Double(M)) }
            var A = 1.0                                      // y_a = A·y_b + independent noise
            for i in 0..<M { A *= 1 - (lv[i] * lv[i] - lv[i + 1] * lv[i + 1]) / (s * s + lv[i] * lv[i]) }
            numbers["cov_em_\(M)"] = A * (s * s + σb * σb)
        }
        numbers["sigma_a"] = σa
        numbers["sigma_b"] = σb

        // DDPM ancestral against Euler–Maruyama: same mean, noise variances σ'²(1 − r) and σ²(1 − r), r = σ'²/σ².
        numbers["step_ratio_example"] = pow(0.9, 2)
        return ExperimentResult(numbers: numbers)
    }
}
