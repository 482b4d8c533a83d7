import Diffusion
import DiffusionEngine
import DiffusionPlot
import Foundation

/// The experiments of chapter 1 (book/ch01-introduction.md): every figure and every number the chapter quotes.
///
/// Conventions: DDPM steps t = 1…T, ᾱ_t = `DiscreteVP.alphasCumprod[t − 1]`, ᾱ_0 = 1; the level of step t is
/// α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t); λ_t = log(α_t²/σ_t²). All schedule arithmetic is in Double.
public enum Chapter1 {
    public static let experiments: [BookExperiment] = [forward2D, schedules, marginals, denoiser, reverse, dimension]

    // MARK: Shared helpers

    /// The discrete process named in a `schedule=` parameter.
    static func process(_ name: String, steps T: Int) throws -> DiscreteVP {
        switch name {
        case "linear": return DiscreteVP.linear(steps: T)
        case "cosine": return DiscreteVP.cosine(steps: T)
        default: throw ExperimentError("schedule=\(name): use linear or cosine")
        }
    }

    /// ᾱ_t for t = 0…T.
    public static func alphaBar(_ p: DiscreteVP, _ t: Int) -> Double { t == 0 ? 1 : p.alphasCumprod[t - 1] }

    /// (α_t, σ_t) of step t.
    public static func level(_ p: DiscreteVP, _ t: Int) -> NoiseLevel {
        let ab = alphaBar(p, t)
        return NoiseLevel(alpha: ab.squareRoot(), sigma: (1 - ab).squareRoot())
    }

    /// λ_t = log ᾱ_t − log(1 − ᾱ_t) (+∞ at t = 0).
    public static func logSNR(_ p: DiscreteVP, _ t: Int) -> Double {
        let ab = alphaBar(p, t)
        return log(ab) - log1p(-ab)
    }

