import DiffusionEngine
import DiffusionLayers
import DiffusionPlot
import Diffusion
import Foundation

/// Chapter 13 (applications): editing, inversion, inpainting, LoRA, quantisation and score distillation on
/// low-dimensional Gaussian mixtures, whose densities, denoisers and conditionals are exact.
public enum Chapter13 {
    public static let experiments: [BookExperiment] = [sdedit, inversion, inpaint, srGauss, srDigits, lora, controlNet, quant, sds]

    static func points(_ t: Tensor) -> [Point] { Chapter9.points(t) }
    static func rms(_ a: Tensor, _ b: Tensor) -> Double { Chapter8.rms(a, b) }
    static func tag(_ v: Double) -> String { Chapter9.tag(v) }
    static func meanNLL(_ m: GaussianMixture, _ x: Tensor) -> Double {
        let l = m.logDensity(x, at: NoiseLevel(alpha: 1, sigma: 0))
        return -l.reduce(0, +) / Double(l.count)
    }
    /// Mean Euclidean distance between matching rows.
    static func meanDistance(_ a: Tensor, _ b: Tensor) -> Double {
        let (x, y, d) = (a.scalars, b.scalars, a.shape[1])
        var total = 0.0
        for i in 0..<a.shape[0] {
            var s = 0.0
            for j in 0..<d { let e = Double(x[i * d + j]) - Double(y[i * d + j]); s += e * e }
            total += s.squareRoot()
        }
        return total / Double(a.shape[0])
    }
    /// Column j of an [n, d] tensor as Doubles.
    static func column(_ t: Tensor, _ j: Int) -> [Double] {
        let v = t.scalars, d = t.shape[1]
        return Swift.stride(from: j, to: v.count, by: d).map { Double(v[$0]) }
    }
    static func logLogSlope(_ xs: [Double], _ ys: [Double]) -> Double { Chapter8.logLogSlope(xs, ys) }

    /// The data of the editing sections: `GaussianMixture.example2D` (six bumps on a ring of radius 2 and an
    /// elongated one in the middle).
    public static let ring = GaussianMixture.example2D

    /// A "stroke" drawn by hand below the data: n points on the segment from (−2.4, −2.7) to (2.4, −2.7).
    public static func stroke(_ n: Int) -> Tensor {
        Tensor((0..<n).flatMap { j -> [Float] in [Float(-2.4 + 4.8 * Double(j) / Double(n - 1)), -2.7] }, shape: [n, 2])
    }

    static func densityHeat(_ m: GaussianMixture, _ xr: ClosedRange<Double>, _ yr: ClosedRange<Double>, _ b: Int) -> [[Double]] {
        var cells: [Float] = []
        for j in 0..<b { for i in 0..<b {
            cells += [Float(xr.lowerBound + (Double(i) + 0.5) / Double(b) * (xr.upperBound - xr.lowerBound)),
                      Float(yr.lowerBound + (Double(j) + 0.5) / Double(b) * (yr.upperBound - yr.lowerBound))]
        } }
        let l = m.logDensity(Tensor(cells, shape: [b * b, 2]), at: NoiseLevel(alpha: 1, sigma: 0)).map(exp)
        return stride(from: 0, to: l.count, by: b).map { Array(l[$0..<($0 + b)]) }
    }

    // MARK: SDEdit

