import DiffusionEngine
import DiffusionLayers
import DiffusionModels
import DiffusionPlot
import Diffusion
import Foundation

// MARK: Super-resolution, exact case

extension Chapter13 {
    /// The Gaussian image model of §13.5: 8×8 images, mean a centred bump 0.6·exp(−r²/8) − 0.3, covariance
    /// s²·exp(−‖p − q‖²/(2ℓ²)) + 0.02²·δ_pq between pixels p, q (s = 0.45, ℓ = 1.5 pixels).
    public static let smoothImages: MultivariateGaussian = {
        let h = 8, (s, ℓ) = (0.45, 1.5)
        let pixels = (0..<(h * h)).map { (Double($0 / h), Double($0 % h)) }
        let mean = pixels.map { 0.6 * exp(-((($0.0 - 3.5) * ($0.0 - 3.5)) + ($0.1 - 3.5) * ($0.1 - 3.5)) / 8) - 0.3 }
        let cov = pixels.map { p in pixels.map { q in
            s * s * exp(-((p.0 - q.0) * (p.0 - q.0) + (p.1 - q.1) * (p.1 - q.1)) / (2 * ℓ * ℓ)) + (p == q ? 0.02 * 0.02 : 0) } }
        return MultivariateGaussian(mean: mean, covariance: cov)
    }()

