import Diffusion
import DiffusionData
import DiffusionEngine
import DiffusionModels
import DiffusionPlot
import Foundation

/// The experiments of chapter 10 (book/ch10-latent.md): latent diffusion at toy scale. Closed forms where they exist
/// (the linear-Gaussian β-VAE is reverse water-filling on the PCA spectrum of the digits; DDIM on Gaussian data is a
/// product of per-step factors), the library's `AutoencoderTrainer`, `LatentScaling` and `LatentDiffusion` elsewhere.
///
/// Conventions: images are the 8×8 UCI digits in [−1, 1] (d = 64 pixels); the autoencoder's loss is the squared
/// error summed over pixels plus β·KL, so the linear optimum's water level is β/2 in those units.
public enum Chapter10 {
    public static let experiments: [BookExperiment] = [vae, scaling, pipeline, numbers]

    // MARK: Shared helpers

    static func digits() throws -> ImageDataset { try Digits.load(size: 8) }

    /// Mean and covariance (Double, divisor n) of the rows of [n, d] values.
    static func moments(_ v: [Float], n: Int, d: Int) -> (mean: [Double], covariance: [Double]) {
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(v[i * d + j]) } }
        mean = mean.map { $0 / Double(n) }
        var cov = [Double](repeating: 0, count: d * d)
        var row = [Double](repeating: 0, count: d)
        for i in 0..<n {
            for j in 0..<d { row[j] = Double(v[i * d + j]) - mean[j] }
            for a in 0..<d { let ra = row[a]; for b in a..<d { cov[a * d + b] += ra * row[b] } }
        }
        for a in 0..<d { for b in a..<d { cov[a * d + b] /= Double(n); cov[b * d + a] = cov[a * d + b] } }
        return (mean, cov)
    }

    /// The digits' principal components: eigenvalues (descending) and unit eigenvectors (columns of a row-major d × d).
    static func pca(_ set: ImageDataset) -> (mean: [Double], values: [Double], vectors: [Double], d: Int) {
        let d = set.images.count / set.count
        let (mean, cov) = moments(set.images.scalars, n: set.count, d: d)
        let e = SymmetricEigen(cov, size: d)
        let order = (0..<d).sorted { e.values[$0] > e.values[$1] }
        var vectors = [Double](repeating: 0, count: d * d)
        for (k, i) in order.enumerated() { for r in 0..<d { vectors[r * d + k] = e.vectors[r * d + i] } }
        return (mean, order.map { Swift.max(0, e.values[$0]) }, vectors, d)
    }

    /// The optimum of the linear β-VAE on Gaussian data with variances λ (loss ‖x − x̂‖² summed + β·KL) with at most
    /// `k` latent dimensions: reverse water-filling at level D = β/2. Per image: reconstruction error Σ min(λ, D) over
    /// kept directions plus Σ λ over the rest, KL Σ ½ ln(λ/D) over active ones, active count, and the RMS over kept
    /// directions of the posterior-mean std √(1 − D/λ)₊.
    public static func linearVAE(_ lambda: [Double], beta: Double, k: Int) -> (reconstruction: Double, kl: Double, active: Int, meanStd: Double) {
        let D = beta / 2
        var (r, kl, active, s2) = (0.0, 0.0, 0, 0.0)
        for (i, l) in lambda.enumerated() {
            guard i < k else { r += l; continue }
            r += Swift.min(l, D)
            if l > D { kl += 0.5 * Foundation.log(l / D); active += 1; s2 += 1 - D / l }
        }
        return (r, kl, active, (s2 / Double(Swift.max(1, Swift.min(k, lambda.count)))).squareRoot())
    }

    static func logGrid(_ lo: Double, _ hi: Double, _ n: Int) -> [Double] {
        (0..<n).map { lo * Foundation.pow(hi / lo, Double($0) / Double(n - 1)) }
    }

    static func doubles(_ p: ExperimentParameters, _ name: String) throws -> [Double] { try Chapter9.doubles(p, name) }

    /// Number-key form of a value ("0.001" → "0p001").
    static func tag(_ v: Double) -> String { Chapter9.tag(v) }

    /// Population std of all elements.
    static func std(_ t: Tensor) -> Double {
        let v = t.scalars, n = Double(v.count)
        let m = v.reduce(0.0) { $0 + Double($1) } / n
        return (v.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / n).squareRoot()
    }

    /// An image-grid panel (values in [−1, 1]).
    static func gridPanel(_ title: String, _ images: Tensor, count n: Int, columns: Int, width: Double = 250) -> Plot {
        let h = images.shape[2]
        let values = Chapter2.imageGrid(Array(images.slice(axis: 0, 0, n).scalars), count: n, size: h, columns: columns)
        return Chapter2.heatPanel(title, values, width: width)
    }

    /// A small autoencoder for 8×8 digits: width `channels`, one down-sampling, `latentChannels` latent channels.
    static func autoencoderConfig(latentChannels: Int = 2, channels: Int = 8, levels: Int = 2) -> AutoencoderConfig {
        AutoencoderConfig(inChannels: 1, latentChannels: latentChannels, channels: channels,
                          channelMultipliers: Array([1, 2, 2].prefix(levels)), groups: 4)
    }

    static func trainAutoencoder(_ data: ImageDataset, beta: Double, steps: Int, seed: UInt64, latentChannels: Int = 2, channels: Int = 8,
                                 levels: Int = 2) throws -> AutoencoderTrainer {
        let cfg = AutoencoderTrainingConfig(autoencoder: autoencoderConfig(latentChannels: latentChannels, channels: channels, levels: levels),
                                            klWeight: beta, steps: steps, batchSize: 32, learningRate: 3e-3, seed: seed)
        let trainer: AutoencoderTrainer
        do { trainer = try AutoencoderTrainer(cfg, data: data) } catch { throw ExperimentError(error.description) }
        trainer.train()
        return trainer
    }

    // MARK: Figure — the KL weight: reconstruction, rate and latent scale (linear optimum vs a trained autoencoder)

    static let vae = BookExperiment(
        name: "ch10-vae",
        summary: "The KL weight β of the autoencoder loss on 8×8 digits: the linear-Gaussian optimum (reverse water-filling on the PCA spectrum, k = 32 latent dimensions) against small convolutional autoencoders trained with AutoencoderTrainer at several β: reconstruction MSE per pixel, KL per image, std of latent samples and of posterior means, reconstructions.",
        defaults: ["seed": "0", "steps": "150", "betas": "0.001,0.1,1,4", "k": "32", "shown": "8"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let steps = try p.int("steps", in: 1...100_000)
        let betas = try doubles(p, "betas")
        let k = try p.int("k", in: 1...64)
        let shown = try p.int("shown", in: 1...16)
        guard betas.allSatisfy({ $0 > 0 }) else { throw ExperimentError("betas must be positive") }
        let data = try digits()
        let (_, lambda, _, d) = pca(data)
        var numbers: [String: Double] = ["steps": Double(steps), "k": Double(k), "d": Double(d), "n": Double(data.count),
                                         "lambda_1": lambda[0], "lambda_total": lambda.reduce(0, +),
                                         "lambda_32": lambda[31], "lambda_k": lambda[k - 1]]
        // The linear optimum over a grid of β.
        let grid = logGrid(1e-4, 40, 60)
        let linear = grid.map { linearVAE(lambda, beta: $0, k: k) }
        numbers["lin_recon_k_only"] = lambda.dropFirst(k).reduce(0, +) / Double(d)
        numbers["active_beta1"] = Double(linearVAE(lambda, beta: 1, k: 64).active)
        numbers["collapse_beta"] = 2 * lambda[0]

        // Trained autoencoders.
        var recon: [Double] = [], kls: [Double] = [], stds: [Double] = [], meanStds: [Double] = []
        var rows: [Tensor] = [data.images.slice(axis: 0, 0, shown)]
        for β in betas {
            let trainer = try trainAutoencoder(data, beta: β, steps: steps, seed: seed)
            let ae = trainer.autoencoder
            let t = tag(β)
            let r = ae.reconstructionError(data.images)
            let q = withNoGrad { ae.encode(data.images) }
            let kl = Double(q.kl().mean().item)
            // LatentScaling's own estimate (1/std of posterior samples drawn with `seed`), and of the posterior means.
            let s = 1 / LatentScaling.measure(ae, images: data.images, seed: seed).factor
            let sm = 1 / LatentScaling.measure(ae, images: data.images, sample: false).factor
            let lin = linearVAE(lambda, beta: β, k: k)
            numbers["recon_\(t)"] = r
            numbers["kl_\(t)"] = kl
            numbers["std_\(t)"] = s
            numbers["mean_std_\(t)"] = sm
            numbers["sigma_\(t)"] = Double(q.standardDeviation.square().mean().item).squareRoot()
            numbers["scale_\(t)"] = 1 / s
            numbers["lin_recon_\(t)"] = lin.reconstruction / Double(d)
            numbers["lin_kl_\(t)"] = lin.kl
            numbers["lin_active_\(t)"] = Double(lin.active)
            numbers["lin_mean_std_\(t)"] = lin.meanStd
            recon.append(r); kls.append(kl); stds.append(s); meanStds.append(sm)
            rows.append(withNoGrad { ae.decode(ae.encode(data.images.slice(axis: 0, 0, shown)).mean) })
        }
        let xr = 1e-4...40.0
        var pr = Plot(width: 300, height: 250, title: "重建误差（每像素 MSE）", x: Axis("KL 权重 β", scale: .log, range: xr), y: Axis(scale: .log, range: 1e-3...10))
        pr.line(x: grid, y: linear.map { $0.reconstruction / Double(d) }, colour: 0, label: "线性最优（k = \(k)）")
        pr.scatter(zip(betas, recon).map { Point($0, $1) }, colour: 1, radius: 4, opacity: 1, label: "训练的自编码器")
        var pk = Plot(width: 300, height: 250, title: "KL（每张图，nats）", x: Axis("KL 权重 β", scale: .log, range: xr), y: Axis(range: 0...Swift.max(80, (kls.max() ?? 0) * 1.1)))
        pk.line(x: grid, y: linear.map(\.kl), colour: 0, label: "线性最优")
        pk.scatter(zip(betas, kls).map { Point($0, $1) }, colour: 1, radius: 4, opacity: 1, label: "训练的自编码器")
        var ps = Plot(width: 300, height: 250, title: "潜变量的标准差", x: Axis("KL 权重 β", scale: .log, range: xr), y: Axis(range: 0...Swift.max(1.6, (stds.max() ?? 0) * 1.1)))
        ps.line(x: grid, y: grid.map { _ in 1 }, colour: 0, label: "线性最优：样本 std")
        ps.line(x: grid, y: linear.map(\.meanStd), colour: 0, style: .dashed, label: "线性最优：均值 std")
        ps.scatter(zip(betas, stds).map { Point($0, $1) }, colour: 1, radius: 4, opacity: 1, label: "训练：样本 std")
        ps.scatter(zip(betas, meanStds).map { Point($0, $1) }, colour: 2, radius: 3, opacity: 1, label: "训练：均值 std")
        let images = gridPanel("原图（第 1 行）与各 β 的重建",
                               Tensor.concat(rows, axis: 0), count: shown * rows.count, columns: shown, width: 300)
        return ExperimentResult(svg: Figure([pr, pk, ps, images], columns: 2).svg(title: "KL 权重 β 决定了重建误差、码率与潜变量的尺度"), numbers: numbers)
    }

    // MARK: Figure — the latent scale shifts the log-SNR schedule

    /// Stable Diffusion's "scaled linear" table: β_t = (√0.00085 + (√0.012 − √0.00085)·t/(T − 1))², t = 0 … T − 1.
    public static func scaledLinear(steps T: Int = 1000, betaStart: Double = 0.00085, betaEnd: Double = 0.012) -> DiscreteVP {
        let (a, b) = (betaStart.squareRoot(), betaEnd.squareRoot())
        return DiscreteVP(betas: (0..<T).map { let r = a + (b - a) * Double($0) / Double(T - 1); return r * r }, name: "vp-scaled-linear")
    }

    /// Output std / data std of deterministic DDIM with the exact denoiser on 1-D Gaussian data of std s, over the EDM
    /// levels σ₀ > … > σ_N = 0, started from the VP prior N(0, I) (std √(1 + σ₀²) in α = 1 coordinates). Each step
    /// multiplies x by (s² + σ_iσ_{i+1})/(s² + σ_i²).
    public static func ddimStdRatio(_ s: Double, sigmas: [Double]) -> Double {
        var r = (1 + sigmas[0] * sigmas[0]).squareRoot() / s
        for i in 0..<(sigmas.count - 1) { r *= (s * s + sigmas[i] * sigmas[i + 1]) / (s * s + sigmas[i] * sigmas[i]) }
        return r
    }

    /// The same for the exact probability-flow ODE: only the prior's mismatch remains, √((1 + σ₀²)/(s² + σ₀²)).
    public static func odeStdRatio(_ s: Double, sigmaMax σ0: Double) -> Double { ((1 + σ0 * σ0) / (s * s + σ0 * σ0)).squareRoot() }

    static let scaling = BookExperiment(
        name: "ch10-scaling",
        summary: "Scaling data by c shifts every log-SNR by 2 ln c: Stable Diffusion's scaled-linear schedule seen by latents of std 1 and of std 1/0.18215; the std of DDIM samples (exact Gaussian denoiser, VP prior) relative to the data's, closed form per step against Sampling.ddim on a one-component GaussianMixture.",
        defaults: ["seed": "0", "n": "20000", "steps": "10,50", "checks": "0.1,0.3,1,3,5.49,10"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let n = try p.int("n", in: 100...1_000_000)
        let stepCounts = try p.ints("steps")
        let checks = try doubles(p, "checks")
        guard stepCounts.allSatisfy({ (1...1000).contains($0) }), checks.allSatisfy({ $0 > 0 }) else { throw ExperimentError("steps in 1…1000, checks positive") }
        let process = scaledLinear()
        let T = process.T
        let abarT = process.alphasCumprod[T - 1]
        let sd = 1 / 0.18215
        var numbers: [String: Double] = ["alphabar_T": abarT, "logsnr_T": Foundation.log(abarT / (1 - abarT)), "logsnr_1": Foundation.log(process.alphasCumprod[0] / (1 - process.alphasCumprod[0])),
                                         "sigma_max": ((1 - abarT) / abarT).squareRoot(), "shift_sd": 2 * Foundation.log(sd), "sd_std": sd, "n": Double(n)]
        numbers["logsnr_T_unscaled"] = numbers["logsnr_T"]! + numbers["shift_sd"]!
        numbers["snr_T_unscaled"] = Foundation.exp(numbers["logsnr_T_unscaled"]!)
        // Where λ crosses 0 (SNR = 1) for unit and for un-scaled latents.
        let lambda = process.alphasCumprod.map { Foundation.log($0 / (1 - $0)) }
        numbers["t_snr1"] = Double((lambda.firstIndex { $0 < 0 } ?? T) + 1)
        numbers["t_snr1_unscaled"] = Double((lambda.firstIndex { $0 + 2 * Foundation.log(sd) < 0 } ?? T) + 1)

        var pl = Plot(width: 360, height: 300, title: "有效对数信噪比 λ + 2 ln c", x: Axis("训练步 t", range: 0...Double(T)), y: Axis("λ", range: -12...14))
        let ts = (1...T).map(Double.init)
        for (c, label, colour) in [(1.0, "c = 1（缩放后）", 0), (sd, "c = 1/0.18215（未缩放）", 1), (0.5, "c = 0.5", 2)] {
            pl.line(x: ts, y: lambda.map { $0 + 2 * Foundation.log(c) }, colour: colour, label: label)
        }
        pl.line(x: [0, Double(T)], y: [0, 0], colour: 7, style: .dotted, width: 1, label: "SNR = 1")

        let grid = logGrid(0.05, 20, 80)
        let sMax = numbers["sigma_max"]!
        var pr = Plot(width: 360, height: 300, title: "样本 std / 数据 std（DDIM，精确去噪器）", x: Axis("数据尺度 c", scale: .log, range: 0.05...20), y: Axis(range: 0...1.7))
        pr.line(x: grid, y: grid.map { odeStdRatio($0, sigmaMax: sMax) }, colour: 0, style: .dashed, label: "精确 ODE（只有先验失配）")
        for (j, N) in stepCounts.enumerated() {
            let σ = Schedule.discrete(steps: N, process: process, spacing: .trailing)
            pr.line(x: grid, y: grid.map { ddimStdRatio($0, sigmas: σ) }, colour: j + 1, label: "DDIM \(N) 步（闭式）")
            var measured: [Point] = []
            for c in checks {
                let data = GaussianMixture(weights: [1], means: [[0]], std: [c])
                let start = NoiseSource(seed: seed).prior([n, 1], sigma: σ[0]) * Float((1 + σ[0] * σ[0]).squareRoot() / σ[0])
                let out = Sampling.ddim(data, start, sigmas: σ)
                let ratio = std(out) / c
                measured.append(Point(c, ratio))
                numbers["ratio_\(N)_\(tag(c))"] = ddimStdRatio(c, sigmas: σ)
                numbers["sampled_\(N)_\(tag(c))"] = ratio
            }
            pr.scatter(measured, colour: j + 1, radius: 3.5, opacity: 1, label: "Sampling.ddim（\(n) 个样本）")
            numbers["sigma_min_\(N)"] = σ[N - 1]
        }
        for c in checks { numbers["ode_\(tag(c))"] = odeStdRatio(c, sigmaMax: sMax) }
        return ExperimentResult(svg: Figure([pl, pr], columns: 2).svg(title: "潜变量的尺度 c 平移了整条对数信噪比曲线，也改变了采样的结果"), numbers: numbers)
    }

    // MARK: Figure — the pipeline: encode, diffuse in the latent space, decode

    /// Exact latent diffusion on the top-k principal components: encode z = U_kᵀ(x − μ)·f (f = 1/std of z), sample
    /// z with DPM-Solver++(2M) on the exact Gaussian denoiser, decode μ + U_k z / f. Returns images [n, 1, 8, 8].
    public static func pcaLatentSamples(mean: [Double], lambda: [Double], vectors: [Double], d: Int, k: Int, n: Int, seed: UInt64, steps: Int = 25) -> Tensor {
        let variance = lambda.prefix(k).reduce(0, +) / Double(k)
        let f = 1 / variance.squareRoot()                       // LatentScaling's rule for this linear encoder
        let latent = GaussianMixture(weights: [1], means: [[Double](repeating: 0, count: k)], stds: [lambda.prefix(k).map { Swift.max($0, 1e-12).squareRoot() * f }])   // the digits have constant pixels: λ = 0
        let σ = Schedule.karras(steps: steps)
        let z = Sampling.dpmSolverPP2M(latent, NoiseSource(seed: seed).prior([n, k], sigma: σ[0]), sigmas: σ).scalars
        var out = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            for r in 0..<d {
                var v = mean[r]
                for j in 0..<k { v += vectors[r * d + j] * Double(z[i * k + j]) / f }
                out[i * d + r] = Float(v)
            }
        }
        return Tensor(out, shape: [n, 1, 8, 8])
    }

    static let pipeline = BookExperiment(
        name: "ch10-pipeline",
        summary: "Latent diffusion end to end on 8×8 digits: an autoencoder (AutoencoderTrainer, latents 2×4×4), LatentScaling, a small UNet trained by ImageTrainer on the scaled latents (LatentDiffusion.trainer), samples decoded (LatentDiffusion.sample); and exact latent diffusion on k principal components, whose Fréchet distance to the data equals the reconstruction error Σ_{i>k} λ_i.",
        defaults: ["seed": "0", "ae_steps": "150", "beta": "0.01", "steps": "300", "samples": "200", "shown": "16", "ks": "1,2,4,8,16,32,64", "pca_n": "2000",
                   "objective": "ddpm", "sampler": "ddpm", "schedule": "trailing", "sample_steps": "50"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let aeSteps = try p.int("ae_steps", in: 1...100_000)
        let β = try p.double("beta")
        let steps = try p.int("steps", in: 1...100_000)
        let nSamples = try p.int("samples", in: 16...10_000)
        let shown = try p.int("shown", in: 1...64)
        let ks = try p.ints("ks")
        let pcaN = try p.int("pca_n", in: 100...100_000)
        let sampleSteps = try p.int("sample_steps", in: 1...1000)
        guard β >= 0, ks.allSatisfy({ (1...64).contains($0) }) else { throw ExperimentError("beta ≥ 0 and ks in 1…64 are needed") }
        let data = try digits()
        let d = 64
        var numbers: [String: Double] = ["ae_steps": Double(aeSteps), "beta": β, "steps": Double(steps), "samples": Double(nSamples)]

        // 1. The autoencoder and its scale.
        let ae = try trainAutoencoder(data, beta: β, steps: aeSteps, seed: seed)
        let scaling = LatentScaling.measure(ae.autoencoder, images: data.images, seed: seed)
        let latent = LatentDiffusion(autoencoder: ae.autoencoder, scaling: scaling)
        numbers["recon_ae"] = ae.autoencoder.reconstructionError(data.images)
        numbers["scale"] = scaling.factor
        numbers["latent_dims"] = Double(2 * 4 * 4)

        // 2. A UNet trained by ImageTrainer on the scaled latents; samples decoded.
        var c = ImageTrainingConfig()
        (c.data, c.model, c.steps, c.batchSize, c.learningRate, c.warmupSteps, c.emaDecay, c.seed) = ("digits8", "unet", steps, 32, 3e-3, 20, 0.99, seed)
        (c.channels, c.channelMultipliers, c.objective) = (16, [1], p.string("objective"))
        var options = SamplingOptions()
        (options.sampler, options.schedule, options.steps, options.count, options.seed) = (p.string("sampler"), p.string("schedule"), sampleSteps, nSamples, seed &+ 3)
        let trainer: ImageTrainer
        let out: (images: Tensor, latents: Tensor, labels: Tensor?)
        var losses: [Double] = []
        do {
            trainer = try latent.trainer(c, data: data)
            trainer.train(onStep: { _, l in losses.append(l) })
            out = try latent.sample(trainer.samplingModel(), sampler: ImageSampler(options), config: c, latentShape: trainer.shape)
        } catch { throw ExperimentError("\(error)") }
        let pixels = data.images.reshaped([data.count, d])
        numbers["latent_std"] = std(trainer.trainSet.images)
        numbers["loss_first"] = losses.prefix(20).reduce(0, +) / Double(Swift.min(20, losses.count))
        numbers["loss_last"] = losses.suffix(20).reduce(0, +) / Double(Swift.min(20, losses.count))
        numbers["sample_latent_std"] = std(out.latents)
        numbers["fd_latent"] = FrechetDistance.squared(out.images.reshaped([nSamples, d]), pixels)
        var g = RandomGenerator(seed: seed &+ 4)
        let real = data.images.indexSelect(axis: 0, indices: Array(g.permutation(data.count).prefix(nSamples)))
        numbers["fd_floor"] = FrechetDistance.squared(real.reshaped([nSamples, d]), pixels)
        let decodedReal = latent.decode(latent.encode(real, sample: false))
        numbers["fd_recon"] = FrechetDistance.squared(decodedReal.reshaped([nSamples, d]), pixels)

        // 3. Exact latent diffusion on k principal components.
        let (mean, lambda, vectors, _) = pca(data)
        var fdPCA: [Point] = [], reconPCA: [Point] = []
        var pcaImages: [Int: Tensor] = [:]
        for k in ks {
            let x = pcaLatentSamples(mean: mean, lambda: lambda, vectors: vectors, d: d, k: k, n: pcaN, seed: seed &+ 5)
            let tail = lambda.dropFirst(k).reduce(0, +)
            let fd = FrechetDistance.squared(x.reshaped([pcaN, d]), pixels)
            numbers["pca_recon_\(k)"] = tail / Double(d)
            numbers["pca_tail_\(k)"] = tail
            numbers["pca_fd_\(k)"] = fd
            fdPCA.append(Point(Double(k), fd)); reconPCA.append(Point(Double(k), Swift.max(tail, 1e-3)))
            pcaImages[k] = x
        }
        numbers["pca_n"] = Double(pcaN)

        var panels = [gridPanel("数据", data.images, count: shown, columns: 4, width: 200),
                      gridPanel("自编码器重建", latent.decode(latent.encode(data.images.slice(axis: 0, 0, shown), sample: false)), count: shown, columns: 4, width: 200),
                      gridPanel("潜在扩散样本（解码后）", out.images, count: shown, columns: 4, width: 200)]
        if let k = ks.first(where: { $0 == 8 }) ?? ks.first { panels.append(gridPanel("PCA 潜空间 k = \(k)（精确）", pcaImages[k]!, count: shown, columns: 4, width: 200)) }
        if let k = ks.last { panels.append(gridPanel("PCA 潜空间 k = \(k)（精确）", pcaImages[k]!, count: shown, columns: 4, width: 200)) }
        var pf = Plot(width: 260, height: 220, title: "PCA 潜空间：误差与维数 k", x: Axis("k", scale: .log, range: 1...64), y: Axis(scale: .log, range: 0.05...400))
        pf.line(reconPCA, colour: 0, label: "重建误差 Σ λᵢ（i > k）")
        pf.scatter(fdPCA, colour: 1, radius: 3.5, opacity: 1, label: "生成样本的 FD²")
        panels.append(pf)
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "潜在扩散：编码 → 在潜空间扩散 → 解码"), numbers: numbers)
    }

    // MARK: Numbers — Stable Diffusion's sizes, cross-attention cost, the exercises' closed forms

    static let numbers = BookExperiment(
        name: "ch10-numbers",
        summary: "Closed-form numbers of the chapter: Stable Diffusion's latent sizes and compression, the cost of cross-attention against self-attention at each UNet resolution, and small worked answers (water-filling on a three-value spectrum, log-SNR shifts, prior mismatch).",
        defaults: ["image": "512", "f": "8", "channels": "4", "tokens": "77", "width": "320", "textWidth": "768"]
    ) { p in
        let image = try p.int("image", in: 8...8192), f = try p.int("f", in: 1...64), ch = try p.int("channels", in: 1...64)
        let M = try p.int("tokens", in: 1...10_000), dm = try p.int("width", in: 1...100_000), dc = try p.int("textWidth", in: 1...100_000)
        guard image % f == 0 else { throw ExperimentError("f must divide the image size") }
        let side = image / f
        var n: [String: Double] = ["image": Double(image), "f": Double(f), "latent_side": Double(side), "pixels": Double(image * image * 3),
                                   "latent_values": Double(side * side * ch), "tokens": Double(M), "width": Double(dm), "text_width": Double(dc)]
        n["compression"] = n["pixels"]! / n["latent_values"]!
        n["spatial_ratio"] = Double(f * f)
        // Attention at each UNet level of SD v1 (widths 320, 640, 1280 at 64, 32, 16; multiply-adds of QKᵀ and AV).
        for (level, mult) in [1, 2, 4].enumerated() {
            let N = Double((side >> level) * (side >> level)), d = Double(dm * mult)
            n["n_\(level)"] = N
            n["cross_\(level)"] = 2 * N * Double(M) * d
            n["self_\(level)"] = 2 * N * N * d
            n["ratio_\(level)"] = N / Double(M)
            n["cross_proj_\(level)"] = 2 * Double(M) * Double(dc) * d + 2 * N * d * d   // K, V from text; Q and output from the image
        }
        // Pixel-space attention at 512×512 would see 262,144 tokens.
        n["pixel_tokens"] = Double(image * image)
        // Exercise: water-filling on λ = (4, 1, 0.25) with β = 1 (level ½).
        let w = linearVAE([4, 1, 0.25], beta: 1, k: 3)
        n["wf_recon"] = w.reconstruction; n["wf_kl"] = w.kl; n["wf_active"] = Double(w.active)
        let w2 = linearVAE([4, 1, 0.25], beta: 4, k: 3)
        n["wf4_recon"] = w2.reconstruction; n["wf4_kl"] = w2.kl; n["wf4_active"] = Double(w2.active)
        // Exercise: log-SNR shifts.
        n["shift_0p18215"] = 2 * Foundation.log(0.18215)
        n["shift_2"] = 2 * Foundation.log(2.0)
        // Exercise: a one-step DDIM from σ to 0 on Gaussian data of std s = 1 started at σ = 1: ratio s²/(s² + σ²) · √(1 + σ²)/s.
        n["one_step_ratio"] = ddimStdRatio(1, sigmas: [1, 0])
        return ExperimentResult(svg: nil, numbers: n)
    }
}
