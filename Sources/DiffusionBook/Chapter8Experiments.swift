import Diffusion
import DiffusionEngine
import DiffusionPlot
import Foundation

/// The experiments of chapter 8 (book/ch08-sampling.md): samplers on the exact probability-flow ODE of Gaussian
/// mixtures — local and global error against step size and model calls, trajectories, step schedules, sample quality
/// against model calls — and the numbers its exercises quote.
///
/// Conventions: EDM levels σ (α = 1 coordinates, x = x₀ + σ·ε); a list of N + 1 levels is N steps; the step size in
/// log-SNR is h = log(σ_i/σ_{i+1}) = (λ_{i+1} − λ_i)/2. Errors are root-mean-square over samples and coordinates,
/// against `GaussianMixture.probabilityFlow` (classical Runge–Kutta in Double). Model calls are counted with
/// `CountingDenoiser`, never inferred.
public enum Chapter8 {
    public static let experiments: [BookExperiment] = [order, trajectories, schedules, quality, numbers]

    // MARK: Shared helpers

    /// Three broad, overlapping 2-D components (as in the library's convergence tests): no trajectory runs along a
    /// knife edge between modes, so errors reach their asymptotic rate at modest step counts.
    public static let broad = GaussianMixture(weights: [0.5, 0.3, 0.2], means: [[-1, 0], [1, 0.5], [0.2, 1.5]],
                                              stds: [[0.5, 0.4], [0.4, 0.6], [0.5, 0.5]])

    /// Root-mean-square difference over all entries, in Double.
    public static func rms(_ a: Tensor, _ b: Tensor) -> Double {
        let (x, y) = (a.scalars, b.scalars)
        precondition(x.count == y.count, "rms of tensors with \(x.count) and \(y.count) entries")
        var s = 0.0
        for (p, q) in zip(x, y) { let d = Double(p) - Double(q); s += d * d }
        return (s / Double(x.count)).squareRoot()
    }

    /// Least-squares slope of log y against log x.
    public static func logLogSlope(_ xs: [Double], _ ys: [Double]) -> Double {
        let lx = xs.map { log($0) }, ly = ys.map { log($0) }
        let mx = lx.reduce(0, +) / Double(lx.count), my = ly.reduce(0, +) / Double(ly.count)
        var num = 0.0, den = 0.0
        for (a, b) in zip(lx, ly) { num += (a - mx) * (b - my); den += (a - mx) * (a - mx) }
        return num / den
    }

    /// N + 1 Karras levels σ_max … σ_min (ρ = 7) and no final 0: N steps of a pure ODE solve.
    public static func karrasLevels(_ N: Int, sigmaMax: Double, sigmaMin: Double) -> [Double] {
        Array(Schedule.karras(steps: N + 1, sigmaMin: sigmaMin, sigmaMax: sigmaMax).dropLast())
    }

    /// Runs a registry sampler through a call counter; returns the output and the number of model calls.
    static func counted(_ name: String, _ model: GaussianMixture, _ x: Tensor, _ sigmas: [Double], seed: UInt64 = 0) throws -> (Tensor, Int) {
        guard let sampler = Sampler.named(name) else { throw ExperimentError("no sampler '\(name)'") }
        let counter = CountingDenoiser(model)
        let out = sampler(counter, x, sigmas: sigmas, noise: NoiseSource(seed: seed))
        return (out, counter.calls)
    }

    /// Number-key form of a sampler name ("dpmpp-2m" → "dpmpp_2m").
    static func key(_ name: String) -> String { name.replacingOccurrences(of: "-", with: "_") }

    /// VP coordinates x_t = α·x of an α = 1 state at EDM level σ (α = 1/√(1 + σ²)).
    static func vp(_ x: [Float], _ σ: Double, _ i: Int) -> Point {
        let a = 1 / (1 + σ * σ).squareRoot()
        return Point(a * Double(x[2 * i]), a * Double(x[2 * i + 1]))
    }

    /// The VP SDE of Song et al. 2021 (arXiv 2011.13456) with linear β(t) = β_min + t(β_max − β_min), β_min = 0.1,
    /// β_max = 20: ∫₀ᵗβ = 0.1t + 9.95t², α(t) = exp(−½∫β), and EDM level σ(t)² = exp(∫β) − 1.
    enum LinearVPSDE {
        static let (βmin, βmax) = (0.1, 20.0)
        static func integral(_ t: Double) -> Double { βmin * t + 0.5 * (βmax - βmin) * t * t }
        static func beta(_ t: Double) -> Double { βmin + t * (βmax - βmin) }
        /// The time whose EDM level is σ: solve 9.95t² + 0.1t = log(1 + σ²).
        static func time(sigma σ: Double) -> Double {
            let b = log1p(σ * σ), a = 0.5 * (βmax - βmin)
            return (-βmin + (βmin * βmin + 4 * a * b).squareRoot()) / (2 * a)
        }
    }