    /// Rows of an [n, d] tensor as Doubles, their mean and the summed per-coordinate variance (total variance).
    static func moments(_ t: Tensor) -> (mean: [Double], variances: [Double], total: Double) {
        let n = t.shape[0], d = t.count / n, v = t.scalars
        var mean = [Double](repeating: 0, count: d), sq = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(v[i * d + j]) } }
        mean = mean.map { $0 / Double(n) }
        for i in 0..<n { for j in 0..<d { let e = Double(v[i * d + j]) - mean[j]; sq[j] += e * e } }
        let variances = sq.map { $0 / Double(n - 1) }
        return (mean, variances, variances.reduce(0, +))
    }

    /// The sample covariance of an [n, d] tensor (Double).
    static func sampleCovariance(_ t: Tensor) -> [[Double]] {
        let n = t.shape[0], d = t.count / n, v = t.scalars.map(Double.init)
        let m = moments(t).mean
        var C = Array(repeating: Array(repeating: 0.0, count: d), count: d)
        for i in 0..<n { for a in 0..<d { let ea = v[i * d + a] - m[a]; for b in a..<d { C[a][b] += ea * (v[i * d + b] - m[b]) } } }
        for a in 0..<d { for b in a..<d { C[a][b] /= Double(n - 1); C[b][a] = C[a][b] } }
        return C
    }

    /// ‖C − P‖_F / ‖P‖_F.
    static func relativeFrobenius(_ C: [[Double]], _ P: [[Double]]) -> Double {
        var (num, den) = (0.0, 0.0)
        for i in P.indices { for j in P.indices { num += (C[i][j] - P[i][j]) * (C[i][j] - P[i][j]); den += P[i][j] * P[i][j] } }
        return (num / den).squareRoot()
    }

    /// The posterior means μ + G(y − Aμ) for the rows of y [n, k]: the regression answers E[x₀ | y].
    static func posteriorMeans(_ prior: MultivariateGaussian, A: [[Double]], y: Tensor) -> Tensor {
        let (n, k, d) = (y.shape[0], A.count, prior.dimension)
        let G = prior.observationGain(A)
        let Gt = Tensor((0..<k).flatMap { c in (0..<d).map { Float(G[$0][c]) } }, shape: [k, d])
        let Aμ = Tensor(A.map { a in Float(zip(a, prior.mean).reduce(0.0) { $0 + $1.0 * $1.1 }) })
        return (y.reshaped([n, k]) - Aμ).matmul(Gt) + Tensor(prior.mean.map(Float.init))
    }

    static let srGauss = BookExperiment(
        name: "ch13-sr-gauss",
        summary: "Super-resolution on an exact Gaussian image model (Chapter13.smoothImages, 8×8, y = 2×2 block average): the closed-form posterior (MultivariateGaussian.conditioned); the regression answer E[x₀|y] keeps the mean but loses exactly tr P of the variance, while Heun sampling with the exact conditional denoiser E[x₀|x_σ,y] reproduces the posterior covariance, against the closed form and against exact posterior draws.",
        defaults: ["seed": "0", "n": "2000", "steps": "80", "ladder": "10,20,40,80,160", "shown": "3"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 100...20_000)
        let N = try p.int("steps", in: 2...500)
        let shown = try p.int("shown", in: 1...8)
        let ladder = try p.ints("ladder")
        guard !ladder.isEmpty, ladder.allSatisfy({ (2...2000).contains($0) }) else { throw ExperimentError("ladder steps in 2…2000") }
        let prior = smoothImages, d = prior.dimension
        let A = BlockAverage.matrix(height: 8, width: 8, factor: 2), k = A.count
        let At = Tensor(A.flatMap { $0.map(Float.init) }, shape: [k, d]).transposed()
        let sigmas = Schedule.karras(steps: N, sigmaMin: 0.002, sigmaMax: 20)
        // The population: truths, their observations, the regression answers, one conditional sample per y.
        let truth = prior.sample(n, seed: UInt64(seed))
        let y = truth.matmul(At)
        let regression = posteriorMeans(prior, A: A, y: y)
        let P = prior.conditioned(on: A, y: [Double](repeating: 0, count: k)).covariance     // P does not depend on y
        let postP = MultivariateGaussian(mean: [Double](repeating: 0, count: d), covariance: P)
        // E[x₀ | x_σ, y] = m(y) + K_P(σ)·(x − m(y)), K_P = P(P + σ²I)⁻¹: the posterior's Wiener filter, row by row.
        let conditional = ClosureDenoiser { x, level in regression + postP.denoise(x - regression * Float(level.alpha), at: level) }
        let sampled = withNoGrad { Sampling.heun(conditional, regression + NoiseSource(seed: UInt64(seed) &+ 1).prior([n, d], sigma: sigmas[0]), sigmas: sigmas) }
        let trP = postP.trace
        var numbers: [String: Double] = ["n": Double(n), "steps": Double(N), "pixels": Double(d), "observed": Double(k),
                                         "trace_prior": prior.trace, "trace_posterior": trP, "posterior_share": trP / prior.trace]
        let (mt, mr, ms) = (moments(truth), moments(regression), moments(sampled))
        numbers["var_truth"] = mt.total
        numbers["var_regression"] = mr.total
        numbers["var_sampled"] = ms.total
        numbers["deficit_regression"] = mt.total - mr.total
        numbers["deficit_sampled"] = mt.total - ms.total
        func rmsMean(_ m: [Double]) -> Double { (zip(m, prior.mean).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(d)).squareRoot() }
        numbers["mean_error_truth"] = rmsMean(mt.mean)
        numbers["mean_error_regression"] = rmsMean(mr.mean)
        numbers["mean_error_sampled"] = rmsMean(ms.mean)
        let perImage = Double(n)
        numbers["mse_regression"] = Double(((truth - regression) * (truth - regression)).sum().item) / perImage
        numbers["mse_sampled"] = Double(((truth - sampled) * (truth - sampled)).sum().item) / perImage
        numbers["consistency_sampled"] = Double((sampled.matmul(At) - y).abs().max().item)
        // One observation: n samples of the exact conditional denoiser against P, and exact posterior draws as the floor.
        let y0 = y.slice(axis: 0, 0, 1).scalars.map(Double.init)
        let post = prior.conditioned(on: A, y: y0)
        let fixed = withNoGrad { Sampling.heun(post, NoiseSource(seed: UInt64(seed) &+ 2).prior([n, d], sigma: sigmas[0]), sigmas: sigmas) }
        let Cs = sampleCovariance(fixed), Ce = sampleCovariance(post.sample(n, seed: UInt64(seed) &+ 3))
        numbers["fixed_trace_ratio"] = (0..<d).reduce(0.0) { $0 + Cs[$1][$1] } / trP
        numbers["fixed_frobenius"] = relativeFrobenius(Cs, P)
        numbers["fixed_frobenius_floor"] = relativeFrobenius(Ce, P)
        numbers["exact_trace_ratio"] = (0..<d).reduce(0.0) { $0 + Ce[$1][$1] } / trP
        // The sampler's discretisation error: tr Ĉ / tr P against the number of Heun steps, same noise.
        var ratios: [Double] = []
        for M in ladder {
            let levels = Schedule.karras(steps: M, sigmaMin: 0.002, sigmaMax: 20)
            let xs = withNoGrad { Sampling.heun(post, NoiseSource(seed: UInt64(seed) &+ 2).prior([n, d], sigma: levels[0]), sigmas: levels) }
            ratios.append(moments(xs).total / trP)
            numbers["trace_ratio_\(M)"] = ratios.last!
        }
        let fm = moments(fixed).mean
        numbers["fixed_mean_error"] = (zip(fm, post.mean).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(d)).squareRoot()
        numbers["fixed_consistency"] = Double((fixed.matmul(At) - Tensor(y0.map(Float.init))).abs().max().item)
        // Figure: rows of truth | low-res (nearest) | E[x₀|y] | three conditional samples; per-pixel variances.
        var rows: [Float] = []
        for i in 0..<shown {
            let yi = y.slice(axis: 0, i, i + 1).scalars.map(Double.init)
            let draws = withNoGrad { Sampling.heun(prior.conditioned(on: A, y: yi), NoiseSource(seed: UInt64(seed) &+ 4 &+ UInt64(i)).prior([3, d], sigma: sigmas[0]), sigmas: sigmas) }
            let low = y.slice(axis: 0, i, i + 1).reshaped([1, 1, 4, 4]).upsampleNearest2d(scale: 2)
            rows += truth.slice(axis: 0, i, i + 1).scalars + low.scalars + regression.slice(axis: 0, i, i + 1).scalars + draws.scalars
        }
        let scaled = rows.map { $0 / 0.9 }          // show ±0.9 as black/white
        var panels = [Chapter2.heatPanel("真值 | 低分辨率 | E[x₀|y] | 条件样本 ×3", Chapter2.imageGrid(scaled, count: 6 * shown, size: 8, columns: 6), width: 330)]
        let idx = (0..<d).map(Double.init)
        var vp = Plot(width: 380, height: 280, title: "逐像素方差（总体）", x: Axis("像素序号", range: 0...Double(d - 1)), y: Axis("方差", range: 0...0.3))
        vp.line(x: idx, y: (0..<d).map { prior.covariance[$0][$0] }, colour: 7, style: .dashed, label: "先验 Σ（闭式）")
        vp.line(x: idx, y: mr.variances, colour: 1, label: "回归 E[x₀|y]")
        vp.line(x: idx, y: (0..<d).map { prior.covariance[$0][$0] - P[$0][$0] }, colour: 1, style: .dashed, label: "Σ − P（闭式）")
        vp.line(x: idx, y: ms.variances, colour: 0, label: "条件采样")
        panels.append(vp)
        let top = (0..<d).map { P[$0][$0] }.max()! * 1.25
        var cp = Plot(width: 280, height: 280, title: "固定 y：样本方差与 P 的对角", x: Axis("P_ii（闭式）", range: 0...top), y: Axis("样本方差", range: 0...top), equalAspect: true)
        cp.line([Point(0, 0), Point(top, top)], colour: 7, style: .dashed)
        cp.scatter((0..<d).map { Point(P[$0][$0], Cs[$0][$0]) }, colour: 0, radius: 2.2, opacity: 0.8)
        cp.showLegend = false
        panels.append(cp)
        let xs = ladder.map(Double.init), excess = ratios.map { Swift.max(Swift.abs($0 - 1), 1e-4) }
        var lp = Plot(width: 280, height: 280, title: "|tr Ĉ / tr P − 1| 与步数", x: Axis("Heun 步数", scale: .log, range: xs.min()! / 1.3...xs.max()! * 1.3),
                      y: Axis(scale: .log, range: Swift.min(excess.min()!, numbers["exact_trace_ratio"]!.distance(to: 1).magnitude) / 2...excess.max()! * 2))
        lp.line(x: xs, y: excess, colour: 0, label: "条件采样")
        lp.scatter(zip(xs, excess).map { Point($0, $1) }, colour: 0, radius: 2.5, opacity: 1)
        let floor = Swift.max(Swift.abs(numbers["exact_trace_ratio"]! - 1), 1e-4)
        lp.line(x: [xs.min()! / 1.3, xs.max()! * 1.3], y: [floor, floor], colour: 7, style: .dashed, label: "精确抽样（同样多样本）")
        panels.append(lp)
        return ExperimentResult(svg: Figure(panels, columns: 2).svg(title: "高斯图像模型上的超分辨率：8×8 → 2×2 块平均 → 4×4"), numbers: numbers)
    }
}

