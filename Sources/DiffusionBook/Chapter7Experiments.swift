import Diffusion
import DiffusionData
import DiffusionEngine
import DiffusionLayers
import DiffusionModels
import DiffusionPlot
import Foundation

/// The experiments of chapter 7 (book/ch07-dit.md): every figure and every number the chapter quotes.
///
/// Conventions: images are [B, C, H, W]; "MACs" are multiply–accumulates per sample and forward pass (what the DiT
/// paper calls Gflops); training compute is 3 × forward MACs × batch × steps. Training runs are tiny (8×8 digits,
/// widths 16–64, a few hundred steps) so that the debug build runs each experiment in seconds.
public enum Chapter7 {
    public static let experiments: [BookExperiment] = [receptive, zeroInit, conditioning, compute, scaling, unetVsDiT]

    // MARK: Closed forms

    /// Forward MACs of a DiT for one sample in closed form (N tokens, width D, depth L, MLP ratio r, patch p):
    /// patchify N·D·C·p², noise MLP 256·D + D², per block (4 + 2r)·N·D² + 2·N²·D plus the design's conditioning cost,
    /// output head N·D·p²·C_out (+ 2D² for the adaLN final modulation). The class lookup costs nothing.
    public static func ditMACs(_ cfg: DiTConfig, conditioning: DiTConditioning = .adaLNZero) -> Double {
        let (n, d, l, r) = (Double(cfg.tokens), Double(cfg.hiddenSize), Double(cfg.depth), Double(cfg.mlpRatio))
        let pp = Double(cfg.patchSize * cfg.patchSize)
        let k = cfg.classCount > 0 ? 2.0 : 1.0
        let embed = n * d * Double(cfg.inChannels) * pp + 256 * d + d * d
        let head = n * d * pp * Double(cfg.outChannels)
        func core(_ m: Double) -> Double { (4 + 2 * r) * m * d * d + 2 * m * m * d }
        switch conditioning {
        case .adaLNZero: return embed + l * (core(n) + 6 * d * d) + 2 * d * d + head
        case .adaLN: return embed + l * (core(n) + 4 * d * d) + 2 * d * d + head
        case .inContext: return embed + l * core(n + k) + head
        case .crossAttention: return embed + l * (core(n) + 2 * n * d * d + 2 * k * d * d + 2 * n * k * d) + head
        }
    }

    /// Forward MACs of the library's `DiT` read off its modules: each linear map's weight count times the rows it is
    /// applied to (N tokens, or one conditioning vector), 2·N²·D per attention (scores and weighted values), the patch
    /// convolution's weight count per token. `depth` counts the first block that many times (blocks are identical),
    /// so a one-block model stands for a deep one without allocating it.
    public static func countedMACs(_ dit: DiT, depth: Int? = nil) -> Double {
        let n = Double(dit.config.tokens)
        func lin(_ l: Linear, _ rows: Double) -> Double { Double(l.weight.count) * rows }
        var shell = Double(dit.patchEmbedding.weight.count) * n
        shell += lin(dit.noiseEmbedding.linear1, 1) + lin(dit.noiseEmbedding.linear2, 1)
        shell += lin(dit.finalLayer.modulation, 1) + lin(dit.finalLayer.linear, n)
        func block(_ b: DiTBlock) -> Double {
            let a = b.attention
            var m = [a.qProj, a.kProj, a.vProj, a.outProj].reduce(0) { $0 + lin($1, n) } + 2 * n * n * Double(a.dim)
            m += b.mlp.namedModules().compactMap { $0.1 as? Linear }.reduce(0) { $0 + lin($1, n) }
            return m + lin(b.modulation, 1)
        }
        if let depth { return shell + Double(depth) * block(dit.blocks[0]) }
        return shell + dit.blocks.reduce(0) { $0 + block($1) }
    }

    /// The DiT family of Peebles & Xie (Table 1): name, depth, width, heads; on 32×32×4 latents with 1000 classes and a
    /// learned variance (8 output channels).
    public static let ditFamily: [(name: String, depth: Int, width: Int, heads: Int)] = [
        ("S", 12, 384, 6), ("B", 12, 768, 12), ("L", 24, 1024, 16), ("XL", 28, 1152, 16),
    ]

    public static func latentConfig(depth: Int, width: Int, heads: Int, patch: Int) -> DiTConfig {
        DiTConfig(imageSize: 32, inChannels: 4, outChannels: 8, patchSize: patch, hiddenSize: width, depth: depth, heads: heads, classCount: 1000)
    }

