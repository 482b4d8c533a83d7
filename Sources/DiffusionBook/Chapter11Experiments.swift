import Diffusion
import DiffusionData
import DiffusionEngine
import DiffusionLayers
import DiffusionModels
import DiffusionPlot
import Foundation

/// The experiments of chapter 11 (book/ch11-video.md). The quantitative story runs on the exact AR(1) Gaussian video
/// (`GaussianVideo`): every error and correlation has a closed form; the small `VideoDiT` on moving shapes shows the
/// same effect on a trained network. Clips are [n, F, …]; levels are in α = 1 (EDM) coordinates.
public enum Chapter11 {
    public static let experiments: [BookExperiment] = [exact, noisePrior, conditioning, network]

    // MARK: Closed forms used by the experiments and the text

    /// The per-element MMSE of denoising an infinitely long stationary AR(1) clip at level σ (Wiener smoothing):
    /// σ²s²(1 − ρ²)/√((s²(1 − ρ²) + σ²(1 + ρ²))² − 4ρ²σ⁴).
    public static func stationaryMMSE(sigma σ: Double, rho ρ: Double, std s: Double = 1) -> Double {
        let a = s * s * (1 - ρ * ρ) + σ * σ * (1 + ρ * ρ), b = 2 * ρ * σ * σ
        return σ * σ * s * s * (1 - ρ * ρ) / (a * a - b * b).squareRoot()
    }

    /// Karras levels from σ_max = 80 to 0.002, then 0.
    static func levels(_ steps: Int) -> [Double] { Schedule.karras(steps: steps) }

    /// One pixel's series of clip i of x [n, F, 1].
    static func series(_ x: Tensor, _ i: Int) -> [Double] {
        let f = x.shape[1]
        return (0..<f).map { Double(x.scalars[i * f + $0]) }
    }

    static func key(_ v: Double) -> String { String(format: "%g", v).replacingOccurrences(of: ".", with: "p") }

    // MARK: Figure — joint versus frame-by-frame denoising of the AR(1) video