// MARK: ControlNet on toy data

extension Chapter13 {
    /// The control of bump k of `square`: the unit vector from the origin towards its centre.
    static func direction(_ k: Int) -> [Float] {
        let m = square.means[k], r = (m[0] * m[0] + m[1] * m[1]).squareRoot()
        return [Float(m[0] / r), Float(m[1] / r)]
    }

    /// Copies of every parameter's values (to show that training leaves the frozen base untouched).
    static func snapshot(_ m: Module) -> [[Float]] { m.parameters().map(\.value.scalars) }

    static let controlNet = BookExperiment(
        name: "ch13-controlnet",
        summary: "A ControlledToyMLP on the frozen four-bump base (Chapter13.trainedBase): at initialisation its output equals the base's bit for bit (zero layers); it is trained with EDM's loss on samples of one bump with that bump's direction as control; the base's weights do not change; samples follow the control (share in the requested bump vs the base's).",
        defaults: ["seed": "0", "n": "400", "steps": "300", "lr": "0.004", "radius": "0.9"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 20...5000)
        let steps = try p.int("steps", in: 1...10_000)
        let lr = try p.double("lr")
        let radius = try p.double("radius")
        guard lr > 0, radius > 0 else { throw ExperimentError("lr and radius must be positive") }
        let base = trainedBase()
        let before = snapshot(base)
        let net = withParameterSeed(UInt64(seed) &+ 40) { ControlledToyMLP(base, controlDimension: 2) }
        let (controlled, reference) = (model(net), model(base))
        var numbers: [String: Double] = ["n": Double(n), "steps": Double(steps), "radius": radius,
                                         "params_base": Double(base.parameterCount), "params_trainable": Double(net.trainableParameterCount)]
        // (a) At initialisation: the same output as the base for any control, at several levels.
        let probe = square.sample(200, seed: UInt64(seed) &+ 30)
        var initDiff = 0.0
        for σ in [0.01, 0.3, 3, 30] {
            net.control = Tensor.randomNormal([200, 2], seed: UInt64(seed) &+ 31) * 3
            let x = probe + NoiseSource(seed: UInt64(seed) &+ 32).normal(like: probe, step: 0) * Float(σ)
            initDiff = Swift.max(initDiff, withNoGrad { Double((controlled.denoise(x, sigma: σ) - reference.denoise(x, sigma: σ)).abs().max().item) })
        }
        numbers["init_max_difference"] = initDiff
        // Training: each sample's control is the direction of the bump it came from. The base's loss on the first
        // batch (same data and noise) is the reference the first step must reproduce.
        let trainSeed = UInt64(seed) &+ 33
        var rb = RandomGenerator(seed: trainSeed &+ 1, stream: 0)
        numbers["loss_first_base"] = withNoGrad { Double(EDMLoss(sigmaData: 1)(reference, square.sample(256, seed: trainSeed, stream: 0), labels: nil, rng: &rb).mean().item) }
        var curve: [Point] = []
        numbers["loss_last"] = train(controlled, on: square, steps: steps, batch: 256, lr: lr, seed: trainSeed,
                                     before: { _, comp in net.control = Tensor(comp.flatMap(direction), shape: [comp.count, 2]) },
                                     after: { k, l in
                                         if k == 0 { numbers["loss_first"] = l }
                                         if k % 10 == 0 { curve.append(Point(Double(k), l)) } })
        numbers["base_weight_change"] = zip(before, snapshot(base)).map { a, b in zip(a, b).map { Double(Swift.abs($0 - $1)) }.max() ?? 0 }.max() ?? 0
        net.eval()
        // (b) Samples under each control, and the base's samples for comparison.
        let (xr, yr) = (-3.2...3.2, -3.2...3.2)
        var pts: [Point] = [], classes: [Int] = []
        var shares: [Double] = []
        for k in 0..<square.componentCount {
            net.control = Tensor(direction(k), shape: [1, 2])
            let x = draw(controlled, n: n, seed: UInt64(seed) &+ 50 &+ UInt64(k))
            shares.append(fraction(x, near: square.means[k], radius: radius))
            numbers["share_\(k)"] = shares.last!
            let shown = points(x).prefix(150)
            pts += shown
            classes += Array(repeating: k, count: shown.count)
        }
        numbers["share_controlled"] = shares.reduce(0, +) / Double(shares.count)
        let plain = draw(reference, n: n, seed: UInt64(seed) &+ 50)
        let baseShares = square.means.map { fraction(plain, near: $0, radius: radius) }
        numbers["share_base"] = baseShares.reduce(0, +) / Double(baseShares.count)
        numbers["share_base_min"] = baseShares.min()!
        numbers["share_base_max"] = baseShares.max()!
        var bp = Plot(width: 250, height: 250, title: "冻结的基座（无控制）", x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
        bp.scatter(points(plain), colour: 7, radius: 1.4, opacity: 0.6)
        bp.showLegend = false
        var cp = Plot(width: 250, height: 250, title: "ControlNet：按控制方向着色", x: Axis(range: xr), y: Axis(range: yr), equalAspect: true)
        cp.scatter(pts, classes: classes, classNames: ["↙", "↘", "↖", "↗"], radius: 1.4, opacity: 0.7)
        for k in 0..<square.componentCount {
            let d = direction(k)
            cp.line([Point(0, 0), Point(Double(d[0]) * 1.2, Double(d[1]) * 1.2)], colour: k, width: 2)
        }
        cp.showLegend = false
        let lossTop = curve.map(\.y).max()! * 1.1
        var lp = Plot(width: 300, height: 250, title: "训练损失", x: Axis("步数", range: 0...Double(steps)), y: Axis("EDM 损失", range: 0...lossTop))
        lp.line(curve, colour: 0, label: "ControlledToyMLP")
        lp.line([Point(0, numbers["loss_first_base"]!), Point(Double(steps), numbers["loss_first_base"]!)], colour: 7, style: .dashed, label: "基座在第一批上的损失")
        return ExperimentResult(svg: Figure([bp, cp, lp], columns: 3).svg(title: "给冻结的四团模型加一个方向控制（零层连接的可训练副本）"), numbers: numbers)
    }
}

// MARK: Super-resolution with the pretrained digits UNet

extension Chapter13 {
    /// x̂₀ ← x̂₀ − A⁺(A·x̂₀ − y) for the f×f block average A (A⁺ = f²Aᵀ = nearest upsampling by f): the denoiser's
    /// output with its component in A's row space replaced by the one y prescribes, the range–null-space
    /// decomposition of DDNM (Wang et al. 2023, arXiv 2212.00490). y is [n, c, h/f, w/f].
    public static func blockAverageConsistent(_ model: any Denoiser, observed y: Tensor, factor f: Int = 2) -> ClosureDenoiser {
        ClosureDenoiser { x, level in
            let d = model.denoise(x, at: level)
            return d - (d.avgPool2d(kernel: f) - y).upsampleNearest2d(scale: f)
        }
    }