    /// Least-squares line y = a + b·x; returns (a, b, R²).
    public static func fitLine(_ x: [Double], _ y: [Double]) -> (a: Double, b: Double, r2: Double) {
        let n = Double(x.count)
        let (mx, my) = (x.reduce(0, +) / n, y.reduce(0, +) / n)
        var (sxy, sxx, syy) = (0.0, 0.0, 0.0)
        for (u, v) in zip(x, y) { sxy += (u - mx) * (v - my); sxx += (u - mx) * (u - mx); syy += (v - my) * (v - my) }
        let b = sxy / sxx
        return (my - b * mx, b, sxy * sxy / (sxx * syy))
    }

    /// Indices of the compute frontier: points whose loss is below that of every point with less compute.
    public static func frontier(compute: [Double], loss: [Double]) -> [Int] {
        var best = Double.infinity
        var out: [Int] = []
        for i in compute.indices.sorted(by: { compute[$0] < compute[$1] }) where loss[i] < best {
            best = loss[i]
            out.append(i)
        }
        return out
    }

    // MARK: Shared training and evaluation

    /// The 8×8 digits split as in chapter 2 (200 held out).
    static func digits() throws -> (train: ImageDataset, test: ImageDataset) {
        let s = try Digits.load(size: 8).split(testCount: 200, seed: 7)
        return (s.train, s.test)
    }

    /// Held-out ε-loss per pixel of `net` at fixed levels and noise (stream `seed`), with the given labels.
    static func heldOut(_ net: some NoiseConditionalNetwork, _ test: ImageDataset, labels: Tensor?, seed: UInt64) throws -> Double {
        let model = try NetworkModel(net, process: DiscreteVP.linear(), output: .epsilon)
        return withNoGrad {
            var rng = RandomGenerator(seed: seed)
            let pixels = Float(test.images.count / test.count)
            return Double((DenoisingLoss.ddpm()(model, test.images, labels: labels, rng: &rng).mean() / pixels).item)
        }
    }

    /// Held-out ε-loss per pixel at training step n of the linear process (c = n), for each n.
    static func heldOutByStep(_ net: some NoiseConditionalNetwork, _ test: ImageDataset, steps: [Int], seed: UInt64) -> [Double] {
        withNoGrad {
            steps.map { n in
                let lv = Chapter1.level(DiscreteVP.linear(), n)
                let eps = Tensor.randomNormal(test.images.shape, seed: seed, stream: UInt64(n))
                let xt = test.images * Float(lv.alpha) + eps * Float(lv.sigma)
                let out = net(xt, Tensor.full([test.count], Float(n)), labels: nil)
                return Double(((out - eps) * (out - eps)).mean().item)
            }
        }
    }

    /// Trains `net` with the ε-loss (linear DiscreteVP), Adam and a warm-up + cosine rate on random batches;
    /// `labels` trains class-conditionally. Calls `evaluate(step)` every `every` steps and after the last.
    static func train(_ net: some NoiseConditionalNetwork, on data: ImageDataset, steps: Int, batch: Int, lr: Double, labels: Bool,
                      seed: UInt64, every: Int, evaluate: (Int) throws -> Void) throws {
        let model = try NetworkModel(net, process: DiscreteVP.linear(), output: .epsilon)
        let loss = DenoisingLoss.ddpm()
        let optimizer = Adam(net.trainableParameters(), lr: lr)
        let schedule = CosineLR(peak: lr, totalSteps: steps, warmupSteps: Swift.min(20, steps / 10))
        let pixels = Float(data.images.count / data.count)
        var rng = RandomGenerator(seed: seed)
        for step in 0..<steps {
            let idx = rng.integers([batch], in: 0..<data.count).scalars.map { Int($0) }
            let b = data.batch(idx)
            let l = loss(model, b.images, labels: labels ? b.labels : nil, rng: &rng).mean() / pixels
            optimizer.zeroGrad()
            l.backward()
            optimizer.learningRate = schedule.lr(at: step)
            optimizer.step()
            if (step + 1) % every == 0 || step == steps - 1 { try evaluate(step + 1) }
        }
    }

    static func curvePlot(_ title: String, x: Axis, y: Axis, width: Double = 340) -> Plot {
        Plot(width: width, height: 320, title: title, x: x, y: y)
    }
}

// MARK: Figure — the receptive field after one layer: convolutions vs a transformer block

extension Chapter7 {
    /// |∂ out(q) / ∂ x| for output pixel q = (row, row) of f on one 16×16 input.
    static func pixelGradient(_ f: (Tensor) -> Tensor, size n: Int, pixel q: Int, seed: UInt64) -> [Double] {
        let x = Tensor.randomNormal([1, 1, n, n], seed: seed).requiringGrad()
        let out = f(x)
        var s = [Float](repeating: 0, count: n * n)
        s[q * n + q] = 1
        out.backward(Tensor(s, shape: out.shape))
        return x.grad!.scalars.map { Swift.abs(Double($0)) }
    }