    static let sdedit = BookExperiment(
        name: "ch13-sdedit",
        summary: "SDEdit (Editing.sdedit, Euler on the PF-ODE) of a straight stroke below GaussianMixture.example2D, for several starting levels σ₀: faithfulness (mean distance to the stroke) against realism (mean −log p_data of the result, exact), with the data's own value as reference; scatter panels for three σ₀.",
        defaults: ["seed": "0", "n": "300", "steps": "20", "levels": "0.1,0.3,0.6,1,2,4,8", "shown": "0.3,1,4"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 10...5000)
        let N = try p.int("steps", in: 2...500)
        let levels = try Chapter9.doubles(p, "levels"), shown = try Chapter9.doubles(p, "shown")
        guard levels.allSatisfy({ $0 > 0.002 }), Set(shown).isSubset(of: Set(levels)) else { throw ExperimentError("levels must exceed 0.002 and include the shown ones") }
        let guide = stroke(n)
        var numbers: [String: Double] = ["n": Double(n), "steps": Double(N)]
        numbers["nll_data"] = meanNLL(ring, ring.sample(4000, seed: UInt64(seed) &+ 9))
        numbers["nll_guide"] = meanNLL(ring, guide)
        let (xr, yr) = (-3.2...3.2, -3.2...3.2)
        let heat = densityHeat(ring, xr, yr, 48)
        var panels: [Plot] = []
        var curve: [Point] = []
        for σ0 in levels {
            let out = Editing.sdedit(ring, guide: guide, sigmas: Schedule.karras(steps: N, sigmaMin: 0.002, sigmaMax: σ0),
                                     noise: NoiseSource(seed: UInt64(seed)))
            let (faith, nll) = (meanDistance(out, guide), meanNLL(ring, out))
            numbers["distance_\(tag(σ0))"] = faith
            numbers["nll_\(tag(σ0))"] = nll
            curve.append(Point(faith, nll))
            if shown.contains(σ0) {
                var sp = Plot(width: 250, height: 250, title: "σ₀ = \(String(format: "%g", σ0))", x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
                sp.heatmap(heat, xRange: xr, yRange: yr, gamma: 0.5)
                sp.scatter(points(guide), colour: 1, radius: 1, opacity: 0.5)
                sp.scatter(points(out), colour: 0, radius: 1.5, opacity: 0.7)
                sp.showLegend = false
                panels.append(sp)
            }
        }
        let top = max(curve.map(\.y).max()!, numbers["nll_data"]!) + 0.5
        var tp = Plot(width: 250, height: 250, title: "忠实度与真实感", x: Axis("到笔画的平均距离", range: 0...(curve.map(\.x).max()! * 1.1)),
                      y: Axis("−log p_data 的平均", range: min(0, numbers["nll_data"]! - 0.5)...top))
        tp.line(curve, colour: 0, label: "SDEdit（σ₀ 由左到右增大）")
        tp.scatter(curve, colour: 0, radius: 2.5, opacity: 1)
        tp.line([Point(0, numbers["nll_data"]!), Point(curve.map(\.x).max()! * 1.1, numbers["nll_data"]!)], colour: 2, style: .dashed, label: "真实数据")
        panels.append(tp)
        return ExperimentResult(svg: Figure(panels, columns: 4).svg(title: "SDEdit：把一条笔画（橙）加噪到 σ₀ 再去噪（蓝）；背景是数据密度"), numbers: numbers)
    }

    // MARK: DDIM inversion

    static let inversion = BookExperiment(
        name: "ch13-inversion",
        summary: "DDIM inversion (Editing.ddimInversion) of GaussianMixture.example2D samples from σ = 0.02 to 40: distance to the exact probability-flow map (RK4 reference), and the round trip through Sampling.ddim, plain and with fixed-point iterations, against the number of steps; the inverted paths.",
        defaults: ["seed": "0", "n": "100", "steps": "4,8,16,32,64,128", "low": "0.02", "high": "40", "iterations": "3", "paths": "40"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 5...2000)
        let Ns = try p.ints("steps")
        let (lo, hi) = (try p.double("low"), try p.double("high"))
        let k = try p.int("iterations", in: 1...100)
        let paths = try p.int("paths", in: 1...n)
        guard 0 < lo && lo < hi, Ns.allSatisfy({ (1...4096).contains($0) }) else { throw ExperimentError("need 0 < low < high and steps in 1…4096") }
        let x = ring.sample(n, seed: UInt64(seed) &+ 3)
        let exact = ring.probabilityFlow(x, from: lo, to: hi, steps: 400)
        var numbers: [String: Double] = ["n": Double(n), "low": lo, "high": hi, "iterations": Double(k)]
        var (ode, plain, fixed): ([Double], [Double], [Double]) = ([], [], [])
        for N in Ns {
            let down = Array(Schedule.exponential(steps: N, sigmaMin: lo, sigmaMax: hi).dropLast())
            let up = Array(down.reversed())
            let z = Editing.ddimInversion(ring, x, sigmas: up)
            let zk = Editing.ddimInversion(ring, x, sigmas: up, fixedPointIterations: k)
            ode.append(rms(z, exact))
            plain.append(rms(Sampling.ddim(ring, z, sigmas: down), x))
            fixed.append(max(rms(Sampling.ddim(ring, zk, sigmas: down), x), 1e-7))
            numbers["ode_error_\(N)"] = ode.last!
            numbers["roundtrip_\(N)"] = plain.last!
            numbers["roundtrip_fixed_\(N)"] = fixed.last!
        }
        numbers["slope_ode"] = logLogSlope(Ns.map(Double.init), ode)
        numbers["slope_roundtrip"] = logLogSlope(Ns.map(Double.init), plain)
        // With k iterations the local error is O(h²·(hL)^k): order k + 1 once hL is small (the last three N).
        numbers["slope_fixed"] = logLogSlope(Ns.suffix(3).map(Double.init), Array(fixed.suffix(3)))
        // The inverted paths for the figure: 32 steps, in VP coordinates x/√(1 + σ²) so they stay in view.
        let down = Array(Schedule.exponential(steps: 32, sigmaMin: lo, sigmaMax: hi).dropLast()), up = Array(down.reversed())
        var states = [x]
        for i in 0..<(up.count - 1) { states.append(Editing.ddimInversion(ring, states.last!, sigmas: [up[i], up[i + 1]])) }
        let values = states.map(\.scalars)
        let drawn = (0..<paths).map { j in zip(values, up).map { s, σ in
            Point(Double(s[2 * j]) / (1 + σ * σ).squareRoot(), Double(s[2 * j + 1]) / (1 + σ * σ).squareRoot()) } }
        var pp = Plot(width: 300, height: 300, title: "反演路径（VP 坐标）", x: Axis(range: -3...3), y: Axis(range: -3...3), equalAspect: true)
        pp.scatter(points(x), colour: 7, radius: 1.2, opacity: 0.5)
        pp.trajectories(drawn, colour: 0, endpoints: true)
        pp.showLegend = false
        let all = ode + plain + fixed
        var ep = Plot(width: 380, height: 300, title: "误差与步数", x: Axis("步数 N", scale: .log, range: Double(Ns.min()!) / 1.3...Double(Ns.max()!) * 1.3),
                      y: Axis("RMS 误差", scale: .log, range: all.min()! / 3...all.max()! * 3))
        let xs = Ns.map(Double.init)
        ep.line(x: xs, y: ode, colour: 0, label: "反演终点 vs 精确 ODE")
        ep.line(x: xs, y: plain, colour: 1, label: "往返：朴素反演")
        ep.line(x: xs, y: fixed, colour: 2, label: "往返：不动点迭代 \(k) 次")
        return ExperimentResult(svg: Figure([pp, ep], columns: 2).svg(title: "DDIM 反演：从数据点沿概率流 ODE 走到 σ = \(String(format: "%g", hi))"), numbers: numbers)
    }
}

// MARK: Inpainting

extension Chapter13 {
    /// Three bumps: A at (−1.5, −1.5) (weight 0.5), B at (1.5, 1.5) (0.2), C at (−1.5, 1.5) (0.3), std 0.5.
    public static let corners = GaussianMixture(weights: [0.5, 0.2, 0.3], means: [[-1.5, -1.5], [1.5, 1.5], [-1.5, 1.5]], std: [0.5, 0.5, 0.5])