    static let exact = BookExperiment(
        name: "ch11-exact",
        summary: "AR(1) Gaussian video: exact MMSE of joint and frame-by-frame denoising against σ (and the stationary limit), a Monte-Carlo check, and PF-ODE samples of both denoisers (lag-1 correlation, frame difference).",
        defaults: ["frames": "16", "rho": "0.9", "clips": "2000", "steps": "32", "seed": "0"]
    ) { p in
        let f = try p.int("frames", in: 2...64), n = try p.int("clips", in: 10...100_000), steps = try p.int("steps", in: 2...1000)
        let ρ = try p.double("rho"), seed = UInt64(try p.int("seed", in: 0...1_000_000))
        guard ρ > -1 && ρ < 1 else { throw ExperimentError("need −1 < rho < 1") }
        let video = GaussianVideo(frames: f, rho: ρ), frame = video.independentFrames
        var numbers: [String: Double] = ["frames": Double(f), "rho": ρ, "clips": Double(n), "steps": Double(steps)]

        // Exact errors against σ.
        let grid = (0...60).map { Foundation.pow(10, -2 + 4 * Double($0) / 60) }
        let joint = grid.map { video.minimumMeanSquaredError(at: NoiseLevel(edmSigma: $0)) }
        let single = grid.map { frame.minimumMeanSquaredError(at: NoiseLevel(edmSigma: $0)) }
        let limit = grid.map { stationaryMMSE(sigma: $0, rho: ρ) }
        for σ in [0.1, 0.3, 1, 3] {
            let l = NoiseLevel(edmSigma: σ)
            let (j, s) = (video.minimumMeanSquaredError(at: l), frame.minimumMeanSquaredError(at: l))
            numbers["mmse_joint_\(key(σ))"] = j
            numbers["mmse_frame_\(key(σ))"] = s
            numbers["mmse_stationary_\(key(σ))"] = stationaryMMSE(sigma: σ, rho: ρ)
            numbers["gain_\(key(σ))"] = s / j
        }
        let best = zip(grid, zip(single, joint)).max { $0.1.0 / $0.1.1 < $1.1.0 / $1.1.1 }!
        numbers["best_gain_sigma"] = best.0
        numbers["best_gain"] = best.1.0 / best.1.1

        // Fréchet distance between whole clips (per pixel series): data N(0, Σ) against independent frames N(0, I).
        let eigen = SymmetricEigen(video.covariance.flatMap { $0 }, size: f)
        numbers["fd_clip"] = 2 * Double(f) - 2 * eigen.values.reduce(0.0) { $0 + Swift.max(0, $1).squareRoot() }
        numbers["fd_clip_per_frame"] = numbers["fd_clip"]! / Double(f)
        numbers["eigen_min"] = eigen.values.first!
        numbers["eigen_max"] = eigen.values.last!

        // Monte-Carlo check at σ = 1 with the library's denoisers.
        let x0 = video.sample(n, seed: seed)
        let noisy = x0 + Tensor.randomNormal(x0.shape, seed: seed, stream: 99)
        func mse(_ a: Tensor) -> Double { zip(a.scalars, x0.scalars).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(x0.count) }
        numbers["mc_joint_1"] = mse(video.denoise(noisy, sigma: 1))
        numbers["mc_frame_1"] = mse(frame.denoise(noisy, sigma: 1))

        // Samples: Heun on the PF-ODE from the same starting noise with either denoiser.
        let sigmas = levels(steps)
        let start = NoiseSource(seed: seed).prior([n, f, 1], sigma: sigmas[0])
        let jointSamples = Sampling.heun(video, start, sigmas: sigmas)
        let frameSamples = Sampling.heun(frame, start, sigmas: sigmas)
        for (name, x) in [("data", x0), ("joint", jointSamples), ("frame", frameSamples)] {
            numbers["corr1_\(name)"] = TemporalConsistency.correlation(x)
            numbers["diff_\(name)"] = TemporalConsistency.frameDifference(x)
            numbers["var_\(name)"] = x.scalars.reduce(0.0) { $0 + Double($1 * $1) } / Double(x.count)
        }
        numbers["diff_theory_joint"] = 2 * (1 - ρ)
        numbers["diff_theory_frame"] = 2.0
        numbers["flicker_ratio"] = numbers["diff_frame"]! / numbers["diff_joint"]!

        // Figure: errors against σ; one pixel's series in data and in both kinds of samples.
        var err = Plot(width: 400, height: 330, title: "每个元素的最小均方误差", x: Axis("σ（对数轴）", scale: .log, range: 0.01...100), y: Axis("MMSE（对数轴）", scale: .log, range: 1e-4...2))
        err.line(x: grid, y: single, colour: 1, width: 2, label: "逐帧去噪 s²σ²/(s²+σ²)")
        err.line(x: grid, y: joint, colour: 0, width: 2, label: "联合去噪（\(f) 帧，精确）")
        err.line(x: grid, y: limit, colour: 7, style: .dashed, width: 1.4, label: "无限长片段的极限")
        let frames = (0..<f).map(Double.init)
        func traces(_ title: String, _ x: Tensor) -> Plot {
            var pl = Plot(width: 400, height: 330, title: title, x: Axis("帧 k", range: 0...Double(f - 1)), y: Axis("像素值", range: -3.2...3.2))
            for i in 0..<3 { pl.line(x: frames, y: series(x, i), colour: i + 2, width: 1.6) }
            pl.showLegend = false
            return pl
        }
        let svg = Figure([err, traces("数据：AR(1)，ρ = \(String(format: "%g", ρ))", x0),
                          traces("联合去噪器 + PF-ODE 的样本", jointSamples), traces("逐帧去噪器 + PF-ODE 的样本", frameSamples)], columns: 2).svg()
        return ExperimentResult(svg: svg, numbers: numbers)
    }