    static let receptive = BookExperiment(
        name: "ch7-receptive",
        summary: "Gradient of one output pixel with respect to a 16×16 input: two 3×3 convolutions (a ResBlock without GroupNorm), a DiT block with only its MLP branch open, and a full DiT block (gates opened to 1).",
        defaults: ["seed": "0", "size": "16", "patch": "2", "width": "32"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let n = try p.int("size", in: 8...32), patch = try p.int("patch", in: 1...4), width = try p.int("width", in: 8...128)
        guard n % patch == 0, width % 4 == 0 else { throw ExperimentError("patch must divide size and width must be a multiple of 4") }
        let q = n / 2
        let (conv1, conv2) = withParameterSeed(seed) { (Conv2d(1, 8, kernelSize: 3, padding: 1), Conv2d(8, 1, kernelSize: 3, padding: 1)) }
        let gConv = pixelGradient({ conv2(conv1($0).silu()) }, size: n, pixel: q, seed: seed &+ 1)
        let dit = withParameterSeed(seed) { DiT(DiTConfig(imageSize: n, patchSize: patch, hiddenSize: width, depth: 1, heads: 4)) }
        // Open the gates (gate bias 1, everything else of the modulation 0) and give the output head random weights.
        let d = width, block = dit.blocks[0]
        func gates(attention: Float, mlp: Float) {
            var b = [Float](repeating: 0, count: 6 * d)
            for j in 0..<d { b[2 * d + j] = attention; b[5 * d + j] = mlp }
            block.modulation.bias!.value = Tensor(b, shape: [6 * d])
        }
        dit.finalLayer.linear.weight.value = Tensor.randomNormal(dit.finalLayer.linear.weight.shape, seed: seed &+ 2) * 0.1
        let c = Tensor([500])
        gates(attention: 0, mlp: 1)
        let gMLP = pixelGradient({ dit($0, c) }, size: n, pixel: q, seed: seed &+ 1)
        gates(attention: 1, mlp: 1)
        let gFull = pixelGradient({ dit($0, c) }, size: n, pixel: q, seed: seed &+ 1)
        func support(_ g: [Double]) -> Double { Double(g.filter { $0 > 0 }.count) }
        // Share of the gradient mass outside the output pixel's own patch.
        let ownRows = (q / patch * patch)..<(q / patch * patch + patch)
        var (inside, total) = (0.0, 0.0)
        for k in 0..<(n * n) {
            total += gFull[k]
            if ownRows.contains(k / n) && ownRows.contains(k % n) { inside += gFull[k] }
        }
        func panel(_ title: String, _ g: [Double]) -> Plot {
            let m = g.max()!
            return Chapter2.heatPanel(title, Chapter2.heatRows(g.map { $0 / m }, rows: n, cols: n), width: 230, gamma: 0.35)
        }
        let svg = Figure([panel("两层 3×3 卷积", gConv), panel("DiT 块：只开 MLP 分支", gMLP), panel("DiT 块：注意力 + MLP", gFull)], columns: 3)
            .svg(title: "输出像素 (\(q), \(q)) 对输入的梯度 |∂out/∂x|（γ = 0.35 的灰度）")
        return ExperimentResult(svg: svg, numbers: [
            "size": Double(n), "pixel": Double(q), "patch": Double(patch), "tokens": Double((n / patch) * (n / patch)),
            "support_conv": support(gConv), "support_mlp": support(gMLP), "support_full": support(gFull),
            "outside_share": 1 - inside / total, "conv_layers_to_cover": Double(Swift.max(q, n - 1 - q)),
            // Mean gradient per pixel inside the own patch over the mean per pixel outside it.
            "inside_outside_ratio": (inside / Double(patch * patch)) / ((total - inside) / Double(n * n - patch * patch)),
        ])
    }
}

// MARK: Numbers — adaLN-Zero at initialisation: identity blocks, which parameters the first steps reach

extension Chapter7 {
    /// The parameter groups of a DiT whose gradient norms the chapter tabulates.
    public static let gradientGroups = ["patch", "noise", "class", "attention", "mlp", "shiftScale", "gate", "finalModulation", "finalLinear"]

