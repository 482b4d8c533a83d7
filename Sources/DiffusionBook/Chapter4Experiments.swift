import Diffusion
import DiffusionEngine
import DiffusionPlot
import Foundation

/// The experiments of chapter 4 (book/ch04-score.md): score fields, the equivalence of the score-matching
/// objectives, Langevin dynamics and its mixing problem, annealed Langevin (NCSN), the noise-level techniques of
/// Song & Ermon 2020, and a tiny denoising-score-matching training run.
///
/// Conventions: the chapter works in α = 1 coordinates, x = x₀ + σ·ε, so a level is `NoiseLevel(alpha: 1, sigma: σ)`
/// and p_σ is the data convolved with N(0, σ²I). Exact answers come from `GaussianMixture` (score, denoiser,
/// quadrature); everything else is Monte Carlo with the counter-based generator, so every number is reproducible.
public enum Chapter4 {
    public static let experiments: [BookExperiment] = [scoreField, objectives, langevinModes, annealed, noiseScales, ula, dsmTraining]

    // MARK: Shared helpers

    /// A comma-separated list of positive numbers.
    static func doubles(_ p: ExperimentParameters, _ name: String) throws -> [Double] {
        let parts = p.string(name).split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! > 0 && $0!.isFinite }) else {
            throw ExperimentError("parameter \(name)=\(p.string(name)) must be comma-separated positive numbers")
        }
        return parts.map { $0! }
    }

    static func points(_ t: Tensor) -> [Point] {
        let v = t.scalars
        return (0..<(v.count / 2)).map { Point(Double(v[2 * $0]), Double(v[2 * $0 + 1])) }
    }

    /// A square grid of k × k cell centres over [lo, hi]², row-major from the bottom row, as an [k², 2] tensor.
    static func grid(_ k: Int, _ lo: Double, _ hi: Double) -> (tensor: Tensor, points: [Point]) {
        let h = (hi - lo) / Double(k)
        var pts: [Point] = []
        for j in 0..<k { for i in 0..<k { pts.append(Point(lo + (Double(i) + 0.5) * h, lo + (Double(j) + 0.5) * h)) } }
        return (Tensor(pts.flatMap { [Float($0.x), Float($0.y)] }, shape: [k * k, 2]), pts)
    }

    /// Score arrows with their length compressed to log(1 + ‖s‖), so both the strong field near the data and the weak
    /// field far away stay visible; the direction is exact.
    static func compressed(_ s: Tensor) -> [Point] {
        points(s).map { v in
            let r = (v.x * v.x + v.y * v.y).squareRoot()
            return r > 0 ? Point(v.x * log1p(r) / r, v.y * log1p(r) / r) : v
        }
    }

    /// E‖f(x)‖² over the rows of an [n, d] tensor.
    static func meanSquaredNorm(_ t: Tensor) -> Double {
        let v = t.scalars
        return v.reduce(0) { $0 + Double($1) * Double($1) } / Double(t.shape[0])
    }

    /// The covariance matrix of a mixture: Σ_k w_k(diag(s_k²) + μ_kμ_kᵀ) − m mᵀ.
    static func covariance(_ m: GaussianMixture) -> [[Double]] {
        let (d, K) = (m.dimension, m.componentCount)
        var mean = [Double](repeating: 0, count: d)
        for k in 0..<K { for j in 0..<d { mean[j] += m.weights[k] * m.means[k][j] } }
        var c = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for k in 0..<K {
            for i in 0..<d {
                for j in 0..<d {
                    let within: Double = i == j ? m.stds[k][i] * m.stds[k][i] : 0
                    c[i][j] += m.weights[k] * (within + m.means[k][i] * m.means[k][j])
                }
            }
        }
        for i in 0..<d { for j in 0..<d { c[i][j] -= mean[i] * mean[j] } }
        return c
    }

    /// The α = 1 level σ.
    static func level(_ σ: Double) -> NoiseLevel { NoiseLevel(alpha: 1, sigma: σ) }

    /// Samples of p_σ: x₀ from the mixture plus σ·ε.
    static func noisySamples(_ m: GaussianMixture, _ n: Int, sigma σ: Double, seed: UInt64) -> Tensor {
        m.sample(n, seed: seed) + Tensor.randomNormal([n, m.dimension], seed: seed, stream: 7) * Float(σ)
    }

    /// A panel for 2-D point clouds and fields.
    static func panel(_ title: String, _ lo: Double = -4, _ hi: Double = 4, size: Double = 250) -> Plot {
        var p = Plot(width: size, height: size + 4, title: title, x: Axis(range: lo...hi), y: Axis(range: lo...hi), equalAspect: true)
        p.showLegend = false
        return p
    }

    // MARK: Figure — the score field of the 2-D mixture at several noise levels

    static let scoreField = BookExperiment(
        name: "ch4-score-field",
        summary: "Density p_σ (heat map) and score ∇log p_σ (arrows) of GaussianMixture.example2D at several σ; Fisher information by Monte Carlo; Tweedie consistency of denoise and score.",
        defaults: ["sigmas": "0.1,0.5,2", "n": "20000", "seed": "0"]
    ) { p in
        let sigmas = try doubles(p, "sigmas")
        let n = try p.int("n", in: 100...1_000_000)
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let m = GaussianMixture.example2D
        let (lo, hi) = (-4.0, 4.0)
        let heat = grid(64, lo, hi), arrows = grid(15, lo, hi)
        var panels: [Plot] = []
        var numbers: [String: Double] = ["n": Double(n)]
        var worst = 0.0
        for (i, σ) in sigmas.enumerated() {
            let lv = level(σ)
            let dens = m.logDensity(heat.tensor, at: lv).map { exp($0) }
            let rows = (0..<64).map { j in Array(dens[(j * 64)..<(j * 64 + 64)]) }
            var pl = panel("σ = \(σ)")
            pl.heatmap(rows, xRange: lo...hi, yRange: lo...hi, gamma: 0.5)
            pl.quiver(arrows.points, compressed(m.score(arrows.tensor, at: lv)), colour: 1)
            panels.append(pl)
            // E‖∇log p_σ‖² (Fisher information) and E‖∇log p_σ‖ on samples of p_σ.
            let x = noisySamples(m, n, sigma: σ, seed: seed)
            let s = m.score(x, at: lv)
            numbers["fisher_\(i)"] = meanSquaredNorm(s)
            let norms = points(s).map { ($0.x * $0.x + $0.y * $0.y).squareRoot() }
            numbers["mean_norm_\(i)"] = norms.reduce(0, +) / Double(n)
            numbers["sigma_\(i)"] = σ
            // Two approximations (exercise): separated components, F ≈ Σ_k w_k Σ_j 1/(s_kj² + σ²); and the Gaussian lower
            // bound F ≥ tr Cov(x)⁻¹ with Cov(x) = Cov(x₀) + σ²I (equality only for a Gaussian).
            var separated = 0.0
            for k in 0..<m.componentCount {
                for sk in m.stds[k] { separated += m.weights[k] / (sk * sk + σ * σ) }
            }
            numbers["fisher_sep_\(i)"] = separated
            let c = covariance(m)
            let (a11, a22, a12) = (c[0][0] + σ * σ, c[1][1] + σ * σ, c[0][1])
            numbers["fisher_gauss_\(i)"] = (a11 + a22) / (a11 * a22 - a12 * a12)
            // Tweedie: E[x₀ | x] = x + σ²∇log p_σ(x), two independent code paths of the library.
            let d = m.denoise(heat.tensor, at: lv), t = heat.tensor + m.score(heat.tensor, at: lv) * Float(σ * σ)
            let diff = (d - t).abs().scalars.map(Double.init).max()!
            worst = Swift.max(worst, diff)
        }
        numbers["tweedie_maxdiff"] = worst
        return ExperimentResult(svg: Figure(panels, columns: panels.count).svg(title: "二维高斯混合在不同噪声水平下的密度与分数场"), numbers: numbers)
    }

    // MARK: Figure — explicit, implicit (sliced) and denoising score matching differ by constants

    static let objectives = BookExperiment(
        name: "ch4-objectives",
        summary: "ESM (quadrature), ISM (SlicedScoreMatching, Monte Carlo) and DSM (DenoisingScoreMatching, Monte Carlo) for the models c·s* and s* + b on GaussianMixture.example1D at one level σ.",
        defaults: ["sigma": "0.3", "n": "20000", "seed": "0", "points": "21"]
    ) { p in
        let σ = try p.double("sigma")
        guard σ > 0 else { throw ExperimentError("sigma must be positive") }
        let n = try p.int("n", in: 100...1_000_000)
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let k = try p.int("points", in: 3...201)
        let m = GaussianMixture.example1D
        let lv = level(σ)
        let x0 = m.sample(n, seed: seed)
        let dsm = DenoisingScoreMatching(sigmas: [σ])
        let ssm = SlicedScoreMatching(sigma: σ)
        func model(_ c: Double, _ b: Double) -> ClosurePredictor {
            ClosurePredictor(prediction: .score) { x, _, _ in m.score(x, at: lv) * Float(c) + Float(b) }
        }
        // Common random numbers: every model sees the same noise, so each curve is an exact parabola in c (or b).
        func ism(_ c: Double, _ b: Double) -> Double {
            var rng = RandomGenerator(seed: seed &+ 100)
            return Double(ssm(model(c, b), x0, rng: &rng).mean().item)
        }
        func dsmLoss(_ c: Double, _ b: Double) -> Double {
            var rng = RandomGenerator(seed: seed &+ 200)
            return Double(dsm(model(c, b), x0, rng: &rng).mean().item) / (σ * σ)   // the library weights by σ²
        }
        func esm(_ c: Double, _ b: Double) -> Double {
            m.expectation(at: lv) { _, post in let e = (c - 1) * post.score[0] + b; return 0.5 * e * e }
        }
        let F = m.fisherInformation(at: lv)
        let cs = (0..<k).map { 2 * Double($0) / Double(k - 1) }
        let bs = (0..<k).map { -1.5 + 3 * Double($0) / Double(k - 1) }
        var numbers: [String: Double] = ["sigma": σ, "n": Double(n), "fisher": F]
        var plots: [Plot] = []
        var offI: [Double] = [], offD: [Double] = []
        for (which, values) in [("scale", cs), ("shift", bs)] {
            let args = values.map { which == "scale" ? ($0, 0.0) : (1.0, $0) }
            let e = args.map { esm($0.0, $0.1) }, i = args.map { ism($0.0, $0.1) }, d = args.map { dsmLoss($0.0, $0.1) }
            offI += zip(i, e).map { $0 - $1 }
            offD += zip(d, e).map { $0 - $1 }
            let title = which == "scale" ? "模型 c·s*(x)" : "模型 s*(x) + b"
            var pl = Plot(width: 380, height: 300, title: title, x: Axis(which == "scale" ? "c" : "b"), y: Axis("目标函数值", range: -3...10))
            pl.line(x: values, y: e, colour: 0, label: "显式 J_ESM（求积）")
            pl.line(x: values, y: i, colour: 1, style: .dashed, label: "隐式 J_ISM（切片，蒙特卡洛）")
            pl.line(x: values, y: d, colour: 2, style: .dotted, width: 2.4, label: "去噪 J_DSM（蒙特卡洛）")
            plots.append(pl)
            // Each Monte-Carlo curve is exactly quadratic in its parameter: its vertex from three points.
            func vertex(_ f: (Double) -> Double) -> Double {
                let (a, b0, c0) = (f(-1), f(0), f(1))
                return (a - c0) / (2 * (a - 2 * b0 + c0))
            }
            if which == "scale" {
                numbers["argmin_c_ism"] = vertex { ism($0, 0) }
                numbers["argmin_c_dsm"] = vertex { dsmLoss($0, 0) }
            } else {
                numbers["argmin_b_ism"] = vertex { ism(1, $0) }
                numbers["argmin_b_dsm"] = vertex { dsmLoss(1, $0) }
            }
        }
        numbers["offset_ism_mc"] = offI.reduce(0, +) / Double(offI.count)
        numbers["offset_ism_spread"] = offI.max()! - offI.min()!
        numbers["offset_dsm_mc"] = offD.reduce(0, +) / Double(offD.count)
        numbers["offset_dsm_spread"] = offD.max()! - offD.min()!
        numbers["offset_ism_theory"] = -0.5 * F
        numbers["offset_dsm_theory"] = 0.5 * (1 / (σ * σ) - F)
        // The minima as the library states them: ½·MMSE/σ² for the σ²-weighted DSM, −½·F for SSM.
        numbers["dsm_min_library"] = dsm.irreducibleLoss(for: m)! / (σ * σ)
        numbers["ssm_min_library"] = ssm.irreducibleLoss(for: m)!
        numbers["mmse"] = m.minimumMeanSquaredError(at: lv)
        return ExperimentResult(svg: Figure(plots, columns: 2).svg(title: "三种分数匹配目标只差一个常数"), numbers: numbers)
    }

    // MARK: Figure — Langevin dynamics cannot fix the weights of separated modes; annealing can

    /// Two well-separated 2-D components with weights 0.8 (left) and 0.2 (right).
    public static let twoModes = GaussianMixture(weights: [0.8, 0.2], means: [[-2.5, 0], [2.5, 0]], std: [0.5, 0.5])

    static let langevinModes = BookExperiment(
        name: "ch4-langevin-modes",
        summary: "Langevin dynamics with the exact score of a two-mode mixture (weights 0.8/0.2) from a uniform start keeps the start's split; annealed Langevin recovers the weights.",
        defaults: ["seed": "0", "n": "1000", "steps": "500", "step_size": "0.05", "levels": "20", "per_level": "100", "sigma_max": "6"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let n = try p.int("n", in: 10...100_000)
        let steps = try p.int("steps", in: 1...100_000)
        let a = try p.double("step_size")
        let L = try p.int("levels", in: 2...1000)
        let T = try p.int("per_level", in: 1...10_000)
        let σmax = try p.double("sigma_max")
        let m = twoModes
        let start = Tensor.randomUniform([n, 2], seed: seed, stream: 41, lo: -6, hi: 6)
        let noise = NoiseSource(seed: seed)
        // Plain Langevin: one level σ_min = 0.01 (the score of p_0.01 is that of the data up to 0.01²), step a.
        let plain = Sampling.annealedLangevin(m, start, sigmas: [0.01, 0], noise: noise, stepsPerLevel: steps, epsilon: a)
        // Annealed Langevin: L geometric levels from σ_max to 0.01, T steps each, a_i = 0.2·σ_i² (the library default).
        let sigmas = Schedule.exponential(steps: L, sigmaMin: 0.01, sigmaMax: σmax)
        let annealed = Sampling.annealedLangevin(m, start, sigmas: sigmas, noise: NoiseSource(seed: seed &+ 1), stepsPerLevel: T)
        let data = m.sample(n, seed: seed &+ 2)
        func left(_ t: Tensor) -> [Int] { points(t).map { $0.x < 0 ? 0 : 1 } }
        func fraction(_ t: Tensor) -> Double { Double(left(t).filter { $0 == 0 }.count) / Double(n) }
        var panels: [Plot] = []
        for (k, (title, t)) in [("起点：均匀分布", start), ("Langevin（精确分数）", plain), ("退火 Langevin", annealed), ("真实数据", data)].enumerated() {
            var pl = panel(title, -6, 6, size: 220)
            // The start is coloured by where plain Langevin takes each point: its basin of attraction.
            pl.scatter(points(t), classes: left(k == 0 ? plain : t), radius: 1.3, opacity: 0.55)
            panels.append(pl)
        }
        let numbers: [String: Double] = [
            "n": Double(n), "steps": Double(steps), "step_size": a, "levels": Double(L), "per_level": Double(T), "sigma_max": σmax,
            "frac_init": fraction(start), "frac_langevin": fraction(plain), "frac_annealed": fraction(annealed),
            "frac_data": fraction(data), "weight_left": m.weights[0],
            // The log-density drop from a mode to the saddle between them (in nats).
            "barrier": m.logDensity(Tensor([-2.5, 0], shape: [1, 2]), at: level(0.01))[0] - m.logDensity(Tensor([0, 0], shape: [1, 2]), at: level(0.01))[0],
        ]
        return ExperimentResult(svg: Figure(panels, columns: 4).svg(title: "Langevin 动力学与退火 Langevin 在两个分离的模式上"), numbers: numbers)
    }

    // MARK: Figure — annealed Langevin dynamics on the 2-D mixture, and its dependence on the steps per level

    static let annealed = BookExperiment(
        name: "ch4-annealed",
        summary: "Sampling.annealedLangevin with the exact score of GaussianMixture.example2D: states after several levels, samples, and energy distance against steps per level for two step sizes.",
        defaults: ["seed": "0", "n": "2000", "levels": "10", "per_level": "20", "sigma_max": "5", "sigma_min": "0.01", "sweep": "1,2,5,10,20,50,100", "sweep_n": "1000"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let n = try p.int("n", in: 10...20_000)
        let L = try p.int("levels", in: 2...1000)
        let T = try p.int("per_level", in: 1...10_000)
        let (σmax, σmin) = (try p.double("sigma_max"), try p.double("sigma_min"))
        guard 0 < σmin && σmin < σmax else { throw ExperimentError("need 0 < sigma_min < sigma_max") }
        let sweep = try p.ints("sweep")
        let sn = try p.int("sweep_n", in: 10...20_000)
        let m = GaussianMixture.example2D
        let sigmas = Schedule.exponential(steps: L, sigmaMin: σmin, sigmaMax: σmax)
        // Record the state at the first call of every level = the state after the previous level.
        final class Recorder { var states: [(sigma: Double, x: Tensor)] = [] }
        let rec = Recorder()
        let model = ClosureDenoiser { x, lv in
            if rec.states.last?.sigma != lv.sigma { rec.states.append((lv.sigma, x)) }
            return m.denoise(x, at: lv)
        }
        let noise = NoiseSource(seed: seed)
        let start = noise.prior([n, 2], sigma: sigmas[0])
        let out = Sampling.annealedLangevin(model, start, sigmas: sigmas, noise: noise, stepsPerLevel: T)
        let (data, labels) = m.sampleWithComponents(n, seed: seed &+ 1)
        let other = m.sample(n, seed: seed &+ 2)
        // Colour by the component each final sample most likely belongs to (its responsibility at σ_min).
        let destiny: [Int] = points(out).map { q in
            (0..<m.componentCount).max { a, b in
                func score(_ k: Int) -> Double {
                    let z0 = (q.x - m.means[k][0]) / m.stds[k][0], z1 = (q.y - m.means[k][1]) / m.stds[k][1]
                    return log(m.weights[k]) - 0.5 * (z0 * z0 + z1 * z1) - log(m.stds[k][0] * m.stds[k][1])
                }
                return score(a) < score(b)
            }!
        }
        func spread(_ t: Tensor) -> Double {
            let pts = points(t)
            return pts.map { q in
                let k = (0..<m.componentCount).max { a, b in
                    func score(_ k: Int) -> Double {
                        let z0 = (q.x - m.means[k][0]) / m.stds[k][0], z1 = (q.y - m.means[k][1]) / m.stds[k][1]
                        return log(m.weights[k]) - 0.5 * (z0 * z0 + z1 * z1) - log(m.stds[k][0] * m.stds[k][1])
                    }
                    return score(a) < score(b)
                }!
                let (dx, dy) = (q.x - m.means[k][0], q.y - m.means[k][1])
                return dx * dx + dy * dy
            }.reduce(0, +) / Double(pts.count)
        }
        var panels: [Plot] = []
        let shown = [L / 3, L / 2, (2 * L) / 3 + 1].filter { $0 >= 1 && $0 < rec.states.count }
        for i in shown {
            var pl = panel("第 \(i) 个水平之后（σ = \(String(format: "%.2g", sigmas[i - 1]))）")
            pl.scatter(points(rec.states[i].x), classes: destiny, radius: 1.1, opacity: 0.55)
            panels.append(pl)
        }
        var fin = panel("生成的样本")
        fin.scatter(points(out), classes: destiny, radius: 1.1, opacity: 0.55)
        var dat = panel("真实数据")
        dat.scatter(points(data), classes: labels, radius: 1.1, opacity: 0.55)
        panels += [fin, dat]
        var numbers: [String: Double] = [
            "n": Double(n), "levels": Double(L), "per_level": Double(T), "sigma_max": σmax, "sigma_min": σmin,
            "ratio": sigmas[0] / sigmas[1], "calls": Double(L * T + 1),
            "ed": Metrics.energyDistance(out, data), "ed_floor_pair": Metrics.energyDistance(other, data),
            "ed_floor": SampleMetric.energy.expectedFloor(n: n) { k, s in m.sample(k, seed: s) }!,
            // RMS distance to the most likely component's mean, samples against data: > 1 means too wide.
            "spread_ratio": (spread(out) / spread(data)).squareRoot(),
        ]
        // Energy distance against the steps per level, for a_i = 0.2·σ_i² (default) and a_i = 0.02·σ_i².
        var sweepPlot = Plot(width: 330, height: 254, title: "能量距离与每个水平的步数", x: Axis("每个水平的步数 T", scale: .log), y: Axis("能量距离", scale: .log))
        sweepPlot.showLegend = true
        let ref = m.sample(sn, seed: seed &+ 3)
        let sample: (Int, UInt64) -> Tensor = { k, s in m.sample(k, seed: s) }
        let floor = SampleMetric.energy.expectedFloor(n: sn, sample: sample)!
        numbers["sweep_floor"] = floor
        numbers["sweep_n"] = Double(sn)
        for (k, factor) in [0.2, 0.02].enumerated() {
            var eds: [Double] = []
            for t in sweep {
                let nz = NoiseSource(seed: seed &+ 5)
                let x = Sampling.annealedLangevin(m, nz.prior([sn, 2], sigma: sigmas[0]), sigmas: sigmas, noise: nz, stepsPerLevel: t, epsilon: factor * σmin * σmin)
                let ed = Metrics.energyDistance(x, ref)
                eds.append(ed)
                numbers["ed_T\(t)_a\(k)"] = ed
                numbers["spread_T\(t)_a\(k)"] = (spread(x) / spread(ref)).squareRoot()
            }
            sweepPlot.line(x: sweep.map(Double.init), y: eds, colour: k, style: k == 0 ? .solid : .dashed, label: "aᵢ = \(factor)·σᵢ²")
        }
        sweepPlot.line(x: [Double(sweep.first!), Double(sweep.last!)], y: [floor, floor], colour: 7, style: .dotted, width: 1.2, label: "真实对真实的期望值")
        panels.append(sweepPlot)
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "退火 Langevin 动力学：从大噪声到小噪声"), numbers: numbers)
    }

    // MARK: Numbers and figure — choosing the noise levels (Song & Ermon 2020)

    /// Φ, the standard normal CDF.
    public static func normalCDF(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }

    /// Technique 2 of Song & Ermon 2020: the ratio γ = σ_{i−1}/σ_i > 1 at which a sample of N(0, σ_i²I) in d dimensions
    /// falls in the ±3-std shell of N(0, σ_{i−1}²I) with probability 1/2 (nil when no such γ exists, d ≤ 4).
    public static func technique2Ratio(dimension d: Int) -> Double? {
        let r = (2 * Double(d)).squareRoot()
        func f(_ γ: Double) -> Double { normalCDF(r * (γ - 1) + 3 * γ) - normalCDF(r * (γ - 1) - 3 * γ) - 0.5 }
        var (lo, hi) = (1.0, 1.0 + 1e-9)
        while f(hi) > 0 { hi = 1 + 2 * (hi - 1); if hi > 1e6 { return nil } }
        for _ in 0..<200 { let mid = 0.5 * (lo + hi); if f(mid) > 0 { lo = mid } else { hi = mid } }
        return 0.5 * (lo + hi)
    }

    /// Var(x)/σ_i² after T Langevin steps x ← x + (a/2)∇log p + √a·z at level σ_i, a = e·σ_i², on data at one point
    /// (p_σ = N(0, σ²I)), starting from N(0, γ²σ_i²I): r^T(γ² − c) + c with r = (1 − e/2)², c = e/(1 − r).
    public static func technique4Ratio(e: Double, steps T: Int, gamma γ: Double) -> Double {
        let r = (1 - e / 2) * (1 - e / 2), c = e / (1 - r)
        return pow(r, Double(T)) * (γ * γ - c) + c
    }

    static let noiseScales = BookExperiment(
        name: "ch4-noise-scales",
        summary: "Song & Ermon 2020 techniques 1, 2 and 4: largest pairwise distance of the 2-D data, geometric ratio γ and level count L against d, the variance ratio after T Langevin steps against the step size, checked by Sampling.annealedLangevin.",
        defaults: ["seed": "0", "n": "2000", "sim_d": "3072", "sim_n": "32", "sim_levels": "12", "sim_T": "5", "sim_e": "0.1"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let n = try p.int("n", in: 2...5000)
        var numbers: [String: Double] = [:]
        // Technique 1: σ_1 about the largest distance between two training points.
        let x = GaussianMixture.example2D.sample(n, seed: seed).scalars.map(Double.init)
        var far = 0.0
        for i in 0..<n { for j in (i + 1)..<n {
            let (dx, dy) = (x[2 * i] - x[2 * j], x[2 * i + 1] - x[2 * j + 1])
            far = Swift.max(far, dx * dx + dy * dy)
        } }
        numbers["max_distance"] = far.squareRoot()
        numbers["n"] = Double(n)
        // Technique 2: γ and the number of levels from σ_1 = 50 to σ_L = 0.01.
        for d in [2, 4, 5, 3072, 12288, 196_608] {
            if let γ = technique2Ratio(dimension: d) {
                numbers["gamma_\(d)"] = γ
                numbers["levels_\(d)"] = (1 + log(50 / 0.01) / log(γ)).rounded(.up)
            } else {
                numbers["no_gamma_\(d)"] = 1
            }
        }
        // Technique 4 for d = 3072: the step size e = a/σ_i² that minimises the variance ratio after T steps.
        let γ = technique2Ratio(dimension: 3072)!
        var curves = Plot(width: 560, height: 340, title: "一个水平结束时的方差比 Var(x)/σᵢ²（d = 3072）", x: Axis("步长 e = aᵢ/σᵢ²", scale: .log, range: 0.001...2), y: Axis("方差比", range: 0.98...1.2))
        let es = (0...300).map { pow(10, -3 + 3.3 * Double($0) / 300) }.filter { $0 < 2 }
        for (k, T) in [1, 5, 20, 100].enumerated() {
            let ys = es.map { technique4Ratio(e: $0, steps: T, gamma: γ) }
            curves.line(x: es, y: ys, colour: k, style: k % 2 == 0 ? .solid : .dashed, label: "T = \(T)")
            // The minimiser on a fine log grid, refined by golden-section search.
            var (a, b) = (1e-4, 1.9)
            let g = (5.0.squareRoot() - 1) / 2
            for _ in 0..<200 {
                let (c, d) = (b - g * (b - a), a + g * (b - a))
                if technique4Ratio(e: c, steps: T, gamma: γ) < technique4Ratio(e: d, steps: T, gamma: γ) { b = d } else { a = c }
            }
            let e = 0.5 * (a + b)
            numbers["e_star_T\(T)"] = e
            numbers["ratio_star_T\(T)"] = technique4Ratio(e: e, steps: T, gamma: γ)
        }
        curves.line(x: [0.001, 2], y: [1, 1], colour: 7, style: .dotted, width: 1.2)
        numbers["gamma2_3072"] = γ * γ
        // The library default a_i = 0.2·σ_i², T = 20, with 10 levels from 1 to 0.01 (γ = 100^{1/9}).
        let γ10 = pow(100, 1.0 / 9)
        numbers["gamma_10levels"] = γ10
        numbers["ratio_default"] = technique4Ratio(e: 0.2, steps: 20, gamma: γ10)
        numbers["stationary_default"] = technique4Ratio(e: 0.2, steps: 100_000, gamma: γ10)
        // Check the recursion with the library's sampler: data at one point (std 1e-4) in d dimensions, L levels with
        // ratio γ ending at σ_L = 0.01, T steps each, a_i = e·σ_i²; the variance ratio after the last level.
        let d = try p.int("sim_d", in: 1...100_000)
        let sn = try p.int("sim_n", in: 1...10_000)
        let L = try p.int("sim_levels", in: 2...1000)
        let T = try p.int("sim_T", in: 1...1000)
        let e = try p.double("sim_e")
        let γd = technique2Ratio(dimension: d) ?? γ10
        let point = GaussianMixture(weights: [1], means: [Array(repeating: 0, count: d)], std: [1e-4])
        let σs = (0..<L).map { 0.01 * pow(γd, Double(L - 1 - $0)) }
        let noise = NoiseSource(seed: seed &+ 9)
        let out = Sampling.annealedLangevin(point, noise.prior([sn, d], sigma: σs[0]), sigmas: σs, noise: noise, stepsPerLevel: T, epsilon: e * 0.01 * 0.01)
        let measured = meanSquaredNorm(out) / Double(d) / (0.01 * 0.01)
        // The same recursion in closed form: v ← r^T(v − cσ_i²) + cσ_i², starting from v = σ_1² (the prior).
        let r = (1 - e / 2) * (1 - e / 2), c = e / (1 - r)
        var v = σs[0] * σs[0]
        let s0 = 1e-8   // the data's own variance (std 1e-4), added at every level
        for σ in σs { let target = c * (σ * σ + s0); v = pow(r, Double(T)) * (v - target) + target }
        numbers["sim_measured"] = measured
        numbers["sim_predicted"] = v / (0.01 * 0.01)
        numbers["sim_gamma"] = γd
        numbers["sim_d"] = Double(d); numbers["sim_n"] = Double(sn); numbers["sim_levels"] = Double(L); numbers["sim_T"] = Double(T); numbers["sim_e"] = e
        numbers["sim_single_level"] = technique4Ratio(e: e, steps: T, gamma: γd)
        return ExperimentResult(svg: curves.svg(), numbers: numbers)
    }

    // MARK: Numbers — the bias of unadjusted Langevin on a Gaussian

    static let ula = BookExperiment(
        name: "ch4-ula",
        summary: "Stationary variance of discretised Langevin on N(0, 1) for several step sizes (Sampling.annealedLangevin on one level) against s²/(1 − a/(4s²)).",
        defaults: ["seed": "0", "n": "20000", "steps": "200", "sizes": "0.1,0.5,1"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let n = try p.int("n", in: 10...1_000_000)
        let steps = try p.int("steps", in: 1...100_000)
        let sizes = try doubles(p, "sizes")
        let g = GaussianMixture(weights: [1], means: [[0]], std: [1])
        // p_σ = N(0, 1 + σ²). σ must not be tiny: the sampler forms ŝ = (D − x)/σ², and D − x ≈ −σ²x/(1 + σ²) would
        // drown in Float32 rounding of x (relative 6e-8) once σ² is below about 1e-5.
        let σ = 0.01
        var numbers: [String: Double] = ["n": Double(n), "steps": Double(steps)]
        for (i, a) in sizes.enumerated() {
            let noise = NoiseSource(seed: seed &+ UInt64(i))
            let x = Sampling.annealedLangevin(g, noise.prior([n, 1]), sigmas: [σ, 0], noise: noise, stepsPerLevel: steps, epsilon: a)
            let v = x.scalars.map(Double.init)
            let mean = v.reduce(0, +) / Double(n)
            numbers["var_\(i)"] = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
            let s2 = 1 + σ * σ
            numbers["theory_\(i)"] = s2 / (1 - a / (4 * s2))
            numbers["a_\(i)"] = a
        }
        return ExperimentResult(numbers: numbers)
    }

    // MARK: Figure — a tiny denoising-score-matching run on the 2-D mixture

    static let dsmTraining = BookExperiment(
        name: "ch4-dsm-train",
        summary: "ToyTrainer with the dsm objective (NCSN, VE levels 0.01…10) on gmm-2d: learned against exact score field, relative score error at several σ, annealed-Langevin samples and their energy distance.",
        defaults: ["seed": "0", "steps": "2000", "width": "64", "blocks": "2", "batch": "256", "n": "1000", "show_sigma": "0.3"]
    ) { p in
        var config = TrainingConfig()
        config.data = "gmm-2d"
        config.objective = "dsm"
        config.steps = try p.int("steps", in: 1...100_000)
        config.width = try p.int("width", in: 4...1024)
        config.blocks = try p.int("blocks", in: 0...8)
        config.batchSize = try p.int("batch", in: 8...8192)
        config.seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let n = try p.int("n", in: 10...20_000)
        let show = try p.double("show_sigma")
        let trainer: ToyTrainer
        do { trainer = try ToyTrainer(config) } catch { throw ExperimentError("\(error)") }
        var losses: [Double] = []
        trainer.train(onStep: { _, loss in losses.append(loss) })
        let model = trainer.samplingModel()
        let m = GaussianMixture.example2D
        var numbers: [String: Double] = ["steps": Double(config.steps), "width": Double(config.width), "blocks": Double(config.blocks), "batch": Double(config.batchSize)]
        numbers["parameters"] = Double(model.network.parameters().reduce(0) { $0 + $1.value.count })
        let tail = losses.suffix(50)
        numbers["final_loss"] = tail.reduce(0, +) / Double(tail.count)
        // The loss of the exact score (Monte Carlo with ExactMixtureModel): what a perfect network would reach.
        var rng = RandomGenerator(seed: 99)
        numbers["irreducible_loss"] = Double(config.lossObjective(ExactMixtureModel(m, prediction: .score), m.sample(20000, seed: 98), rng: &rng).mean().item)
        // Relative score error E‖ŝ − s*‖²/E‖s*‖² on samples of p_σ.
        for (i, σ) in [0.05, 0.3, 1.0, 3.0].enumerated() {
            let x = noisySamples(m, 2000, sigma: σ, seed: 77)
            let exact = m.score(x, at: level(σ))
            let learned = withNoGrad { model.score(x, at: level(σ)) }
            numbers["rel_err_\(i)"] = meanSquaredNorm(learned - exact) / meanSquaredNorm(exact)
            numbers["err_sigma_\(i)"] = σ
        }
        let arrows = grid(15, -4, 4)
        var panels: [Plot] = []
        for (title, s) in [("学到的分数（σ = \(show)）", withNoGrad { model.score(arrows.tensor, at: level(show)) }), ("精确分数（σ = \(show)）", m.score(arrows.tensor, at: level(show)))] {
            var pl = panel(title)
            pl.quiver(arrows.points, compressed(s), colour: 1)
            panels.append(pl)
        }
        // Samples: annealed Langevin with the learned score and, for reference, with the exact one.
        let sigmas = Schedule.exponential(steps: 10, sigmaMin: 0.01, sigmaMax: 5)
        let noise = NoiseSource(seed: 5)
        let start = noise.prior([n, 2], sigma: sigmas[0])
        let learnedSamples = withNoGrad { Sampling.annealedLangevin(model, start, sigmas: sigmas, noise: noise, stepsPerLevel: 20) }
        let exactSamples = Sampling.annealedLangevin(m, start, sigmas: sigmas, noise: noise, stepsPerLevel: 20)
        let data = m.sample(n, seed: 6)
        numbers["ed_learned"] = Metrics.energyDistance(learnedSamples, data)
        numbers["ed_exact"] = Metrics.energyDistance(exactSamples, data)
        numbers["ed_floor"] = SampleMetric.energy.expectedFloor(n: n) { k, s in m.sample(k, seed: s) }!
        var pl = panel("学到的分数 + 退火 Langevin")
        pl.scatter(points(learnedSamples), radius: 1.1, opacity: 0.5)
        panels.append(pl)
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "去噪分数匹配训练的小网络"), numbers: numbers)
    }
}