    // MARK: Figure — correlated noise priors with a frame-by-frame denoiser

    static let noisePrior = BookExperiment(
        name: "ch11-noise-prior",
        summary: "Frame-by-frame exact denoiser of the AR(1) video started from independent, progressive and mixed noise (Ge et al. 2023), deterministic (Heun) and ancestral samplers: lag-ℓ correlation of the samples against ρ^ℓ.",
        defaults: ["frames": "16", "rho": "0.9", "clips": "2000", "steps": "32", "seed": "1"]
    ) { p in
        let f = try p.int("frames", in: 2...64), n = try p.int("clips", in: 10...100_000), steps = try p.int("steps", in: 2...1000)
        let ρ = try p.double("rho"), seed = UInt64(try p.int("seed", in: 0...1_000_000))
        guard ρ > 0 && ρ < 1 else { throw ExperimentError("need 0 < rho < 1") }
        let video = GaussianVideo(frames: f, rho: ρ), frame = video.independentFrames
        let sigmas = levels(steps), σmax = sigmas[0]
        let shape = [n, f, 1]
        let a = (ρ / (1 - ρ)).squareRoot()          // mixed noise with the same lag-1 correlation a²/(1 + a²) = ρ
        let iid = NoiseSource(seed: seed).prior(shape, sigma: σmax)
        let progressive = VideoNoise.progressive(shape, r: ρ, seed: seed) * Float(σmax)
        let mixed = VideoNoise.mixed(shape, a: a, seed: seed) * Float(σmax)
        let cases: [(String, String, Tensor)] = [
            ("joint_iid", "联合去噪器，独立噪声", Sampling.heun(video, iid, sigmas: sigmas)),
            ("frame_iid", "逐帧去噪器，独立噪声", Sampling.heun(frame, iid, sigmas: sigmas)),
            ("frame_progressive", "逐帧去噪器，渐进噪声 r = ρ", Sampling.heun(frame, progressive, sigmas: sigmas)),
            ("frame_mixed", "逐帧去噪器，混合噪声（滞后 1 相关 = ρ）", Sampling.heun(frame, mixed, sigmas: sigmas)),
            ("frame_progressive_sde", "逐帧去噪器，渐进噪声，祖先采样", Sampling.eulerAncestral(frame, progressive, sigmas: sigmas, noise: NoiseSource(seed: seed + 1000))),
        ]
        var numbers: [String: Double] = ["frames": Double(f), "rho": ρ, "clips": Double(n), "mixed_a": a, "sigma_max": σmax,
                                         "sde_theory_lag1": ρ / (2 + σmax * σmax), "ode_variance_theory": σmax * σmax / (1 + σmax * σmax)]
        let lags = Array(1..<f)
        var pl = Plot(width: 620, height: 360, title: "样本的滞后 ℓ 相关", x: Axis("滞后 ℓ（帧）", range: 0...Double(f)), y: Axis("相关系数", range: -0.1...1.05))
        pl.line(x: lags.map(Double.init), y: lags.map { Foundation.pow(ρ, Double($0)) }, colour: 7, style: .dashed, width: 2.2, label: "数据 ρ^ℓ")
        for (k, (name, label, x)) in cases.enumerated() {
            let r = lags.map { TemporalConsistency.correlation(x, lag: $0) }
            for ℓ in [1, 2, 4, 8] where ℓ < f { numbers["corr\(ℓ)_\(name)"] = r[ℓ - 1] }
            numbers["var_\(name)"] = x.scalars.reduce(0.0) { $0 + Double($1 * $1) } / Double(x.count)
            pl.line(x: lags.map(Double.init), y: r, colour: k, style: k == 0 ? .dotted : .solid, width: k == 0 ? 2.6 : 1.6, label: label)
        }
        return ExperimentResult(svg: pl.svg(), numbers: numbers)
    }

    // MARK: Figure — image-to-video, interpolation and autoregressive extension as conditioning in time

