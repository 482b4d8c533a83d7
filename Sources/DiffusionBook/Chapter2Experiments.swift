import Diffusion
import DiffusionData
import DiffusionEngine
import DiffusionLayers
import DiffusionModels
import DiffusionPlot
import Foundation

/// The experiments of chapter 2 (book/ch02-architectures.md): every figure and every number the chapter quotes.
///
/// Conventions: images are [B, C, H, W]; a network's noise conditioning c is one value per sample (`NetworkModel`
/// passes 1000·t); "MACs" are multiply–accumulates, FLOPs = 2·MACs.
public enum Chapter2 {
    public static let experiments: [BookExperiment] = [embedding, receptive, upsampling, attention, counting, initialisation, train, vit]

    // MARK: Shared helpers

    /// The small UNet the chapter trains on 8×8 digits: two levels (8×8 and 4×4), attention at 4×4.
    public static func digitsConfig(channels: Int = 32) -> UNetConfig {
        UNetConfig(imageSize: 8, inChannels: 1, outChannels: 1, channels: channels, channelMultipliers: [1, 2],
                   resBlocksPerLevel: 1, attentionResolutions: [4], heads: 1, groups: 8)
    }

    /// Images [n, 1, h, w] in [−1, 1] laid out as a grid heat map (rows of `columns`, one blank pixel between images),
    /// row 0 at the bottom as `Plot.heatmap` expects.
    static func imageGrid(_ images: [Float], count n: Int, size h: Int, columns: Int) -> [[Double]] {
        let rows = (n + columns - 1) / columns
        let (H, W) = (rows * (h + 1) - 1, columns * (h + 1) - 1)
        var grid = Array(repeating: Array(repeating: 0.0, count: W), count: H)
        for k in 0..<n {
            let (r, c) = (k / columns, k % columns)
            for i in 0..<h {
                for j in 0..<h {
                    let v = Swift.min(1, Swift.max(0, (Double(images[k * h * h + i * h + j]) + 1) / 2))
                    grid[H - 1 - (r * (h + 1) + i)][c * (h + 1) + j] = v
                }
            }
        }
        return grid
    }

    /// Euler's constant γ.
    public static let eulerGamma = 0.577_215_664_901_532_9

    /// The cosine integral Ci(x) = γ + ln x + ∫₀ˣ (cos u − 1)/u du for x > 0: its power series up to x = 20, the
    /// asymptotic expansion Ci(x) = f(x)·sin x − g(x)·cos x beyond (both accurate to about 1e-9).
    public static func cosineIntegral(_ x: Double) -> Double {
        precondition(x > 0, "Ci needs x > 0")
        if x <= 20 {
            var sum = 0.0, term = 1.0       // term = (−1)^k x^{2k}/(2k)!
            var k = 1
            while k < 200 {
                term *= -x * x / Double((2 * k - 1) * (2 * k))
                let add = term / Double(2 * k)
                sum += add
                if k > 4 && Swift.abs(add) < 1e-18 { break }
                k += 1
            }
            return eulerGamma + Foundation.log(x) + sum
        }
        var (f, g, tf, tg) = (0.0, 0.0, 1.0, 1.0)
        for k in 0..<12 {
            f += tf; g += tg
            let nf = -tf * Double((2 * k + 1) * (2 * k + 2)) / (x * x)
            let ng = -tg * Double((2 * k + 2) * (2 * k + 3)) / (x * x)
            if Swift.abs(nf) > Swift.abs(tf) { break }
            (tf, tg) = (nf, ng)
        }
        return f / x * Foundation.sin(x) - g / (x * x) * Foundation.cos(x)
    }

    /// The continuum limit of the sinusoidal embedding's kernel: frequencies log-uniform on [1/P, 1] give
    /// k(Δ) = ∫₀¹ cos(Δ·P^{−u}) du = (Ci(Δ) − Ci(Δ/P))/ln P.
    public static func sinusoidalKernelContinuum(_ delta: Double, maxPeriod P: Double) -> Double {
        (cosineIntegral(delta) - cosineIntegral(delta / P)) / Foundation.log(P)
    }

    /// Values of a [rows, cols] map laid out for `Plot.heatmap` (row 0 at the bottom), optionally pooled by
    /// `pool`×`pool` sums to keep the SVG small.
    static func heatRows(_ v: [Double], rows: Int, cols: Int, pool: Int = 1) -> [[Double]] {
        let (r, c) = (rows / pool, cols / pool)
        var out = Array(repeating: Array(repeating: 0.0, count: c), count: r)
        for i in 0..<rows {
            for j in 0..<cols where i / pool < r && j / pool < c { out[r - 1 - i / pool][j / pool] += v[i * cols + j] }
        }
        return out
    }

    static func heatPanel(_ title: String, _ values: [[Double]], width: Double = 250, gamma: Double = 1, scale: Double = 1) -> Plot {
        let (h, w) = (Double(values.count) * scale, Double(values[0].count) * scale)
        var pl = Plot(width: width, height: width + 20, title: title, x: Axis(range: 0...w), y: Axis(range: 0...h), equalAspect: true)
        pl.grid = false
        pl.showLegend = false
        pl.heatmap(values, xRange: 0...w, yRange: 0...h, gamma: gamma)
        return pl
    }

    /// Trains `unet` on batches of 8×8 digits with DDPM's ε-loss (linear `DiscreteVP`, `DenoisingLoss.ddpm`) and
    /// Adam under `schedule`; `after(step, lossPerPixel)` runs after every step. Batches and noise come from `seed`.
    static func trainDigits(_ unet: UNet, on data: ImageDataset, steps: Int, batch B: Int, schedule: some LRSchedule, seed: UInt64,
                            after: (Int, Double) -> Void) throws {
        let process = DiscreteVP.linear()
        let model = try NetworkModel(unet, process: process, output: .epsilon)
        let loss = DenoisingLoss.ddpm(process)
        let optimizer = Adam(unet.trainableParameters(), lr: schedule.lr(at: 0))
        let d = Float(data.images.count / data.count)
        var rng = RandomGenerator(seed: seed)
        for step in 0..<steps {
            let idx = rng.integers([B], in: 0..<data.count).scalars.map { Int($0) }
            let l = loss(model, data.batch(idx).images, labels: nil, rng: &rng).mean() / d
            optimizer.zeroGrad()
            l.backward()
            optimizer.learningRate = schedule.lr(at: step)
            optimizer.step()
            after(step, Double(l.item))
        }
    }

    /// Zeroes the last layer of every residual branch (each ResBlock's conv2, each attention's output projection) and
    /// the output convolution, as ADM does: every block starts as the identity and the network outputs zero.
    static func zeroInitialise(_ unet: UNet, branches: Bool) {
        func zero(_ l: Conv2d) { l.weight.value = .zeros(l.weight.shape); l.bias?.value = .zeros(l.bias!.shape) }
        zero(unet.outputConv)
        guard branches else { return }
        for (_, m) in unet.namedModules() {
            if let r = m as? ResBlock { zero(r.conv2) }
            if let a = m as? SpatialAttention {
                a.attention.outProj.weight.value = .zeros(a.attention.outProj.weight.shape)
                a.attention.outProj.bias?.value = .zeros(a.attention.outProj.bias!.shape)
            }
        }
    }

    // MARK: Figure — noise-level embeddings: sinusoidal channels and the kernels of both embeddings

