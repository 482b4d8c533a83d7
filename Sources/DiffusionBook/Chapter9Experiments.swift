import Diffusion
import DiffusionEngine
import DiffusionPlot
import Foundation

/// The experiments of chapter 9 (book/ch09-guidance.md): guidance on labelled Gaussian mixtures, whose conditional
/// denoisers E[x₀ | x, y] and noisy-data classifier p_σ(y | x) are exact, so the guided field, the tilted target
/// p(x | y)·p(y | x)^{w−1} and the effect of every knob can be computed without training.
///
/// Conventions: EDM levels σ (α = 1, x = x₀ + σ·ε); samples start at 80·z (`NoiseSource.prior`) and run on Karras
/// levels ending at 0. Guidance scales follow the library (w = 1 is the conditional model, w = 0 the unconditional
/// one; Ho & Salimans' w is our w − 1).
public enum Chapter9 {
    public static let experiments: [BookExperiment] = [classifier, sharpen, gauss, saturation, interval, negative, numbers]

    // MARK: Shared data and helpers

    /// The running example: class 0 has two modes (A at x₁ = −2.2, B at x₁ = −0.6), classes 1 and 2 are broad
    /// bumps on the right that overlap each other around x₂ = 0.
    public static let toy = LabelledMixture(classWeights: [0.4, 0.3, 0.3], classes: [
        GaussianMixture(weights: [0.5, 0.5], means: [[-2.2, 0], [-0.6, 0]], std: [0.3, 0.3]),
        GaussianMixture(weights: [1], means: [[1.4, 0.9]], std: [0.5]),
        GaussianMixture(weights: [1], means: [[1.4, -0.9]], std: [0.5]),
    ])

    /// A conditional model given by two Gaussian mixtures: `conditional` for every label, `unconditional` for the
    /// null condition (a continuous condition fixed at one value, e.g. the jointly Gaussian example of §9.4).
    public struct PairedDenoiser: ConditionalDenoiser, Sendable {
        public let conditional: GaussianMixture
        public let unconditional: GaussianMixture
        public init(conditional: GaussianMixture, unconditional: GaussianMixture) {
            (self.conditional, self.unconditional) = (conditional, unconditional)
        }
        public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor { unconditional.denoise(x, at: level) }
        public func denoise(_ x: Tensor, at level: NoiseLevel, labels: Tensor?) -> Tensor {
            labels == nil ? unconditional.denoise(x, at: level) : conditional.denoise(x, at: level)
        }
    }

    /// Counts calls (one per batch evaluation, conditional or not) to a conditional denoiser.
    final class CallCounter<Base: ConditionalDenoiser>: ConditionalDenoiser {
        let base: Base
        private(set) var calls = 0
        init(_ base: Base) { self.base = base }
        func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor { calls += 1; return base.denoise(x, at: level) }
        func denoise(_ x: Tensor, at level: NoiseLevel, labels: Tensor?) -> Tensor { calls += 1; return base.denoise(x, at: level, labels: labels) }
    }

    /// n copies of one label.
    static func labels(_ y: Int, _ n: Int) -> Tensor { Tensor.full([n], Float(y)) }

    static func points(_ t: Tensor) -> [Point] {
        let v = t.scalars
        return (0..<(v.count / 2)).map { Point(Double(v[2 * $0]), Double(v[2 * $0 + 1])) }
    }

    /// Number-key form of a scale ("1.5" → "1p5").
    static func tag(_ w: Double) -> String { String(format: "%g", w).replacingOccurrences(of: ".", with: "p").replacingOccurrences(of: "-", with: "m") }