    /// Gradient norm per group (`gradientGroups`) of a DiT after a backward pass; the modulation rows are split into
    /// the gates (rows 2D…3D−1 and 5D…6D−1) and the shifts and scales.
    static func groupNorms(_ dit: DiT) -> [String: Double] {
        let d = dit.config.hiddenSize
        var sq = [String: Double](uniqueKeysWithValues: gradientGroups.map { ($0, 0.0) })
        for (name, p) in dit.namedParameters() {
            guard let g = p.grad?.scalars else { continue }
            let group: String
            if name.hasPrefix("patchEmbedding") { group = "patch" }
            else if name.hasPrefix("noiseEmbedding") { group = "noise" }
            else if name.hasPrefix("classEmbedding") { group = "class" }
            else if name.hasPrefix("finalLayer.modulation") { group = "finalModulation" }
            else if name.hasPrefix("finalLayer.linear") { group = "finalLinear" }
            else if name.contains(".attention.") { group = "attention" }
            else if name.contains(".mlp.") { group = "mlp" }
            else if name.contains(".modulation.") {
                let cols = name.hasSuffix("weight") ? d : 1
                for (k, v) in g.enumerated() {
                    let row = k / cols
                    let isGate = (2 * d..<3 * d).contains(row) || (5 * d..<6 * d).contains(row)
                    sq[isGate ? "gate" : "shiftScale"]! += Double(v) * Double(v)
                }
                continue
            } else { continue }
            sq[group]! += g.reduce(0) { $0 + Double($1) * Double($1) }
        }
        return sq.mapValues { $0.squareRoot() }
    }

    static let zeroInit = BookExperiment(
        name: "ch7-zero",
        summary: "adaLN-Zero at initialisation: each design's block against the identity; a class-conditional DiT's gradient norms by parameter group in its first three Adam steps on digits; the gate gradient of one block against its closed form.",
        defaults: ["seed": "0", "width": "32", "depth": "2", "batch": "32", "lr": "0.001"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let d = try p.int("width", in: 8...256), depth = try p.int("depth", in: 1...8), B = try p.int("batch", in: 2...512)
        let lr = try p.double("lr")
        guard d % 4 == 0 else { throw ExperimentError("width=\(d) must be a multiple of 4") }
        var numbers: [String: Double] = [:]
        // (1) Each design's block on random tokens: relative change ‖block(x) − x‖/‖x‖ at initialisation.
        var g = RandomGenerator(seed: seed &+ 1)
        let x = g.normal([4, 16, d]), c = g.normal([4, d]), ctx = g.normal([4, 2, d])
        func rel(_ y: Tensor) -> Double { Double(((y - x) * (y - x)).sum().item / (x * x).sum().item).squareRoot() }
        withParameterSeed(seed) {
            numbers["identity_adaLNZero"] = rel(DiTBlock(hiddenSize: d, heads: 4, mlpRatio: 4)(x, c))
            numbers["identity_adaLN"] = rel(DiTAdaLNBlock(hiddenSize: d, heads: 4, mlpRatio: 4)(x, c))
            numbers["identity_inContext"] = rel(DiTPlainBlock(hiddenSize: d, heads: 4, mlpRatio: 4, crossAttention: false)(x))
            numbers["identity_crossAttention"] = rel(DiTPlainBlock(hiddenSize: d, heads: 4, mlpRatio: 4, crossAttention: true)(x, context: ctx))
        }
        // (2) One block's gate gradient for the loss ⟨G, block(x, c)⟩ against Σ_tokens G ⊙ F(LN(x)).
        let block = withParameterSeed(seed) { DiTBlock(hiddenSize: d, heads: 4, mlpRatio: 4) }
        let G = g.normal(x.shape)
        (block(x, c) * G).sum().backward()
        let fa = withNoGrad { (block.attention(block.norm1(x)) * G).sum(axis: 1).sum(axis: 0).scalars }
        let gb = block.modulation.bias!.grad!.scalars
        numbers["gate_closed_form_max_diff"] = (0..<d).map { Swift.abs(Double(gb[2 * d + $0] - fa[$0])) }.max()!
        numbers["gate_grad_norm"] = (0..<d).reduce(0) { $0 + Double(gb[2 * d + $1] * gb[2 * d + $1]) }.squareRoot()
        numbers["block_other_grad_norm"] = block.namedParameters().filter { !$0.0.hasPrefix("modulation") }
            .reduce(0.0) { t, e in t + e.1.grad!.scalars.reduce(0) { $0 + Double($1) * Double($1) } }.squareRoot()
        // (3) A class-conditional DiT on digits: gradient norms per group at Adam steps 1, 2, 3.
        let (trainSet, _) = try digits()
        let dit = withParameterSeed(seed) { DiT(DiTConfig(imageSize: 8, patchSize: 2, hiddenSize: d, depth: depth, heads: 4, classCount: 10)) }
        let model = try NetworkModel(dit, process: DiscreteVP.linear(), output: .epsilon)
        let optimizer = Adam(dit.trainableParameters(), lr: lr)
        var rng = RandomGenerator(seed: seed &+ 3)
        for step in 1...3 {
            let b = trainSet.batch(rng.integers([B], in: 0..<trainSet.count).scalars.map { Int($0) })
            let l = DenoisingLoss.ddpm()(model, b.images, labels: b.labels, rng: &rng).mean() / 64
            optimizer.zeroGrad()
            l.backward()
            for (k, v) in groupNorms(dit) { numbers["grad_\(k)_\(step)"] = v }
            optimizer.step()
        }
        numbers["params"] = Double(dit.parameterCount)
        numbers["width"] = Double(d)
        numbers["depth"] = Double(depth)
        return ExperimentResult(numbers: numbers)
    }
}

// MARK: Figure — the four conditioning designs trained on digits

extension Chapter7 {
    static let designNames: [DiTConditioning: String] = [.inContext: "上下文 token", .crossAttention: "交叉注意力", .adaLN: "adaLN", .adaLNZero: "adaLN-Zero"]