    /// The exact denoiser of a 2-D Gaussian N(μ, Σ) with full covariance, μ + Σ(Σ + σ²I)⁻¹(x − μ) (α = 1).
    public struct CorrelatedGaussian: Denoiser, Sendable {
        public let mu: [Double], cov: [[Double]]
        public init(mu: [Double], cov: [[Double]]) { (self.mu, self.cov) = (mu, cov) }
        /// K = Σ(Σ + σ²I)⁻¹.
        public func gain(_ σ: Double) -> [[Double]] {
            let (a, b, d) = (cov[0][0] + σ * σ, cov[0][1], cov[1][1] + σ * σ)
            let det = a * d - b * b
            let inv = [[d / det, -b / det], [-b / det, a / det]]
            return (0..<2).map { i in (0..<2).map { j in cov[i][0] * inv[0][j] + cov[i][1] * inv[1][j] } }
        }
        public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
            let K = gain(level.sigma / level.alpha)
            let Kt = Tensor([K[0][0], K[1][0], K[0][1], K[1][1]].map(Float.init), shape: [2, 2])
            let m = Tensor(mu.map(Float.init))
            return (x * Float(1 / level.alpha) - m).matmul(Kt) + m
        }
    }

    /// ρ = 0.8, unit variances, mean (0, 0).
    public static let correlated = CorrelatedGaussian(mu: [0, 0], cov: [[1, 0.8], [0.8, 1]])

    /// The mean of x₂ after plain replacement (`Inpainting.repaint` with U = 1) on `correlated`, propagated exactly:
    /// the step is affine, and the fresh noise of the known coordinate has mean zero.
    public static func replacementMean(_ g: CorrelatedGaussian, y: Double, sigmas: [Double]) -> Double {
        var m = 0.0                // E[x₂] of the state: the prior sample σ_0·z has mean 0
        var known = 0.0            // E[x₁] of the state: 0 at the start, then y (fresh noise has mean 0)
        for i in 0..<(sigmas.count - 1) {
            let (σ, σNext) = (sigmas[i], sigmas[i + 1])
            let K = g.gain(σ)
            let d2 = g.mu[1] + K[1][0] * (known - g.mu[0]) + K[1][1] * (m - g.mu[1])
            let r = σNext * σNext / (σ * σ)
            m = σNext > 0 ? r * m + (1 - r) * d2 : d2
            known = y
        }
        return m
    }