    /// Euler's method on the VP probability-flow ODE dx/dt = −½β(t)(x + ∇log p_t(x)) in VP time t (the sampler of
    /// Song et al. 2021 with Euler steps), on the same EDM level list as the σ-space samplers: the state is
    /// converted to VP coordinates at the start and back at the end; a step to σ = 0 returns the denoised value, as
    /// the library's samplers do. One call per step. Returns the α = 1 states after every step.
    static func eulerVP(_ model: GaussianMixture, _ x: Tensor, sigmas: [Double]) -> [Tensor] {
        func level(_ t: Double) -> NoiseLevel {
            let a = exp(-0.5 * LinearVPSDE.integral(t))
            return NoiseLevel(alpha: a, sigma: (-expm1(-LinearVPSDE.integral(t))).squareRoot())
        }
        var t = LinearVPSDE.time(sigma: sigmas[0])
        var xt = x * Float(level(t).alpha)
        var states: [Tensor] = []
        for i in 0..<(sigmas.count - 1) {
            let lv = level(t)
            if sigmas[i + 1] == 0 {
                xt = model.denoise(xt, at: lv)
                states.append(xt)
                continue
            }
            let tNext = LinearVPSDE.time(sigma: sigmas[i + 1])
            let score = model.score(xt, at: lv)
            xt = xt + (xt + score) * Float(-0.5 * LinearVPSDE.beta(t) * (tNext - t))
            t = tNext
            states.append(xt * Float(1 / level(t).alpha))
        }
        return states
    }

    // MARK: Figure — local and global truncation error

    /// (registry name, label, step counts for the fitted slope).
    static let orderSamplers: [(name: String, label: String, fit: [Int])] = [
        ("euler", "Euler = DDIM", [16, 32, 64]),
        ("heun", "Heun", [16, 32, 64]),
        ("dpm2", "DPM-Solver-2", [16, 32, 64]),
        ("dpmpp-2m", "DPM-Solver++(2M)", [16, 32, 64]),
        ("dpmpp-3m", "DPM-Solver++(3M)", [32, 48, 64, 96]),
        ("unipc", "UniPC", [32, 48, 64, 96]),
        ("lms", "LMS", [64, 96, 128]),
    ]

    static let order = BookExperiment(
        name: "ch8-order",
        summary: "Local error of one step against h and global error against model calls (log-log, fitted slopes) for every deterministic sampler on the exact PF-ODE of a 2-D mixture.",
        defaults: ["seed": "3", "n": "64", "steps": "3,4,6,8,12,16,24,32,48,64,96,128", "h": "0.05,0.1,0.2,0.4,0.8",
                   "fit_h": "3", "sigma_max": "80", "sigma_min": "0.02", "sigma_local": "1"],
        revision: 2
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 2...4096)
        let steps = try p.ints("steps")
        guard steps.allSatisfy({ (1...4096).contains($0) }) else { throw ExperimentError("steps must lie in 1…4096") }
        let hs = p.string("h").split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !hs.isEmpty, hs.allSatisfy({ $0 > 0 && $0 < 5 }) else { throw ExperimentError("h must be comma-separated numbers in (0, 5)") }
        let fitH = try p.int("fit_h", in: 2...hs.count)
        let (σMax, σMin, σLocal) = (try p.double("sigma_max"), try p.double("sigma_min"), try p.double("sigma_local"))
        guard 0 < σMin && σMin < σLocal && σLocal < σMax else { throw ExperimentError("need 0 < sigma_min < sigma_local < sigma_max") }
        let m = broad
        let start = NoiseSource(seed: UInt64(seed)).prior([n, 2], sigma: σMax)
        let reference = m.probabilityFlow(start, from: σMax, to: σMin, steps: 2000)
        var numbers: [String: Double] = ["n": Double(n), "sigma_max": σMax, "sigma_min": σMin, "sigma_local": σLocal]
        numbers["reference_check"] = rms(m.probabilityFlow(start, from: σMax, to: σMin, steps: 500), reference)