    /// RMS of A·x − y per low-resolution pixel (f×f block averages).
    static func consistencyRMS(_ x: Tensor, _ y: Tensor, factor f: Int) -> Double {
        let e = x.avgPool2d(kernel: f) - y
        return Double((e * e).mean().item.squareRoot())
    }

    /// Mean energy per image of the null-space part x − A⁺Ax (the detail the observation does not fix).
    static func detailEnergy(_ x: Tensor, factor f: Int) -> Double {
        let r = x - x.avgPool2d(kernel: f).upsampleNearest2d(scale: f)
        return Double((r * r).sum().item) / Double(x.shape[0])
    }

    static let srDigits = BookExperiment(
        name: "ch13-sr-digits",
        summary: "16×16 digits (the classifier's held-out images) averaged over f×f blocks (f = 2: 8×8, f = 4: 4×4) and super-resolved by the unconditional pretrained unet-ddpm-digits with observation consistency enforced at every step (blockAverageConsistent, DDIM with η), against nearest and bilinear upsampling: ‖Ax̂ − y‖, accuracy of classifier-digits against the true labels, distance to the truth, detail energy, the spread of two draws; a figure low-res | bilinear | diffusion SR | truth at the largest factor.",
        defaults: ["seed": "0", "n": "40", "steps": "20", "eta": "1", "factors": "2,4", "shown": "8"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 2...300)
        let N = try p.int("steps", in: 2...500)
        let η = try p.double("eta")
        let factors = try p.ints("factors")
        let shown = try p.int("shown", in: 1...n)
        guard (0...1).contains(η) else { throw ExperimentError("eta must be in [0, 1]") }
        guard !factors.isEmpty, factors.allSatisfy({ [2, 4, 8].contains($0) }) else { throw ExperimentError("factors from 2, 4, 8") }
        let unet = try PretrainedModels.load("unet-ddpm-digits")
        let judgeCheckpoint = try PretrainedModels.load("classifier-digits")
        guard let model = unet.model, let judge = judgeCheckpoint.classifier else { throw ExperimentError("the pretrained models are not a diffusion model and a classifier") }
        let cfg = judgeCheckpoint.config
        let test = try cfg.loadData().set.split(testCount: cfg.testCount, seed: cfg.seed &+ 3).test
        guard n <= test.count else { throw ExperimentError("n = \(n) exceeds the \(test.count) held-out images") }
        let truth = test.images.slice(axis: 0, 0, n), labels = test.labelTensor.slice(axis: 0, 0, n)
        let (lo, hi) = unet.config.samplingRange
        let sigmas = Schedule.karras(steps: N, sigmaMin: lo, sigmaMax: hi)
        var numbers: [String: Double] = ["n": Double(n), "steps": Double(N), "eta": η, "size": Double(truth.shape[2])]
        numbers["accuracy_truth"] = ClassifierEvaluation.accuracy(judge, images: truth, labels: labels)
        var grid: [Float] = []
        for f in factors {
            let y = truth.avgPool2d(kernel: f)
            func report(_ key: String, _ x: Tensor) {
                numbers["consistency_\(key)_\(f)"] = consistencyRMS(x, y, factor: f)
                numbers["accuracy_\(key)_\(f)"] = ClassifierEvaluation.accuracy(judge, images: x, labels: labels)
                numbers["rmse_\(key)_\(f)"] = Double(((x - truth) * (x - truth)).mean().item.squareRoot())
                numbers["detail_\(key)_\(f)"] = detailEnergy(x, factor: f)
            }
            let nearest = y.upsampleNearest2d(scale: f), bilinear = y.upsampleBilinear2d(scale: f)
            numbers["detail_truth_\(f)"] = detailEnergy(truth, factor: f)
            report("nearest", nearest)
            report("bilinear", bilinear)
            let consistent = blockAverageConsistent(model, observed: y, factor: f)
            func draw(_ s: UInt64) -> Tensor {
                let noise = NoiseSource(seed: s)
                return withNoGrad { Sampling.ddim(consistent, noise.prior(truth.shape, sigma: sigmas[0]), sigmas: sigmas, eta: η, noise: noise) }
            }
            let sr = draw(UInt64(seed))
            report("sr", sr)
            if f == factors.last! {
                // A second draw for the same y: it differs only in the null space.
                let again = draw(UInt64(seed) &+ 1)
                numbers["rms_between_draws_\(f)"] = Double(((again - sr) * (again - sr)).mean().item.squareRoot())
                numbers["accuracy_sr_second_\(f)"] = ClassifierEvaluation.accuracy(judge, images: again, labels: labels)
                let pick = { (t: Tensor) in t.slice(axis: 0, 0, shown).scalars }
                grid = pick(nearest) + pick(bilinear) + pick(sr) + pick(again) + pick(truth)
            }
        }
        let f = factors.last!, h = truth.shape[2]
        var panel = Chapter2.heatPanel("\(h / f)×\(h / f) 观测 | 双线性 | 扩散超分辨率（两次抽样） | 真值", Chapter2.imageGrid(grid, count: 5 * shown, size: h, columns: shown), width: 560)
        panel.height = 560 * 5 / Double(shown) + 40
        return ExperimentResult(svg: Figure([panel], columns: 1).svg(title: "用无条件的预训练 UNet 做 \(f)× 超分辨率（每步把 x̂₀ 投影到 A x = y 上）"), numbers: numbers)
    }
}