    /// 1-D Wasserstein-1 distance between samples and a 1-D mixture, ∫|F_n(x) − F(x)| dx by the midpoint rule on
    /// 4000 cells of [min − 1, max + 1] over the samples and the components' ±6 std ranges.
    static func wasserstein1(_ samples: [Double], _ m: GaussianMixture) -> Double {
        let s = samples.sorted()
        let lo = min(s.first!, zip(m.means, m.stds).map { $0[0] - 6 * $1[0] }.min()!) - 1
        let hi = max(s.last!, zip(m.means, m.stds).map { $0[0] + 6 * $1[0] }.max()!) + 1
        let cells = 4000, h = (hi - lo) / Double(cells)
        var below = 0, total = 0.0
        for c in 0..<cells {
            let x = lo + (Double(c) + 0.5) * h
            while below < s.count && s[below] <= x { below += 1 }
            var F = 0.0
            for k in 0..<m.componentCount { F += m.weights[k] * 0.5 * erfc(-(x - m.means[k][0]) / (m.stds[k][0] * 2.0.squareRoot())) }
            total += Swift.abs(Double(below) / Double(s.count) - F) * h
        }
        return total
    }

    static let inpaint = BookExperiment(
        name: "ch13-inpaint",
        summary: "Inpainting x₂ given x₁ with Inpainting.repaint on the three-bump mixture Chapter13.corners and on a correlated Gaussian: the samples against the exact conditional (GaussianMixture.conditioned), wrong-mode mass and 1-D Wasserstein distance against the number of resamplings U; the replacement bias of the Gaussian propagated exactly.",
        defaults: ["seed": "0", "n": "600", "steps": "30", "observed": "1.5", "resampling": "1,2,5,10", "gauss_n": "1000", "gauss_observed": "1.5", "fine_steps": "100"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 20...10_000)
        let N = try p.int("steps", in: 2...500)
        let y = try p.double("observed")
        let Us = try p.ints("resampling")
        let gn = try p.int("gauss_n", in: 20...20_000)
        let gy = try p.double("gauss_observed")
        let fineN = try p.int("fine_steps", in: 2...1000)
        guard Us.allSatisfy({ (1...100).contains($0) }), Us.contains(1) else { throw ExperimentError("resampling counts in 1…100, including 1") }
        let exact = corners.conditioned(on: [0], values: [y])
        var numbers: [String: Double] = ["n": Double(n), "steps": Double(N), "observed": y]
        numbers["exact_wrong"] = zip(exact.weights, exact.means).filter { $0.1[0] < 0 }.map(\.0).reduce(0, +)
        let sigmas = Schedule.karras(steps: N, sigmaMin: 0.01, sigmaMax: 40)
        let known = Tensor((0..<n).flatMap { _ in [Float(y), 0] }, shape: [n, 2])
        let mask = Tensor([1, 0])
        let (xr, yr) = (-3.5...3.5, -3.5...3.5)
        var wrong: [Double] = [], w1: [Double] = []
        var heat = Plot(width: 250, height: 250, title: "数据密度与观测 x₁ = \(String(format: "%g", y))", x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
        heat.heatmap(densityHeat(corners, xr, yr, 48), xRange: xr, yRange: yr, gamma: 0.5)
        heat.line([Point(y, yr.lowerBound), Point(y, yr.upperBound)], colour: 1, style: .dashed, width: 1.5)
        heat.showLegend = false
        // Densities of x₂: the exact conditional and histograms (56 bins) of the smallest and largest U.
        let (bins, width) = (56, (yr.upperBound - yr.lowerBound) / 56)
        var dens = Plot(width: 330, height: 250, title: "x₂ 的分布", x: Axis("x₂", range: yr), y: Axis("密度", range: 0...1.2))
        let grid = (0...280).map { yr.lowerBound + Double($0) / 280 * (yr.upperBound - yr.lowerBound) }
        let exactDensity = exact.logDensity(Tensor(grid.map(Float.init), shape: [grid.count, 1]), at: NoiseLevel(alpha: 1, sigma: 0)).map(exp)
        dens.line(x: grid, y: exactDensity, colour: 7, style: .dashed, width: 2.2, label: "精确条件分布")
        for (c, U) in Us.enumerated() {
            let out = Inpainting.repaint(corners, known: known, mask: mask, sigmas: sigmas, noise: NoiseSource(seed: UInt64(seed)), resampling: U)
            let x2 = column(out, 1)
            wrong.append(Double(x2.filter { $0 < 0 }.count) / Double(n))
            w1.append(wasserstein1(x2, exact))
            numbers["wrong_\(U)"] = wrong.last!
            numbers["w1_\(U)"] = w1.last!
            if U == Us.min()! || U == Us.max()! {
                var counts = [Double](repeating: 0, count: bins)
                for v in x2 { let b = Int((v - yr.lowerBound) / width); if (0..<bins).contains(b) { counts[b] += 1 } }
                let steps = (0..<bins).flatMap { b -> [Point] in
                    let h = counts[b] / (Double(n) * width), l = yr.lowerBound + Double(b) * width
                    return [Point(l, h), Point(l + width, h)]
                }
                dens.line(steps, colour: c == 0 ? 1 : 0, width: 1.4, label: U == 1 ? "直接替换（U = 1）" : "RePaint（U = \(U)）")
            }
        }
        var panels = [heat, dens]
        // Reference: the exact conditional's own sampling noise in W1 at this n.
        let ref = exact.sample(n, seed: UInt64(seed) &+ 77).scalars.map(Double.init)
        numbers["w1_floor"] = wasserstein1(ref, exact)
        var cp = Plot(width: 300, height: 250, title: "与精确条件分布的差距", x: Axis("重采样次数 U", scale: .log, range: 0.8...Double(Us.max()!) * 1.25),
                      y: Axis(range: 0...max(wrong.max()!, w1.max()!) * 1.15))
        let us = Us.map(Double.init)
        cp.line(x: us, y: wrong, colour: 0, label: "错误模式的比例（x₂ < 0）")
        cp.line(x: us, y: w1, colour: 1, label: "x₂ 的 W₁ 距离")
        cp.line(x: [0.8, Double(Us.max()!) * 1.25], y: [numbers["w1_floor"]!, numbers["w1_floor"]!], colour: 7, style: .dashed, label: "W₁ 的抽样噪声")
        panels.append(cp)
        // The correlated Gaussian: exact conditional N(ρy, 1 − ρ²); replacement's mean, exact and sampled.
        let gk = Tensor((0..<gn).flatMap { _ in [Float(gy), 0] }, shape: [gn, 2])
        numbers["gauss_exact_mean"] = 0.8 * gy
        numbers["gauss_exact_std"] = (1 - 0.64).squareRoot()
        numbers["gauss_replacement_theory"] = replacementMean(correlated, y: gy, sigmas: sigmas)
        numbers["gauss_replacement_share"] = 100 * numbers["gauss_replacement_theory"]! / numbers["gauss_exact_mean"]!
        // U = 1, 10, 40 on the same levels, and U = 10 on `fine_steps` levels (RePaint's variance deficit shrinks with N).
        numbers["fine_steps"] = Double(fineN)
        for (key, U, levels) in [("1", 1, sigmas), ("10", 10, sigmas), ("40", 40, sigmas),
                                 ("fine", 10, Schedule.karras(steps: fineN, sigmaMin: 0.01, sigmaMax: 40))] {
            let out = Inpainting.repaint(correlated, known: gk, mask: mask, sigmas: levels, noise: NoiseSource(seed: UInt64(seed) &+ 1), resampling: U)
            let x2 = column(out, 1)
            let m = x2.reduce(0, +) / Double(gn)
            numbers["gauss_mean_\(key)"] = m
            numbers["gauss_std_\(key)"] = (x2.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(gn - 1)).squareRoot()
        }
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "修补：已知 x₁ = \(String(format: "%g", y))（点线），求 x₂；背景是数据密度"), numbers: numbers)
    }
}