        // Local error: one step of size h from a point on the exact trajectory at σ_local.
        let xa = m.probabilityFlow(start, from: σMax, to: σLocal, steps: 2000)
        var local = Plot(width: 340, height: 350, title: "一步的局部误差", x: Axis("步长 h = log(σᵢ/σᵢ₊₁)", scale: .log), y: Axis("均方根误差", scale: .log, range: 1e-6...10))
        for (c, (name, label)) in [("euler", "Euler = DDIM"), ("heun", "Heun"), ("dpm2", "DPM-Solver-2")].enumerated() {
            var errors: [Double] = []
            for h in hs {
                let σb = σLocal * exp(-h)
                let exact = m.probabilityFlow(xa, from: σLocal, to: σb, steps: 400)
                let (out, _) = try counted(name, m, xa, [σLocal, σb])
                errors.append(rms(out, exact))
            }
            // The slope over the smallest step sizes, where the leading error term dominates.
            let order = hs.indices.sorted { hs[$0] < hs[$1] }.prefix(fitH)
            let s = logLogSlope(order.map { hs[$0] }, order.map { errors[$0] })
            numbers["local_slope_\(key(name))"] = s
            for (h, e) in zip(hs, errors) { numbers["local_\(key(name))_\(String(format: "%g", h).replacingOccurrences(of: ".", with: "p"))"] = e }
            local.line(x: hs, y: errors, colour: c, label: "\(label)，斜率 \(String(format: "%.2f", s))")
            local.scatter(zip(hs, errors).map { Point($0, $1) }, colour: c, radius: 2.6, opacity: 1)
        }