    /// Samples of a mixture with their component labels (for colouring): component by a uniform draw, then
    /// μ_k + s_k·z, from the counter-based generator.
    static func labelledSample(_ m: GaussianMixture, _ n: Int, seed: UInt64) -> (Tensor, [Int]) {
        let d = m.dimension
        let u = Tensor.randomUniform([n], seed: seed, stream: 11).scalars
        let z = Tensor.randomNormal([n, d], seed: seed, stream: 12).scalars
        var cumulative = m.weights
        for k in 1..<cumulative.count { cumulative[k] += cumulative[k - 1] }
        var out = [Float](repeating: 0, count: n * d)
        var labels = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let k = cumulative.firstIndex { Double(u[i]) < $0 } ?? m.componentCount - 1
            labels[i] = k
            for j in 0..<d { out[i * d + j] = Float(m.means[k][j] + m.stds[k][j] * Double(z[i * d + j])) }
        }
        return (Tensor(out, shape: [n, d]), labels)
    }

    /// Number of strict local maxima of a sampled curve (plateaus count once).
    public static func modeCount(_ y: [Double]) -> Int {
        var count = 0
        var i = 1
        while i < y.count - 1 {
            if y[i] > y[i - 1] {
                var j = i
                while j + 1 < y.count && y[j + 1] == y[i] { j += 1 }
                if j + 1 < y.count && y[j + 1] < y[i] { count += 1 }
                i = j + 1
            } else {
                i += 1
            }
        }
        return count
    }

    /// The density p_t on a grid: exp of `GaussianMixture.logDensity` at the level of step t.
    static func density(_ m: GaussianMixture, _ grid: Tensor, _ level: NoiseLevel) -> [Double] {
        m.logDensity(grid, at: level).map { exp($0) }
    }

    /// The first step t such that p_t has a single mode for every step ≥ t (scanning t = 0…T).
    public static func unimodalFrom(_ m: GaussianMixture, _ p: DiscreteVP, lo: Double = -6, hi: Double = 6, points: Int = 2401) -> (step: Int, modesAt0: Int) {
        let grid = Tensor((0..<points).map { Float(lo + (hi - lo) * Double($0) / Double(points - 1)) }, shape: [points, 1])
        var last = -1
        var modes0 = 0
        for t in 0...p.T {
            let c = modeCount(density(m, grid, level(p, t)))
            if t == 0 { modes0 = c }
            if c > 1 { last = t }
        }
        return (last + 1, modes0)
    }

    // MARK: Figure — the forward process on 2-D data, linear against cosine

    static let forward2D = BookExperiment(
        name: "ch1-forward-2d",
        summary: "x_t = α_t x₀ + σ_t ε on a 2-D Gaussian mixture at several steps, linear (top) and cosine (bottom) schedules.",
        defaults: ["seed": "0", "n": "2000", "steps": "0,100,300,600,1000", "T": "1000"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 10...50_000)
        let T = try p.int("T", in: 2...100_000)
        let steps = try p.ints("steps")
        guard steps.allSatisfy({ (0...T).contains($0) }) else { throw ExperimentError("steps must lie in 0…\(T)") }
        let (x0, labels) = labelledSample(.example2D, n, seed: UInt64(seed))
        let eps = Tensor.randomNormal([n, 2], seed: UInt64(seed), stream: 13)
        var panels: [Plot] = []
        var numbers: [String: Double] = ["n": Double(n), "T": Double(T)]
        for (name, title) in [("linear", "线性"), ("cosine", "余弦")] {
            let proc = try process(name, steps: T)
            for t in steps {
                let lv = level(proc, t)
                let xt = (x0 * Float(lv.alpha) + eps * Float(lv.sigma)).scalars
                let pts = (0..<n).map { Point(Double(xt[2 * $0]), Double(xt[2 * $0 + 1])) }
                var plot = Plot(width: 180, height: 184, title: "\(title) t = \(t)", x: Axis(range: -3.5...3.5), y: Axis(range: -3.5...3.5))
                plot.showLegend = false
                plot.scatter(pts, classes: labels, radius: 1.2, opacity: 0.6)
                panels.append(plot)
                numbers["alphabar_\(name)_\(t)"] = alphaBar(proc, t)
                if t > 0 { numbers["logsnr_\(name)_\(t)"] = logSNR(proc, t) }
            }
        }
        return ExperimentResult(svg: Figure(panels, columns: steps.count).svg(title: "前向过程：二维高斯混合数据在线性与余弦调度下的样本"), numbers: numbers)
    }

    // MARK: Figure — ᾱ_t and λ_t of the two schedules

    static let schedules = BookExperiment(
        name: "ch1-schedules",
        summary: "ᾱ_t (log axis) and log-SNR λ_t of DiscreteVP.linear() and DiscreteVP.cosine(), with the numbers the text quotes.",
        defaults: ["T": "1000"]
    ) { p in
        let T = try p.int("T", in: 4...100_000)
        let lin = DiscreteVP.linear(steps: T), cos = DiscreteVP.cosine(steps: T)
        let ts = Array(1...T)
        let x = ts.map(Double.init)
        var left = Plot(width: 380, height: 290, title: "累积系数 ᾱₜ（对数轴）", x: Axis("步数 t", range: 0...Double(T)), y: Axis("ᾱₜ", scale: .log))
        left.line(x: x, y: ts.map { alphaBar(lin, $0) }, colour: 0, label: "线性")
        left.line(x: x, y: ts.map { alphaBar(cos, $0) }, colour: 1, style: .dashed, label: "余弦")
        var right = Plot(width: 380, height: 290, title: "对数信噪比 λₜ", x: Axis("步数 t", range: 0...Double(T)), y: Axis("λₜ"))
        right.line(x: x, y: ts.map { logSNR(lin, $0) }, colour: 0, label: "线性")
        right.line(x: x, y: ts.map { logSNR(cos, $0) }, colour: 1, style: .dashed, label: "余弦")
        right.line(x: [0, Double(T)], y: [0, 0], colour: 7, style: .dotted, width: 1.2)

        var numbers: [String: Double] = ["T": Double(T)]
        for (name, proc) in [("linear", lin), ("cosine", cos)] {
            let abT = alphaBar(proc, T)
            numbers["alphabar_T_\(name)"] = abT
            numbers["snr_T_\(name)"] = abT / (1 - abT)
            numbers["logsnr_1_\(name)"] = logSNR(proc, 1)
            numbers["logsnr_T_\(name)"] = logSNR(proc, T)
            numbers["logsnr_mid_\(name)"] = logSNR(proc, T / 2)
            // The first step at which noise outweighs signal (λ < 0, ᾱ < 1/2).
            numbers["t_zero_\(name)"] = Double((1...T).first { logSNR(proc, $0) < 0 } ?? T)
            // Steps at which less than 0.1 % of the signal power is left.
            numbers["near_noise_\(name)"] = Double((1...T).filter { alphaBar(proc, $0) < 1e-3 }.count)
            // E over data with E‖x₀‖² = d of D_KL(q(x_T | x₀) ‖ N(0, I)) = −(d/2)·log(1 − ᾱ_T), per dimension and for
            // a 32×32×3 image (d = 3072) and a 256×256×3 image (d = 196608).
            let perDim = -0.5 * log1p(-abT)
            numbers["kl_dim_\(name)"] = perDim
            numbers["kl_3072_\(name)"] = 3072 * perDim
            numbers["kl_196608_\(name)"] = 196_608 * perDim
        }
        // Exercise: bounds exp(−Σβ/(1−β)) ≤ ᾱ_T ≤ exp(−Σβ) for the linear schedule; Σβ = T(β₁ + β_T)/2.
        var prev = 1.0
        let betas = lin.alphasCumprod.map { ab -> Double in defer { prev = ab }; return 1 - ab / prev }
        numbers["sum_beta_linear"] = betas.reduce(0, +)
        numbers["upper_T_linear"] = exp(-betas.reduce(0, +))
        numbers["lower_T_linear"] = exp(-betas.map { $0 / (1 - $0) }.reduce(0, +))
        // Cosine: steps whose β was clipped at 0.999, and the slope dλ/d(t/T) at the midpoint (central difference),
        // against the continuous formula −2π/(1 + s) with s = 0.008.
        var prevC = 1.0
        let betasC = cos.alphasCumprod.map { ab -> Double in defer { prevC = ab }; return 1 - ab / prevC }
        numbers["clipped_cosine"] = Double(betasC.filter { $0 >= 0.999 - 1e-12 }.count)
        numbers["slope_mid_cosine"] = (logSNR(cos, T / 2 + 1) - logSNR(cos, T / 2 - 1)) / 2 * Double(T)
        numbers["slope_mid_cosine_formula"] = -2 * Double.pi / 1.008
        let c0 = Foundation.cos(0.008 / 1.008 * Double.pi / 2)
        numbers["one_minus_f0_cosine"] = 1 - c0 * c0
        // Derived numbers the exercises quote.
        let abTL = alphaBar(lin, T)
        numbers["upper_rel_gap_linear"] = exp(-betas.reduce(0, +)) / abTL - 1
        numbers["alpha_T_linear"] = abTL.squareRoot()
        numbers["alpha_T_cosine"] = alphaBar(cos, T).squareRoot()
        // W₂(p_T, N(0, I)) ≤ α_T·√(E‖x₀‖² + d) with E‖x₀‖² = d = 3072.
        numbers["sqrt_2d_3072"] = (2.0 * 3072).squareRoot()
        numbers["w2_bound_3072_linear"] = abTL.squareRoot() * (2.0 * 3072).squareRoot()
        // The largest ᾱ_T with −(d/2)·log(1 − ᾱ_T) ≤ 0.01 nat at d = 196608, and how far the linear schedule is above it.
        let budget = -expm1(-0.02 / 196_608)
        numbers["kl_budget_alphabar"] = budget
        numbers["kl_budget_ratio_linear"] = abTL / budget
        // A schedule linear in λ from λ_max = 10 to λ_min = −20 over T steps: Δ, β₁ and β_T (exercise).
        let (lmax, lmin) = (10.0, -20.0)
        let delta = (lmax - lmin) / Double(T)
        func sig(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        numbers["loglinear_delta"] = delta
        numbers["loglinear_beta_1"] = 1 - sig(lmax - delta)
        numbers["loglinear_beta_2"] = 1 - sig(lmax - 2 * delta) / sig(lmax - delta)
        numbers["loglinear_beta_T"] = 1 - sig(lmin) / sig(lmin + delta)
        return ExperimentResult(svg: Figure([left, right], columns: 2).svg(title: "线性与余弦调度的 ᾱₜ 与对数信噪比"), numbers: numbers)
    }

    // MARK: Figure — histograms of x_t for a 1-D mixture against the exact marginal density

    static let marginals = BookExperiment(
        name: "ch1-marginals",
        summary: "Histograms of x_t for GaussianMixture.example1D at several steps against the exact density p_t (logDensity at (α_t, σ_t)).",
        defaults: ["seed": "0", "n": "20000", "steps": "0,50,150,300,500,1000", "schedule": "linear", "T": "1000"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 100...1_000_000)
        let T = try p.int("T", in: 2...100_000)
        let steps = try p.ints("steps")
        guard steps.allSatisfy({ (0...T).contains($0) }) else { throw ExperimentError("steps must lie in 0…\(T)") }
        let proc = try process(p.string("schedule"), steps: T)
        let m = GaussianMixture.example1D
        let x0 = m.sample(n, seed: UInt64(seed))
        let eps = Tensor.randomNormal([n, 1], seed: UInt64(seed), stream: 21)
        let (lo, hi, bins) = (-3.5, 3.5, 56)
        let width = (hi - lo) / Double(bins)
        let gridN = 401
        let gridX = (0..<gridN).map { lo + (hi - lo) * Double($0) / Double(gridN - 1) }
        let grid = Tensor(gridX.map(Float.init), shape: [gridN, 1])
        var panels: [Plot] = []
        var numbers: [String: Double] = ["n": Double(n)]
        for t in steps {
            let lv = level(proc, t)
            let xt = (x0 * Float(lv.alpha) + eps * Float(lv.sigma)).scalars
            var counts = [Double](repeating: 0, count: bins)
            for v in xt {
                let b = Int(((Double(v) - lo) / width).rounded(.down))
                if (0..<bins).contains(b) { counts[b] += 1 }
            }
            // The histogram as a density, drawn as a staircase.
            var stair: [Point] = [Point(lo, 0)]
            for b in 0..<bins {
                let h = counts[b] / (Double(n) * width)
                stair.append(Point(lo + Double(b) * width, h))
                stair.append(Point(lo + Double(b + 1) * width, h))
            }
            stair.append(Point(hi, 0))
            let dens = density(m, grid, lv)
            var plot = Plot(width: 260, height: 200, title: "t = \(t)", x: Axis(range: lo...hi), y: Axis(range: 0...1.0))
            plot.line(x: gridX, y: dens, colour: 1, width: 2.4, label: t == steps.first ? "精确密度 pₜ" : nil)
            plot.line(stair, colour: 0, width: 1.1, label: t == steps.first ? "xₜ 的直方图" : nil)
            panels.append(plot)
            numbers["modes_\(t)"] = Double(modeCount(density(m, Tensor((0..<2401).map { Float(-6 + 12 * Double($0) / 2400) }, shape: [2401, 1]), lv)))
            numbers["alphabar_\(t)"] = alphaBar(proc, t)
        }
        let u = unimodalFrom(m, proc)
        numbers["t_unimodal"] = Double(u.step)
        numbers["modes_data"] = Double(u.modesAt0)
        numbers["alphabar_unimodal"] = alphaBar(proc, u.step)
        numbers["edm_sigma_unimodal"] = ((1 - alphaBar(proc, u.step)) / alphaBar(proc, u.step)).squareRoot()
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "一维高斯混合：xₜ 的直方图与精确边缘密度"), numbers: numbers)
    }

    // MARK: Figure — the exact denoiser E[x₀ | x_t] of the 1-D mixture

    static let denoiser = BookExperiment(
        name: "ch1-denoiser",
        summary: "The exact denoiser E[x₀ | x_t] of GaussianMixture.example1D as a function of x_t at several steps (linear schedule).",
        defaults: ["steps": "10,100,250,500,1000", "T": "1000"]
    ) { p in
        let T = try p.int("T", in: 2...100_000)
        let steps = try p.ints("steps")
        guard steps.allSatisfy({ (1...T).contains($0) }) else { throw ExperimentError("steps must lie in 1…\(T)") }
        let proc = DiscreteVP.linear(steps: T)
        let m = GaussianMixture.example1D
        let (lo, hi, k) = (-3.5, 3.5, 351)
        let xs = (0..<k).map { lo + (hi - lo) * Double($0) / Double(k - 1) }
        let grid = Tensor(xs.map(Float.init), shape: [k, 1])
        var plot = Plot(width: 560, height: 400, title: "精确去噪器 E[x₀ | xₜ]", x: Axis("xₜ", range: lo...hi), y: Axis("E[x₀ | xₜ]", range: -3...6))
        for mu in m.means.map({ $0[0] }) { plot.line(x: [lo, hi], y: [mu, mu], colour: 7, style: .dotted, width: 1) }
        var numbers: [String: Double] = [:]
        let styles: [LineStyle] = [.solid, .solid, .dashed, .solid, .dashed]
        for (i, t) in steps.enumerated() {
            let d = m.denoise(grid, at: level(proc, t)).scalars.map(Double.init)
            plot.line(x: xs, y: d, colour: i, style: styles[i % styles.count], label: "t = \(t)")
            numbers["spread_\(t)"] = d.max()! - d.min()!
            numbers["at0_\(t)"] = d[k / 2]
        }
        let mean = zip(m.weights, m.means).map { $0 * $1[0] }.reduce(0, +)
        numbers["data_mean"] = mean
        return ExperimentResult(svg: plot.svg(), numbers: numbers)
    }

    // MARK: Figure — sampling the reverse process with the exact denoiser

    static let reverse = BookExperiment(
        name: "ch1-reverse",
        summary: "DDPM ancestral sampling (Sampling.ddpm) of GaussianMixture.example2D with its exact denoiser, linear schedule: states at several steps, samples, energy distance to fresh data.",
        defaults: ["seed": "0", "n": "2000", "steps": "1000", "show": "1000,500,250,100"],
        revision: 2
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 10...10_000)
        let N = try p.int("steps", in: 1...1000)
        let show = try p.ints("show")
        let m = GaussianMixture.example2D
        let proc = DiscreteVP.linear()
        let sigmas = Schedule.discrete(steps: N, process: proc, spacing: .trailing)
        let noise = NoiseSource(seed: UInt64(seed))
        let start = noise.prior([n, 2], sigma: sigmas[0])
        // Record every state the sampler hands to the denoiser (α = 1 coordinates, at level σ).
        final class Recorder { var states: [(sigma: Double, x: [Float])] = [] }
        let rec = Recorder()
        let model = ClosureDenoiser { x, lv in
            rec.states.append((lv.sigma, x.scalars))
            return m.denoise(x, at: lv)
        }
        let out = Sampling.ddpm(model, start, sigmas: sigmas, noise: noise)
        let final = out.scalars
        let (data, dataLabels) = labelledSample(m, n, seed: UInt64(seed) &+ 1)
        let other = m.sample(n, seed: UInt64(seed) &+ 2)
        // Colour every sample by the component its final value most likely belongs to.
        let destiny = (0..<n).map { i -> Int in
            (0..<m.componentCount).max { a, b in
                func score(_ k: Int) -> Double {
                    (0..<2).reduce(log(m.weights[k])) { acc, j in
                        let z = (Double(final[2 * i + j]) - m.means[k][j]) / m.stds[k][j]
                        return acc - 0.5 * z * z - log(m.stds[k][j])
                    }
                }
                return score(a) < score(b)
            }!
        }
        // VP coordinates: x_t = α·x with α = 1/√(1 + σ²).
        func vp(_ s: (sigma: Double, x: [Float])) -> [Point] {
            let a = 1 / (1 + s.sigma * s.sigma).squareRoot()
            return (0..<n).map { Point(a * Double(s.x[2 * $0]), a * Double(s.x[2 * $0 + 1])) }
        }
        func panel(_ title: String) -> Plot {
            var pl = Plot(width: 240, height: 244, title: title, x: Axis(range: -3.5...3.5), y: Axis(range: -3.5...3.5))
            pl.showLegend = false
            return pl
        }
        let steps = Schedule.timesteps(steps: N, trainingSteps: proc.T, spacing: .trailing).map { $0 + 1 }
        var panels: [Plot] = []
        for target in show {
            // The recorded state whose training step is closest to the requested one.
            let i = steps.indices.min { Swift.abs(steps[$0] - target) < Swift.abs(steps[$1] - target) }!
            var pl = panel(i == 0 ? "起点 xₜ，t = \(steps[i])" : "反向过程中，t = \(steps[i])")
            pl.scatter(vp(rec.states[i]), classes: destiny, radius: 1.1, opacity: 0.55)
            panels.append(pl)
        }
        var c = panel("生成的样本，t = 0")
        c.scatter((0..<n).map { Point(Double(final[2 * $0]), Double(final[2 * $0 + 1])) }, classes: destiny, radius: 1.1, opacity: 0.55)
        var d = panel("真实数据")
        let dv = data.scalars
        d.scatter((0..<n).map { Point(Double(dv[2 * $0]), Double(dv[2 * $0 + 1])) }, classes: dataLabels, radius: 1.1, opacity: 0.55)
        panels += [c, d]
        let numbers: [String: Double] = [
            "n": Double(n), "steps": Double(N), "calls": Double(rec.states.count),
            "sigma_start": sigmas[0],
            "ed": Metrics.energyDistance(out, data),
            "ed_floor": Metrics.energyDistance(other, data),
            "ed_prior": Metrics.energyDistance(Tensor(vp(rec.states[0]).flatMap { [Float($0.x), Float($0.y)] }, shape: [n, 2]), data),
        ]
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "用精确去噪器运行反向过程：从噪声到二维混合分布"), numbers: numbers)
    }

    // MARK: Numbers — Gaussian noise in high dimension lives on a thin shell

    static let dimension = BookExperiment(
        name: "ch1-dimension",
        summary: "‖ε‖/√d for n draws of ε ~ N(0, I_d): mean, standard deviation, min and max (concentration of measure).",
        defaults: ["seed": "0", "n": "2000", "d": "3072"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 2...100_000)
        let d = try p.int("d", in: 1...1_000_000)
        let e = Tensor.randomNormal([n, d], seed: UInt64(seed), stream: 31)
        let r = (e * e).sum(axis: 1).sqrt().scalars.map { Double($0) / Double(d).squareRoot() }
        let mean = r.reduce(0, +) / Double(n)
        let std = (r.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)).squareRoot()
        return ExperimentResult(numbers: [
            "d": Double(d), "n": Double(n), "mean": mean, "std": std, "min": r.min()!, "max": r.max()!,
            "std_theory": 1 / (2 * Double(d)).squareRoot(),
        ])
    }
}