// MARK: LoRA and quantisation of a trained toy denoiser

extension Chapter13 {
    /// The base data: four bumps at (±1.5, ±1.5), std 0.35. The fine-tuning target adds a fifth at (0, 2.6).
    public static let square = GaussianMixture(weights: [1, 1, 1, 1], means: [[-1.5, -1.5], [1.5, -1.5], [-1.5, 1.5], [1.5, 1.5]], std: [0.35, 0.35, 0.35, 0.35])
    public static let newMode = [0.0, 2.6]
    public static let squarePlus = GaussianMixture(weights: [1, 1, 1, 1, 1], means: square.means + [newMode], std: [0.35, 0.35, 0.35, 0.35, 0.35])

    /// The toy denoiser of this chapter: a small `ToyMLP` under EDM preconditioning (σ_data = 1).
    static func model<Net: NoiseConditionalNetwork>(_ net: Net) -> NetworkModel<Net> {
        try! NetworkModel(net, process: EDMProcess(), output: .sample, preconditioning: EDMPreconditioning(σ_data: 1))
    }

    static func smallMLP(seed: UInt64) -> ToyMLP {
        withParameterSeed(seed) { ToyMLP(dimension: 2, width: 64, blocks: 2, embeddingDim: 16, inputScale: 8) }
    }

    /// AdamW on EDM's loss with fresh data every step (batch b, constant rate, clip 1); returns the last 50 steps' mean loss.
    /// `before(k, components)` runs before step k with the mixture component of every sample (e.g. to set a control);
    /// `after(k, loss)` after it.
    @discardableResult
    static func train<Net: NoiseConditionalNetwork>(_ m: NetworkModel<Net>, on data: GaussianMixture, steps: Int, batch: Int, lr: Double, seed: UInt64,
                                                    before: (Int, [Int]) -> Void = { _, _ in }, after: (Int, Double) -> Void = { _, _ in }) -> Double {
        let opt = AdamW(m.network.trainableParameters(), lr: lr, weightDecay: 0)
        let loss = EDMLoss(sigmaData: 1)
        var recent: [Double] = []
        for k in 0..<steps {
            let (x0, components) = data.sampleWithComponents(batch, seed: seed, stream: UInt64(k) << 8)
            before(k, components)
            var rng = RandomGenerator(seed: seed &+ 1, stream: UInt64(k) << 8)
            let l = loss(m, x0, labels: nil, rng: &rng).mean()
            applyUpdate(l, optimizer: opt, learningRate: lr, gradClip: 1, ema: nil)
            after(k, Double(l.item))
            if k >= steps - 50 { recent.append(Double(l.item)) }
        }
        return recent.reduce(0, +) / Double(max(recent.count, 1))
    }

