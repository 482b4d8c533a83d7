import Diffusion
import DiffusionData
import DiffusionEngine
import DiffusionLayers
import DiffusionModels
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 2 (book/ch02-architectures.md): every computed answer is recomputed here independently of the experiment
/// code (kernels and quadrature in Double, receptive fields by forward propagation of support masks, transposed
/// convolutions written out, parameter formulas written again), the claims the text makes about the figures are
/// checked on the numbers the library produced, the chapter's listings run, the chapter has the structure
/// BOOK-STYLE.md asks for, and its page renders cleanly.
@Suite("Chapter 2: computed answers, claims about the figures, listings, structure, rendered page")
struct Chapter2Tests: ExperimentChecks {
    static let source = Fixtures.realBook.appendingPathComponent("ch02-architectures.md")

    // The experiments with training runs, computed once for all tests.
    static let trainResult = Result { try run("ch2-train") }
    static let initResult = Result { try run("ch2-init") }

    // MARK: Noise-level embeddings

    @Test func embeddingKernelsMatchTheirClosedForms() throws {
        let n = try Self.run("ch2-embedding")
        let (h, P, s) = (n["half"]!, n["maxPeriod"]!, n["scale"]!)
        let freqs = (0..<Int(h)).map { pow(P, -Double($0) / h) }
        func kernel(_ d: Double) -> Double { freqs.reduce(0) { $0 + cos($1 * d) } / h }
        // ∫₀¹ cos(Δ·P^{−u}) du by the midpoint rule (the continuum of @thm:arch-kernel's average).
        func continuum(_ d: Double) -> Double {
            let m = 200_000
            return (0..<m).reduce(0.0) { $0 + cos(d * pow(P, -(Double($1) + 0.5) / Double(m))) } / Double(m)
        }
        let gammaE = 0.5772156649015329
        for d in [1.0, 10, 100, 1000] {
            let tag = String(Int(d))
            #expect(Self.close(n["k_sin_\(tag)"], kernel(d), rel: 1e-12), "k(\(d))")
            #expect(Self.close(n["k_cont_\(tag)"], continuum(d), abs: 1e-6), "continuum at \(d): \(n["k_cont_\(tag)"]!) vs \(continuum(d))")
            #expect(Self.close(n["k_log_\(tag)"], 1 - (log(d) + gammaE) / log(P), rel: 1e-12))
        }
        // The log approximation is good in 1 ≪ Δ ≪ P (the text quotes it at 10, 100, 1000).
        for d in [10.0, 100, 1000] { #expect(Swift.abs(continuum(d) - (1 - (log(d) + gammaE) / log(P))) < 0.02) }
        // Half-widths: bisection on the Double kernel; formulas √P·e^{−γ} and √(ln2/2)/(πs).
        func halfWidth(_ k: (Double) -> Double, _ lo: Double, _ hi: Double) -> Double {
            var (a, b) = (log(lo), log(hi))
            for _ in 0..<80 { let m = (a + b) / 2; if k(exp(m)) > 0.5 { a = m } else { b = m } }
            return exp((a + b) / 2)
        }
        #expect(Self.close(n["half_width_sin"], halfWidth(kernel, 1e-3, P), rel: 1e-6))
        #expect(Self.close(n["half_width_sin_formula"], P.squareRoot() * exp(-gammaE), rel: 1e-12))
        #expect(Self.close(n["half_width_cont"], halfWidth(continuum, 1e-3, P), rel: 1e-4))
        #expect(Self.close(n["half_width_rff_formula"], (log(2.0) / 2).squareRoot() / (Double.pi * s), rel: 1e-12))
        // The text: the library's kernel is the Float32 embedding, within 1e-3 of the Double sum; 64 random
        // frequencies put the RFF half-width within 10 % of the Gaussian kernel's.
        #expect(n["max_library_error"]! < 1e-3)
        #expect(Swift.abs(n["half_width_rff"]! / n["half_width_rff_formula"]! - 1) < 0.1)
        #expect(Swift.abs(n["half_width_sin"]! / n["half_width_sin_formula"]! - 1) < 0.1)
        // c_noise ranges over σ ∈ [0.002, 80]: EDM ¼ ln σ, VE ln(σ/2), VP 999·t(σ) with σ(t)² = exp(½β_d t² + β_min t) − 1.
        func tVP(_ σ: Double) -> Double { ((0.01 + 2 * 19.9 * log(1 + σ * σ)).squareRoot() - 0.1) / 19.9 }
        let ranges: [(String, Double, Double)] = [("ddpm", 0, 999), ("vp", 999 * tVP(0.002), 999 * tVP(80)),
                                                  ("ve", log(0.001), log(40)), ("edm", 0.25 * log(0.002), 0.25 * log(80))]
        for (name, lo, hi) in ranges {
            #expect(Self.close(n["c_lo_\(name)"], lo, rel: 1e-9, abs: 1e-12) && Self.close(n["c_hi_\(name)"], hi, rel: 1e-9))
            #expect(n["slow_\(name)"] == Double(freqs.filter { $0 * (hi - lo) < Double.pi }.count), "slow channels for \(name)")
        }
        #expect(n["slow_edm"] == h, "the text: every channel turns less than half a period under EDM's c_noise")
    }

    // MARK: Receptive fields

    /// The skeleton of a UNet with `levels` levels and `blocks` blocks per level, written out again.
    enum Layer { case conv(Int, Int, Int), up }
    static func skeleton(levels L: Int, blocks: Int) -> [Layer] {
        var s: [Layer] = [.conv(3, 1, 1)]
        for l in 0..<L {
            for _ in 0..<(2 * blocks) { s.append(.conv(3, 1, 1)) }
            if l < L - 1 { s.append(.conv(3, 2, 1)) }
        }
        for _ in 0..<4 { s.append(.conv(3, 1, 1)) }
        for l in (0..<L).reversed() {
            for _ in 0..<(2 * blocks + 2) { s.append(.conv(3, 1, 1)) }
            if l > 0 { s += [.up, .conv(3, 1, 1)] }
        }
        s.append(.conv(3, 1, 1))
        return s
    }

    /// Forward propagation of dependency sets in 1-D: which inputs each output depends on (sets of input indices).
    static func receptiveWidth(_ layers: [Layer], size n: Int) -> Int {
        var deps: [Set<Int>] = (0..<n).map { [$0] }
        for l in layers {
            switch l {
            case let .conv(k, s, p):
                let m = (deps.count + 2 * p - k) / s + 1
                deps = (0..<m).map { o in
                    var u = Set<Int>()
                    for t in 0..<k { let i = s * o - p + t; if i >= 0 && i < deps.count { u.formUnion(deps[i]) } }
                    return u
                }
            case .up:
                deps = (0..<(2 * deps.count)).map { deps[$0 / 2] }
            }
        }
        let d = deps[deps.count / 2]
        return d.max()! - d.min()! + 1
    }

    @Test func receptiveFieldsMatchIndependentPropagation() throws {
        let n = try Self.run("ch2-receptive")
        let (size, L) = (Int(n["size"]!), Int(n["depth"]!))
        #expect(n["stack_width"] == Double(2 * L + 1) && n["stack_height"] == Double(2 * L + 1) && n["stack_theory"] == Double(2 * L + 1))
        // The L-fold convolution of the 3-point box has variance 2L/3 per axis: compute it by convolving in Double.
        var p = [1.0]
        for _ in 0..<L {
            var q = [Double](repeating: 0, count: p.count + 2)
            for (i, v) in p.enumerated() { for t in 0..<3 { q[i + t] += v / 3 } }
            p = q
        }
        let c = Double(p.count - 1) / 2
        let variance = p.enumerated().reduce(0.0) { $0 + $1.element * (Double($1.offset) - c) * (Double($1.offset) - c) }
        #expect(Self.close(n["stack_std"], variance.squareRoot(), rel: 1e-6))
        #expect(Self.close(n["stack_std_theory"], (2 * Double(L) / 3).squareRoot(), rel: 1e-12))
        // The UNet skeleton: measured support = interval arithmetic = forward propagation of dependency sets.
        let levels = Int(n["levels"]!)
        let w = Self.receptiveWidth(Self.skeleton(levels: levels, blocks: 1), size: size)
        #expect(n["skeleton_width"] == Double(w) && n["skeleton_height"] == Double(w) && n["skeleton_theory"] == Double(w))
        for l in 1...5 {
            #expect(n["rf_levels_\(l)"] == Double(Self.receptiveWidth(Self.skeleton(levels: l, blocks: 1), size: 2048)), "levels \(l)")
            #expect(n["rf2_levels_\(l)"] == Double(Self.receptiveWidth(Self.skeleton(levels: l, blocks: 2), size: 2048)), "levels \(l), 2 blocks")
        }
        // @ex:arch-rf: the field roughly doubles per level.
        for l in 2...5 { #expect(n["rf_levels_\(l)"]! > 1.9 * n["rf_levels_\(l - 1)"]!) }
        // @fig:arch-receptive (c): GroupNorm and attention reach every pixel, yet almost all the mass is inside the conv field.
        #expect(n["unet_nonzero_fraction"] == 1 && n["unet_mass_inside"]! > 0.95)
    }

    // MARK: Upsampling

    @Test func transposedConvolutionsProduceTheDerivedCheckerboards() throws {
        let n = try Self.run("ch2-upsample")
        /// The interior of a 2× transposed convolution (stride 2, padding 1) of an 8×8 constant with all-one weights.
        func equalWeights(_ k: Int) -> [Double] {
            let out = 16
            var y = [Double](repeating: 0, count: out * out)
            for oi in 0..<out { for oj in 0..<out { for i in 0..<8 { for j in 0..<8 {
                let (ti, tj) = (oi + 1 - 2 * i, oj + 1 - 2 * j)
                if (0..<k).contains(ti) && (0..<k).contains(tj) { y[oi * out + oj] += 1 }
            } } } }
            return (1..<15).flatMap { i in (1..<15).map { y[i * out + $0] } }
        }
        let (k3, k4) = (equalWeights(3), equalWeights(4))
        #expect(n["k3_min"] == k3.min()! && n["k3_max"] == k3.max()! && Set(k3) == [1, 2, 4])
        #expect(n["k4_min"] == 4 && n["k4_max"] == 4 && Set(k4) == [4])
        // Random weights: transposed convolutions show a checkerboard, nearest + conv does not.
        #expect(n["amp_k3"]! > 0.3 && n["amp_k4"]! > 0.3 && n["amp_upsample"] == 0 && n["amp_upsample_single"] == 0)
    }

    // MARK: Attention cost

    @Test func attentionCostsFollowTheClosedForm() throws {
        let n = try Self.run("ch2-attention")
        let C = n["channels"]!
        #expect(n["crossover_positions"] == 7 * C)
        for h in [8.0, 16, 32, 64] {
            let N = h * h
            #expect(Self.close(n["ratio_\(Int(h))"], (2 * C + N) / (9 * C), rel: 1e-12))
            #expect(Self.close(n["quadratic_share_\(Int(h))"], N / (2 * C + N), rel: 1e-12))
        }
        #expect(n["scores_mib_64"] == 64 && n["scores_gib_256"] == 16)
    }

    // MARK: Parameter counts

    @Test func parameterCountsAgreeWithFormulasWrittenAgain() throws {
        let n = try Self.run("ch2-counting")
        for key in n.keys where key.hasSuffix("_formula") {
            let base = String(key.dropLast("_formula".count))
            #expect(n[key] == n["\(base)_library"], "\(base): formula \(n[key]!) vs library \(n["\(base)_library"] ?? -1)")
        }
        func conv(_ i: Int, _ o: Int, _ k: Int) -> Double { Double(o * i * k * k + o) }
        func resBlock(_ i: Int, _ o: Int, _ e: Int) -> Double {
            Double(2 * i) + conv(i, o, 3) + Double(e * o + o) + Double(2 * o) + conv(o, o, 3) + (i == o ? 0 : conv(i, o, 1))
        }
        #expect(n["conv_library"] == conv(32, 64, 3))
        #expect(n["resblock_64_128_library"] == 263_040 && n["resblock_64_128_library"] == resBlock(64, 128, 256))
        #expect(n["resblock_32_64_library"] == resBlock(32, 64, 128) && n["resblock_64_64_library"] == resBlock(64, 64, 256))
        #expect(n["attention_64_library"] == Double(2 * 64 + 4 * (64 * 64 + 64)))
        #expect(n["noise_embedding_library"] == Double(32 * 128 + 128 + 128 * 128 + 128))
        // DDPM reports 35.7M parameters for its CIFAR-10 network.
        #expect(Swift.abs(n["unet_ddpm_library"]! - 35.7e6) < 0.05e6)
        let parts = ["embedding", "input", "down", "middle", "up", "output"].map { n["ddpm_part_\($0)"]! }
        #expect(parts.reduce(0, +) == n["unet_ddpm_library"], "the parts add up")
        #expect(n["ddpm_part_up"]! / n["unet_ddpm_library"]! > 0.6, "the text: the up path holds more than 60 %")
        #expect(n["ddpm_resblocks"] == 22 && n["ddpm_attention_layers"] == 6)
        // DiT-S/2 (D = 384, p = 2, 4 → 8 channels, 12 blocks, 1000 classes): 18D² + 15D per block.
        let D = 384.0
        let dit = (D * 4 * 4 + D) + (256 * D + D + D * D + D) + 1001 * D + 12 * (18 * D * D + 15 * D) + (2 * D * D + 2 * D) + (D * 32 + 32)
        #expect(n["dit_s2_library"] == dit)
        #expect(n["macs_dit_s2_blocks"] == 12 * (12 * 256 * D * D + 2 * 256 * 256 * D))
    }

    // MARK: Initialisation

    @Test func zeroInitialisationBehavesAsDerived() throws {
        let n = try Self.initResult.get()
        // @eq:arch-zero-grad: with a zero output convolution every other gradient is exactly zero; its own is not.
        #expect(n["grad_inner_zero"] == 0 && n["grad_output_zero"]! > 0.1 && n["grad_inner_default"]! > 0.1)
        #expect(n["out_std_zero"] == 0 && Self.close(n["loss_zero"], n["eps_mean_square"]!, rel: 1e-6))
        #expect(n["loss_default"]! > n["loss_zero"]! && n["out_std_default"]! > 0.05)
        // Identity blocks keep the variance exactly; default blocks add a roughly constant amount each (linear growth).
        #expect(n["zero_max_deviation"] == 0 && n["var_zero_last"] == n["var_input"])
        let v = n["mean_increment"]!
        #expect(v > 0.02 && n["min_increment"]! > 0.5 * v && n["max_increment"]! < 1.6 * v)
        #expect(n["var_default_last"]! > 2)
        #expect(n["dit_max_output"] == 0)
        // @fig:arch-init (right) as the text describes it: zero-initialised runs start at the loss of predicting 0 and end
        // below the default run after 80 steps.
        #expect(Swift.abs(n["first_zero_output"]! - 1) < 0.05 && n["first_zero_output"] == n["first_adm"])
        #expect(n["last_zero_output"]! < n["last_default"]! && n["last_adm"]! < n["last_default"]!)
    }

    // MARK: Training on digits

    @Test func trainingRunSupportsTheText() throws {
        let n = try Self.trainResult.get()
        #expect(Self.close(n["ema_decay"], pow(0.5, 1 / 40.0), rel: 1e-12))
        #expect(n["train_first"]! > 0.9 && n["train_last"]! < 0.2 && n["heldout_raw"]! < 0.15)
        // The text: EMA helps mid-run and costs a little once the cosine learning rate has reached zero.
        #expect(n["heldout_ema_mid"]! < n["heldout_raw_mid"]! && n["heldout_raw"]! < n["heldout_ema"]!)
        #expect(n["nearest_sample"]! < 2 * n["nearest_real"]! && n["nearest_sample"]! > n["nearest_real"]!)
        // @ex:arch-erf-trained: x̂₀'s field widens with the noise level, ε̂'s narrows.
        let steps = [20, 200, 500, 900]
        for (a, b) in zip(steps, steps.dropFirst()) {
            #expect(n["erf_x0_rms_\(a)"]! < n["erf_x0_rms_\(b)"]! && n["erf_x0_local_\(a)"]! > n["erf_x0_local_\(b)"]!)
        }
        #expect(n["erf_eps_local_20"]! < n["erf_eps_local_900"]!)
        #expect(n["params"] == Double(Chapter2.unetParams(Chapter2.digitsConfig(channels: 16))))
    }

    // MARK: ViT

    @Test func patchifyAndPositionsMatchTheirDefinitions() throws {
        let n = try Self.run("ch2-vit")
        #expect(n["patchify_max_diff"]! < 1e-5 && n["unpatchify_max_diff"] == 0)
        #expect(n["tokens"] == 16 && n["patch_dim"] == 16)
        // @eq:arch-positions-kernel along a row: ½(1 + k₁(Δ)), k₁ the mean of cos(ω_k Δ) over D/4 frequencies 10⁴^{−k/(D/4)}.
        let q = Int(n["dim"]!) / 4
        for d in [1, 2] {
            let k1 = (0..<q).reduce(0.0) { $0 + cos(Double(d) * pow(10000, -Double($1) / Double(q))) } / Double(q)
            #expect(Self.close(n["sim_row_\(d)"], 0.5 * (1 + k1), abs: 1e-6))
            #expect(Self.close(n["sim_formula_\(d)"], 0.5 * (1 + k1), rel: 1e-12))
        }
        #expect(Self.close(n["self_similarity"], 1, abs: 1e-6))
    }

    // MARK: The chapter's listings

    /// @ex:arch-adagn's AdaGN block, as printed in the answer.
    final class AdaGNResBlock: Module {
        let norm1: GroupNorm, conv1: Conv2d
        let norm2: GroupNorm, modulation: Linear, conv2: Conv2d
        let skip: Conv2d?

        init(_ i: Int, _ o: Int, embeddingDim e: Int, groups: Int = 8) {
            norm1 = GroupNorm(groups: groups, channels: i)
            conv1 = Conv2d(i, o, kernelSize: 3, padding: 1)
            norm2 = GroupNorm(groups: groups, channels: o, affine: false)
            modulation = Linear(e, 2 * o)
            modulation.weight.value = .zeros(modulation.weight.shape)
            modulation.bias!.value = .zeros(modulation.bias!.shape)
            conv2 = Conv2d(o, o, kernelSize: 3, padding: 1)
            skip = i == o ? nil : Conv2d(i, o, kernelSize: 1)
            super.init()
        }

        func callAsFunction(_ x: Tensor, _ emb: Tensor) -> Tensor {
            let h = conv1(norm1(x).silu())
            let m = modulation(emb.silu()).chunk(2, axis: -1)
            let scale = m[0].reshaped(m[0].shape + [1, 1])
            let shift = m[1].reshaped(m[1].shape + [1, 1])
            let g = norm2(h) * (scale + 1) + shift
            return (skip.map { $0(x) } ?? x) + conv2(g.silu())
        }
    }

    @Test func theChaptersListingsRun() throws {
        // @sec:arch-io: a UNet call.
        let net = withParameterSeed(0) { UNet(UNetConfig()) }
        let out = withNoGrad { net(Tensor.randomNormal([8, 1, 16, 16], seed: 1), Tensor.full([8], 500)) }
        #expect(out.shape == [8, 1, 16, 16] && out.scalars.allSatisfy(\.isFinite))
        // @prop:arch-additive: GroupNorm with one channel per group erases an additive per-channel term.
        let C = 8
        let gn = GroupNorm(groups: C, channels: C)
        let h = Tensor.randomNormal([2, C, 4, 4], seed: 3)
        let u = Tensor.randomNormal([C], seed: 4)
        let diff = withNoGrad { (gn(h) - gn(h + u.reshaped([1, C, 1, 1]))).abs().max().item }
        #expect(diff < 1e-4)
        // With 8 channels in 2 groups a per-group constant is erased, a within-group difference is not.
        let gn2 = GroupNorm(groups: 2, channels: C)
        let groupConstant = Tensor([1, 1, 1, 1, -3, -3, -3, -3]).reshaped([1, C, 1, 1])
        let withinGroup = Tensor([1, -1, 0, 0, 0, 0, 0, 0]).reshaped([1, C, 1, 1])
        #expect(withNoGrad { (gn2(h) - gn2(h + groupConstant)).abs().max().item } < 1e-4)
        #expect(withNoGrad { (gn2(h) - gn2(h + withinGroup)).abs().max().item } > 0.1)
        // @ex:arch-adagn: the AdaGN block equals an unconditioned ResBlock at initialisation.
        let (plain, ada) = withParameterSeed(5) { (ResBlock(8, 16, groups: 4), AdaGNResBlock(8, 16, embeddingDim: 12, groups: 4)) }
        ada.conv1.weight.copy(from: plain.conv1.weight.value); ada.conv1.bias!.copy(from: plain.conv1.bias!.value)
        ada.conv2.weight.copy(from: plain.conv2.weight.value); ada.conv2.bias!.copy(from: plain.conv2.bias!.value)
        ada.skip!.weight.copy(from: plain.skip!.weight.value); ada.skip!.bias!.copy(from: plain.skip!.bias!.value)
        let x = Tensor.randomNormal([2, 8, 6, 6], seed: 6)
        let emb = Tensor.randomNormal([2, 12], seed: 7)
        let gap = withNoGrad { (plain(x) - ada(x, emb)).abs().max().item }
        #expect(gap < 1e-5)
        // @sec:arch-train: the training listing, a few steps.
        let data = try Digits.load(size: 8).split(testCount: 200, seed: 7).train
        let unet = withParameterSeed(0) { UNet(Chapter2.digitsConfig(channels: 16)) }
        let model = try NetworkModel(unet, process: DiscreteVP.linear(), output: .epsilon)
        let loss = DenoisingLoss.ddpm(DiscreteVP.linear())
        let optimizer = Adam(unet.trainableParameters(), lr: 2e-3)
        let ema = EMA(unet, halfLife: 40, warmup: .ratio)
        let schedule = CosineLR(peak: 2e-3, totalSteps: 400, warmupSteps: 40)
        var rng = RandomGenerator(seed: 1)
        var losses: [Float] = []
        for step in 0..<3 {
            let idx = rng.integers([32], in: 0..<data.count).scalars.map { Int($0) }
            let x0 = data.batch(idx).images
            let l = loss(model, x0, labels: nil, rng: &rng).mean() / 64
            optimizer.zeroGrad()
            l.backward()
            optimizer.learningRate = schedule.lr(at: step)
            optimizer.step()
            ema.update()
            losses.append(l.item)
        }
        #expect(losses.allSatisfy { $0.isFinite && $0 > 0.3 && $0 < 3 })
        // The receptive-field listing on a small conv stack.
        let conv = Conv2d(1, 1, kernelSize: 3, padding: 1, bias: false)
        conv.weight.value = .full([1, 1, 3, 3], 1.0 / 9)
        let n = 9
        let xi = Tensor.zeros([1, 1, n, n]).requiringGrad()
        let y = conv(conv(xi))
        var seed = [Float](repeating: 0, count: n * n)
        seed[(n / 2) * n + n / 2] = 1
        y.backward(Tensor(seed, shape: y.shape))
        #expect(xi.grad!.scalars.filter { $0 != 0 }.count == 25)
    }

    // MARK: Structure of the source

    static let style = ChapterStyle(number: "2", file: "ch02-architectures.md", experiments: Chapter2.experiments, programmingNames: ["```swift"])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws {
        try Self.style.checkSource()
        // Code listings stay narrow enough not to scroll at 1280 px (CJK characters count twice).
        var inFence = false
        for line in try String(contentsOf: Self.source, encoding: .utf8).components(separatedBy: "\n") {
            if line.hasPrefix("```") { inFence.toggle(); continue }
            guard inFence else { continue }
            let width = line.unicodeScalars.reduce(0) { $0 + ($1.value >= 0x2E80 && $1.value <= 0xFFEF ? 2 : 1) }
            #expect(width <= 80, "a code line is too wide: \(line)")
        }
    }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws {
        try Self.style.checkPage()
        let figures = SiteChecker.sections(Fixtures.page(try Fixtures.real(), "ch02.html"), open: "<figure class=\"figure\"", close: "</figure>")
        #expect(figures.count >= 7)
    }
}