    /// The exact conditional denoiser: the frames in `known` are given clean (their values in `values`, [n, F, 1]),
    /// the others are at the sampler's level — per-frame levels (0 for the known frames) in one denoiser call.
    static func conditioned(_ video: GaussianVideo, known: Set<Int>, values: Tensor) -> ClosureDenoiser {
        let f = video.frames
        func fill(_ x: Tensor) -> Tensor {
            var y = x.contiguous()
            let v = values.scalars, n = x.shape[0], d = video.pixels
            y.withUnsafeMutableBufferPointer { p in
                for i in 0..<n { for k in known { for q in 0..<d { p[(i * f + k) * d + q] = v[(i * f + k) * d + q] } } }
            }
            return y
        }
        return ClosureDenoiser { x, level in
            let perFrame = (0..<f).map { known.contains($0) ? NoiseLevel(alpha: 1, sigma: 0) : level }
            return fill(video.denoise(fill(x), levels: perFrame))
        }
    }

    static let conditioning = BookExperiment(
        name: "ch11-conditioning",
        summary: "Exact conditional sampling of the AR(1) video with per-frame levels: image-to-video (first frame given), interpolation (first and last given), autoregressive extension in chunks, and Diffusion Forcing's next-frame variance; sampled against closed-form posterior standard deviations.",
        defaults: ["frames": "16", "rho": "0.9", "clips": "1000", "steps": "32", "chunks": "3", "seed": "2"]
    ) { p in
        let f = try p.int("frames", in: 3...64), n = try p.int("clips", in: 10...100_000), steps = try p.int("steps", in: 2...1000)
        let chunks = try p.int("chunks", in: 2...8)
        let ρ = try p.double("rho"), seed = UInt64(try p.int("seed", in: 0...1_000_000))
        guard ρ > 0 && ρ < 1 else { throw ExperimentError("need 0 < rho < 1") }
        let video = GaussianVideo(frames: f, rho: ρ)
        let sigmas = levels(steps)
        let data = video.sample(n, seed: seed)
        var numbers: [String: Double] = ["frames": Double(f), "rho": ρ, "clips": Double(n), "chunks": Double(chunks)]
        let unknown = NoiseLevel(alpha: 0, sigma: 1)           // α = 0: the frame carries no information
        let clean = NoiseLevel(alpha: 1, sigma: 0)

        /// Per-frame std of the samples around the exact posterior mean, and the theory √P_kk.
        func spread(_ known: Set<Int>) -> (measured: [Double], theory: [Double], samples: Tensor) {
            let start = NoiseSource(seed: seed + 7).prior([n, f, 1], sigma: sigmas[0])
            let samples = Sampling.heun(conditioned(video, known: known, values: data), start, sigmas: sigmas)
            let observe = (0..<f).map { known.contains($0) ? clean : unknown }
            let mean = video.denoise(data, levels: observe)
            let P = video.posteriorCovariance(levels: observe)
            let s = samples.scalars, m = mean.scalars
            let measured = (0..<f).map { k in ((0..<n).reduce(0.0) { $0 + Foundation.pow(Double(s[$1 * f + k] - m[$1 * f + k]), 2) } / Double(n)).squareRoot() }
            return (measured, (0..<f).map { Swift.max(0, P[$0][$0]).squareRoot() }, samples)
        }
        let i2v = spread([0]), interp = spread([0, f - 1])
        for k in [1, 4, f / 2, f - 2] {
            numbers["i2v_std_\(k)"] = i2v.measured[k]
            numbers["i2v_theory_\(k)"] = i2v.theory[k]
            numbers["interp_std_\(k)"] = interp.measured[k]
            numbers["interp_theory_\(k)"] = interp.theory[k]
        }
        numbers["i2v_std_last"] = i2v.measured[f - 1]
        numbers["i2v_theory_last"] = i2v.theory[f - 1]

        // Autoregressive extension: chunk c + 1 is sampled given the last frame of chunk c (frame 0 of the new chunk).
        var long: [[Double]] = Array(repeating: [], count: n)
        var independent: [[Double]] = Array(repeating: [], count: n)
        var context = Tensor.zeros([n, f, 1])
        for c in 0..<chunks {
            let start = NoiseSource(seed: seed + 100 + UInt64(c)).prior([n, f, 1], sigma: sigmas[0])
            let chunk = c == 0 ? Sampling.heun(video, start, sigmas: sigmas) : Sampling.heun(conditioned(video, known: [0], values: context), start, sigmas: sigmas)
            let free = Sampling.heun(video, start, sigmas: sigmas)
            for i in 0..<n {
                let s = series(chunk, i)
                long[i] += c == 0 ? s : Array(s.dropFirst())
                independent[i] += series(free, i)
            }
            var next = [Float](repeating: 0, count: n * f)
            for i in 0..<n { next[i * f] = Float(long[i].last!) }
            context = Tensor(next, shape: [n, f, 1])
        }
        func lagOne(_ rows: [[Double]], at k: Int) -> Double {
            let a = rows.map { $0[k] }, b = rows.map { $0[k + 1] }
            let (ma, mb) = (a.reduce(0, +) / Double(n), b.reduce(0, +) / Double(n))
            let cov = zip(a, b).reduce(0.0) { $0 + ($1.0 - ma) * ($1.1 - mb) }
            let va = a.reduce(0.0) { $0 + ($1 - ma) * ($1 - ma) }, vb = b.reduce(0.0) { $0 + ($1 - mb) * ($1 - mb) }
            return cov / (va * vb).squareRoot()
        }
        numbers["ar_boundary_corr"] = lagOne(long, at: f - 1)          // frames f−1 and f: the first step after the context frame
        numbers["ar_within_corr"] = lagOne(long, at: f / 2)
        numbers["indep_boundary_corr"] = lagOne(independent, at: f - 1)  // last frame of chunk 0, first of chunk 1
        numbers["long_frames"] = Double(long[0].count)

        // Diffusion Forcing: past frames clean, frame m at σ, later frames pure noise; the next frame's posterior variance.
        let m = f / 2
        for σ in [0.5, 1, 1e3] {
            let lv = (0..<f).map { $0 < m ? clean : ($0 == m ? NoiseLevel(edmSigma: σ) : unknown) }
            numbers["df_var_\(key(σ))"] = video.posteriorCovariance(levels: lv)[m][m]
            let v = 1 - ρ * ρ
            numbers["df_theory_\(key(σ))"] = v * σ * σ / (v + σ * σ)
        }

        // Figure.
        let ks = (0..<f).map(Double.init)
        func stdPanel(_ title: String, _ r: (measured: [Double], theory: [Double], samples: Tensor)) -> Plot {
            var pl = Plot(width: 330, height: 320, title: title, x: Axis("帧 k", range: 0...Double(f - 1)), y: Axis("条件标准差", range: 0...1.1))
            pl.line(x: ks, y: r.theory, colour: 7, style: .dashed, width: 2, label: "理论 √P_kk")
            pl.scatter(zip(ks, r.measured).map { Point($0, $1) }, colour: 0, radius: 3, opacity: 1, label: "\(n) 个样本")
            return pl
        }
        var paths = Plot(width: 330, height: 320, title: "自回归延长（每段 \(f) 帧）", x: Axis("帧", range: 0...Double(long[0].count - 1)), y: Axis("像素值", range: -3.2...3.2))
        let lx = (0..<long[0].count).map(Double.init)
        for i in 0..<3 { paths.line(x: lx, y: long[i], colour: i + 2, width: 1.5) }
        paths.line(x: lx.prefix(independent[0].count).map { $0 }, y: independent[0].prefix(long[0].count).map { $0 }, colour: 1, style: .dotted, width: 1.4, label: "各段独立生成（对照）")
        for c in 1..<chunks { paths.line(x: [Double(c * (f - 1)), Double(c * (f - 1))], y: [-3.2, 3.2], colour: 7, style: .dashed, width: 0.8) }
        let svg = Figure([stdPanel("图生视频：已知第 0 帧", i2v), stdPanel("插帧：已知首尾两帧", interp), paths], columns: 3).svg()
        return ExperimentResult(svg: svg, numbers: numbers)
    }
    // MARK: Figure — a small VideoDiT on moving shapes: factorised space–time attention against frame-by-frame