    /// Samples of a model: Heun on 18 Karras levels up to σ = 40, from `NoiseSource(seed)`.
    static func draw(_ m: any Denoiser, n: Int, seed: UInt64) -> Tensor {
        let sigmas = Schedule.karras(steps: 18, sigmaMin: 0.002, sigmaMax: 40)
        return withNoGrad { Sampling.heun(m, NoiseSource(seed: seed).prior([n, 2], sigma: sigmas[0]), sigmas: sigmas) }
    }

    static func fraction(_ x: Tensor, near c: [Double], radius: Double) -> Double {
        let pts = points(x)
        return Double(pts.filter { ($0.x - c[0]) * ($0.x - c[0]) + ($0.y - c[1]) * ($0.y - c[1]) < radius * radius }.count) / Double(pts.count)
    }

    /// The base model's weights, trained once per process on `square` (the LoRA and quantisation experiments share it).
    static let baseWeights: [(String, Tensor)] = {
        let m = model(smallMLP(seed: 1))
        train(m, on: square, steps: 800, batch: 256, lr: 4e-3, seed: 11)
        return m.network.stateDict()
    }()

    static func trainedBase() -> ToyMLP {
        let net = smallMLP(seed: 1)
        for ((_, p), (_, v)) in zip(net.namedParameters(), baseWeights) { p.copy(from: v) }
        net.eval()
        return net
    }