    static let embedding = BookExperiment(
        name: "ch2-embedding",
        summary: "sinusoidalEmbedding channels over c = 0…1000; the kernel ⟨e(c), e(c + Δ)⟩/(dim/2) of the sinusoidal and random-Fourier embeddings against their closed forms; c_noise ranges of the preconditionings.",
        defaults: ["dim": "128", "maxPeriod": "10000", "scale": "16", "seed": "0"]
    ) { p in
        let dim = try p.int("dim", in: 4...4096)
        let P = try p.double("maxPeriod")
        let s = try p.double("scale")
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        guard dim % 2 == 0, P > 1, s > 0 else { throw ExperimentError("need an even dim, maxPeriod > 1 and scale > 0") }
        let half = dim / 2

        // Left: four sine channels over the DDPM step range.
        let cs = (0...1000).map(Double.init)
        let e = withNoGrad { sinusoidalEmbedding(Tensor(cs.map(Float.init)), dim: dim, maxPeriod: Float(P)) }.scalars
        var channels = Plot(width: 380, height: 320, title: "正弦嵌入的几个通道 sin(ωᵢ c)", x: Axis("c（DDPM 的步数）", range: 0...1000), y: Axis(range: -1.15...2.3))
        let shown = [half / 4, 3 * half / 8, 5 * half / 8, 7 * half / 8]
        for (k, i) in shown.enumerated() {
            let omega = Foundation.exp(-Foundation.log(P) * Double(i) / Double(half))
            channels.line(x: cs, y: cs.indices.map { Double(e[$0 * dim + i]) }, colour: k, width: 1.3,
                          label: "i = \(i)，周期 \(String(format: "%.0f", 2 * Double.pi / omega))")
        }

        // Right: kernels against Δ on a log axis.
        let deltas = (0...160).map { Foundation.pow(10, -3 + 8 * Double($0) / 160) }
        let c0: Float = 500
        let ref = withNoGrad { sinusoidalEmbedding(Tensor([c0]), dim: dim, maxPeriod: Float(P)) }.scalars
        let shifted = withNoGrad { sinusoidalEmbedding(Tensor(deltas.map { c0 + Float($0) }), dim: dim, maxPeriod: Float(P)) }.scalars
        func kernel(_ a: [Float], _ row: Int, _ b: [Float]) -> Double {
            (0..<dim).reduce(0.0) { $0 + Double(a[row * dim + $1]) * Double(b[$1]) } / Double(half)
        }
        // Measured from the library in Double around c₀ = 500 (Float32 rounding of c₀ + Δ limits tiny Δ to ~1e-4).
        let kSin = deltas.indices.map { kernel(shifted, $0, ref) }
        let kCont = deltas.map { sinusoidalKernelContinuum($0, maxPeriod: P) }
        let rff = withParameterSeed(seed) { RandomFourierEmbedding(dim: dim, scale: Float(s)) }
        let r0 = withNoGrad { rff(Tensor([0])) }.scalars
        let rShift = withNoGrad { rff(Tensor(deltas.map(Float.init))) }.scalars
        let kRFF = deltas.indices.map { kernel(rShift, $0, r0) }
        let kGauss = deltas.map { Foundation.exp(-2 * Double.pi * Double.pi * s * s * $0 * $0) }
        var kernels = Plot(width: 420, height: 320, title: "核 k(Δ) = ⟨e(c), e(c+Δ)⟩ / (dim/2)", x: Axis("Δ（对数轴）", scale: .log, range: 1e-3...1e5), y: Axis(range: -0.3...2.0))
        kernels.line(x: deltas, y: kSin, colour: 0, width: 2, label: "正弦嵌入（库）")
        kernels.line(x: deltas, y: kCont, colour: 7, style: .dashed, width: 1.4, label: "连续极限 (Ci(Δ) − Ci(Δ/P))/ln P")
        let logRange = deltas.filter { $0 >= 3 && $0 <= P / 3 }
        kernels.line(x: logRange, y: logRange.map { 1 - (Foundation.log($0) + eulerGamma) / Foundation.log(P) }, colour: 4, style: .dotted, width: 1.8, label: "1 − (ln Δ + γ)/ln P")
        kernels.line(x: deltas, y: kRFF, colour: 1, width: 2, label: "随机傅里叶特征（库，s = \(String(format: "%g", s))）")
        kernels.line(x: deltas, y: kGauss, colour: 2, style: .dashed, width: 1.4, label: "exp(−2π²s²Δ²)")

        // Half-widths: the first Δ where the kernel drops to 1/2 (bisection in log Δ on the library kernel).
        func halfWidth(_ k: (Double) -> Double, lo: Double, hi: Double) -> Double {
            var (a, b) = (Foundation.log(lo), Foundation.log(hi))
            for _ in 0..<60 {
                let m = (a + b) / 2
                if k(Foundation.exp(m)) > 0.5 { a = m } else { b = m }
            }
            return Foundation.exp((a + b) / 2)
        }
        let freqs = (0..<half).map { Foundation.exp(-Foundation.log(P) * Double($0) / Double(half)) }
        let kExact: (Double) -> Double = { d in freqs.reduce(0) { $0 + Foundation.cos($1 * d) } / Double(half) }
        let w = rff.weight.value.scalars.map(Double.init)
        let kRFFExact: (Double) -> Double = { d in w.reduce(0) { $0 + Foundation.cos(2 * Double.pi * $1 * d) } / Double(half) }
        var numbers: [String: Double] = [
            "dim": Double(dim), "half": Double(half), "maxPeriod": P, "scale": s,
            "half_width_sin": halfWidth(kExact, lo: 1e-3, hi: P),
            "half_width_sin_formula": P.squareRoot() * Foundation.exp(-eulerGamma),
            "half_width_cont": halfWidth({ sinusoidalKernelContinuum($0, maxPeriod: P) }, lo: 1e-3, hi: P),
            "half_width_rff": halfWidth(kRFFExact, lo: 1e-5, hi: 10),
            "half_width_rff_formula": (Foundation.log(2.0) / 2).squareRoot() / (Double.pi * s),
            "max_library_error": zip(deltas, kSin).map { Swift.abs($1 - kExact($0)) }.max()!,
            "omega_min": freqs.last!, "period_max": 2 * Double.pi / freqs.last!,
        ]
        for d in [1.0, 10, 100, 1000] {
            let tag = String(Int(d))
            numbers["k_sin_\(tag)"] = kExact(d)
            numbers["k_cont_\(tag)"] = sinusoidalKernelContinuum(d, maxPeriod: P)
            numbers["k_log_\(tag)"] = 1 - (Foundation.log(d) + eulerGamma) / Foundation.log(P)
        }
        // c_noise of each preconditioning over σ ∈ [0.002, 80] (EDM's range) and DDPM's integer steps; how many of
        // the sinusoidal frequencies turn by less than half a period (ω·span < π) over that span.
        let (smin, smax) = (0.002, 80.0)
        let spans: [(String, Double, Double)] = [
            ("ddpm", 0, 999),
            ("vp", VPPreconditioning()(smin).c_noise, VPPreconditioning()(smax).c_noise),
            ("ve", VEPreconditioning()(smin).c_noise, VEPreconditioning()(smax).c_noise),
            ("edm", EDMPreconditioning()(smin).c_noise, EDMPreconditioning()(smax).c_noise),
        ]
        for (name, lo, hi) in spans {
            numbers["c_lo_\(name)"] = lo
            numbers["c_hi_\(name)"] = hi
            numbers["span_\(name)"] = hi - lo
            numbers["slow_\(name)"] = Double(freqs.filter { $0 * (hi - lo) < Double.pi }.count)
        }
        return ExperimentResult(svg: Figure([channels, kernels], columns: 2).svg(title: "噪声水平的两种嵌入与它们的核"), numbers: numbers)
    }

    // MARK: Figure — receptive fields measured with autograd

    /// A layer of a linear "skeleton": a k×k convolution (all weights 1/k², no bias), or nearest upsampling by 2.
    public enum SkeletonLayer: Sendable, Equatable {
        case conv(kernel: Int, stride: Int, padding: Int)
        case upsample
    }

    static let conv3 = SkeletonLayer.conv(kernel: 3, stride: 1, padding: 1)

    /// The longest convolution path through `UNet` with `levels` levels and `blocks` residual blocks per level: the
    /// input convolution, two 3×3 convolutions per residual block, the stride-2 `Downsample`, the middle's two blocks,
    /// `blocks + 1` blocks per level going up, `Upsample` (nearest, then a 3×3 convolution) and the output convolution.
    /// Residual, skip and 1×1 paths are shorter; GroupNorm and attention are left out (they are global).
    public static func unetSkeleton(levels L: Int, blocks: Int) -> [SkeletonLayer] {
        var s: [SkeletonLayer] = [conv3]
        for l in 0..<L {
            s += Array(repeating: conv3, count: 2 * blocks)
            if l < L - 1 { s.append(.conv(kernel: 3, stride: 2, padding: 1)) }
        }
        s += Array(repeating: conv3, count: 4)
        for l in (0..<L).reversed() {
            s += Array(repeating: conv3, count: 2 * (blocks + 1))
            if l > 0 { s += [.upsample, conv3] }
        }
        s.append(conv3)
        return s
    }