    static let conditioning = BookExperiment(
        name: "ch7-conditioning",
        summary: "The four conditioning designs of Peebles & Xie (DiTVariant: in-context, cross-attention, adaLN, adaLN-Zero) trained class-conditionally on 8×8 digits with the same steps: held-out ε-loss curves, the loss with shuffled labels, parameters and MACs.",
        defaults: ["seed": "0", "steps": "240", "batch": "32", "lr": "0.002", "width": "32", "depth": "2"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let steps = try p.int("steps", in: 8...100_000), B = try p.int("batch", in: 2...512), lr = try p.double("lr")
        let d = try p.int("width", in: 8...256), depth = try p.int("depth", in: 1...12)
        guard d % 4 == 0 else { throw ExperimentError("width=\(d) must be a multiple of 4") }
        let (trainSet, testSet) = try digits()
        let cfg = DiTConfig(imageSize: 8, patchSize: 2, hiddenSize: d, depth: depth, heads: 4, classCount: 10)
        // Labels shuffled by a fixed derangement-like rotation: every held-out image gets another digit's label.
        let testLabels = Tensor(testSet.labels.map { Float($0) }, shape: [testSet.count])
        let shuffled = Tensor(testSet.labels.map { Float(($0 + 1 + Int(seed % 9)) % 10) }, shape: [testSet.count])
        let every = Swift.max(1, steps / 8)
        var numbers: [String: Double] = ["steps": Double(steps), "batch": Double(B), "lr": lr, "width": Double(d), "depth": Double(depth)]
        var curves = curvePlot("留出集 ε 损失（每像素，真实标签）", x: Axis("训练步数", range: 0...Double(steps)), y: Axis(scale: .log, range: 0.1...0.6))
        var curvesByDesign: [DiTConditioning: [Double]] = [:]
        var gapPlot = curvePlot("打乱标签使损失增加多少", x: Axis("训练步数", range: 0...Double(steps)), y: Axis("损失之差"))
        for (k, mode) in DiTConditioning.allCases.enumerated() {
            let net = withParameterSeed(seed) { DiTVariant(cfg, conditioning: mode) }
            var xs: [Double] = [], ys: [Double] = [], gaps: [Double] = []
            try train(net, on: trainSet, steps: steps, batch: B, lr: lr, labels: true, seed: seed &+ 1, every: every) { step in
                xs.append(Double(step))
                ys.append(try heldOut(net, testSet, labels: testLabels, seed: seed &+ 99))
                gaps.append(try heldOut(net, testSet, labels: shuffled, seed: seed &+ 99) - ys.last!)
            }
            let name = mode.rawValue
            numbers["heldout_\(name)"] = ys.last!
            numbers["heldout_mid_\(name)"] = ys[ys.count / 2]
            curvesByDesign[mode] = ys
            numbers["label_gap_\(name)"] = gaps.last!
            numbers["label_gap_max_\(name)"] = gaps.max()!
            numbers["shuffled_\(name)"] = ys.last! + gaps.last!
            numbers["params_\(name)"] = Double(net.parameterCount)
            numbers["macs_\(name)"] = ditMACs(cfg, conditioning: mode)
            numbers["macs_ratio_\(name)"] = ditMACs(cfg, conditioning: mode) / ditMACs(cfg)
            curves.line(x: xs, y: ys, colour: k, style: mode == .adaLNZero ? .solid : .dashed, label: designNames[mode]!)
            gapPlot.line(x: xs, y: gaps, colour: k, style: mode == .adaLNZero ? .solid : .dashed, label: designNames[mode]!)
        }
        // The largest margin, over the evaluations, of the worse adaLN design over the better token design (< 0: the
        // adaLN curves stay below the token curves throughout).
        numbers["ada_minus_token_max"] = curvesByDesign[.adaLN]!.indices.map { i in
            Swift.max(curvesByDesign[.adaLN]![i], curvesByDesign[.adaLNZero]![i]) - Swift.min(curvesByDesign[.inContext]![i], curvesByDesign[.crossAttention]![i])
        }.max()!
        numbers["evaluations"] = Double(curvesByDesign[.adaLN]!.count)
        gapPlot.showLegend = false
        let svg = Figure([curves, gapPlot], columns: 2).svg(title: "四种条件注入方式：同样的宽度、深度与步数（8×8 数字，10 类）")
        return ExperimentResult(svg: svg, numbers: numbers)
    }
}

// MARK: Figure — compute: Gflops against patch size, width and depth

extension Chapter7 {
    static let compute = BookExperiment(
        name: "ch7-compute",
        summary: "Forward MACs (the DiT paper's Gflops) of DiT-S/B/L/XL on 32×32×4 latents at patch sizes 2, 4, 8: closed form against the count read off the library's DiT modules; the conditioning designs' overheads; the quadratic attention share.",
        defaults: ["seed": "0"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        var numbers: [String: Double] = [:]
        var gflops = Plot(width: 340, height: 320, title: "前向 Gflops（32×32×4 潜变量）", x: Axis("token 数 N（p = 8、4、2）", scale: .log, range: 10...1000), y: Axis("Gflops", scale: .log, range: 0.1...1000))
        for (k, m) in ditFamily.enumerated() {
            var ys: [Double] = []
            for patch in [2, 4, 8] {
                let cfg = latentConfig(depth: m.depth, width: m.width, heads: m.heads, patch: patch)
                let closed = ditMACs(cfg) / 1e9
                // Count off a one-block model (blocks are identical), so XL's 28 blocks need not be allocated.
                var one = cfg
                one.depth = 1
                let counted = withParameterSeed(seed) { countedMACs(DiT(one), depth: m.depth) } / 1e9
                numbers["gflops_\(m.name)_\(patch)"] = closed
                numbers["counted_\(m.name)_\(patch)"] = counted
                numbers["tokens_\(patch)"] = Double(cfg.tokens)
                ys.append(closed)
            }
            numbers["params_\(m.name)_2"] = Double(Chapter2.ditParams(latentConfig(depth: m.depth, width: m.width, heads: m.heads, patch: 2))) / 1e6
            gflops.line(x: [256, 64, 16], y: ys, colour: k, label: "DiT-\(m.name)")
        }
        let xl2 = latentConfig(depth: 28, width: 1152, heads: 16, patch: 2)
        for mode in DiTConditioning.allCases {
            numbers["overhead_pct_\(mode.rawValue)_xl2"] = 100 * (ditMACs(xl2, conditioning: mode) / ditMACs(xl2) - 1)
        }
        numbers["saving_pct_adaLN_xl2"] = -numbers["overhead_pct_adaLN_xl2"]!
        numbers["cross_block_share_xl2"] = 2.0 / (12 + 2 * 256.0 / 1152)
        // The quadratic term's share of a block, 2N²D / ((4 + 2r)ND² + 2N²D) = N/(6D + N) for r = 4.
        var share = Plot(width: 340, height: 320, title: "注意力二次项在一个块中的份额", x: Axis("token 数 N", scale: .log, range: 16...4096), y: Axis("N/(6D+N)", range: 0...1.3))
        let ns = stride(from: 4.0, through: 12.0, by: 0.25).map { Foundation.pow(2, $0) }
        for (k, d) in [32.0, 384, 1152].enumerated() {
            share.line(x: ns, y: ns.map { $0 / (6 * d + $0) }, colour: k, label: "D = \(Int(d))")
        }
        numbers["share_xl2"] = 256.0 / (6 * 1152 + 256)
        numbers["share_digits"] = 16.0 / (6 * 32 + 16)
        let svg = Figure([gflops, share], columns: 2).svg(title: "DiT 的计算量：图块越小，token 越多")
        return ExperimentResult(svg: svg, numbers: numbers)
    }
}

// MARK: Figure — loss against training compute for tiny DiTs, with a power-law fit on the frontier

extension Chapter7 {
    /// An `ImageTrainingConfig` for the chapter's short runs on 8×8 digits: no EMA (the raw weights are evaluated),
    /// warm-up then cosine decay over `steps`.
    static func shortRun(model: String, steps: Int, batch: Int, lr: Double, seed: UInt64) -> ImageTrainingConfig {
        var cfg = ImageTrainingConfig()
        cfg.data = "digits8"
        cfg.model = model
        cfg.steps = steps
        cfg.batchSize = batch
        cfg.learningRate = lr
        cfg.warmupSteps = Swift.min(20, steps / 10)
        cfg.emaDecay = 0
        cfg.seed = seed
        return cfg
    }