    static let lora = BookExperiment(
        name: "ch13-lora",
        summary: "A small ToyMLP trained on four bumps, fine-tuned to a fifth bump with LoRAToyMLP at ranks 1 and 4 and with all weights: trainable parameters, energy distance to the new data and the new bump's share of samples.",
        defaults: ["seed": "0", "n": "500", "steps": "300", "ranks": "1,4", "lr": "0.004"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 20...5000)
        let steps = try p.int("steps", in: 1...10_000)
        let ranks = try p.ints("ranks")
        let lr = try p.double("lr")
        guard ranks.allSatisfy({ (1...64).contains($0) }), lr > 0 else { throw ExperimentError("ranks in 1…64 and lr > 0") }
        let real = squarePlus.sample(n, seed: UInt64(seed) &+ 5)
        var numbers: [String: Double] = ["n": Double(n), "steps": Double(steps), "target_share": 0.2]
        let base = trainedBase()
        numbers["params_full"] = Double(base.parameterCount)
        let (xr, yr) = (-3.2...3.2, -3.2...3.6)
        var panels: [Plot] = []
        func report(_ key: String, _ title: String, _ den: any Denoiser) {
            let x = draw(den, n: n, seed: UInt64(seed))
            numbers["energy_\(key)"] = Metrics.energyDistance(x, real)
            numbers["share_\(key)"] = fraction(x, near: newMode, radius: 0.9)
            var sp = Plot(width: 230, height: 240, title: title, x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
            sp.scatter(points(real), colour: 7, radius: 1, opacity: 0.35)
            sp.scatter(points(x), colour: 0, radius: 1.4, opacity: 0.6)
            sp.showLegend = false
            panels.append(sp)
        }
        report("base", "基座模型（未微调）", model(base))
        for r in ranks {
            let adapted = withParameterSeed(UInt64(100 + r)) { LoRAToyMLP(trainedBase(), rank: r) }
            numbers["params_rank_\(r)"] = Double(adapted.trainableParameterCount)
            numbers["loss_rank_\(r)"] = train(model(adapted), on: squarePlus, steps: steps, batch: 256, lr: lr, seed: UInt64(seed) &+ 21)
            adapted.eval()
            report("rank_\(r)", "LoRA r = \(r)（\(adapted.trainableParameterCount) 个参数）", model(adapted))
        }
        let full = trainedBase()
        full.train()
        numbers["loss_full"] = train(model(full), on: squarePlus, steps: steps, batch: 256, lr: lr, seed: UInt64(seed) &+ 21)
        full.eval()
        report("full", "全参数微调（\(full.parameterCount) 个参数）", model(full))
        numbers["energy_floor"] = Metrics.energyDistanceFloor(n: n) { m, s in squarePlus.sample(m, seed: s) }
        return ExperimentResult(svg: Figure(panels, columns: 4).svg(title: "把四个团的模型微调到五个团（灰：新数据；蓝：模型样本）"), numbers: numbers)
    }

    static let quant = BookExperiment(
        name: "ch13-quant",
        summary: "Per-channel symmetric weight quantisation (Module.quantizeWeights) of the trained toy denoiser at 8, 6, 4 and 3 bits: weight error against Δ/2, the denoiser's output error at three noise levels, and the error of final samples drawn from the same noise (Heun, 18 levels), with energy distances to the data.",
        defaults: ["seed": "0", "n": "500", "bits": "8,6,5,4,3"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 20...5000)
        let bits = try p.ints("bits")
        guard bits.allSatisfy({ (2...16).contains($0) }) else { throw ExperimentError("bits in 2…16") }
        let real = square.sample(n, seed: UInt64(seed) &+ 5)
        let reference = model(trainedBase())
        let samples = draw(reference, n: n, seed: UInt64(seed))
        var numbers: [String: Double] = ["n": Double(n), "energy_fp32": Metrics.energyDistance(samples, real)]
        numbers["energy_floor"] = Metrics.energyDistanceFloor(n: n) { m, s in square.sample(m, seed: s) }
        let levels = [0.05, 0.5, 5.0]
        var curves: [[Double]] = Array(repeating: [], count: levels.count + 2)
        var shown: Tensor? = nil
        for b in bits {
            let net = trainedBase()
            let r = net.quantizeWeights(WeightQuantization(bits: b))
            numbers["weight_rms_\(b)"] = r.rmsError
            numbers["weight_ratio_\(b)"] = r.maxErrorOverHalfScale
            curves[0].append(r.rmsError)
            let q = model(net)
            for (i, σ) in levels.enumerated() {
                let x = real + NoiseSource(seed: UInt64(seed) &+ 2).normal(like: real, step: 0) * Float(σ)
                let e = withNoGrad { rms(q.denoise(x, sigma: σ), reference.denoise(x, sigma: σ)) }
                numbers["denoiser_\(b)_\(tag(σ))"] = e
                curves[i + 1].append(e)
            }
            let xq = draw(q, n: n, seed: UInt64(seed))
            numbers["sample_\(b)"] = rms(xq, samples)
            numbers["energy_\(b)"] = Metrics.energyDistance(xq, real)
            curves[levels.count + 1].append(numbers["sample_\(b)"]!)
            if b == 4 { shown = xq }
        }
        numbers["params"] = Double(reference.network.parameterCount)
        if let w4 = numbers["weight_rms_4"], let w8 = numbers["weight_rms_8"], let s4 = numbers["sample_4"], let s8 = numbers["sample_8"] {
            numbers["weight_rms_ratio"] = w4 / w8
            numbers["sample_ratio"] = s4 / s8
        }
        let xs = bits.map(Double.init), all = curves.flatMap { $0 }.filter { $0 > 0 }
        var ep = Plot(width: 380, height: 300, title: "量化误差与位数", x: Axis("位数 b", range: Double(bits.min()!) - 0.3...Double(bits.max()!) + 0.3),
                      y: Axis("RMS 误差", scale: .log, range: all.min()! / 2...all.max()! * 2))
        ep.line(x: xs, y: curves[0], colour: 7, style: .dashed, label: "权重")
        for (i, σ) in levels.enumerated() { ep.line(x: xs, y: curves[i + 1], colour: i, label: "去噪器输出，σ = \(String(format: "%g", σ))") }
        ep.line(x: xs, y: curves[levels.count + 1], colour: 3, width: 2.6, label: "最终样本（同一噪声）")
        var panels = [ep]
        if let shown {
            var sp = Plot(width: 280, height: 300, title: "int4 与 float32 的样本", x: Axis(range: -3...3), y: Axis(range: -3...3), equalAspect: true)
            sp.scatter(points(samples), colour: 7, radius: 1.4, opacity: 0.5)
            sp.scatter(points(shown), colour: 1, radius: 1.2, opacity: 0.7)
            sp.showLegend = false
            panels.append(sp)
        }
        return ExperimentResult(svg: Figure(panels, columns: 2).svg(title: "逐通道对称量化一个训练好的玩具去噪器"), numbers: numbers)
    }
}

// MARK: Score distillation

extension Chapter13 {
    /// SDS on particles: the generator is x = θ (one 2-D point per particle), the prior the exact `ring` denoiser;
    /// σ ~ log-uniform on [σ_min, σ_max] per iteration, weight 1, gradient steps with the rate annealed linearly from
    /// `lr` to zero. Returns every iterate.
    public static func sdsParticles(_ theta0: Tensor, iterations: Int, lr: Double, sigmaMin: Double, sigmaMax: Double, seed: UInt64) -> [Tensor] {
        let theta = Parameter(theta0)
        let opt = SGD([theta], lr: lr)
        var path = [theta0]
        for k in 0..<iterations {
            opt.learningRate = lr * (1 - Double(k) / Double(iterations))      // annealed to zero
            var rng = RandomGenerator(seed: seed, stream: UInt64(k))
            let σ = sigmaMin * pow(sigmaMax / sigmaMin, Double(rng.uniform([1]).scalars[0]))
            let g = ScoreDistillation.gradient(ring, theta.value, at: NoiseLevel(alpha: 1, sigma: σ), noise: rng.normal(theta0.shape))
            opt.zeroGrad()
            ScoreDistillation.surrogate(theta.value, gradient: g).backward()
            opt.step()
            path.append(theta.value.detached())
        }
        return path
    }