    /// The process the network experiment trains on: DDPM's linear-β `DiscreteVP` (as chapter 2).
    static let clipProcess = DiscreteVP.linear()

    /// Trains `net` on moving-shapes clips with the ε-loss (per element) on `clipProcess` and Adam; returns the batch losses.
    public static func trainClips(_ net: VideoDiT, on clips: Tensor, steps: Int, batch B: Int, learningRate: Double, seed: UInt64) throws -> [Double] {
        let process = clipProcess
        let model = try NetworkModel(net, process: process, output: .epsilon)
        let loss = DenoisingLoss(process: process, space: .epsilon)
        let d = Float(clips.count / clips.shape[0])
        let optimizer = Adam(net.trainableParameters(), lr: learningRate)
        var rng = RandomGenerator(seed: seed)
        var losses: [Double] = []
        for _ in 0..<steps {
            let idx = rng.integers([B], in: 0..<clips.shape[0]).scalars.map { Int($0) }
            let l = loss(model, clips.indexSelect(axis: 0, indices: idx), labels: nil, rng: &rng).mean() / d
            applyUpdate(l, optimizer: optimizer, learningRate: learningRate, gradClip: 1, ema: nil)
            losses.append(Double(l.item))
        }
        return losses
    }

    /// Held-out ε-loss per element of clips [n, F, C, H, W] at fixed training indices and noise.
    static func heldOutLoss(_ net: VideoDiT, _ clips: Tensor, seed: UInt64) throws -> Double {
        let process = clipProcess
        let model = try NetworkModel(net, process: process, output: .epsilon)
        let n = clips.shape[0]
        let times = (0..<n).map { (Double($0 % 8) + 0.5) / 8 }
        let levels = LevelBatch(process: process, times: times)
        let ε = Tensor.randomNormal(clips.shape, seed: seed, stream: 77)
        let out = withNoGrad { model.predict(.epsilon, levels.noisy(x0: clips, epsilon: ε), at: levels, labels: nil) }
        return zip(out.scalars, ε.scalars).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(out.count)
    }