    /// Trains with `ImageTrainer` and evaluates the held-out loss every `every` steps; returns (steps, losses).
    static func trainAndTrack(_ cfg: ImageTrainingConfig, _ trainSet: ImageDataset, _ testSet: ImageDataset, every: Int,
                              seed: UInt64) throws -> (trainer: ImageTrainer, steps: [Double], losses: [Double]) {
        let trainer = try ImageTrainer(cfg, data: trainSet)
        var xs: [Double] = [], ys: [Double] = []
        for step in 1...cfg.steps {
            trainer.trainStep()
            if step % every == 0 || step == cfg.steps {
                xs.append(Double(step))
                ys.append(try heldOut(trainer.model!.network, testSet, labels: nil, seed: seed))
            }
        }
        return (trainer, xs, ys)
    }

    static let scaling = BookExperiment(
        name: "ch7-scaling",
        summary: "Tiny DiTs (patch 2 on 8×8 digits, several widths and depths) trained with ImageTrainer for the same steps: held-out ε-loss against training compute (3 × forward MACs × batch × steps), the compute frontier and a least-squares power law on it.",
        defaults: ["seed": "0", "steps": "160", "batch": "32", "lr": "0.002", "widths": "16,32,64", "depths": "1,3"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let steps = try p.int("steps", in: 8...100_000), B = try p.int("batch", in: 2...512), lr = try p.double("lr")
        let widths = try p.ints("widths"), depths = try p.ints("depths")
        guard widths.allSatisfy({ $0 % 4 == 0 && $0 >= 8 }), depths.allSatisfy({ (1...12).contains($0) }) else {
            throw ExperimentError("widths must be multiples of 4 (≥ 8) and depths in 1…12")
        }
        let (trainSet, testSet) = try digits()
        let every = Swift.max(1, steps / 8)
        var allC: [Double] = [], allL: [Double] = [], finalC: [Double] = [], finalL: [Double] = []
        var numbers: [String: Double] = ["steps": Double(steps), "batch": Double(B), "lr": lr, "runs": Double(widths.count * depths.count)]
        var plot = Plot(width: 420, height: 340, title: "留出集 ε 损失 对 训练计算量", x: Axis("训练计算量（乘加次数）", scale: .log), y: Axis("ε 损失（每像素）", scale: .log, range: 0.1...3))
        for (i, d) in widths.enumerated() {
            for (j, depth) in depths.enumerated() {
                var cfg = shortRun(model: "dit", steps: steps, batch: B, lr: lr, seed: seed)
                cfg.hiddenSize = d
                cfg.depth = depth
                let macs = ditMACs(cfg.ditConfig(try ImageDataShape(trainSet)))
                let run = try trainAndTrack(cfg, trainSet, testSet, every: every, seed: seed &+ 99)
                let cs = run.steps.map { 3 * macs * Double(B) * $0 }
                allC += cs
                allL += run.losses
                finalC.append(cs.last!)
                finalL.append(run.losses.last!)
                numbers["final_\(d)_\(depth)"] = run.losses.last!
                for (k, (c, l)) in zip(cs, run.losses).enumerated() {
                    numbers["curve_compute_\(d)_\(depth)_\(k)"] = c
                    numbers["curve_loss_\(d)_\(depth)_\(k)"] = l
                }
                numbers["macs_\(d)_\(depth)"] = macs
                numbers["params_\(d)_\(depth)"] = Double(run.trainer.network.parameterCount)
                plot.line(x: cs, y: run.losses, colour: i, style: j == 0 ? .dashed : .solid, width: 1.4, label: "D = \(d), L = \(depth)")
            }
        }
        // The power law L = a·C^(−b) fitted (least squares in log–log) to the end of each run; the same fit on the
        // whole compute frontier (all evaluations) is reported for the caveat about early training.
        let fit = fitLine(finalC.map { Foundation.log($0) }, finalL.map { Foundation.log($0) })
        let front = frontier(compute: allC, loss: allL)
        let frontFit = fitLine(front.map { Foundation.log(allC[$0]) }, front.map { Foundation.log(allL[$0]) })
        let (cMin, cMax) = (finalC.min()!, finalC.max()!)
        plot.scatter(zip(finalC, finalL).map { Point($0, $1) }, colour: 7, radius: 3.5, opacity: 0.95, label: "每个模型训练结束时")
        let grid = stride(from: 0.0, through: 1.0, by: 0.1).map { cMin * Foundation.pow(cMax / cMin, $0) }
        plot.line(x: grid, y: grid.map { Foundation.exp(fit.a + fit.b * Foundation.log($0)) }, colour: 7, style: .dotted, width: 2, label: "幂律拟合")
        numbers["fit_exponent"] = -fit.b
        numbers["fit_factor_per_decade"] = Foundation.pow(10, fit.b)
        numbers["fit_r2"] = fit.r2
        numbers["fit_log_prefactor"] = fit.a
        numbers["compute_decades"] = Foundation.log10(cMax / cMin)
        numbers["compute_min"] = cMin
        numbers["compute_max"] = cMax
        numbers["fit_extrapolated_10x"] = Foundation.exp(fit.a + fit.b * Foundation.log(10 * cMax))
        numbers["fit_extrapolated_1000x"] = Foundation.exp(fit.a + fit.b * Foundation.log(1000 * cMax))
        for (k, (c, l)) in zip(finalC, finalL).enumerated() {
            numbers["final_compute_\(k)"] = c
            numbers["final_loss_\(k)"] = l
        }
        numbers["frontier_points"] = Double(front.count)
        numbers["frontier_exponent"] = -frontFit.b
        numbers["frontier_r2"] = frontFit.r2
        numbers["points"] = Double(allC.count)
        numbers["best_loss"] = allL.min()!
        let svg = Figure([plot], columns: 1).svg(title: "小 DiT 的规模曲线（8×8 数字，每个模型 \(steps) 步）")
        return ExperimentResult(svg: svg, numbers: numbers)
    }
}

// MARK: Figure — U-Net against DiT on the same data and budget

extension Chapter7 {
    static let unetVsDiT = BookExperiment(
        name: "ch7-unet",
        summary: "A UNet (the chapter 2 digits network) and a DiT of about the same size trained with ImageTrainer on 8×8 digits for the same steps and batch: held-out ε-loss curves and the loss by noise level.",
        defaults: ["seed": "0", "steps": "240", "batch": "32", "lr": "0.002", "channels": "16", "width": "48", "depth": "4"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let steps = try p.int("steps", in: 8...100_000), B = try p.int("batch", in: 2...512), lr = try p.double("lr")
        let channels = try p.int("channels", in: 8...128), d = try p.int("width", in: 8...256), depth = try p.int("depth", in: 1...12)
        guard channels % 8 == 0, d % 4 == 0 else { throw ExperimentError("channels must be a multiple of 8 and width of 4") }
        let (trainSet, testSet) = try digits()
        let shape = try ImageDataShape(trainSet)
        var unetCfg = shortRun(model: "unet", steps: steps, batch: B, lr: lr, seed: seed)
        unetCfg.channels = channels
        unetCfg.attentionResolutions = [4]
        var ditCfg = shortRun(model: "dit", steps: steps, batch: B, lr: lr, seed: seed)
        ditCfg.hiddenSize = d
        ditCfg.depth = depth
        let every = Swift.max(1, steps / 8)
        let levels = [10, 30, 100, 200, 350, 500, 700, 900]
        var numbers: [String: Double] = ["steps": Double(steps), "batch": Double(B), "lr": lr]
        var curves = curvePlot("留出集 ε 损失（每像素）", x: Axis("训练步数", range: 0...Double(steps)), y: Axis(scale: .log))
        var byLevel = curvePlot("训练结束时，按噪声步数 n", x: Axis("n", scale: .log, range: 8...1000), y: Axis("ε 损失（每像素）", scale: .log))
        for (k, (name, cfg)) in [("unet", unetCfg), ("dit", ditCfg)].enumerated() {
            let t0 = Date()
            let run = try trainAndTrack(cfg, trainSet, testSet, every: every, seed: seed &+ 99)
            numbers["seconds_\(name)"] = Date().timeIntervalSince(t0)
            let net = run.trainer.model!.network
            numbers["heldout_\(name)"] = run.losses.last!
            numbers["params_\(name)"] = Double(net.parameterCount)
            let byN = heldOutByStep(net, testSet, steps: levels, seed: seed &+ 98)
            for (n, v) in zip(levels, byN) { numbers["level_\(name)_\(n)"] = v }
            let label = name == "unet" ? "U-Net" : "DiT"
            curves.line(x: run.steps, y: run.losses, colour: k, label: label)
            byLevel.line(x: levels.map(Double.init), y: byN, colour: k, label: label)
        }
        numbers["macs_unet"] = Chapter2.unetMACs(unetCfg.unetConfig(shape))
        numbers["macs_dit"] = ditMACs(ditCfg.ditConfig(shape))
        for n in levels { numbers["level_ratio_\(n)"] = numbers["level_dit_\(n)"]! / numbers["level_unet_\(n)"]! }
        let svg = Figure([curves, byLevel], columns: 2).svg(title: "同样的数据、步数与批量：U-Net 与 DiT（8×8 数字）")
        return ExperimentResult(svg: svg, numbers: numbers)
    }
}