    /// The input rows [lo, hi] that output row `q` of the skeleton can depend on, for inputs of size n
    /// (interval arithmetic backwards through the layers, clipped to the image at every layer).
    public static func receptiveInterval(_ layers: [SkeletonLayer], size n: Int, output q: Int) -> (lo: Int, hi: Int) {
        var sizes = [n]
        for l in layers {
            switch l {
            case let .conv(k, s, p): sizes.append((sizes.last! + 2 * p - k) / s + 1)
            case .upsample: sizes.append(2 * sizes.last!)
            }
        }
        var (lo, hi) = (q, q)
        for (i, l) in layers.enumerated().reversed() {
            switch l {
            case let .conv(k, s, p): (lo, hi) = (s * lo - p, s * hi - p + k - 1)
            case .upsample: (lo, hi) = (lo >= 0 ? lo / 2 : -((-lo + 1) / 2), hi / 2)
            }
            (lo, hi) = (Swift.max(0, lo), Swift.min(sizes[i] - 1, hi))
        }
        return (lo, hi)
    }

    /// Runs the skeleton with library layers (`Conv2d` with weights 1/k², `upsampleNearest2d`) and returns the
    /// gradient of output pixel (q, q) with respect to the input [1, 1, n, n].
    static func skeletonGradient(_ layers: [SkeletonLayer], size n: Int) -> [Double] {
        let x = Tensor.zeros([1, 1, n, n]).requiringGrad()
        var h = x
        for l in layers {
            switch l {
            case let .conv(k, s, p):
                let conv = Conv2d(1, 1, kernelSize: k, stride: s, padding: p, bias: false)
                conv.weight.value = .full([1, 1, k, k], 1 / Float(k * k))
                h = conv(h)
            case .upsample:
                h = h.upsampleNearest2d(scale: 2)
            }
        }
        precondition(h.shape == [1, 1, n, n], "skeleton changes the size: \(h.shape)")
        var seed = [Float](repeating: 0, count: n * n)
        seed[(n / 2) * n + n / 2] = 1
        h.backward(Tensor(seed, shape: h.shape))
        return x.grad!.scalars.map(Double.init)
    }

    /// Rows and columns where a gradient map is non-zero: (first row, last row, first column, last column).
    static func support(_ g: [Double], size n: Int) -> (Int, Int, Int, Int) {
        var (r0, r1, c0, c1) = (n, -1, n, -1)
        for i in 0..<n { for j in 0..<n where g[i * n + j] != 0 { r0 = Swift.min(r0, i); r1 = Swift.max(r1, i); c0 = Swift.min(c0, j); c1 = Swift.max(c1, j) } }
        return (r0, r1, c0, c1)
    }

    static let receptive = BookExperiment(
        name: "ch2-receptive",
        summary: "|∂y_centre/∂x| by autograd for a stack of 3×3 convolutions, the UNet's longest convolution path (linear skeleton with Downsample/Upsample) and a randomly initialised UNet; measured supports against interval arithmetic, the Gaussian width √(2L/3).",
        defaults: ["size": "64", "depth": "8", "levels": "2", "channels": "8", "seed": "0"]
    ) { p in
        let n = try p.int("size", in: 8...256)
        let L = try p.int("depth", in: 1...64)
        let levels = try p.int("levels", in: 1...5)
        let ch = try p.int("channels", in: 4...64)
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        guard n % (1 << (levels - 1)) == 0, ch % 4 == 0 else { throw ExperimentError("size must halve levels − 1 times and channels be a multiple of 4") }
        let q = n / 2
        // (a) L stacked 3×3 convolutions.
        let stack = Array(repeating: conv3, count: L)
        let gStack = skeletonGradient(stack, size: n)
        let sStack = support(gStack, size: n)
        let iStack = receptiveInterval(stack, size: n, output: q)
        let mass = gStack.reduce(0, +)
        let varStack = (0..<n).reduce(0.0) { acc, i in acc + (0..<n).reduce(0.0) { $0 + gStack[i * n + $1] * Double(($1 - q) * ($1 - q)) } } / mass
        // (b) the UNet's longest convolution path.
        let skel = unetSkeleton(levels: levels, blocks: 1)
        let gSkel = skeletonGradient(skel, size: n)
        let sSkel = support(gSkel, size: n)
        let iSkel = receptiveInterval(skel, size: n, output: q)
        let convCount = skel.filter { $0 != .upsample }.count
        // (c) a randomly initialised UNet of the same shape (GroupNorm and the middle attention reach everywhere).
        let cfg = UNetConfig(imageSize: n, inChannels: 1, outChannels: 1, channels: ch, channelMultipliers: Array(repeating: 1, count: levels),
                             resBlocksPerLevel: 1, attentionResolutions: [], heads: 1, groups: 4)
        let unet = withParameterSeed(seed) { UNet(cfg) }
        let x = Tensor.randomNormal([1, 1, n, n], seed: seed, stream: 3).requiringGrad()
        let y = unet(x, Tensor([500]))
        var oneHot = [Float](repeating: 0, count: n * n)
        oneHot[q * n + q] = 1
        y.backward(Tensor(oneHot, shape: y.shape))
        let gUNet = x.grad!.scalars.map { Swift.abs(Double($0)) }
        let total = gUNet.reduce(0, +)
        var inside = 0.0
        for i in iSkel.lo...iSkel.hi { for j in iSkel.lo...iSkel.hi { inside += gUNet[i * n + j] } }
        let nonzero = gUNet.filter { $0 > 0 }.count
        // Unclipped receptive fields of the skeleton for 1…5 levels (on a large image) and of a plain stack with
        // as many 3×3 convolutions.
        var numbers: [String: Double] = [
            "size": Double(n), "depth": Double(L), "levels": Double(levels), "channels": Double(ch),
            "stack_width": Double(sStack.3 - sStack.2 + 1), "stack_height": Double(sStack.1 - sStack.0 + 1),
            "stack_theory": Double(iStack.hi - iStack.lo + 1), "stack_formula": Double(2 * L + 1),
            "stack_std": varStack.squareRoot(), "stack_std_theory": (2.0 * Double(L) / 3).squareRoot(),
            "skeleton_width": Double(sSkel.3 - sSkel.2 + 1), "skeleton_height": Double(sSkel.1 - sSkel.0 + 1),
            "skeleton_theory": Double(iSkel.hi - iSkel.lo + 1), "skeleton_lo": Double(iSkel.lo), "skeleton_hi": Double(iSkel.hi),
            "skeleton_convs": Double(convCount), "skeleton_stack_equivalent": Double(2 * convCount + 1),
            "unet_mass_inside": inside / total, "unet_nonzero_fraction": Double(nonzero) / Double(n * n),
            "unet_params": Double(unet.parameterCount),
        ]
        for l in 1...5 {
            let big = 4096
            let sk = unetSkeleton(levels: l, blocks: 1)
            let iv = receptiveInterval(sk, size: big, output: big / 2)
            numbers["rf_levels_\(l)"] = Double(iv.hi - iv.lo + 1)
            numbers["convs_levels_\(l)"] = Double(sk.filter { $0 != .upsample }.count)
            let sk2 = unetSkeleton(levels: l, blocks: 2)
            let iv2 = receptiveInterval(sk2, size: big, output: big / 2)
            numbers["rf2_levels_\(l)"] = Double(iv2.hi - iv2.lo + 1)
        }

        // Figure: three gradient maps (2×2-pooled) and the centre row on a log axis.
        let pool = n >= 64 ? 2 : 1
        let a = heatPanel("(a) \(L) 层 3×3 卷积", heatRows(gStack, rows: n, cols: n, pool: pool), width: 300, gamma: 0.6, scale: Double(pool))
        let b = heatPanel("(b) UNet 的最长卷积路径（\(levels) 个层级）", heatRows(gSkel, rows: n, cols: n, pool: pool), width: 300, gamma: 0.6, scale: Double(pool))
        let c = heatPanel("(c) 随机初始化的 UNet（|梯度|）", heatRows(gUNet, rows: n, cols: n, pool: pool), width: 300, gamma: 0.4, scale: Double(pool))
        var row = Plot(width: 380, height: 320, title: "(d) 中心行的 |∂y/∂x|（相对最大值）", x: Axis("列", range: 0...Double(n - 1)), y: Axis(scale: .log, range: 1e-9...2))
        func centreRow(_ g: [Double]) -> [Double] {
            let r = (0..<n).map { Swift.abs(g[q * n + $0]) }
            let m = r.max()!
            return r.map { $0 / m }
        }
        let cols = (0..<n).map(Double.init)
        row.line(x: cols, y: centreRow(gStack), colour: 0, label: "(a)")
        row.line(x: cols, y: centreRow(gSkel), colour: 1, style: .dashed, label: "(b)")
        row.line(x: cols, y: centreRow(gUNet), colour: 2, label: "(c)")
        return ExperimentResult(svg: Figure([a, b, c, row], columns: 2).svg(title: "感受野：输出中心像素对输入的梯度"), numbers: numbers)
    }