        // Global error at σ_min against model calls.
        var global = Plot(width: 470, height: 350, title: "整段的全局误差", x: Axis("模型调用次数 NFE", scale: .log), y: Axis("均方根误差", scale: .log, range: 1e-5...1e3))
        let styles: [LineStyle] = [.solid, .solid, .dashed, .solid, .solid, .dashed, .dotted]
        for (c, s) in orderSamplers.enumerated() {
            var cache: [Int: (err: Double, calls: Int)] = [:]
            func run(_ N: Int) throws -> (err: Double, calls: Int) {
                if let r = cache[N] { return r }
                let (out, calls) = try counted(s.name, m, start, karrasLevels(N, sigmaMax: σMax, sigmaMin: σMin))
                let r = (rms(out, reference), calls)
                cache[N] = r
                return r
            }
            let curve = try steps.map { try run($0) }
            let fit = try s.fit.map { try run($0) }
            let slope = -logLogSlope(fit.map { Double($0.calls) }, fit.map(\.err))
            numbers["slope_\(key(s.name))"] = slope
            for N in Set(steps + s.fit) {
                let r = try run(N)
                numbers["err_\(key(s.name))_\(N)"] = r.err
                numbers["nfe_\(key(s.name))_\(N)"] = Double(r.calls)
            }
            let pts = curve.map { Point(Double($0.calls), $0.err) }
            global.line(pts, colour: c, style: styles[c], label: "\(s.label)，\(String(format: "%.2f", slope))")
            global.scatter(pts, colour: c, radius: 2.2, opacity: 1)
        }
        return ExperimentResult(svg: Figure([local, global], columns: 2).svg(title: "采样器的局部误差与全局误差（对数坐标，图例中是拟合斜率）"), numbers: numbers)
    }

    // MARK: Figure — trajectories of four samplers at the same budget

    static let trajectories = BookExperiment(
        name: "ch8-trajectories",
        summary: "1-D trajectories (VP coordinate against log-SNR) of DDIM, Euler in VP time, Heun and DPM-Solver++(2M) at the same number of model calls on GaussianMixture.example1D, over the exact PF-ODE paths; endpoint errors at two budgets.",
        defaults: ["seed": "2", "paths": "20", "n": "1000", "nfe": "11", "nfe_large": "41", "sigma_max": "80", "sigma_min": "0.002"],
        revision: 2
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let paths = try p.int("paths", in: 1...200)
        let n = try p.int("n", in: paths...20_000)
        let nfe = try p.int("nfe", in: 3...400)
        let nfeLarge = try p.int("nfe_large", in: 3...400)
        let (σMax, σMin) = (try p.double("sigma_max"), try p.double("sigma_min"))
        guard 0 < σMin && σMin < σMax else { throw ExperimentError("need 0 < sigma_min < sigma_max") }
        let m = GaussianMixture.example1D
        let start = NoiseSource(seed: UInt64(seed)).prior([n, 1], sigma: σMax)
        // The exact map: Runge–Kutta to σ_min, then the denoiser (every sampler's last step lands on D).
        let exact = m.denoise(m.probabilityFlow(start, from: σMax, to: σMin, steps: 600), sigma: σMin)
        // Drawn paths: evenly spread quantiles of the starting noise, so every mode gets some.
        let sorted = start.scalars.sorted()
        let shown = Tensor((0..<paths).map { sorted[(2 * $0 + 1) * n / (2 * paths)] }, shape: [paths, 1])
        // Coordinates of the figure: λ = −2 log σ across, the VP value x/√(1 + σ²) up; σ = 0 is drawn at λ_end.
        let λEnd = -2 * log(σMin) + 2.5
        func point(_ x: Float, _ σ: Double) -> Point {
            σ == 0 ? Point(λEnd, Double(x)) : Point(-2 * log(σ), Double(x) / (1 + σ * σ).squareRoot())
        }
        var refLevels = (0..<80).map { σMax * pow(σMin / σMax, Double($0) / 79) }
        refLevels[79] = σMin
        var refStates: [(σ: Double, x: [Float])] = [(σMax, shown.scalars)]
        var cur = shown
        for i in 1..<refLevels.count {
            cur = m.probabilityFlow(cur, from: refLevels[i - 1], to: refLevels[i], steps: 30)
            refStates.append((refLevels[i], cur.scalars))
        }
        refStates.append((0, m.denoise(cur, sigma: σMin).scalars))
        let refPaths = (0..<paths).map { j in refStates.map { point($0.x[j], $0.σ) } }

        // A deterministic sampler run on the first k + 1 levels stops exactly where the full run is after k steps.
        func registry(_ name: String) -> ([Double], Tensor) -> [Tensor] {
            { sigmas, x in
                let s = Sampler.named(name)!
                return (1..<sigmas.count).map { k in s(m, x, sigmas: Array(sigmas[0...k]), noise: NoiseSource(seed: 0)) }
            }
        }
        func final(_ name: String) -> ([Double], Tensor) -> Tensor {
            { sigmas, x in Sampler.named(name)!(m, x, sigmas: sigmas, noise: NoiseSource(seed: 0)) }
        }
        // (key, title, steps for a budget, states after every step, final state, colour)
        let cases: [(key: String, title: String, steps: (Int) -> Int, run: ([Double], Tensor) -> [Tensor], final: ([Double], Tensor) -> Tensor, colour: Int)] = [
            ("ddim", "DDIM（σ 中的 Euler）", { $0 }, registry("ddim"), final("ddim"), 0),
            ("euler_vp", "VP 时间 t 中的 Euler", { $0 }, { s, x in eulerVP(m, x, sigmas: s) }, { s, x in eulerVP(m, x, sigmas: s).last! }, 1),
            ("heun", "Heun（EDM）", { ($0 + 1) / 2 }, registry("heun"), final("heun"), 2),
            ("dpmpp_2m", "DPM-Solver++(2M)", { $0 }, registry("dpmpp-2m"), final("dpmpp-2m"), 3),
        ]
        var panels: [Plot] = []
        var numbers: [String: Double] = ["paths": Double(paths), "n": Double(n), "nfe": Double(nfe), "nfe_large": Double(nfeLarge)]
        for cs in cases {
            for (budget, suffix) in [(nfe, ""), (nfeLarge, "_large")] {
                let N = cs.steps(budget)
                let sigmas = Schedule.karras(steps: N, sigmaMin: σMin, sigmaMax: σMax)
                let counter = CountingDenoiser(m)
                let out: Tensor
                if cs.key == "euler_vp" { out = cs.final(sigmas, start) } else {
                    out = Sampler.named(cs.key == "dpmpp_2m" ? "dpmpp-2m" : cs.key)!(counter, start, sigmas: sigmas, noise: NoiseSource(seed: 0))
                }
                let d = zip(out.scalars, exact.scalars).map { Swift.abs(Double($0) - Double($1)) }.sorted()
                numbers["err_\(cs.key)\(suffix)"] = rms(out, exact)
                numbers["median_\(cs.key)\(suffix)"] = d[d.count / 2]
                numbers["calls_\(cs.key)\(suffix)"] = Double(cs.key == "euler_vp" ? N : counter.calls)
                numbers["steps_\(cs.key)\(suffix)"] = Double(N)
            }
            let N = cs.steps(nfe)
            let sigmas = Schedule.karras(steps: N, sigmaMin: σMin, sigmaMax: σMax)
            let states = cs.run(sigmas, shown)
            let drawn = (0..<paths).map { j in [point(shown.scalars[j], σMax)] + zip(states, sigmas.dropFirst()).map { point($0.0.scalars[j], $0.1) } }
            let calls = Int(numbers["calls_\(cs.key)"]!)
            var pl = Plot(width: 340, height: 260, title: "\(cs.title)，\(calls) 次调用", x: Axis("λ = −2 log σ", range: -10...(λEnd + 0.5)), y: Axis(range: -3...3))
            pl.showLegend = false
            pl.trajectories(refPaths, colour: 7, endpoints: false)
            pl.trajectories(drawn, colour: cs.colour)
            panels.append(pl)
        }
        numbers["lambda_end"] = λEnd
        return ExperimentResult(svg: Figure(panels, columns: 2).svg(title: "同样的起点、同样多的模型调用：四种采样器的轨迹与精确的概率流轨迹（灰色）"), numbers: numbers)
    }

    // MARK: Figure — one seed through six step schedules

    /// The schedules of the figure: key, label and N + 1 levels ending at 0.
    static func scheduleCases(steps N: Int) -> [(key: String, label: String, sigmas: [Double])] {
        let vp = DiscreteVP.linear()
        return [
            ("karras", "Karras ρ = 7", Schedule.karras(steps: N, sigmaMin: 0.002, sigmaMax: 80)),
            ("exponential", "λ 均匀（指数）", Schedule.exponential(steps: N, sigmaMin: 0.002, sigmaMax: 80)),
            ("uniform_sigma", "σ 均匀（ρ = 1）", Schedule.karras(steps: N, sigmaMin: 0.002, sigmaMax: 80, rho: 1)),
            ("trailing", "离散 trailing", Schedule.discrete(steps: N, process: vp, spacing: .trailing)),
            ("leading", "离散 leading", Schedule.discrete(steps: N, process: vp, spacing: .leading)),
            ("linspace", "离散 linspace", Schedule.discrete(steps: N, process: vp, spacing: .uniform)),
        ]
    }

    static let schedules = BookExperiment(
        name: "ch8-schedules",
        summary: "Six step schedules with N steps: the levels σ_i, and DDIM samples of GaussianMixture.example2D from the same starting noise z; energy distances (mean over seeds) for DDIM, DPM-Solver++(2M) and Heun on each schedule.",
        defaults: ["seed": "0", "n": "1000", "steps": "10", "repeats": "4"],
        revision: 2
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 10...5000)
        let N = try p.int("steps", in: 2...200)
        let R = try p.int("repeats", in: 1...20)
        let m = GaussianMixture.example2D
        var levels = Plot(width: 300, height: 280, title: "噪声水平 σᵢ（\(N) 步）", x: Axis("步 i", range: 0...Double(N - 1)), y: Axis("σᵢ", scale: .log))
        var panels: [Plot] = []
        var numbers: [String: Double] = ["n": Double(n), "steps": Double(N), "repeats": Double(R)]
        let styles: [LineStyle] = [.solid, .dashed, .dotted, .solid, .dashed, .dotted]
        for (c, sc) in scheduleCases(steps: N).enumerated() {
            let positive = sc.sigmas.dropLast()
            levels.line(x: (0..<positive.count).map(Double.init), y: Array(positive), colour: c, style: styles[c], label: sc.label)
            numbers["sigma_first_\(sc.key)"] = sc.sigmas[0]
            numbers["sigma_last_\(sc.key)"] = sc.sigmas[sc.sigmas.count - 2]
            // Energy distance to fresh data, averaged over R seeds (starting noise r, data 1000 + r).
            for sampler in ["ddim", "dpmpp-2m", "heun"] {
                var total = 0.0
                for r in 0..<R {
                    let z = NoiseSource(seed: UInt64(seed + r)).prior([n, 2])
                    let out = Sampler.named(sampler)!(m, z * Float(sc.sigmas[0]), sigmas: sc.sigmas, noise: NoiseSource(seed: 0))
                    total += Metrics.energyDistance(out, m.sample(n, seed: UInt64(seed + 1000 + r)))
                    if r == 0 && sampler == "ddim" {
                        let xs = out.scalars
                        var pl = Plot(width: 300, height: 280, title: sc.label, x: Axis(range: -3.5...3.5), y: Axis(range: -3.5...3.5))
                        pl.showLegend = false
                        pl.scatter((0..<n).map { Point(Double(xs[2 * $0]), Double(xs[2 * $0 + 1])) }, colour: c, radius: 1.1, opacity: 0.5)
                        panels.append(pl)
                    }
                }
                numbers["ed_\(key(sampler))_\(sc.key)"] = total / Double(R)
            }
        }
        levels.showLegend = false
        numbers["ed_floor"] = SampleMetric.energy.expectedFloor(n: n, points: 2000) { k, s in m.sample(k, seed: s) }!
        return ExperimentResult(svg: Figure([levels] + panels, columns: 4).svg(title: "同一批起点噪声经过六种步长调度（DDIM，\(N) 步）"), numbers: numbers)
    }

    // MARK: Figure — energy distance against model calls, deterministic and stochastic

    /// (registry name, label, step counts).
    static func qualityCases(_ budgets: [Int]) -> [(name: String, label: String, steps: [Int])] {
        let half = budgets.map { ($0 + 2) / 2 }            // 2N − 1 calls ≈ budget
        return [
            ("ddim", "DDIM", budgets), ("heun", "Heun", half), ("dpmpp-2m", "DPM-Solver++(2M)", budgets),
            ("unipc", "UniPC", budgets), ("ddpm", "DDPM（随机）", budgets), ("heun-churn", "Heun + churn（随机）", half),
        ]
    }

    static let quality = BookExperiment(
        name: "ch8-quality",
        summary: "Energy distance to fresh data (mean over seeds) against model calls for deterministic and stochastic samplers on GaussianMixture.example2D (Karras levels ending at 0), with the exact PF-ODE and the real-vs-real floor.",
        defaults: ["seed": "0", "n": "1000", "nfe": "4,8,16,32,64", "repeats": "4"],
        revision: 2
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 10...5000)
        let budgets = try p.ints("nfe")
        let R = try p.int("repeats", in: 1...20)
        guard budgets.allSatisfy({ (2...1000).contains($0) }) else { throw ExperimentError("nfe values must lie in 2…1000") }
        let m = GaussianMixture.example2D
        let data = (0..<R).map { m.sample(n, seed: UInt64(seed + 1000 + $0)) }
        let starts = (0..<R).map { NoiseSource(seed: UInt64(seed + $0)).prior([n, 2]) }
        let floor = SampleMetric.energy.expectedFloor(n: n, points: 2000) { k, s in m.sample(k, seed: s) }!
        // The exact PF-ODE from the same starting noise (Runge–Kutta to σ = 0.002, then D).
        let exact = (0..<R).map { r -> Double in
            let x = m.denoise(m.probabilityFlow(starts[r] * 80, from: 80, to: 0.002, steps: 150), sigma: 0.002)
            return Metrics.energyDistance(x, data[r])
        }.reduce(0, +) / Double(R)
        var plot = Plot(width: 620, height: 380, title: "能量距离与模型调用次数（\(R) 组种子的平均）", x: Axis("模型调用次数 NFE", scale: .log, range: 3...100), y: Axis("能量距离", scale: .log))
        var numbers: [String: Double] = ["n": Double(n), "repeats": Double(R), "ed_floor": floor, "ed_exact_ode": exact]
        let styles: [LineStyle] = [.solid, .solid, .solid, .solid, .dashed, .dashed]
        for (c, cs) in qualityCases(budgets).enumerated() {
            var pts: [Point] = []
            for (b, N) in zip(budgets, cs.steps) {
                let sigmas = Schedule.karras(steps: N)
                var total = 0.0, calls = 0
                for r in 0..<R {
                    let (out, k) = try counted(cs.name, m, starts[r] * Float(sigmas[0]), sigmas, seed: UInt64(seed + 100 + r))
                    total += Metrics.energyDistance(out, data[r])
                    calls = k
                }
                numbers["ed_\(key(cs.name))_\(b)"] = total / Double(R)
                numbers["calls_\(key(cs.name))_\(b)"] = Double(calls)
                pts.append(Point(Double(calls), total / Double(R)))
            }
            plot.line(pts, colour: c, style: styles[c], label: cs.label)
            plot.scatter(pts, colour: c, radius: 2.4, opacity: 1)
        }
        let xs = [Double(budgets.min()!) * 0.9, Double(budgets.max()! + 1) * 1.1]
        plot.line(x: xs, y: [exact, exact], colour: 6, style: .dashed, width: 1.2, label: "精确概率流 ODE")
        plot.line(x: xs, y: [floor, floor], colour: 7, style: .dotted, width: 1.4, label: "两批真实样本（期望值）")
        return ExperimentResult(svg: plot.svg(), numbers: numbers)
    }

    // MARK: Numbers for the text and the exercises

    static let numbers = BookExperiment(
        name: "ch8-numbers",
        summary: "Numbers the chapter's exercises quote: model calls per sampler, discrete step placements, one Gaussian through DDIM and Heun, the three names of one ancestral step, Richardson extrapolation, UniC-1 on DDIM.",
        defaults: ["steps": "18", "gauss_std": "0.5", "gauss_steps": "10"]
    ) { p in
        let N = try p.int("steps", in: 2...1000)
        let s = try p.double("gauss_std")
        let G = try p.int("gauss_steps", in: 1...1000)
        guard s > 0 else { throw ExperimentError("gauss_std must be positive") }
        var numbers: [String: Double] = ["steps": Double(N), "gauss_std": s, "gauss_steps": Double(G)]

        // Model calls of every registry sampler on N Karras steps ending at 0 (counted, and as the registry states).
        let x = NoiseSource(seed: 0).prior([4, 2], sigma: 80)
        for sampler in Diffusion.samplers {
            let (_, calls) = try counted(sampler.name, .example2D, x, Schedule.karras(steps: N))
            numbers["calls_\(key(sampler.name))"] = Double(calls)
            numbers["listed_\(key(sampler.name))"] = Double(sampler.modelCalls(steps: N))
        }

        // Discrete placements of 10 steps on T = 1000 (training indices n = t − 1) and the levels they give.
        let vp = DiscreteVP.linear()
        for spacing in Schedule.Spacing.allCases {
            let ts = Schedule.timesteps(steps: 10, trainingSteps: 1000, spacing: spacing)
            numbers["first_index_\(spacing.rawValue)"] = Double(ts[0])
            numbers["last_index_\(spacing.rawValue)"] = Double(ts[ts.count - 1])
            let σ = Schedule.discrete(steps: 10, process: vp, spacing: spacing)
            numbers["first_sigma_\(spacing.rawValue)"] = σ[0]
            numbers["last_sigma_\(spacing.rawValue)"] = σ[σ.count - 2]
            let ab = vp.alphasCumprod[ts[0]]
            numbers["first_logsnr_\(spacing.rawValue)"] = log(ab) - log1p(-ab)
        }
        numbers["logsnr_T"] = log(vp.alphasCumprod[999]) - log1p(-vp.alphasCumprod[999])
        let zt = Schedule.discrete(steps: 10, process: vp.rescaledToZeroTerminalSNR(), spacing: .trailing)
        numbers["ztsnr_trailing_first_infinite"] = zt[0].isInfinite ? 1 : 0
        let zl = Schedule.discrete(steps: 10, process: vp.rescaledToZeroTerminalSNR(), spacing: .leading)
        numbers["ztsnr_leading_first_sigma"] = zl[0]

        // One Gaussian N(0, s²) in 1-D: every sampler is a linear map x ↦ F·x; compare F with the exact factor.
        let gauss = GaussianMixture(weights: [1], means: [[0]], std: [s])
        let gl = Schedule.karras(steps: G)
        let one = Tensor([1], shape: [1, 1])
        let exactFactor = s / (s * s + gl[0] * gl[0]).squareRoot()     // PF-ODE from σ₀ to 0: x ↦ s·x/√(s² + σ₀²)
        numbers["gauss_exact"] = exactFactor
        for name in ["ddim", "heun", "dpmpp-2m"] {
            let F = Double(Sampler.named(name)!(gauss, one, sigmas: gl, noise: NoiseSource(seed: 0)).scalars[0])
            numbers["gauss_\(key(name))"] = F
            numbers["gauss_\(key(name))_ratio"] = F / exactFactor
        }

        // DDPM ancestral = DDIM with η = 1 = Euler ancestral with η = 1 (same noise draws).
        let m = GaussianMixture.example2D
        let sig = Schedule.karras(steps: 12)
        let noise = NoiseSource(seed: 5)
        let x0 = noise.prior([256, 2], sigma: sig[0])
        let a = Sampling.ddpm(m, x0, sigmas: sig, noise: noise)
        let b = Sampling.ddim(m, x0, sigmas: sig, eta: 1, noise: noise)
        let c = Sampling.eulerAncestral(m, x0, sigmas: sig, noise: noise)
        func maxAbs(_ u: Tensor, _ v: Tensor) -> Double { zip(u.scalars, v.scalars).map { Double(abs($0 - $1)) }.max()! }
        numbers["ancestral_ddim_maxdiff"] = maxAbs(a, b)
        numbers["ancestral_euler_maxdiff"] = maxAbs(a, c)
        numbers["ancestral_scale"] = a.scalars.map { Double(abs($0)) }.max()!

        // Richardson extrapolation of Euler and UniC-1 on DDIM, on the order figure's setting.
        let (σMax, σMin) = (80.0, 0.02)
        let start = NoiseSource(seed: 3).prior([64, 2], sigma: σMax)
        let reference = broad.probabilityFlow(start, from: σMax, to: σMin, steps: 2000)
        var eulerErr: [Double] = [], richErr: [Double] = [], unicErr: [Double] = []
        let ns = [16, 32, 64]
        for n in ns {
            let coarse = Sampling.euler(broad, start, sigmas: karrasLevels(n, sigmaMax: σMax, sigmaMin: σMin))
            let fine = Sampling.euler(broad, start, sigmas: karrasLevels(2 * n, sigmaMax: σMax, sigmaMin: σMin))
            eulerErr.append(rms(fine, reference))
            richErr.append(rms(fine * 2 - coarse, reference))
            let counter = CountingDenoiser(broad)
            unicErr.append(rms(ddimUniC1(counter, start, sigmas: karrasLevels(2 * n, sigmaMax: σMax, sigmaMin: σMin)), reference))
            numbers["unic1_calls_\(2 * n)"] = Double(counter.calls)
        }
        // Calls Euler would need to match Heun at 32 steps (64 calls), from error ≈ C/N fitted at N = 64.
        let euler64 = rms(Sampling.euler(broad, start, sigmas: karrasLevels(64, sigmaMax: σMax, sigmaMin: σMin)), reference)
        let heun32 = rms(Sampling.heun(broad, start, sigmas: karrasLevels(32, sigmaMax: σMax, sigmaMin: σMin)), reference)
        numbers["euler_calls_to_match_heun"] = 64 * euler64 / heun32
        let ns2 = ns.map { Double(2 * $0) }
        numbers["richardson_slope"] = -logLogSlope(ns2, richErr)
        numbers["euler_slope_fine"] = -logLogSlope(ns2, eulerErr)
        numbers["unic1_slope"] = -logLogSlope(ns2, unicErr)
        for (i, n) in ns.enumerated() {
            numbers["euler_err_\(2 * n)"] = eulerErr[i]
            numbers["richardson_err_\(2 * n)"] = richErr[i]
            numbers["unic1_err_\(2 * n)"] = unicErr[i]
        }

        // Karras ρ: the middle level of 11 levels on [0.002, 80] for ρ = 1, 3, 7, 1000, against the exponential spacing.
        for rho in [1.0, 3, 7, 1000] {
            numbers["karras_mid_rho\(Int(rho))"] = Schedule.karras(steps: 11, sigmaMin: 0.002, sigmaMax: 80, rho: rho)[5]
        }
        numbers["exponential_mid"] = Schedule.exponential(steps: 11, sigmaMin: 0.002, sigmaMax: 80)[5]
        return ExperimentResult(numbers: numbers)
    }

    /// DDIM (DPM-Solver++ order 1) with the UniC-1 corrector of Zhao et al. 2023 (arXiv 2302.04867) in its
    /// exact-integral form: after D_{i+1} is computed at the predicted x_{i+1}, the step i → i+1 is redone with D
    /// interpolated linearly in λ between D_i and D_{i+1}, x_{i+1} = e^{−h}x_i + (1 − e^{−h})D_i + φ(h)(D_{i+1} − D_i)
    /// with φ(h) = (h − 1 + e^{−h})/h; D_{i+1} is reused by the next predictor, so the corrector costs no call.
    /// Levels must stay positive (no final 0).
    public static func ddimUniC1(_ model: some Denoiser, _ x: Tensor, sigmas: [Double]) -> Tensor {
        precondition(sigmas.count >= 2 && sigmas.allSatisfy { $0 > 0 }, "ddimUniC1 needs positive levels")
        var x = x
        var D = model.denoise(x, sigma: sigmas[0])
        for i in 0..<(sigmas.count - 1) {
            let h = log(sigmas[i] / sigmas[i + 1])
            let decay = Float(exp(-h)), weight = Float(-expm1(-h))
            let predicted = x * decay + D * weight
            if i == sigmas.count - 2 { x = predicted; break }           // no later step would reuse a new call
            let DNext = model.denoise(predicted, sigma: sigmas[i + 1])
            let φ = (h + expm1(-h)) / h
            x = x * decay + D * weight + (DNext - D) * Float(φ)
            D = DNext
        }
        return x
    }
}