    /// Clips [n, F, 3, s, s] in [−1, 1] as a grey filmstrip: one row per clip, frames left to right.
    static func filmstrip(_ title: String, _ clips: Tensor, rows: Int) -> Plot {
        let (f, s) = (clips.shape[1], clips.shape[3])
        let v = clips.scalars
        var grey = [Float](repeating: 0, count: rows * f * s * s)
        for i in 0..<rows {
            for k in 0..<f {
                for q in 0..<(s * s) {
                    let base = ((i * f + k) * 3) * s * s + q
                    grey[(i * f + k) * s * s + q] = 0.299 * v[base] + 0.587 * v[base + s * s] + 0.114 * v[base + 2 * s * s]
                }
            }
        }
        let grid = Chapter2.imageGrid(grey, count: rows * f, size: s, columns: f)
        return Chapter2.heatPanel(title, grid, width: 220, gamma: 1)
    }

    static let network = BookExperiment(
        name: "ch11-network",
        summary: "VideoDiT (factorised space–time attention) against the same network without temporal layers (frame by frame), trained on 4-frame 8×8 moving-shapes clips: losses, held-out loss, temporal consistency of DDIM samples (x̂₀ clipped to [−1, 1]), a filmstrip; attention cost formulas.",
        defaults: ["steps": "150", "batch": "8", "width": "32", "depth": "1", "frames": "4", "clips": "256", "samples": "16", "sample_steps": "20", "seed": "0"],
        revision: 2
    ) { p in
        let steps = try p.int("steps", in: 1...100_000), B = try p.int("batch", in: 1...512), width = try p.int("width", in: 8...512)
        let depth = try p.int("depth", in: 1...12), f = try p.int("frames", in: 2...16), count = try p.int("clips", in: 8...100_000)
        let nSamples = try p.int("samples", in: 4...512), sampleSteps = try p.int("sample_steps", in: 2...1000)
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        guard width % 4 == 0 else { throw ExperimentError("width must be divisible by 4") }
        let data = MovingShapesDataset(seed: seed, size: 8, frames: f)
        let train = data.batch(offset: 0, count: count).videos
        let test = data.batch(offset: count, count: 32).videos
        var numbers: [String: Double] = ["steps": Double(steps), "batch": Double(B), "width": Double(width), "depth": Double(depth), "frames": Double(f)]
        var strips: [Plot] = [filmstrip("训练数据", test, rows: 4)]
        let process = clipProcess
        let sigmas = Schedule.discrete(steps: sampleSteps, process: process, spacing: .trailing)
        let start = NoiseSource(seed: seed + 1).prior([nSamples, f, 3, 8, 8], sigma: sigmas[0])
        numbers["diff_data"] = TemporalConsistency.frameDifference(test)
        numbers["corr1_data"] = TemporalConsistency.correlation(test)
        for mode in [SpaceTimeAttention.factorised, .spatial] {
            let cfg = VideoDiTConfig(frames: f, imageSize: 8, channels: 3, patchSize: 2, hiddenSize: width, depth: depth, heads: 2, mlpRatio: 2, attention: mode)
            let net = withParameterSeed(seed + 5) { VideoDiT(cfg) }
            let t0 = Date()
            let losses = try trainClips(net, on: train, steps: steps, batch: B, learningRate: 2e-3, seed: seed + 9)
            let name = mode.rawValue
            numbers["train_seconds_\(name)"] = Date().timeIntervalSince(t0)
            numbers["params_\(name)"] = Double(net.trainableParameters().reduce(0) { $0 + $1.value.count })
            let k = Swift.max(1, steps / 10)
            numbers["loss_first_\(name)"] = losses.prefix(k).reduce(0, +) / Double(k)
            numbers["loss_last_\(name)"] = losses.suffix(k).reduce(0, +) / Double(k)
            numbers["heldout_\(name)"] = try heldOutLoss(net, test, seed: seed + 3)
            let model = try NetworkModel(net, process: process, output: .epsilon)
            let samples = withNoGrad { Sampling.ddim(ThresholdedDenoiser(model, percentile: nil), start, sigmas: sigmas) }
            numbers["diff_\(name)"] = TemporalConsistency.frameDifference(samples)
            numbers["corr1_\(name)"] = TemporalConsistency.correlation(samples)
            strips.append(filmstrip(mode == .factorised ? "分解时空注意力的样本" : "逐帧模型（无时间层）的样本", samples, rows: 4))
        }
        numbers["diff_ratio_factorised"] = numbers["diff_factorised"]! / numbers["diff_data"]!
        numbers["diff_ratio_spatial"] = numbers["diff_spatial"]! / numbers["diff_data"]!
        // Attention cost per layer (scores + weighted sum) for a 16-frame clip of 32×32 tokens at width 64.
        let (F, T, D) = (16, 1024, 64)
        numbers["cost_joint"] = SpaceTimeAttentionCost.joint(frames: F, tokens: T, width: D)
        numbers["cost_factorised"] = SpaceTimeAttentionCost.factorised(frames: F, tokens: T, width: D)
        numbers["cost_ratio"] = numbers["cost_joint"]! / numbers["cost_factorised"]!
        return ExperimentResult(svg: Figure(strips, columns: 3).svg(), numbers: numbers)
    }
}