    // MARK: Figure — upsampling: transposed convolutions against nearest + convolution (checkerboards)

    static let upsampling = BookExperiment(
        name: "ch2-upsample",
        summary: "ConvTranspose2d (k = 3 and 4, stride 2) and Upsample (nearest + 3×3 conv) applied to a constant 8×8 input: uneven overlap with equal weights, phase-dependent sums with random weights; checkerboard amplitudes over 16 channels.",
        defaults: ["seed": "0", "channels": "16"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let C = try p.int("channels", in: 1...256)
        let ones = Tensor.ones([1, 1, 8, 8])
        func equalWeights(_ k: Int) -> Tensor {
            let t = ConvTranspose2d(1, 1, kernelSize: k, stride: 2, padding: 1, outputPadding: k == 3 ? 1 : 0, bias: false)
            t.weight.value = .ones(t.weight.shape)
            return withNoGrad { t(ones) }
        }
        let (k3, k4) = (equalWeights(3), equalWeights(4))
        let (t4, up) = withParameterSeed(seed) {
            (ConvTranspose2d(1, 1, kernelSize: 4, stride: 2, padding: 1), Upsample(1))
        }
        let (r4, ru) = withNoGrad { (t4(ones), up(ones)) }
        /// Values of the interior (one pixel from the border) of a [1, c, 16, 16] output, per channel.
        func interior(_ t: Tensor, channel: Int) -> [Double] {
            let v = t.scalars
            let base = channel * 256
            return (1..<15).flatMap { i in (1..<15).map { j in Double(v[base + i * 16 + j]) } }
        }
        func normalised(_ t: Tensor) -> [[Double]] {
            let v = t.scalars.map(Double.init)
            let (lo, hi) = (v.min()!, v.max()!)
            return heatRows(v.map { hi > lo ? 0.08 + 0.92 * ($0 - lo) / (hi - lo) : 1 }, rows: 16, cols: 16)
        }
        let panels = [
            heatPanel("转置卷积 k=3，权重全 1", normalised(k3), width: 220),
            heatPanel("转置卷积 k=4，权重全 1", normalised(k4), width: 220),
            heatPanel("转置卷积 k=4，随机权重", normalised(r4), width: 220),
            heatPanel("最近邻 + 3×3 卷积（Upsample）", normalised(ru), width: 220),
        ]
        // Checkerboard amplitude with C channels in and out: for each output channel, (max − min)/2 over the interior
        // of the response to a constant input, relative to the RMS of the interior values; averaged over channels.
        let (tc3, tc4, uc) = withParameterSeed(seed &+ 1) {
            (ConvTranspose2d(C, C, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1), ConvTranspose2d(C, C, kernelSize: 4, stride: 2, padding: 1), Upsample(C))
        }
        let onesC = Tensor.ones([1, C, 8, 8])
        func amplitude(_ t: Tensor) -> Double {
            (0..<C).reduce(0.0) { acc, c in
                let v = interior(t, channel: c)
                let rms = (v.reduce(0) { $0 + $1 * $1 } / Double(v.count)).squareRoot()
                return acc + (v.max()! - v.min()!) / 2 / rms
            } / Double(C)
        }
        let (oc3, oc4, ouc) = withNoGrad { (tc3(onesC), tc4(onesC), uc(onesC)) }
        let i3 = interior(k3, channel: 0), i4 = interior(k4, channel: 0)
        return ExperimentResult(svg: Figure(panels, columns: 4).svg(title: "常数输入经过三种上采样：棋盘格从哪里来"), numbers: [
            "k3_min": i3.min()!, "k3_max": i3.max()!, "k4_min": i4.min()!, "k4_max": i4.max()!,
            "amp_k3": amplitude(oc3), "amp_k4": amplitude(oc4), "amp_upsample": amplitude(ouc),
            "amp_k4_single": (interior(r4, channel: 0).max()! - interior(r4, channel: 0).min()!) / 2,
            "amp_upsample_single": (interior(ru, channel: 0).max()! - interior(ru, channel: 0).min()!) / 2,
            "channels": Double(C),
        ])
    }

    // MARK: Figure — the cost of self-attention against a residual block as the resolution grows

    /// FLOPs (2 per multiply–add) of one 3×3 residual block C → C at N positions: two convolutions, 36·N·C².
    public static func resBlockFLOPs(positions N: Double, channels C: Double) -> Double { 36 * N * C * C }

    /// FLOPs of one self-attention layer at N positions: q, k, v and output projections 8·N·C², scores and the
    /// weighted sum 4·N²·C.
    public static func attentionFLOPs(positions N: Double, channels C: Double) -> Double { 8 * N * C * C + 4 * N * N * C }

    static let attention = BookExperiment(
        name: "ch2-attention",
        summary: "FLOPs of SpatialAttention against a ResBlock at C channels as the resolution grows (closed forms), and measured forward times of the library layers (machine-dependent).",
        defaults: ["channels": "128", "timedChannels": "64", "sizes": "4,8,16,24,32,48", "seed": "0"]
    ) { p in
        let C = Double(try p.int("channels", in: 1...4096))
        let Ct = try p.int("timedChannels", in: 8...512)
        let sizes = try p.ints("sizes")
        guard sizes.allSatisfy({ (1...128).contains($0) }) else { throw ExperimentError("sizes must lie in 1…128") }
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let hs = (2...128).map(Double.init)
        var flops = Plot(width: 400, height: 300, title: "每个样本的计算量（C = \(Int(C))）", x: Axis("分辨率 H（H × H 个位置，对数轴）", scale: .log, range: 2...128), y: Axis("FLOPs", scale: .log))
        flops.line(x: hs, y: hs.map { resBlockFLOPs(positions: $0 * $0, channels: C) }, colour: 0, label: "残差块 36NC²")
        flops.line(x: hs, y: hs.map { attentionFLOPs(positions: $0 * $0, channels: C) }, colour: 1, label: "自注意力 8NC² + 4N²C")
        flops.line(x: hs, y: hs.map { 4 * $0 * $0 * $0 * $0 * C }, colour: 1, style: .dotted, width: 1.2, label: "其中 4N²C")
        // Measured: median of three forward passes, batch 1, no autograd.
        let (block, attn) = withParameterSeed(seed) { (ResBlock(Ct, Ct, groups: 8), SpatialAttention(Ct, heads: 1, groups: 8)) }
        var tRes: [Double] = [], tAtt: [Double] = []
        for h in sizes {
            let x = Tensor.randomNormal([1, Ct, h, h], seed: seed, stream: UInt64(h))
            func time(_ f: () -> Tensor) -> Double {
                var ts: [Double] = []
                for _ in 0..<3 {
                    let t0 = Date()
                    _ = withNoGrad { f() }
                    ts.append(Date().timeIntervalSince(t0) * 1000)
                }
                return ts.sorted()[1]
            }
            tRes.append(time { block(x) })
            tAtt.append(time { attn(x) })
        }
        var timed = Plot(width: 400, height: 300, title: "库中两层的实测前向时间（C = \(Ct)，本机）", x: Axis("分辨率 H（对数轴）", scale: .log, range: 2...128), y: Axis("毫秒", scale: .log))
        timed.line(x: sizes.map(Double.init), y: tRes, colour: 0, label: "ResBlock")
        timed.line(x: sizes.map(Double.init), y: tAtt, colour: 1, label: "SpatialAttention")
        var numbers: [String: Double] = [
            "channels": C, "timed_channels": Double(Ct),
            "crossover_positions": 7 * C, "crossover_side": (7 * C).squareRoot(),
            "crossover_side_timed": (7 * Double(Ct)).squareRoot(),
            "scores_mib_64": 4096.0 * 4096 * 4 / 1_048_576, "scores_gib_256": 65536.0 * 65536 * 4 / 1_073_741_824,
        ]
        for h in [8, 16, 32, 64] {
            let N = Double(h * h)
            numbers["ratio_\(h)"] = attentionFLOPs(positions: N, channels: C) / resBlockFLOPs(positions: N, channels: C)
            numbers["quadratic_share_\(h)"] = 4 * N * N * C / attentionFLOPs(positions: N, channels: C)
        }
        for (h, (r, a)) in zip(sizes, zip(tRes, tAtt)) { numbers["ms_res_\(h)"] = r; numbers["ms_att_\(h)"] = a }
        return ExperimentResult(svg: Figure([flops, timed], columns: 2).svg(title: "自注意力与残差块的代价"), numbers: numbers)
    }

    // MARK: Numbers — parameters and multiply–accumulates by closed form against the library

    public static func convParams(_ i: Int, _ o: Int, _ k: Int) -> Int { o * i * k * k + o }
    public static func linearParams(_ i: Int, _ o: Int) -> Int { o * i + o }
    public static func resBlockParams(_ i: Int, _ o: Int, embedding e: Int?) -> Int {
        2 * i + convParams(i, o, 3) + (e.map { linearParams($0, o) } ?? 0) + 2 * o + convParams(o, o, 3) + (i == o ? 0 : convParams(i, o, 1))
    }
    public static func attentionParams(_ c: Int) -> Int { 2 * c + 4 * linearParams(c, c) }

    /// Parameters of `UNet(config)` (no cross-attention), walking the configuration like the constructor.
    public static func unetParams(_ cfg: UNetConfig) -> Int {
        let ch = cfg.channels, emb = 4 * ch
        var total = linearParams(ch, emb) + linearParams(emb, emb)                        // noise embedding MLP
        if cfg.classCount > 0 { total += (cfg.classCount + 1) * emb }
        total += convParams(cfg.inChannels, ch, 3)
        var skips = [ch], width = ch, res = cfg.imageSize
        for (i, m) in cfg.channelMultipliers.enumerated() {
            for _ in 0..<cfg.resBlocksPerLevel {
                total += resBlockParams(width, ch * m, embedding: emb)
                width = ch * m
                if cfg.attentionResolutions.contains(res) { total += attentionParams(width) }
                skips.append(width)
            }
            if i < cfg.channelMultipliers.count - 1 { total += convParams(width, width, 3); skips.append(width); res /= 2 }
        }
        total += 2 * resBlockParams(width, width, embedding: emb) + attentionParams(width)
        for (i, m) in cfg.channelMultipliers.enumerated().reversed() {
            for _ in 0...cfg.resBlocksPerLevel {
                total += resBlockParams(width + skips.removeLast(), ch * m, embedding: emb)
                width = ch * m
                if cfg.attentionResolutions.contains(res) { total += attentionParams(width) }
            }
            if i > 0 { total += convParams(width, width, 3); res *= 2 }
        }
        return total + 2 * width + convParams(width, cfg.outChannels, 3)
    }

    /// Multiply–accumulates of one `UNet(config)` forward pass for one sample (convolutions, linear maps and
    /// attention products; normalisations and activations left out).
    public static func unetMACs(_ cfg: UNetConfig) -> Double {
        let ch = cfg.channels, emb = 4 * ch
        func conv(_ i: Int, _ o: Int, _ k: Int, _ side: Int) -> Double { Double(k * k * i * o * side * side) }
        func block(_ i: Int, _ o: Int, _ side: Int) -> Double {
            conv(i, o, 3, side) + conv(o, o, 3, side) + Double(emb * o) + (i == o ? 0 : conv(i, o, 1, side))
        }
        func attn(_ c: Int, _ side: Int) -> Double { let n = Double(side * side); return 4 * n * Double(c * c) + 2 * n * n * Double(c) }
        var total = Double(ch * emb + emb * emb) + conv(cfg.inChannels, ch, 3, cfg.imageSize)
        var skips = [ch], width = ch, res = cfg.imageSize
        for (i, m) in cfg.channelMultipliers.enumerated() {
            for _ in 0..<cfg.resBlocksPerLevel {
                total += block(width, ch * m, res)
                width = ch * m
                if cfg.attentionResolutions.contains(res) { total += attn(width, res) }
                skips.append(width)
            }
            if i < cfg.channelMultipliers.count - 1 { total += conv(width, width, 3, res / 2); skips.append(width); res /= 2 }
        }
        total += 2 * block(width, width, res) + attn(width, res)
        for (i, m) in cfg.channelMultipliers.enumerated().reversed() {
            for _ in 0...cfg.resBlocksPerLevel {
                total += block(width + skips.removeLast(), ch * m, res)
                width = ch * m
                if cfg.attentionResolutions.contains(res) { total += attn(width, res) }
            }
            if i > 0 { res *= 2; total += conv(width, width, 3, res) }
        }
        return total + conv(width, cfg.outChannels, 3, res)
    }

    /// Parameters of `DiT(config)`: patch embedding, noise-embedding MLP (256 frequencies), class table, blocks
    /// (attention, MLP, adaLN-Zero modulation; LayerNorms without affine), final layer; learned positions if chosen.
    public static func ditParams(_ cfg: DiTConfig) -> Int {
        let (d, p) = (cfg.hiddenSize, cfg.patchSize)
        var total = d * cfg.inChannels * p * p + d + linearParams(256, d) + linearParams(d, d)
        if cfg.learnedPositions { total += cfg.tokens * d }
        if cfg.classCount > 0 { total += (cfg.classCount + 1) * d }
        let block = 4 * linearParams(d, d) + linearParams(d, cfg.mlpRatio * d) + linearParams(cfg.mlpRatio * d, d) + linearParams(d, 6 * d)
        return total + cfg.depth * block + linearParams(d, 2 * d) + linearParams(d, p * p * cfg.outChannels)
    }

    /// Multiply–accumulates of the DiT blocks for one sample: depth·(4ND² + 2N²D + 2·mlpRatio·ND²).
    public static func ditBlockMACs(_ cfg: DiTConfig) -> Double {
        let (n, d) = (Double(cfg.tokens), Double(cfg.hiddenSize))
        return Double(cfg.depth) * (4 * n * d * d + 2 * n * n * d + 2 * Double(cfg.mlpRatio) * n * d * d)
    }

    /// DDPM's CIFAR-10 network (Ho et al. 2020, appendix B) in our configuration.
    public static let ddpmCIFAR = UNetConfig(imageSize: 32, inChannels: 3, outChannels: 3, channels: 128, channelMultipliers: [1, 2, 2, 2],
                                             resBlocksPerLevel: 2, attentionResolutions: [16], heads: 1, groups: 32)
    /// DiT-S/2 on 32×32×4 latents with 1000 classes and a learned variance (8 output channels).
    public static let ditS2 = DiTConfig(imageSize: 32, inChannels: 4, outChannels: 8, patchSize: 2, hiddenSize: 384, depth: 12, heads: 6,
                                        mlpRatio: 4, classCount: 1000)

    static let counting = BookExperiment(
        name: "ch2-counting",
        summary: "Parameter counts by closed form against Module.parameterCount for the chapter's layers and models (default UNet, the digits UNet, DDPM's CIFAR-10 UNet, DiT and DiT-S/2), and multiply–accumulates.",
        defaults: ["seed": "0"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        var numbers: [String: Double] = [:]
        func record(_ name: String, _ formula: Int, _ module: Module) {
            numbers["\(name)_formula"] = Double(formula)
            numbers["\(name)_library"] = Double(module.parameterCount)
        }
        withParameterSeed(seed) {
            // DDPM's CIFAR-10 UNet by part: noise MLP, input conv, down path, middle, up path, output.
            let ddpm = UNet(ddpmCIFAR)
            numbers["ddpm_part_embedding"] = Double(ddpm.noiseEmbedding.parameterCount)
            numbers["ddpm_part_input"] = Double(ddpm.inputConv.parameterCount)
            numbers["ddpm_part_down"] = Double(ddpm.down.reduce(0) { $0 + $1.parameterCount })
            numbers["ddpm_part_middle"] = Double(ddpm.middle.reduce(0) { $0 + $1.parameterCount } + ddpm.middleAttention.parameterCount)
            numbers["ddpm_part_up"] = Double(ddpm.up.reduce(0) { $0 + $1.parameterCount })
            numbers["ddpm_part_output"] = Double(ddpm.outputNorm.parameterCount + ddpm.outputConv.parameterCount)
            let attn = ddpm.namedModules().compactMap { $0.1 as? SpatialAttention }
            numbers["ddpm_attention_layers"] = Double(attn.count)
            numbers["ddpm_attention_params"] = Double(attn.reduce(0) { $0 + $1.parameterCount })
            numbers["ddpm_resblocks"] = Double(ddpm.namedModules().filter { $0.1 is ResBlock }.count)
            record("conv", convParams(32, 64, 3), Conv2d(32, 64, kernelSize: 3, padding: 1))
            record("groupnorm", 2 * 64, GroupNorm(groups: 8, channels: 64))
            record("linear", linearParams(128, 64), Linear(128, 64))
            record("resblock_32_64", resBlockParams(32, 64, embedding: 128), ResBlock(32, 64, embeddingDim: 128))
            record("resblock_64_64", resBlockParams(64, 64, embedding: 256), ResBlock(64, 64, embeddingDim: 256))
            record("resblock_64_128", resBlockParams(64, 128, embedding: 256), ResBlock(64, 128, embeddingDim: 256))
            record("attention_64", attentionParams(64), SpatialAttention(64))
            record("noise_embedding", linearParams(32, 128) + linearParams(128, 128), NoiseEmbedding(frequencies: 32, outDim: 128))
            record("unet_default", unetParams(UNetConfig()), UNet(UNetConfig()))
            record("unet_digits", unetParams(digitsConfig(channels: 16)), UNet(digitsConfig(channels: 16)))
            record("unet_digits32", unetParams(digitsConfig(channels: 32)), UNet(digitsConfig(channels: 32)))
            record("unet_ddpm", unetParams(ddpmCIFAR), ddpm)
            record("dit_default", ditParams(DiTConfig()), DiT(DiTConfig()))
            record("dit_s2", ditParams(ditS2), DiT(ditS2))
        }
        numbers["macs_unet_default"] = unetMACs(UNetConfig())
        numbers["macs_unet_digits"] = unetMACs(digitsConfig(channels: 16))
        numbers["macs_unet_ddpm"] = unetMACs(ddpmCIFAR)
        numbers["macs_dit_s2_blocks"] = ditBlockMACs(ditS2)
        numbers["macs_dit_default_blocks"] = ditBlockMACs(DiTConfig())
        numbers["emb_dim_ddpm"] = Double(4 * ddpmCIFAR.channels)
        numbers["unet_ddpm_millions"] = numbers["unet_ddpm_library"]! / 1e6
        numbers["dit_s2_millions"] = numbers["dit_s2_library"]! / 1e6
        return ExperimentResult(numbers: numbers)
    }

    // MARK: Figure — initialisation: variance growth through residual blocks, zero-initialised outputs

    static let initialisation = BookExperiment(
        name: "ch2-init",
        summary: "Activation variance through a stack of ResBlocks with PyTorch's default init and with conv2 zeroed; the digits UNet's initial ε-loss and gradients with the default and a zero output convolution; DiT's output at initialisation.",
        defaults: ["seed": "0", "depth": "16", "channels": "32", "batch": "16", "trainSteps": "80"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let depth = try p.int("depth", in: 1...64)
        let C = try p.int("channels", in: 8...256)
        let B = try p.int("batch", in: 1...256)
        guard C % 8 == 0 else { throw ExperimentError("channels must be a multiple of 8") }
        // (1) Var(h_l) through `depth` ResBlocks at 8×8.
        let blocks = withParameterSeed(seed) { (0..<depth).map { _ in ResBlock(C, C, groups: 8) } }
        let x = Tensor.randomNormal([B, C, 8, 8], seed: seed, stream: 1)
        func variances() -> [Double] {
            var h = x
            var v = [Double(x.square().mean().item)]
            withNoGrad {
                for b in blocks { h = b(h); v.append(Double((h - h.mean()).square().mean().item)) }
            }
            return v
        }
        let vDefault = variances()
        let saved = blocks.map { ($0.conv2.weight.value, $0.conv2.bias!.value) }
        for b in blocks { b.conv2.weight.value = .zeros(b.conv2.weight.shape); b.conv2.bias!.value = .zeros(b.conv2.bias!.shape) }
        let vZero = variances()
        for (b, (w, bias)) in zip(blocks, saved) { b.conv2.weight.value = w; b.conv2.bias!.value = bias }
        let increments = zip(vDefault.dropFirst(), vDefault).map { $0 - $1 }
        let meanIncrement = increments.reduce(0, +) / Double(increments.count)
        let ls = (0...depth).map(Double.init)
        var growth = Plot(width: 420, height: 300, title: "残差流的方差 Var(h_l)", x: Axis("经过的残差块数 l", range: 0...Double(depth)), y: Axis("方差"))
        growth.line(x: ls, y: vDefault, colour: 0, label: "默认初始化（库）")
        growth.line(x: ls, y: ls.map { vDefault[0] + $0 * meanIncrement }, colour: 7, style: .dotted, label: "1 + l·v̄")
        growth.line(x: ls, y: vZero, colour: 1, style: .dashed, label: "conv2 置零")

        // (2) The digits UNet at initialisation: ε-loss per pixel with the default and a zero output convolution.
        let data = try Digits.load(size: 8)
        let x0 = data.images.indexSelect(axis: 0, indices: Array(0..<200))
        let process = DiscreteVP.linear()
        let unet = withParameterSeed(seed) { UNet(digitsConfig(channels: 16)) }
        let model = try NetworkModel(unet, process: process, output: .epsilon)
        // One batch of DDPM training inputs drawn explicitly: t uniform on 1…T, ε ~ N(0, I), x_t = α_t x₀ + σ_t ε.
        var rng = RandomGenerator(seed: seed &+ 3)
        let times = rng.integers([200], in: 0..<process.T).scalars.map { (Double($0) + 1) / Double(process.T) }
        let levels = LevelBatch(process: process, times: times)
        let eps = rng.normal(x0.shape)
        let xt = levels.noisy(x0: x0, epsilon: eps)
        /// ε-loss per pixel, the gradient norms of the output convolution and of every other parameter, and the
        /// standard deviation of the network's output.
        func lossAndGrads() -> (loss: Double, inner: Double, output: Double, outStd: Double) {
            unet.zeroGrad()
            let out = model.predict(.epsilon, xt, at: levels, labels: nil)
            let l = (out - eps).square().mean()
            l.backward()
            var inner = 0.0, output = 0.0
            for (name, prm) in unet.namedParameters() {
                let g2 = prm.grad.map { Double($0.square().sum().item) } ?? 0
                if name.hasPrefix("outputConv.") { output += g2 } else { inner += g2 }
            }
            let o = out.detached()
            return (Double(l.item), inner.squareRoot(), output.squareRoot(), Double((o - o.mean()).square().mean().item).squareRoot())
        }
        let d0 = lossAndGrads()
        unet.outputConv.weight.value = .zeros(unet.outputConv.weight.shape)
        unet.outputConv.bias!.value = .zeros(unet.outputConv.bias!.shape)
        let z0 = lossAndGrads()
        let meanSquare = Double(eps.square().mean().item)
        // (3) DiT at initialisation outputs exactly zero (adaLN-Zero).
        let dit = withParameterSeed(seed) { DiT(DiTConfig(imageSize: 8, patchSize: 2, hiddenSize: 64, depth: 2, heads: 2)) }
        let ditOut = withNoGrad { dit(x0.indexSelect(axis: 0, indices: Array(0..<16)), Tensor.full([16], 300)) }
        let ditMax = ditOut.scalars.map { Swift.abs(Double($0)) }.max()!

        // (4) The first training steps from the three initialisations (same batches, noise and learning rate).
        let trainSteps = try p.int("trainSteps", in: 1...10_000)
        var curves = Plot(width: 420, height: 300, title: "前 \(trainSteps) 步的训练损失（每像素）", x: Axis("训练步数", range: 0...Double(trainSteps)), y: Axis("ε 损失", scale: .log, range: 0.1...1.5))
        var finals: [Double] = [], firsts: [Double] = []
        for (k, (label, mode)) in [("默认初始化", 0), ("输出卷积置零", 1), ("ADM：各分支末层与输出置零", 2)].enumerated() {
            let net = withParameterSeed(seed) { UNet(digitsConfig(channels: 16)) }
            if mode > 0 { zeroInitialise(net, branches: mode == 2) }
            var ls: [Double] = []
            try trainDigits(net, on: data, steps: trainSteps, batch: 32, schedule: ConstantLR(2e-3), seed: seed &+ 11) { _, l in ls.append(l) }
            let w = 10
            let smooth = ls.indices.map { i in ls[Swift.max(0, i - w + 1)...i].reduce(0, +) / Double(i - Swift.max(0, i - w + 1) + 1) }
            curves.line(x: (1...trainSteps).map(Double.init), y: smooth, colour: k, style: k == 2 ? .dashed : .solid, label: label)
            firsts.append(ls[0])
            finals.append(ls.suffix(20).reduce(0, +) / Double(Swift.min(20, ls.count)))
        }
        return ExperimentResult(svg: Figure([growth, curves], columns: 2).svg(title: "初始化：残差流的方差与零初始化的输出层"), numbers: [
            "depth": Double(depth), "channels": Double(C),
            "var_default_last": vDefault.last!, "var_zero_last": vZero.last!, "var_input": vDefault[0],
            "mean_increment": meanIncrement, "min_increment": increments.min()!, "max_increment": increments.max()!,
            "zero_max_deviation": vZero.map { Swift.abs($0 - vZero[0]) }.max()!,
            "loss_default": d0.loss, "loss_zero": z0.loss, "eps_mean_square": meanSquare,
            "out_std_default": d0.outStd, "out_std_zero": z0.outStd,
            "grad_inner_default": d0.inner, "grad_output_default": d0.output,
            "grad_inner_zero": z0.inner, "grad_output_zero": z0.output,
            "dit_max_output": ditMax, "dit_params": Double(dit.parameterCount),
            "train_steps": Double(trainSteps),
            "first_default": firsts[0], "first_zero_output": firsts[1], "first_adm": firsts[2],
            "last_default": finals[0], "last_zero_output": finals[1], "last_adm": finals[2],
        ])
    }

    // MARK: Figure — ViT basics: patchify a digit, 2-D sine–cosine positions

    static let vit = BookExperiment(
        name: "ch2-vit",
        summary: "Patchify as a p×p stride-p convolution (DiT.embed) against an explicit linear map on flattened patches; unpatchify round trip; the kernel of the 2-D sine–cosine positions (sinusoidalPositions2D); token counts and attention cost against patch size.",
        defaults: ["seed": "0", "patch": "4", "grid": "8", "dim": "64", "ref": "2,5"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let patch = try p.int("patch", in: 1...16)
        let grid = try p.int("grid", in: 2...64)
        let dim = try p.int("dim", in: 4...1024)
        let ref = try p.ints("ref")
        guard dim % 4 == 0, 16 % patch == 0, ref.count == 2, ref.allSatisfy({ (0..<grid).contains($0) }) else {
            throw ExperimentError("need dim divisible by 4, a patch size dividing 16 and ref=row,col inside the grid")
        }
        // (a) A 16×16 digit and its patches.
        let digit = try Digits.load(size: 16).images.indexSelect(axis: 0, indices: [0])       // [1, 1, 16, 16]
        let dv = digit.scalars.map { Swift.min(1, Swift.max(0, (Double($0) + 1) / 2)) }
        var a = heatPanel("(a) 16×16 的数字，切成 \(patch)×\(patch) 的图块", heatRows(dv, rows: 16, cols: 16), width: 250)
        for k in stride(from: patch, to: 16, by: patch) {
            a.line(x: [Double(k), Double(k)], y: [0, 16], colour: 1, width: 1.5)
            a.line(x: [0, 16], y: [Double(k), Double(k)], colour: 1, width: 1.5)
        }
        // Patchify = a linear map on each flattened patch: compare DiT.embed (without positions) with W·patch + b.
        let cfg = DiTConfig(imageSize: 16, inChannels: 1, outChannels: 1, patchSize: patch, hiddenSize: 32, depth: 1, heads: 2, learnedPositions: true)
        let dit = withParameterSeed(seed) { DiT(cfg) }
        dit.positions!.value = .zeros(dit.positions!.shape)
        let tokens = withNoGrad { dit.embed(digit) }.scalars                                   // [1, T, 32]
        let W = dit.patchEmbedding.weight.value.scalars, bias = dit.patchEmbedding.bias!.value.scalars
        let g = 16 / patch
        var maxDiff = 0.0
        for r in 0..<g {
            for c in 0..<g {
                for o in 0..<32 {
                    var acc = Double(bias[o])
                    for i in 0..<patch { for j in 0..<patch { acc += Double(W[o * patch * patch + i * patch + j]) * Double(digit.scalars[(r * patch + i) * 16 + c * patch + j]) } }
                    maxDiff = Swift.max(maxDiff, Swift.abs(acc - Double(tokens[(r * g + c) * 32 + o])))
                }
            }
        }
        // Unpatchify inverts the patch layout (row, column, channel within a patch).
        var patches = [Float](repeating: 0, count: 256)
        for r in 0..<g { for c in 0..<g { for i in 0..<patch { for j in 0..<patch {
            patches[(r * g + c) * patch * patch + i * patch + j] = digit.scalars[(r * patch + i) * 16 + c * patch + j]
        } } } }
        let back = dit.unpatchify(Tensor(patches, shape: [1, g * g, patch * patch])).scalars
        let roundTrip = zip(back, digit.scalars).map { Swift.abs(Double($0 - $1)) }.max()!

        // (b) ⟨P(ref), P(r, c)⟩/(dim/2) over the grid.
        let pos = sinusoidalPositions2D(gridSize: grid, dim: dim).scalars
        let r0 = ref[0] * grid + ref[1]
        var sims = [Double](repeating: 0, count: grid * grid)
        for k in 0..<(grid * grid) { sims[k] = (0..<dim).reduce(0.0) { $0 + Double(pos[r0 * dim + $1]) * Double(pos[k * dim + $1]) } / Double(dim / 2) }
        let lo = sims.min()!
        let b = heatPanel("(b) 位置嵌入与图块 (\(ref[0]), \(ref[1])) 的内积", heatRows(sims.map { $0 - lo + 0.02 }, rows: grid, cols: grid), width: 250)
        // (c) Tokens and the quadratic attention term against the patch size for a 32×32 input.
        var c = Plot(width: 360, height: 290, title: "(c) 32×32 输入：图块大小与代价", x: Axis("图块边长 p（对数轴）", scale: .log, range: 1...16), y: Axis(scale: .log))
        let ps = [1.0, 2, 4, 8, 16]
        c.line(x: ps, y: ps.map { (32 / $0) * (32 / $0) }, colour: 0, label: "token 数 N = (32/p)²")
        c.line(x: ps, y: ps.map { Foundation.pow((32 / $0) * (32 / $0), 2) }, colour: 1, style: .dashed, label: "注意力矩阵 N²")
        // 1-D profile of the positional kernel along a row, and its closed form (1/2)(1 + k₁(Δ)) per axis.
        func k1(_ delta: Int) -> Double {
            let q = dim / 4
            return (0..<q).reduce(0.0) { $0 + Foundation.cos(Double(delta) * Foundation.pow(10000, -Double($1) / Double(q))) } / Double(q)
        }
        var numbers: [String: Double] = [
            "patch": Double(patch), "tokens": Double(g * g), "patch_dim": Double(patch * patch),
            "patchify_max_diff": maxDiff, "unpatchify_max_diff": roundTrip,
            "grid": Double(grid), "dim": Double(dim),
            "self_similarity": sims[r0], "min_similarity": lo,
        ]
        for d in [1, 2, 3, 4] {
            numbers["sim_row_\(d)"] = ref[1] + d < grid ? sims[ref[0] * grid + ref[1] + d] : .nan
            numbers["sim_formula_\(d)"] = 0.5 * (1 + k1(d))
        }
        numbers = numbers.filter { $0.value.isFinite }
        return ExperimentResult(svg: Figure([a, b, c], columns: 3).svg(title: "ViT 的两块基石：图块化与二维位置嵌入"), numbers: numbers)
    }

    // MARK: Figure — a tiny UNet trained on 8×8 digits, with an EMA of its weights

    static let train = BookExperiment(
        name: "ch2-train",
        summary: "A UNet (two levels, attention at 4×4) trained with the ε-loss on the 8×8 digits (linear DiscreteVP, Adam, EMA): training loss, held-out loss of the raw and EMA weights, DDIM samples.",
        defaults: ["seed": "0", "steps": "400", "batch": "32", "lr": "0.002", "channels": "16", "halfLife": "40", "samples": "36", "sampler": "ddpm", "sampleSteps": "100"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let steps = try p.int("steps", in: 1...100_000)
        let B = try p.int("batch", in: 2...4096)
        let lr = try p.double("lr")
        let channels = try p.int("channels", in: 8...256)
        let halfLife = try p.double("halfLife")
        let nSamples = try p.int("samples", in: 1...400)
        let sampleSteps = try p.int("sampleSteps", in: 1...1000)
        let sampler = p.string("sampler")
        guard ["ddpm", "ddim"].contains(sampler) else { throw ExperimentError("sampler=\(sampler): use ddpm or ddim") }
        guard channels % 8 == 0 else { throw ExperimentError("channels=\(channels) must be a multiple of 8 (GroupNorm with 8 groups)") }

        let (trainSet, testSet) = try Digits.load(size: 8).split(testCount: 200, seed: 7)
        let process = DiscreteVP.linear()
        let unet = withParameterSeed(seed) { UNet(digitsConfig(channels: channels)) }
        let model = try NetworkModel(unet, process: process, output: .epsilon)
        let loss = DenoisingLoss.ddpm(process)
        let ema = EMA(unet, halfLife: halfLife, warmup: .ratio)

        /// The held-out ε-loss per pixel with fixed levels and noise (the same draw at every evaluation).
        func heldOut() -> Double {
            withNoGrad {
                var rng = RandomGenerator(seed: seed &+ 99)
                return Double(loss(model, testSet.images, labels: nil, rng: &rng).mean().item) / 64
            }
        }
        var trainLoss: [Double] = []
        var evalSteps: [Double] = [], evalRaw: [Double] = [], evalEMA: [Double] = []
        let every = Swift.max(1, steps / 12)
        let schedule = CosineLR(peak: lr, totalSteps: steps, warmupSteps: Swift.min(50, steps / 10))
        try trainDigits(unet, on: trainSet, steps: steps, batch: B, schedule: schedule, seed: seed &+ 1) { step, l in
            ema.update()
            trainLoss.append(l)
            if (step + 1) % every == 0 || step == steps - 1 {
                evalSteps.append(Double(step + 1))
                evalRaw.append(heldOut())
                evalEMA.append(ema.withAveragedParameters { heldOut() })
            }
        }
        // Samples from the EMA weights (trailing spacing: the first step is at t = T).
        let sigmas = Schedule.discrete(steps: sampleSteps, process: process, spacing: .trailing)
        let noise = NoiseSource(seed: seed &+ 5)
        let start = noise.prior([nSamples, 1, 8, 8], sigma: sigmas[0])
        let samples = ema.withAveragedParameters {
            withNoGrad { sampler == "ddpm" ? Sampling.ddpm(model, start, sigmas: sigmas, noise: noise) : Sampling.ddim(model, start, sigmas: sigmas) }
        }
        let sv = samples.scalars
        // Each sample's distance to its nearest training image (memorisation check), in pixel RMS.
        let tv = trainSet.images.scalars
        var nearest = 0.0
        for i in 0..<nSamples {
            var best = Double.infinity
            for j in 0..<trainSet.count {
                var d = 0.0
                for k in 0..<64 { let e = Double(sv[i * 64 + k] - tv[j * 64 + k]); d += e * e }
                best = Swift.min(best, d)
            }
            nearest += (best / 64).squareRoot() / Double(nSamples)
        }
        // Typical distance between a held-out digit and its nearest training digit, for comparison.
        let hv = testSet.images.scalars
        var nearestReal = 0.0
        let nReal = Swift.min(nSamples, testSet.count)
        for i in 0..<nReal {
            var best = Double.infinity
            for j in 0..<trainSet.count {
                var d = 0.0
                for k in 0..<64 { let e = Double(hv[i * 64 + k] - tv[j * 64 + k]); d += e * e }
                best = Swift.min(best, d)
            }
            nearestReal += (best / 64).squareRoot() / Double(nReal)
        }

        // The trained network's effective receptive field at several noise levels: for 16 held-out digits noised to step
        // n, the gradient of the ε̂ output at pixel (3, 3) with respect to x_t; its |·|-weighted RMS distance from (3, 3).
        var erf: [String: Double] = [:]
        let probe = testSet.images.indexSelect(axis: 0, indices: Array(0..<16))
        for n in [20, 200, 500, 900] {
            let lv = Chapter1.level(process, n)
            let noise = Tensor.randomNormal(probe.shape, seed: seed &+ 7, stream: UInt64(n))
            let xt = (probe * Float(lv.alpha) + noise * Float(lv.sigma)).detached().requiringGrad()
            let out = ema.withAveragedParameters { unet(xt, Tensor.full([16], Float(n))) }
            var seedGrad = [Float](repeating: 0, count: 16 * 64)
            for b in 0..<16 { seedGrad[b * 64 + 3 * 8 + 3] = 1 }
            out.backward(Tensor(seedGrad, shape: out.shape))
            let gEps = xt.grad!.scalars.map(Double.init)
            // The implied x̂₀ = (x_t − σ ε̂)/α has gradient (e_q − σ ∂ε̂_q/∂x_t)/α.
            let gX0 = gEps.indices.map { k in ((k % 64 == 27 ? 1 : 0) - lv.sigma * gEps[k]) / lv.alpha }
            /// |·|-weighted RMS distance from (3, 3) and the share of |·| within one pixel of it, averaged over the probes.
            func spread(_ g: [Double]) -> (rms: Double, local: Double) {
                var (rms, local) = (0.0, 0.0)
                for b in 0..<16 {
                    var total = 0.0, m2 = 0.0, near = 0.0
                    for k in 0..<64 {
                        let v = Swift.abs(g[b * 64 + k])
                        let (i, j) = (k / 8 - 3, k % 8 - 3)
                        total += v
                        m2 += v * Double(i * i + j * j)
                        if Swift.abs(i) <= 1 && Swift.abs(j) <= 1 { near += v }
                    }
                    rms += (m2 / total).squareRoot() / 16
                    local += near / total / 16
                }
                return (rms, local)
            }
            let (e, x) = (spread(gEps), spread(gX0))
            erf["erf_eps_rms_\(n)"] = e.rms
            erf["erf_eps_local_\(n)"] = e.local
            erf["erf_x0_rms_\(n)"] = x.rms
            erf["erf_x0_local_\(n)"] = x.local
        }
        unet.zeroGrad()

        // Figure: loss curves, samples, real digits.
        let window = Swift.max(1, steps / 30)
        let smooth = trainLoss.indices.map { i -> Double in
            let lo = Swift.max(0, i - window + 1)
            return trainLoss[lo...i].reduce(0, +) / Double(i - lo + 1)
        }
        var curves = Plot(width: 340, height: 330, title: "ε 损失（每像素）", x: Axis("训练步数", range: 0...Double(steps)), y: Axis(scale: .log, range: 0.08...1.5))
        curves.line(x: (1...steps).map(Double.init), y: smooth, colour: 7, width: 1.2, label: "训练（滑动平均）")
        curves.line(x: evalSteps, y: evalRaw, colour: 0, label: "留出集：原始权重")
        curves.line(x: evalSteps, y: evalEMA, colour: 1, style: .dashed, label: "留出集：EMA 权重")
        let cols = Int(Double(nSamples).squareRoot().rounded(.up))
        func gridPlot(_ title: String, _ values: [Float], _ n: Int) -> Plot {
            let g = imageGrid(values, count: n, size: 8, columns: cols)
            var pl = Plot(width: 300, height: 330, title: title, x: Axis(range: 0...Double(g[0].count)), y: Axis(range: 0...Double(g.count)), equalAspect: true)
            pl.grid = false
            pl.showLegend = false
            pl.heatmap(g, xRange: 0...Double(g[0].count), yRange: 0...Double(g.count))
            return pl
        }
        let real = testSet.images.scalars
        let panels = [curves, gridPlot("生成的样本（EMA，\(sampler.uppercased()) \(sampleSteps) 步）", sv, nSamples), gridPlot("真实数字（留出集）", Array(real.prefix(nSamples * 64)), Swift.min(nSamples, testSet.count))]
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "在 8×8 数字上训练一个小 U-Net"), numbers: [
            "steps": Double(steps), "batch": Double(B), "lr": lr, "halfLife": halfLife,
            "params": Double(unet.parameterCount), "train_count": Double(trainSet.count), "test_count": Double(testSet.count),
            "train_first": trainLoss[0],
            "train_last": trainLoss.suffix(50).reduce(0, +) / Double(Swift.min(50, steps)),
            "heldout_raw": evalRaw.last!, "heldout_ema": evalEMA.last!,
            "heldout_raw_mid": evalRaw[evalRaw.count / 2], "heldout_ema_mid": evalEMA[evalEMA.count / 2],
            "ema_decay": ema.targetDecay, "eval_every": Double(every),
            "nearest_sample": nearest, "nearest_real": nearestReal,
            "sample_mean": Double(samples.mean().item), "data_mean": Double(trainSet.images.mean().item),
        ].merging(erf) { a, _ in a })
    }
}