    static func doubles(_ p: ExperimentParameters, _ name: String) throws -> [Double] {
        let parts = p.string(name).split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0!.isFinite }) else { throw ExperimentError("parameter \(name)=\(p.string(name)) must be comma-separated numbers") }
        return parts.map { $0! }
    }

    /// DPM-Solver++(2M) on N Karras levels from 80 to 0 (one call of `model` per step).
    static func sample(_ model: some Denoiser, n: Int, dimension d: Int = 2, seed: UInt64, steps N: Int) -> Tensor {
        let sigmas = Schedule.karras(steps: N)
        return Sampling.dpmSolverPP2M(model, NoiseSource(seed: seed).prior([n, d], sigma: sigmas[0]), sigmas: sigmas)
    }

    /// Cell centres of a bins_x × bins_y grid, row-major from the bottom row (the layout `Plot.heatmap` expects).
    static func grid(_ xr: ClosedRange<Double>, _ yr: ClosedRange<Double>, _ bx: Int, _ by: Int) -> Tensor {
        var v: [Float] = []
        for j in 0..<by {
            for i in 0..<bx {
                v.append(Float(xr.lowerBound + (Double(i) + 0.5) / Double(bx) * (xr.upperBound - xr.lowerBound)))
                v.append(Float(yr.lowerBound + (Double(j) + 0.5) / Double(by) * (yr.upperBound - yr.lowerBound)))
            }
        }
        return Tensor(v, shape: [bx * by, 2])
    }

    static func rows(_ values: [Double], _ bx: Int) -> [[Double]] { stride(from: 0, to: values.count, by: bx).map { Array(values[$0..<($0 + bx)]) } }

    /// log of the tilted density π_w(x) ∝ p(x | y)·p(y | x)^{w−1} at σ = 0 (unnormalised), per row of x.
    public static func logTilted(_ m: LabelledMixture, _ x: Tensor, label y: Int, scale w: Double) -> [Double] {
        let clean = NoiseLevel(alpha: 1, sigma: 0)
        let logc = m.classes[y].logDensity(x, at: clean)
        let logp = m.classLogProbabilities(x, at: clean).scalars
        let C = m.classCount
        return logc.indices.map { logc[$0] + (w - 1) * Double(logp[$0 * C + y]) }
    }

    /// Mean and total variance (trace of the covariance) of a density given by log values on a grid of cell centres.
    static func gridMoments(_ logValues: [Double], _ cells: Tensor) -> (mean: [Double], totalVariance: Double) {
        let m = logValues.max()!
        let w = logValues.map { exp($0 - m) }
        let total = w.reduce(0, +)
        let c = cells.scalars.map(Double.init)
        var mean = [0.0, 0.0]
        for i in w.indices { mean[0] += w[i] * c[2 * i]; mean[1] += w[i] * c[2 * i + 1] }
        mean = mean.map { $0 / total }
        var v = 0.0
        for i in w.indices { v += w[i] * (pow(c[2 * i] - mean[0], 2) + pow(c[2 * i + 1] - mean[1], 2)) }
        return (mean, v / total)
    }

    /// Sample mean and total variance of the rows of a 2-D tensor.
    static func moments(_ t: Tensor) -> (mean: [Double], totalVariance: Double) {
        let p = points(t), n = Double(p.count)
        let mx = p.map(\.x).reduce(0, +) / n, my = p.map(\.y).reduce(0, +) / n
        let v = p.map { pow($0.x - mx, 2) + pow($0.y - my, 2) }.reduce(0, +) / n
        return ([mx, my], v)
    }

    /// Mean over rows of p(y | x) at σ = 0 (the exact classifier's confidence in the requested class).
    static func confidence(_ m: LabelledMixture, _ x: Tensor, label y: Int) -> Double {
        let lp = m.classLogProbabilities(x, at: NoiseLevel(alpha: 1, sigma: 0)).scalars
        let n = x.shape[0], C = m.classCount
        return (0..<n).map { exp(Double(lp[$0 * C + y])) }.reduce(0, +) / Double(n)
    }

    static func rms(_ a: Tensor, _ b: Tensor) -> Double { Chapter8.rms(a, b) }

    // MARK: Figure — the exact classifier of noisy data and its gradient

    static let classifier = BookExperiment(
        name: "ch9-classifier",
        summary: "The labelled toy mixture, the exact noisy-data classifier p_σ(y = 1 | x) at three levels with its gradient field (autograd through LabelledMixture.classLogProbabilities), and exactness checks: classifier guidance at w = 1 equals the conditional denoiser, CFG equals classifier guidance at every w.",
        defaults: ["seed": "0", "n": "1500", "sigmas": "0.3,1,3", "label": "1", "check_n": "400", "w": "3"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 10...20_000)
        let sigmas = try doubles(p, "sigmas")
        let y = try p.int("label", in: 0...2)
        let checkN = try p.int("check_n", in: 10...10_000)
        let w = try p.double("w")
        guard sigmas.allSatisfy({ $0 > 0 }) else { throw ExperimentError("sigmas must be positive") }
        let m = toy
        let (xr, yr) = (-3.5...3.5, -3.0...3.0)
        var numbers: [String: Double] = ["n": Double(n), "label": Double(y), "w": Double(w), "check_n": Double(checkN)]

        let (data, classes) = m.sample(n, seed: UInt64(seed))
        var first = Plot(width: 300, height: 270, title: "数据（颜色 = 类别）", x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
        first.scatter(points(data), classes: classes.scalars.map { Int($0) }, classNames: ["类 0", "类 1", "类 2"], radius: 1.3, opacity: 0.55)
        var panels = [first]

        let (bx, by) = (56, 48)
        let cells = grid(xr, yr, bx, by)
        let (qx, qy) = (14, 12)
        let arrows = grid(xr, yr, qx, qy)
        for (k, σ) in sigmas.enumerated() {
            let level = NoiseLevel(alpha: 1, sigma: σ)
            let prob = m.classLogProbabilities(cells, at: level).scalars
            let py = (0..<(bx * by)).map { exp(Double(prob[$0 * m.classCount + y])) }
            let g = ClassifierGuidance(m.marginal, classifier: m, labels: labels(y, qx * qy), scale: 1).classifierGradient(arrows, at: level)
            let gv = points(g)
            var pl = Plot(width: 300, height: 270, title: "p(y = \(y) | x)，σ = \(String(format: "%g", σ))", x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
            // The last column is a scale bar from 0 (bottom) to 1 (top), so every panel shares one scale.
            var cellsShown = rows(py, bx)
            for j in 0..<by { cellsShown[j][bx - 1] = Double(j) / Double(by - 1) }
            pl.heatmap(cellsShown, xRange: xr, yRange: yr)
            pl.quiver(points(arrows), gv, colour: 1)
            pl.showLegend = false
            panels.append(pl)
            numbers["p_min_\(k)"] = py.min()!
            numbers["p_max_\(k)"] = py.max()!
            numbers["grad_max_\(k)"] = gv.map { ($0.x * $0.x + $0.y * $0.y).squareRoot() }.max()!
            numbers["sigma_\(k)"] = σ
        }

        // Exactness: classifier guidance with the exact classifier and w = 1 is E[x₀ | x, y]; CFG with the exact
        // conditional and unconditional denoisers equals classifier guidance at any w.
        let x = NoiseSource(seed: UInt64(seed) &+ 7).prior([checkN, 2], sigma: 1.5)
        let ys = Tensor((0..<checkN).map { Float($0 % m.classCount) })
        for (σ, key) in [(0.1, "0p1"), (1.0, "1"), (10.0, "10")] {
            let level = NoiseLevel(alpha: 1, sigma: σ)
            let xs = x * Float(max(1, σ))
            let exact = m.denoise(xs, at: level, labels: ys)
            let cg1 = ClassifierGuidance(m.marginal, classifier: m, labels: ys, scale: 1).denoise(xs, at: level)
            numbers["cg_exact_rms_\(key)"] = rms(cg1, exact)
            let cfg = ClassifierFreeGuidance(m, labels: ys, scale: w).denoise(xs, at: level)
            let cg = ClassifierGuidance(m.marginal, classifier: m, labels: ys, scale: w).denoise(xs, at: level)
            numbers["cfg_cg_rms_\(key)"] = rms(cfg, cg)
            numbers["guidance_rms_\(key)"] = rms(cfg, exact)
        }
        return ExperimentResult(svg: Figure(panels, columns: 2).svg(title: "带噪数据上的精确分类器 p_σ(y | x)（深浅）与它的梯度 ∇ₓ log p_σ(y | x)（箭头）"), numbers: numbers)
    }

    // MARK: Figure — what guidance does to one class: sharpening, precision and recall

    static let sharpen = BookExperiment(
        name: "ch9-sharpen",
        summary: "CFG samples of class 1 of the toy mixture at several scales w over the tilted density p(x|y)·p(y|x)^{w−1}; improved precision/recall (k-NN, Kynkäänniemi et al. 2019) against fresh class samples, the exact classifier's confidence, and the total variance of the samples against the tilted density's.",
        defaults: ["seed": "0", "n": "800", "label": "1", "scales": "0,0.5,1,1.5,2,3,4,6,8", "shown": "1,2,4,8", "steps": "32", "k": "3"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 20...10_000)
        let y = try p.int("label", in: 0...2)
        let scales = try doubles(p, "scales"), shown = try doubles(p, "shown")
        let N = try p.int("steps", in: 2...1000)
        let k = try p.int("k", in: 1...50)
        guard shown.allSatisfy({ scales.contains($0) }) else { throw ExperimentError("every shown scale must be one of the scales") }
        let m = toy
        let (xr, yr) = (-3.5...3.5, -3.0...3.0)
        let real = m.classes[y].sample(n, seed: UInt64(seed) &+ 100)
        let real2 = m.classes[y].sample(n, seed: UInt64(seed) &+ 200)
        var numbers: [String: Double] = ["n": Double(n), "label": Double(y), "steps": Double(N), "k": Double(k)]
        let floor = Metrics.precisionRecall(real: real, generated: real2, k: k)
        numbers["precision_floor"] = floor.precision
        numbers["recall_floor"] = floor.recall
        numbers["confidence_data"] = confidence(m, real, label: y)
        numbers["tv_data"] = moments(real).totalVariance

        let (bx, by) = (70, 60)
        let cells = grid(xr, yr, bx, by)
        let (fx, fy) = (280, 240)
        let fine = grid(xr, yr, fx, fy)
        var panels: [Plot] = []
        var prec: [Point] = [], rec: [Point] = [], conf: [Point] = [], tvS: [Point] = [], tvT: [Point] = []
        for w in scales {
            let t = tag(w)
            let x = sample(ClassifierFreeGuidance(m, labels: labels(y, n), scale: w), n: n, seed: UInt64(seed), steps: N)
            let pr = Metrics.precisionRecall(real: real, generated: x, k: k)
            let mo = moments(x)
            numbers["precision_\(t)"] = pr.precision
            numbers["recall_\(t)"] = pr.recall
            numbers["confidence_\(t)"] = confidence(m, x, label: y)
            numbers["tv_\(t)"] = mo.totalVariance
            numbers["mean_x_\(t)"] = mo.mean[0]
            numbers["mean_y_\(t)"] = mo.mean[1]
            numbers["ed_\(t)"] = Metrics.energyDistance(x, real)
            prec.append(Point(w, pr.precision)); rec.append(Point(w, pr.recall)); conf.append(Point(w, numbers["confidence_\(t)"]!))
            tvS.append(Point(w, mo.totalVariance))
            if w > 0 {
                let target = gridMoments(logTilted(m, fine, label: y, scale: w), fine)
                numbers["tv_tilted_\(t)"] = target.totalVariance
                numbers["mean_x_tilted_\(t)"] = target.mean[0]
                numbers["mean_y_tilted_\(t)"] = target.mean[1]
                tvT.append(Point(w, target.totalVariance))
            }
            if shown.contains(w) {
                let lt = logTilted(m, cells, label: y, scale: w)
                let top = lt.max()!
                var pl = Plot(width: 290, height: 260, title: "w = \(String(format: "%g", w))", x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
                pl.heatmap(rows(lt.map { exp($0 - top) >= 1e-3 ? exp($0 - top) : 0 }, bx), xRange: xr, yRange: yr, gamma: 0.5)
                pl.scatter(points(x), colour: y, radius: 1.2, opacity: 0.6)
                pl.showLegend = false
                panels.append(pl)
            }
        }
        numbers["ed_floor"] = Metrics.energyDistance(real2, real)
        let wr = 0...(scales.max()! + 0.2)
        var prPlot = Plot(width: 290, height: 260, title: "精确率、召回率与分类器置信度", x: Axis("引导系数 w", range: wr), y: Axis(range: 0...1.5))
        prPlot.line(prec, colour: 0, label: "精确率")
        prPlot.scatter(prec, colour: 0, radius: 2.2, opacity: 1)
        prPlot.line(rec, colour: 1, label: "召回率")
        prPlot.scatter(rec, colour: 1, radius: 2.2, opacity: 1)
        prPlot.line(conf, colour: 2, style: .dashed, label: "平均 p(y | x₀)")
        var tvPlot = Plot(width: 290, height: 260, title: "总方差 tr Cov", x: Axis("引导系数 w", range: wr), y: Axis(range: 0...(tvS.map(\.y).max()! * 1.25)))
        tvPlot.line(tvS, colour: 3, label: "CFG 样本")
        tvPlot.scatter(tvS, colour: 3, radius: 2.2, opacity: 1)
        tvPlot.line(tvT, colour: 4, style: .dashed, label: "倾斜分布 π_w")
        panels += [prPlot, tvPlot]
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "类 \(y) 的无分类器引导样本（点）与倾斜分布 p(x | y)·p(y | x)^{w−1}（深浅）"), numbers: numbers)
    }

    // MARK: Figure — one Gaussian: the guided field is not the score of a noised distribution

    /// The jointly Gaussian example: x₀ ~ N(0, 1), a measurement y = x₀ + τξ with τ² = 1/3, conditioned on y = 2,
    /// so p(x₀ | y) = N(1.5, 0.5²).
    public static let gaussPair = PairedDenoiser(conditional: GaussianMixture(weights: [1], means: [[1.5]], std: [0.5]),
                                                 unconditional: GaussianMixture(weights: [1], means: [[0]], std: [1]))

    /// Moments that the guided probability-flow ODE and the guided reverse SDE reach from N(0, U) at U = σ_max²,
    /// and the tilted Gaussian's, for conditional N(μ_c, s_c²), unconditional N(μ_u, s_u²) and scale w; integrals
    /// over u = σ² by Simpson's rule in log u.
    public struct GaussTheory: Sendable {
        public let muC: Double, sC: Double, muU: Double, sU: Double, w: Double, U: Double
        public init(muC: Double, sC: Double, muU: Double, sU: Double, w: Double, sigmaMax: Double = 80) {
            (self.muC, self.sC, self.muU, self.sU, self.w, self.U) = (muC, sC, muU, sU, w, sigmaMax * sigmaMax)
        }
        func a(_ u: Double) -> Double { 1 / (sC * sC + u) }
        func b(_ u: Double) -> Double { 1 / (sU * sU + u) }
        /// Precision of the guided family at u = σ².
        public func precision(_ u: Double) -> Double { w * a(u) + (1 - w) * b(u) }
        /// ∫₀ᵘ P = w·log((s_c² + u)/s_c²) + (1 − w)·log((s_u² + u)/s_u²).
        func intP(_ u: Double) -> Double { w * log1p(u / (sC * sC)) + (1 - w) * log1p(u / (sU * sU)) }
        func drift(_ u: Double) -> Double { w * a(u) * muC + (1 - w) * b(u) * muU }
        func integrate(_ f: (Double) -> Double) -> Double {
            let (lo, hi, M) = (log(1e-10), log(U), 6000)
            let h = (hi - lo) / Double(M)
            var s = 0.0
            for i in 0...M {
                let r = lo + Double(i) * h, u = exp(r)
                s += (i == 0 || i == M ? 1 : (i % 2 == 1 ? 4 : 2)) * f(u) * u
            }
            return s * h / 3 + f(0) * 1e-10       // the piece [0, 1e-10] by the rectangle rule
        }
        public var tiltedMean: Double { drift(0) / precision(0) }
        public var tiltedStd: Double { (1 / precision(0)).squareRoot() }
        /// The PF-ODE: Var(0) = U·e^{−∫₀ᵁP}, E(0) = ½∫₀ᵁ e^{−½∫₀ᵘP}·(w a μ_c + (1 − w) b μ_u) du.
        public var odeStd: Double { (U * exp(-intP(U))).squareRoot() }
        public var odeMean: Double { 0.5 * integrate { exp(-0.5 * intP($0)) * drift($0) } }
        /// The reverse SDE: Var(0) = U·e^{−2∫₀ᵁP} + ∫₀ᵁ e^{−2∫₀ᵘP} du, E(0) = ∫₀ᵁ e^{−∫₀ᵘP}·(w a μ_c + (1 − w) b μ_u) du.
        public var sdeStd: Double { (U * exp(-2 * intP(U)) + integrate { exp(-2 * intP($0)) }).squareRoot() }
        public var sdeMean: Double { integrate { exp(-intP($0)) * drift($0) } }
        /// The limit U → ∞ of the ODE's standard deviation: s_c^w·s_u^{1−w}.
        public var odeStdLimit: Double { pow(sC, w) * pow(sU, 1 - w) }
    }

    static let gauss = BookExperiment(
        name: "ch9-gauss",
        summary: "The jointly Gaussian example (conditional N(1.5, 0.5²), unconditional N(0, 1)): standard deviations and means of CFG samples from the probability-flow ODE (DPM-Solver++(2M)) and the reverse SDE (DDPM ancestral steps) against their closed forms and the tilted Gaussian's; V(σ) − σ² of the guided family (constant for a noised distribution).",
        defaults: ["seed": "0", "n": "2000", "scales": "1,1.5,2,3,4,5", "ode_steps": "128", "sde_steps": "1024"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 10...100_000)
        let scales = try doubles(p, "scales")
        let odeSteps = try p.int("ode_steps", in: 2...4000)
        let sdeSteps = try p.int("sde_steps", in: 2...4000)
        guard scales.allSatisfy({ $0 >= 1 && $0 <= 20 }) else { throw ExperimentError("scales must lie in 1…20") }
        let pair = gaussPair
        let (muC, sC, sU) = (1.5, 0.5, 1.0)
        var numbers: [String: Double] = ["n": Double(n), "mu_c": muC, "s_c": sC, "s_u": sU, "ode_steps": Double(odeSteps), "sde_steps": Double(sdeSteps)]
        var odeP: [Point] = [], sdeP: [Point] = [], tilt: [Point] = [], odeT: [Point] = [], sdeT: [Point] = []
        func stats(_ t: Tensor) -> (Double, Double) {
            let v = t.scalars.map(Double.init), c = Double(v.count)
            let mean = v.reduce(0, +) / c
            return (mean, (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (c - 1)).squareRoot())
        }
        for w in scales {
            let t = tag(w)
            let th = GaussTheory(muC: muC, sC: sC, muU: 0, sU: sU, w: w)
            let guided = ClassifierFreeGuidance(pair, labels: Tensor.zeros([n]), scale: w)
            let ode = stats(sample(guided, n: n, dimension: 1, seed: UInt64(seed), steps: odeSteps))
            let levels = Schedule.karras(steps: sdeSteps)
            let noise = NoiseSource(seed: UInt64(seed) &+ 1)
            let sde = stats(Sampling.ddpm(guided, noise.prior([n, 1], sigma: levels[0]), sigmas: levels, noise: noise))
            numbers["ode_mean_\(t)"] = ode.0; numbers["ode_std_\(t)"] = ode.1
            numbers["sde_mean_\(t)"] = sde.0; numbers["sde_std_\(t)"] = sde.1
            numbers["ode_mean_theory_\(t)"] = th.odeMean; numbers["ode_std_theory_\(t)"] = th.odeStd
            numbers["ode_std_limit_\(t)"] = th.odeStdLimit
            numbers["sde_mean_theory_\(t)"] = th.sdeMean; numbers["sde_std_theory_\(t)"] = th.sdeStd
            numbers["tilted_mean_\(t)"] = th.tiltedMean; numbers["tilted_std_\(t)"] = th.tiltedStd
            odeP.append(Point(w, ode.1)); sdeP.append(Point(w, sde.1))
        }
        let dense = stride(from: scales.min()!, through: scales.max()!, by: 0.05).map { $0 }
        for w in dense {
            let th = GaussTheory(muC: muC, sC: sC, muU: 0, sU: sU, w: w)
            tilt.append(Point(w, th.tiltedStd)); odeT.append(Point(w, th.odeStd)); sdeT.append(Point(w, th.sdeStd))
        }
        var left = Plot(width: 400, height: 300, title: "引导后样本的标准差", x: Axis("引导系数 w"), y: Axis(range: 0...0.55))
        left.line(tilt, colour: 7, style: .dashed, label: "倾斜分布（目标）")
        left.line(sdeT, colour: 1, label: "反向 SDE（理论）")
        left.scatter(sdeP, colour: 1, radius: 3, opacity: 1, label: "DDPM 采样")
        left.line(odeT, colour: 0, label: "概率流 ODE（理论）")
        left.scatter(odeP, colour: 0, radius: 3, opacity: 1, label: "DPM-Solver++(2M)")

        // V(σ) − σ² of the guided family 1/P(σ): constant (= Var of the data) for any noised distribution.
        let σs = (0...120).map { pow(10, -2 + 3.3 * Double($0) / 120) }
        var right = Plot(width: 400, height: 300, title: "引导族的方差减去 σ²", x: Axis("噪声水平 σ", scale: .log), y: Axis("1/P(σ) − σ²"))
        for (c, w) in [1.0, 2, 3, 5].enumerated() {
            let th = GaussTheory(muC: muC, sC: sC, muU: 0, sU: sU, w: w)
            right.line(σs.map { Point($0, 1 / th.precision($0 * $0) - $0 * $0) }, colour: [7, 0, 1, 3][c], style: c == 0 ? .dashed : .solid, label: "w = \(String(format: "%g", w))")
            numbers["excess_high_\(tag(w))"] = w * sC * sC + (1 - w) * sU * sU
            numbers["excess_zero_\(tag(w))"] = 1 / th.precision(0)
        }
        numbers["w_negative_excess"] = sU * sU / (sU * sU - sC * sC)
        return ExperimentResult(svg: Figure([left, right], columns: 2).svg(title: "一维高斯：条件 N(1.5, 0.5²)，无条件 N(0, 1)"), numbers: numbers)
    }

    // MARK: Figure — over-saturation on 8×8 patterns, guidance rescale and dynamic thresholding

    /// Four classes of soft 8×8 patterns (horizontal bar, vertical bar, ring, diagonal), each a mixture of two
    /// placements × the given contrasts c: pixel = c·(1.8·f − 0.9) for a shape profile f ∈ [0, 1], so a pattern of
    /// contrast c spans [−0.9c, 0.9c]; per-pixel standard deviation `std`.
    public static func patterns(std: Double = 0.1, contrasts: [Double] = [0.35, 0.65, 0.95]) -> LabelledMixture {
        func image(_ c: Double, _ f: (Double, Double) -> Double) -> [Double] {
            (0..<64).map { k in c * (1.8 * f(Double(k / 8), Double(k % 8)) - 0.9) }
        }
        func bump(_ d: Double, _ s: Double) -> Double { exp(-d * d / (2 * s * s)) }
        let shapes: [[(Double, Double) -> Double]] = [
            [2.5, 4.5].map { r0 in { r, _ in bump(r - r0, 0.9) } },
            [2.5, 4.5].map { c0 in { _, c in bump(c - c0, 0.9) } },
            [2.0, 2.8].map { R in { r, c in bump(((r - 3.5) * (r - 3.5) + (c - 3.5) * (c - 3.5)).squareRoot() - R, 0.7) } },
            [-1.5, 1.5].map { k in { r, c in bump(r - c - k, 0.9) } },
        ]
        return LabelledMixture(classWeights: [1, 1, 1, 1], classes: shapes.map { placements in
            let means = placements.flatMap { f in contrasts.map { image($0, f) } }
            return GaussianMixture(weights: Array(repeating: 1, count: means.count), means: means, std: Array(repeating: std, count: means.count))
        })
    }

    /// One panel: `images` (rows of 64 pixels) side by side, 1-cell gaps, and a grey-scale bar on the right so the
    /// heat map's scale is fixed: pixel v ↦ 0.08 + 0.92·(clip(v, −1, 1) + 1)/2.
    static func imageStrip(_ images: [[Float]], title: String) -> Plot {
        let cols = images.count * 9 + 2
        var values = Array(repeating: Array(repeating: 0.0, count: cols), count: 8)
        for (k, img) in images.enumerated() {
            for r in 0..<8 {
                for c in 0..<8 {
                    let v = Swift.min(1, Swift.max(-1, Double(img[r * 8 + c])))
                    values[7 - r][k * 9 + c] = 0.08 + 0.92 * (v + 1) / 2
                }
            }
        }
        for r in 0..<8 { values[r][cols - 1] = 0.08 + 0.92 * Double(r) / 7 }
        var pl = Plot(width: 640, height: 124, title: title, x: Axis(range: 0...Double(cols)), y: Axis(range: 0...8))
        pl.heatmap(values, xRange: 0...Double(cols), yRange: 0...8)
        pl.grid = false
        pl.showLegend = false
        return pl
    }

    static let saturation = BookExperiment(
        name: "ch9-saturation",
        summary: "CFG on four classes of soft 8×8 patterns with exact denoisers: over-saturation at large w (pixels beyond [−1, 1], per-image contrast), fixed by guidance rescale φ (ClassifierFreeGuidance(rescale:)) or thresholding (ThresholdedDenoiser, static and dynamic); sample grids and statistics.",
        defaults: ["seed": "0", "n": "200", "shown": "8", "w": "8", "phi": "0.7", "percentile": "0.95", "steps": "24", "std": "0.1"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 8...4000)
        let shown = try p.int("shown", in: 4...16)
        let w = try p.double("w"), φ = try p.double("phi"), pct = try p.double("percentile")
        let N = try p.int("steps", in: 2...1000)
        let std = try p.double("std")
        guard w >= 1 && (0...1).contains(φ) && (0...1).contains(pct) && std > 0 else { throw ExperimentError("need w ≥ 1, 0 ≤ phi ≤ 1, 0 ≤ percentile ≤ 1, std > 0") }
        let m = patterns(std: std)
        let C = m.classCount
        let ys = Tensor((0..<n).map { Float($0 % C) })
        func contrast(_ t: Tensor) -> Double {
            let v = t.scalars, rowsN = t.shape[0]
            var total = 0.0
            for i in 0..<rowsN {
                let r = v[(i * 64)..<((i + 1) * 64)].map(Double.init)
                let mean = r.reduce(0, +) / 64
                total += (r.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 64).squareRoot()
            }
            return total / Double(rowsN)
        }
        // Distance of each (clipped) sample to the nearest component mean of its class (RMS per pixel), and the
        // share of samples whose nearest component has the highest contrast.
        let K = 3
        func template(_ t: Tensor) -> (rms: Double, high: Double) {
            let v = t.scalars
            var total = 0.0, high = 0
            for i in 0..<t.shape[0] {
                let y = i % C
                let d = m.classes[y].means.map { mu in
                    (0..<64).map { j in pow(Swift.min(1, Swift.max(-1, Double(v[i * 64 + j]))) - mu[j], 2) }.reduce(0, +) / 64
                }
                let best = d.indices.min { d[$0] < d[$1] }!
                total += d[best].squareRoot()
                if best % K == K - 1 { high += 1 }
            }
            return (total / Double(t.shape[0]), Double(high) / Double(t.shape[0]))
        }
        var numbers: [String: Double] = ["n": Double(n), "w": w, "phi": φ, "percentile": pct, "steps": Double(N), "std": std]
        // Data laid out like the samples: row i from class i mod C.
        let perClass = (0..<C).map { m.classes[$0].sample(n, seed: UInt64(seed) &+ 50 &+ UInt64($0)).scalars }
        let data = Tensor((0..<n).flatMap { i in perClass[i % C][((i / C) * 64)..<((i / C) * 64 + 64)] }, shape: [n, 64])
        numbers["contrast_data"] = contrast(data)
        let td = template(data)
        numbers["template_data"] = td.rms
        numbers["high_contrast_data"] = td.high
        numbers["outside_data"] = Double(data.scalars.filter { Swift.abs($0) > 1 }.count) / Double(data.count)
        let cases: [(key: String, title: String, model: any Denoiser)] = [
            ("plain", "w = 1（条件模型）", ClassifierFreeGuidance(m, labels: ys, scale: 1)),
            ("mid", "w = \(String(format: "%g", w / 2))", ClassifierFreeGuidance(m, labels: ys, scale: w / 2)),
            ("cfg", "w = \(String(format: "%g", w))", ClassifierFreeGuidance(m, labels: ys, scale: w)),
            ("rescale", "w = \(String(format: "%g", w))，重缩放 φ = \(String(format: "%g", φ))", ClassifierFreeGuidance(m, labels: ys, scale: w, rescale: φ)),
            ("static", "w = \(String(format: "%g", w))，静态阈值（裁剪到 [−1, 1]）", ThresholdedDenoiser(ClassifierFreeGuidance(m, labels: ys, scale: w), percentile: nil)),
            ("dynamic", "w = \(String(format: "%g", w))，动态阈值 p = \(String(format: "%g", pct))", ThresholdedDenoiser(ClassifierFreeGuidance(m, labels: ys, scale: w), percentile: pct)),
        ]
        var panels: [Plot] = []
        for cs in cases {
            let x = sample(cs.model, n: n, dimension: 64, seed: UInt64(seed), steps: N)
            let v = x.scalars
            for σ in [80.0, 2, 0.5] {
                let start = NoiseSource(seed: UInt64(seed) &+ 9).prior([n, 64], sigma: σ) + data
                numbers["x0_max_\(cs.key)_\(tag(σ))"] = Double(cs.model.denoise(start, sigma: σ).scalars.map { Swift.abs($0) }.max()!)
            }
            numbers["outside_\(cs.key)"] = Double(v.filter { Swift.abs($0) > 1 }.count) / Double(v.count)
            numbers["max_abs_\(cs.key)"] = Double(v.map { Swift.abs($0) }.max()!)
            numbers["contrast_\(cs.key)"] = contrast(x)
            let tx = template(x)
            numbers["template_\(cs.key)"] = tx.rms
            numbers["high_contrast_\(cs.key)"] = tx.high
            let lp = m.classLogProbabilities(x, at: NoiseLevel(alpha: 1, sigma: 0.05)).scalars
            numbers["accuracy_\(cs.key)"] = Double((0..<n).filter { i in (0..<C).max { lp[i * C + $0] < lp[i * C + $1] } == i % C }.count) / Double(n)
            panels.append(imageStrip((0..<shown).map { Array(v[($0 * 64)..<(($0 + 1) * 64)]) }, title: cs.title))
        }
        return ExperimentResult(svg: Figure(panels, columns: 1).svg(title: "8×8 图案上的无分类器引导：过饱和与两种补救（显示时裁剪到 [−1, 1]；右端是灰度条）"), numbers: numbers)
    }

    // MARK: Figure — guidance intervals: where along σ guidance helps and harms

    /// DDIM (Euler in σ) states after every step, starting from x at sigmas[0].
    static func ddimPath(_ model: some Denoiser, _ x: Tensor, _ sigmas: [Double]) -> [Tensor] {
        var x = x
        var states = [x]
        for i in 0..<(sigmas.count - 1) {
            let d = model.denoise(x, sigma: sigmas[i])
            x = sigmas[i + 1] == 0 ? d : d + (x - d) * Float(sigmas[i + 1] / sigmas[i])
            states.append(x)
        }
        return states
    }

    static let interval = BookExperiment(
        name: "ch9-interval",
        summary: "Class 0 of the toy mixture (two modes) under CFG with w applied everywhere, only at high σ, only at low σ, or only on an interval (ScheduledGuidance.interval): mode B's share, precision/recall and model calls; DDIM trajectories of the first coordinate against σ.",
        defaults: ["seed": "0", "n": "800", "w": "3", "low": "0.3", "high": "1", "steps": "40", "paths": "40", "k": "3"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 20...10_000)
        let w = try p.double("w")
        let (lo, hi) = (try p.double("low"), try p.double("high"))
        let N = try p.int("steps", in: 2...1000)
        let paths = try p.int("paths", in: 1...200)
        let k = try p.int("k", in: 1...50)
        guard w >= 1 && 0 < lo && lo < hi else { throw ExperimentError("need w ≥ 1 and 0 < low < high") }
        let m = toy, y = 0
        let ys = labels(y, n)
        let real = m.classes[y].sample(n, seed: UInt64(seed) &+ 100)
        let sigmas = Schedule.karras(steps: N)
        let start = NoiseSource(seed: UInt64(seed)).prior([n, 2], sigma: sigmas[0])
        let cases: [(key: String, title: String, scale: @Sendable (Double) -> Double)] = [
            ("none", "不引导（w = 1）", { _ in 1 }),
            ("all", "处处引导（w = \(String(format: "%g", w))）", { _ in w }),
            ("high", "只在 σ > \(String(format: "%g", hi)) 引导", { σ in σ > hi ? w : 1 }),
            ("low", "只在 σ < \(String(format: "%g", lo)) 引导", { σ in σ < lo ? w : 1 }),
            ("interval", "只在 \(String(format: "%g", lo)) ≤ σ ≤ \(String(format: "%g", hi)) 引导", { σ in lo <= σ && σ <= hi ? w : 1 }),
        ]
        var numbers: [String: Double] = ["n": Double(n), "w": w, "low": lo, "high": hi, "steps": Double(N), "paths": Double(paths)]
        numbers["share_b_data"] = Double(points(real).filter { $0.x > -1.4 }.count) / Double(n)
        // First coordinates of the data mean, the class mean and the point D̃ tends to at high σ.
        let gm = m.marginal, cm = m.classes[y]
        numbers["mean_x1"] = zip(gm.weights, gm.means).map { $0 * $1[0] }.reduce(0, +)
        numbers["class_mean_x1"] = zip(cm.weights, cm.means).map { $0 * $1[0] }.reduce(0, +)
        numbers["target_x1"] = numbers["mean_x1"]! + w * (numbers["class_mean_x1"]! - numbers["mean_x1"]!)
        let (xr, yr) = (-3.5...1.5, -1.8...1.8)
        var scatterPanels: [Plot] = [], pathPanels: [Plot] = []
        let λEnd = -2 * log(sigmas[sigmas.count - 2]) + 2
        for cs in cases {
            let counter = CallCounter(m)
            let model = ScheduledGuidance(counter, labels: ys, scale: cs.scale)
            let states = ddimPath(model, start, sigmas)
            let x = states.last!
            let pts = points(x)
            numbers["share_b_\(cs.key)"] = Double(pts.filter { $0.x > -1.4 }.count) / Double(n)
            let pr = Metrics.precisionRecall(real: real, generated: x, k: k)
            numbers["precision_\(cs.key)"] = pr.precision
            numbers["recall_\(cs.key)"] = pr.recall
            numbers["confidence_\(cs.key)"] = confidence(m, x, label: y)
            numbers["calls_\(cs.key)"] = Double(counter.calls)
            guard ["none", "all", "interval"].contains(cs.key) else { continue }
            var sp = Plot(width: 290, height: 230, title: cs.title, x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
            sp.scatter(pts, colour: 0, radius: 1.2, opacity: 0.55)
            sp.showLegend = false
            scatterPanels.append(sp)
            // x₁ against λ = −2 log σ for the first `paths` samples, in VP coordinates x/√(1 + σ²).
            let drawn = (0..<paths).map { j in
                zip(states, sigmas).map { s, σ in
                    σ == 0 ? Point(λEnd, Double(s.scalars[2 * j])) : Point(-2 * log(σ), Double(s.scalars[2 * j]) / (1 + σ * σ).squareRoot())
                }
            }
            var tp = Plot(width: 290, height: 230, title: "轨迹的第一个坐标", x: Axis("λ = −2 log σ", range: -8...(λEnd + 0.5)), y: Axis(range: -3.4...1.6))
            tp.trajectories(drawn, colour: 0, endpoints: false)
            tp.line([Point(-2 * log(hi), -3.4), Point(-2 * log(hi), 1.6)], colour: 7, style: .dotted, width: 1)
            tp.line([Point(-2 * log(lo), -3.4), Point(-2 * log(lo), 1.6)], colour: 7, style: .dotted, width: 1)
            tp.showLegend = false
            pathPanels.append(tp)
        }
        // How strongly guidance acts: the mean ‖D(x; y) − D(x; ∅)‖ along the unguided trajectories.
        let plainStates = ddimPath(ClassifierFreeGuidance(m, labels: ys, scale: 1), start, sigmas)
        for target: Double in [0.1, 0.3, 1, 3, 10] {
            let i = sigmas.indices.filter { sigmas[$0] > 0 }.min { Swift.abs(log(sigmas[$0] / target)) < Swift.abs(log(sigmas[$1] / target)) }!
            let σ = sigmas[i]
            let v = (m.denoise(plainStates[i], at: NoiseLevel(alpha: 1, sigma: σ), labels: ys) - m.marginal.denoise(plainStates[i], sigma: σ)).scalars
            var total = 0.0
            for j in 0..<n {
                let (a, b) = (Double(v[2 * j]), Double(v[2 * j + 1]))
                total += (a * a + b * b).squareRoot()
            }
            numbers["gap_\(tag(target))"] = total / Double(n)
            numbers["gap_sigma_\(tag(target))"] = σ
        }
        return ExperimentResult(svg: Figure(scatterPanels + pathPanels, columns: 3).svg(title: "类 0（两个峰）在三种引导方式下的样本（上）与 DDIM 轨迹（下，点线是区间的两端）"), numbers: numbers)
    }

    // MARK: Figure — negative prompts

    static let negative = BookExperiment(
        name: "ch9-negative",
        summary: "Class 1 of the toy mixture at scale w with the null condition as reference (plain CFG) and with a negative condition (class 2, then class 0) as reference (ScheduledGuidance(negativeLabels:)): samples, mean position, mean p(2 | x) and p(0 | x).",
        defaults: ["seed": "0", "n": "800", "w": "2", "steps": "32"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 20...10_000)
        let w = try p.double("w")
        let N = try p.int("steps", in: 2...1000)
        guard w >= 1 else { throw ExperimentError("need w ≥ 1") }
        let m = toy, y = 1
        let ys = labels(y, n)
        let (xr, yr) = (-3.5...3.5, -2.5...4.5)
        let cases: [(key: String, title: String, negative: Int?, scale: Double)] = [
            ("plain", "条件模型（w = 1）", nil, 1),
            ("null", "参照 ∅（w = \(String(format: "%g", w))）", nil, w),
            ("neg2", "参照类 2（w = \(String(format: "%g", w))）", 2, w),
            ("neg0", "负向条件：类 0", 0, w),
        ]
        let (data, classes) = m.sample(1200, seed: UInt64(seed) &+ 300)
        var numbers: [String: Double] = ["n": Double(n), "w": w, "steps": Double(N)]
        var panels: [Plot] = []
        for cs in cases {
            let model = ScheduledGuidance(m, labels: ys, negativeLabels: cs.negative.map { labels($0, n) }, scale: cs.scale)
            let x = sample(model, n: n, seed: UInt64(seed), steps: N)
            let mo = moments(x)
            numbers["mean_x_\(cs.key)"] = mo.mean[0]
            numbers["mean_y_\(cs.key)"] = mo.mean[1]
            numbers["tv_\(cs.key)"] = mo.totalVariance
            for c in 0..<3 { numbers["p\(c)_\(cs.key)"] = confidence(m, x, label: c) }
            numbers["runaway_\(cs.key)"] = Double(points(x).filter { $0.x > xr.upperBound || $0.y > yr.upperBound }.count) / Double(n)
            guard cs.key != "neg0" else { continue }
            var pl = Plot(width: 300, height: 300, title: cs.title, x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
            pl.scatter(points(data), classes: classes.scalars.map { Int($0) }, radius: 0.9, opacity: 0.12)
            pl.scatter(points(x), colour: 1, radius: 1.3, opacity: 0.7)
            pl.showLegend = false
            panels.append(pl)
        }
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "类 1 的样本（深色点；浅色是三个类的数据）：参照从 ∅ 换成负向条件"), numbers: numbers)
    }

    // MARK: Numbers — samplers under guidance, the CLI's path, small worked examples

    static let numbers = BookExperiment(
        name: "ch9-numbers",
        summary: "Numbers the chapter's exercises quote: endpoint error of DDIM, Heun and DPM-Solver++(2M) against a fine reference for w = 1, 3, 7; a dynamic-thresholding example; the tilted Gaussian at w = 3.",
        defaults: ["seed": "0", "n": "256", "scales": "1,3,7", "nfe": "8,16,32", "reference_steps": "400"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 4...10_000)
        let scales = try doubles(p, "scales")
        let budgets = try p.ints("nfe")
        let R = try p.int("reference_steps", in: 10...10_000)
        guard budgets.allSatisfy({ (2...1000).contains($0) }) else { throw ExperimentError("nfe values must lie in 2…1000") }
        let m = toy, y = 1
        let ys = labels(y, n)
        var numbers: [String: Double] = ["n": Double(n), "reference_steps": Double(R)]
        let start = NoiseSource(seed: UInt64(seed)).prior([n, 2], sigma: 80)
        for w in scales {
            let t = tag(w)
            let g = ClassifierFreeGuidance(m, labels: ys, scale: w)
            let reference = Sampling.dpmSolverPP2M(g, start, sigmas: Schedule.karras(steps: R))
            let check = Sampling.dpmSolverPP2M(g, start, sigmas: Schedule.karras(steps: R / 2))
            numbers["reference_check_\(t)"] = rms(check, reference)
            for b in budgets {
                numbers["err_ddim_\(t)_\(b)"] = rms(Sampling.ddim(g, start, sigmas: Schedule.karras(steps: b)), reference)
                numbers["err_dpmpp_2m_\(t)_\(b)"] = rms(Sampling.dpmSolverPP2M(g, start, sigmas: Schedule.karras(steps: b)), reference)
                numbers["err_heun_\(t)_\(b)"] = rms(Sampling.heun(g, start, sigmas: Schedule.karras(steps: (b + 2) / 2)), reference)
            }
        }
        // A worked dynamic-thresholding example: one "image" of eight pixels.
        let pixels: [Float] = [0.3, -0.9, 1.6, 2.4, -1.2, 0.8, -0.1, 1.1]
        let example = ThresholdedDenoiser(ClosureDenoiser { _, _ in Tensor(pixels, shape: [1, 8]) }, percentile: 0.75)
        let out = example.denoise(Tensor.zeros([1, 8]), at: NoiseLevel(alpha: 1, sigma: 1)).scalars
        numbers["threshold_s"] = example.threshold(pixels[...])
        for (i, v) in out.enumerated() { numbers["threshold_out_\(i)"] = Double(v) }
        let th = GaussTheory(muC: 1.5, sC: 0.5, muU: 0, sU: 1, w: 3)
        numbers["gauss_tilted_mean_3"] = th.tiltedMean
        numbers["gauss_tilted_std_3"] = th.tiltedStd
        return ExperimentResult(numbers: numbers)
    }
}