    /// The component of `ring` nearest to each row in Mahalanobis distance √Σ_j ((x_j − μ_kj)/s_kj)², and that distance.
    static func nearest(_ x: Tensor) -> [(k: Int, d: Double)] {
        points(x).map { p in
            (0..<ring.componentCount).map { k -> (Int, Double) in
                let (m, s) = (ring.means[k], ring.stds[k])
                let (u, v) = ((p.x - m[0]) / s[0], (p.y - m[1]) / s[1])
                return (k, (u * u + v * v).squareRoot())
            }.min { $0.1 < $1.1 }!
        }
    }

    static let sds = BookExperiment(
        name: "ch13-sds",
        summary: "Score distillation (ScoreDistillation.gradient, exact ring denoiser) on free 2-D particles from a grid: trajectories, Mahalanobis distance of the final particles to the nearest component (samples give √(π/2) ≈ 1.25), components occupied, for two ranges of σ; ancestral samples for comparison.",
        defaults: ["seed": "0", "grid": "12", "iterations": "600", "lr": "0.02", "sigma_min": "0.05", "sigma_max": "1,6", "paths": "48"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let g = try p.int("grid", in: 2...60)
        let iters = try p.int("iterations", in: 1...20_000)
        let lr = try p.double("lr")
        let lo = try p.double("sigma_min")
        let his = try Chapter9.doubles(p, "sigma_max")
        let paths = try p.int("paths", in: 1...g * g)
        guard lr > 0, lo > 0, his.allSatisfy({ $0 > lo }) else { throw ExperimentError("need lr > 0 and 0 < sigma_min < sigma_max") }
        let start = Tensor((0..<(g * g)).flatMap { i -> [Float] in
            [Float(-2.8 + 5.6 * Double(i % g) / Double(g - 1)), Float(-2.8 + 5.6 * Double(i / g) / Double(g - 1))] }, shape: [g * g, 2])
        var numbers: [String: Double] = ["particles": Double(g * g), "iterations": Double(iters), "sigma_min": lo]
        let (xr, yr) = (-3.2...3.2, -3.2...3.2)
        let heat = densityHeat(ring, xr, yr, 48)
        var panels: [Plot] = []
        let stride = max(1, g * g / paths)
        for hi in his {
            let path = sdsParticles(start, iterations: iters, lr: lr, sigmaMin: lo, sigmaMax: hi, seed: UInt64(seed))
            let near = nearest(path.last!)
            let t = tag(hi)
            numbers["distance_\(t)"] = near.map(\.d).reduce(0, +) / Double(near.count)
            numbers["modes_\(t)"] = Double(Set(near.map(\.k)).count)
            var sp = Plot(width: 260, height: 260, title: "SDS，σ ∈ [\(String(format: "%g", lo)), \(String(format: "%g", hi))]", x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
            sp.heatmap(heat, xRange: xr, yRange: yr, gamma: 0.5)
            let chosen = Swift.stride(from: 0, to: g * g, by: stride).prefix(paths)
            let values = Swift.stride(from: 0, to: path.count, by: 4).map { path[$0].scalars }
            sp.trajectories(chosen.map { j in values.map { Point(Double($0[2 * j]), Double($0[2 * j + 1])) } },
                            colour: 0, endpoints: true)
            sp.showLegend = false
            panels.append(sp)
        }
        numbers["distance_theory"] = (Double.pi / 2).squareRoot()      // E‖z‖ for z ~ N(0, I₂): what exact samples give
        // Sampling from the same prior for contrast: Heun on the PF-ODE from the same number of points.
        let sigmas = Schedule.karras(steps: 18, sigmaMin: 0.002, sigmaMax: 40)
        let samples = Sampling.heun(ring, NoiseSource(seed: UInt64(seed)).prior([g * g, 2], sigma: sigmas[0]), sigmas: sigmas)
        let sn = nearest(samples)
        numbers["distance_samples"] = sn.map(\.d).reduce(0, +) / Double(sn.count)
        var sp = Plot(width: 260, height: 260, title: "对照：从同一先验采样", x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
        sp.heatmap(heat, xRange: xr, yRange: yr, gamma: 0.5)
        sp.scatter(points(samples), colour: 1, radius: 1.8, opacity: 0.8)
        sp.showLegend = false
        panels.append(sp)
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "分数蒸馏：\(g * g) 个自由粒子在冻结的扩散先验下被优化"), numbers: numbers)
    }
}
