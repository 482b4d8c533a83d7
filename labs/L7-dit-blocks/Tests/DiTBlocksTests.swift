// 实验 L7 的评分测试（请不要修改）。每个测试的 .hint 是它失败时给你的提示。

import DiffusionEngine
import DiffusionLayers
import DiffusionModels
import Foundation
import Testing
@testable import Lab

@Suite("L7 DiT 的积木")
struct DiTBlocksTests {
    /// 一个 8×8、3 通道、p = 2 的小 DiT：只用它的 unpatchify 与图块嵌入卷积。
    static func smallDiT() -> DiT {
        withParameterSeed(7) { DiT(DiTConfig(imageSize: 8, inChannels: 3, outChannels: 3, patchSize: 2, hiddenSize: 16, depth: 1, heads: 2)) }
    }

    @Test("图块化：元素顺序、与库的 DiT.unpatchify 互逆、卷积图块嵌入就是作用在图块上的线性映射", .hint("token 按图块行优先编号；块内的 p·p·C 个数按（块内行、块内列、通道）排列，通道变化最快。reshaped 成 [B, C, H/p, p, W/p, p] 后，先写下每一维的含义，再用 permuted 排成 [B, 图块行, 图块列, 块内行, 块内列, 通道]。"))
    func patchify() throws {
        // 非方形的图逐个元素检查：tokens[b, r·(W/p) + c, (a·p + e)·C + k] = x[b, k, r·p + a, c·p + e]。
        let (b, c, h, w, p) = (2, 2, 4, 6, 2)
        let x = Tensor.randomNormal([b, c, h, w], seed: 1)
        let tokens = try patchifyImage(x, patchSize: p)
        try #require(tokens.shape == [b, (h / p) * (w / p), p * p * c], "形状应为 [B, N, p·p·C] = [2, 6, 8]，实际 \(tokens.shape)")
        let xs = x.scalars, ts = tokens.scalars
        var wrong = 0
        for n in 0..<b { for r in 0..<(h / p) { for col in 0..<(w / p) { for a in 0..<p { for e in 0..<p { for k in 0..<c {
            let token = ts[(n * (h / p) * (w / p) + r * (w / p) + col) * p * p * c + (a * p + e) * c + k]
            if token != xs[((n * c + k) * h + r * p + a) * w + col * p + e] { wrong += 1 }
        } } } } } }
        #expect(wrong == 0, "\(wrong) 个元素的位置不对（非方形图 4×6，p = 2）")
        // 与库的逆图块化互逆（方形图，3 通道）。
        let dit = Self.smallDiT()
        let image = Tensor.randomNormal([2, 3, 8, 8], seed: 2)
        let roundTrip = dit.unpatchify(try patchifyImage(image, patchSize: 2))
        #expect(maxAbsDifference(roundTrip, image) == 0, "DiT.unpatchify(patchifyImage(x)) 应精确等于 x")
        // 卷积图块嵌入 = 同一个矩阵作用在每个图块上：E[(a·p + e)·C + k, j] = K[j, k, a, e]。
        let kernel = dit.patchEmbedding.weight.value, bias = dit.patchEmbedding.bias!.value
        let e = kernel.permuted([2, 3, 1, 0]).reshaped([2 * 2 * 3, 16])
        let mine = (try patchifyImage(image, patchSize: 2)).reshaped([2 * 16, 12]).matmul(e).reshaped([2, 16, 16]) + bias
        let conv = withNoGrad { dit.patchEmbedding(image).flattened(from: 2).transposed(1, 2) }
        #expect(maxAbsDifference(withNoGrad { mine }, conv) < 1e-4, "你的图块乘以 E 与库的卷积图块嵌入相差 \(maxAbsDifference(withNoGrad { mine }, conv))")
    }

    @Test("逆图块化与库的 DiT.unpatchify 逐点一致，并且是图块化的逆", .hint("y[k, r·p + a, c·p + e] = tokens[r·(W/p) + c][(a·p + e)·C + k]。把图块化倒过来：reshaped 成 [B, H/p, W/p, p, p, C]，再排成 [B, C, H/p, p, W/p, p]。permuted 的第 i 个参数是“新的第 i 维取原来的哪一维”。"))
    func unpatchify() throws {
        let dit = Self.smallDiT()
        let tokens = Tensor.randomNormal([2, 16, 12], seed: 3)
        let mine = try unpatchifyTokens(tokens, channels: 3, height: 8, width: 8, patchSize: 2)
        try #require(mine.shape == [2, 3, 8, 8], "形状应为 [2, 3, 8, 8]，实际 \(mine.shape)")
        #expect(maxAbsDifference(mine, dit.unpatchify(tokens)) == 0, "与库的 DiT.unpatchify 不同")
        let x = Tensor.randomNormal([1, 2, 4, 6], seed: 4)
        let back = try unpatchifyTokens(try patchifyImage(x, patchSize: 2), channels: 2, height: 4, width: 6, patchSize: 2)
        #expect(back.shape == [1, 2, 4, 6] && maxAbsDifference(back, x) == 0, "非方形图（4×6）：unpatchifyTokens(patchifyImage(x)) 应精确等于 x")
    }

    @Test("正弦时间嵌入与库的 sinusoidalEmbedding 一致", .hint("先 h 个 sin、再 h 个 cos（不是交错）；ω_k = exp(−ln(maxPeriod)·k/h)，分母是 h = dim/2，不是 dim，也不是 h − 1。"))
    func timestep() throws {
        // 手算：dim = 4，maxPeriod = 10000：ω = [1, 0.01]。
        let small = try timestepEmbedding(Tensor([1]), dim: 4)
        let expected = [sin(1.0), sin(0.01), cos(1.0), cos(0.01)].map { Float($0) }
        try #require(small.shape == [1, 4], "形状应为 [B, dim] = [1, 4]，实际 \(small.shape)")
        #expect(maxAbsDifference(small, Tensor(expected, shape: [1, 4])) < 1e-6, "t = 1、dim = 4：应为 [sin 1, sin 0.01, cos 1, cos 0.01]，实际 \(small.scalars)")
        let t = Tensor([0, 0.5, 3, 250, 999])
        for (dim, period) in [(32, 10000.0), (8, 100.0)] {
            let mine = try timestepEmbedding(t, dim: dim, maxPeriod: period)
            let library = sinusoidalEmbedding(t, dim: dim, maxPeriod: Float(period))
            try #require(mine.shape == library.shape, "形状应为 \(library.shape)，实际 \(mine.shape)")
            // t ≈ 1000 时角度很大，Float 舍入的差别会放大到 1e-4 量级；写错公式的差别是 O(1)。
            #expect(maxAbsDifference(mine, library) < 1e-3, "dim = \(dim)、maxPeriod = \(period)：与库最大相差 \(maxAbsDifference(mine, library))")
        }
    }

    @Test("二维位置嵌入与库的 sinusoidalPositions2D 一致", .hint("第 r·n + c 行是图块 (r, c)；前 D/2 维只依赖行号 r，后 D/2 维只依赖列号 c；每一半先 D/4 个 sin 再 D/4 个 cos，ω_k = 10000^(−k/(D/4))。"))
    func positions() throws {
        // 手算：dim = 4（q = 1，ω_0 = 1），图块 (r, c) = (1, 2) 是第 1·4 + 2 = 6 行：[sin 1, cos 1, sin 2, cos 2]。
        let tiny = try sinCosPositions2D(gridSize: 4, dim: 4)
        try #require(tiny.shape == [16, 4], "形状应为 [n², dim] = [16, 4]，实际 \(tiny.shape)")
        let row = Array(tiny.scalars[24..<28])
        let expected = [sin(1.0), cos(1.0), sin(2.0), cos(2.0)].map { Float($0) }
        #expect(zip(row, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "图块 (1, 2)：应为 [sin 1, cos 1, sin 2, cos 2]，实际 \(row)（行、列是否弄反了？）")
        for (n, dim) in [(4, 16), (3, 32)] {
            let mine = try sinCosPositions2D(gridSize: n, dim: dim), library = sinusoidalPositions2D(gridSize: n, dim: dim)
            try #require(mine.shape == library.shape, "形状应为 \(library.shape)，实际 \(mine.shape)")
            #expect(maxAbsDifference(mine, library) < 1e-6, "n = \(n)、dim = \(dim)：与库最大相差 \(maxAbsDifference(mine, library))")
        }
    }

    @Test("adaLN 调制：数值与对 x、shift、scale 的梯度", .hint("x ⊙ (1 + scale) + shift，shift、scale 先 unsqueezed(1) 变成 [B, 1, D]。常见错误：写成 x ⊙ scale + shift（少了 1），或把 scale 与 shift 弄反。"))
    func modulate() throws {
        let x = Tensor.randomNormal([2, 3, 4], seed: 5).requiringGrad()
        let shift = Tensor.randomNormal([2, 4], seed: 6).requiringGrad(), scale = Tensor.randomNormal([2, 4], seed: 7).requiringGrad()
        let out = try adaLNModulate(x, shift: shift, scale: scale)
        try #require(out.shape == [2, 3, 4], "形状应为 [2, 3, 4]，实际 \(out.shape)")
        let (xs, bs, gs) = (x.scalars, shift.scalars, scale.scalars)
        var expected = [Float](repeating: 0, count: 24)
        for n in 0..<2 { for i in 0..<3 { for d in 0..<4 { expected[(n * 3 + i) * 4 + d] = xs[(n * 3 + i) * 4 + d] * (1 + gs[n * 4 + d]) + bs[n * 4 + d] } } }
        #expect(maxAbsDifference(withNoGrad { out }, Tensor(expected, shape: [2, 3, 4])) < 1e-6, "数值不对：应为 x ⊙ (1 + scale) + shift")
        // 梯度：ℓ = Σ G ⊙ out ⇒ ∂ℓ/∂shift = Σ_i G_i，∂ℓ/∂scale = Σ_i G_i ⊙ x_i，∂ℓ/∂x = G ⊙ (1 + scale)。
        let g = Tensor.randomNormal([2, 3, 4], seed: 8)
        (out * g).sum().backward()
        let gv = g.scalars
        var dShift = [Float](repeating: 0, count: 8), dScale = [Float](repeating: 0, count: 8), dx = [Float](repeating: 0, count: 24)
        for n in 0..<2 { for i in 0..<3 { for d in 0..<4 {
            let j = (n * 3 + i) * 4 + d
            dShift[n * 4 + d] += gv[j]; dScale[n * 4 + d] += gv[j] * xs[j]; dx[j] = gv[j] * (1 + gs[n * 4 + d])
        } } }
        let (gShift, gScale, gx) = (try #require(shift.grad, "shift 没有梯度"), try #require(scale.grad, "scale 没有梯度"), try #require(x.grad, "x 没有梯度"))
        #expect(maxAbsDifference(gShift, Tensor(dShift, shape: [2, 4])) < 1e-5, "∂ℓ/∂shift 应为 Σ_i G_i")
        #expect(maxAbsDifference(gScale, Tensor(dScale, shape: [2, 4])) < 1e-5, "∂ℓ/∂scale 应为 Σ_i G_i ⊙ x_i")
        #expect(maxAbsDifference(gx, Tensor(dx, shape: [2, 3, 4])) < 1e-5, "∂ℓ/∂x 应为 G ⊙ (1 + scale)")
    }

    /// 一个宽 16、2 个头的 DiTBlock；`randomModulation` 时把回归层换成随机权重（否则是 adaLN-Zero 的零初始化）。
    static func block(randomModulation: Bool) -> DiTBlock {
        let block = withParameterSeed(11) { DiTBlock(hiddenSize: 16, heads: 2, mlpRatio: 4) }
        if randomModulation {
            block.modulation.weight.value = Tensor.randomNormal(block.modulation.weight.shape, seed: 12, std: 0.3)
            block.modulation.bias!.value = Tensor.randomNormal(block.modulation.bias!.shape, seed: 13, std: 0.3)
        }
        return block
    }

    static func mine(_ block: DiTBlock, _ x: Tensor, _ c: Tensor) throws -> Tensor {
        try adaLNZeroBlock(x, c, norm1: block.norm1, attention: block.attention, norm2: block.norm2, mlp: block.mlp, modulation: block.modulation)
    }

    @Test("adaLN-Zero 块：输出与所有参数的梯度都与库的 DiTBlock 一致", .hint("六块依次是 β₁、γ₁、α₁、β₂、γ₂、α₂（平移、缩放、门控）；调制前先 LayerNorm；MLP 分支的输入是注意力分支之后的 h；条件先过 SiLU 再进 modulation。"))
    func blockMatchesLibrary() throws {
        let block = Self.block(randomModulation: true)
        let x = Tensor.randomNormal([2, 5, 16], seed: 14), c = Tensor.randomNormal([2, 16], seed: 15), g = Tensor.randomNormal([2, 5, 16], seed: 16)
        let out = try Self.mine(block, x, c)
        try #require(out.shape == [2, 5, 16], "形状应为 [2, 5, 16]，实际 \(out.shape)")
        (out * g).sum().backward()
        let mineGrads = block.namedParameters().map { ($0.0, $0.1.grad) }
        block.zeroGrad()
        let library = block(x, c)
        (library * g).sum().backward()
        #expect(maxAbsDifference(withNoGrad { out }, withNoGrad { library }) < 1e-5, "输出与 DiTBlock 最大相差 \(maxAbsDifference(withNoGrad { out }, withNoGrad { library }))")
        for ((name, mineGrad), (_, p)) in zip(mineGrads, block.namedParameters()) {
            let expected = try #require(p.grad, "库的 \(name) 没有梯度")
            let got = try #require(mineGrad, "参数 \(name) 没有得到梯度：是否用到了它，或者中途把张量转成了数组？")
            #expect(maxAbsDifference(got, expected) < 1e-4, "参数 \(name) 的梯度与 DiTBlock 相差 \(maxAbsDifference(got, expected))")
        }
    }

    @Test("零初始化的块精确地是恒等映射，且初始化时只有门控得到梯度", .hint("回归层全为零时 β = γ = α = 0：两条分支都乘上了门控 0，输出应逐比特等于 x。如果输出不等于 x，检查门控是否真的乘在整条分支上、残差是否加的是 x 与 h。"))
    func zeroInitialisedBlockIsIdentity() throws {
        let block = Self.block(randomModulation: false)
        let x = Tensor.randomNormal([2, 5, 16], seed: 17).requiringGrad(), c = Tensor.randomNormal([2, 16], seed: 18)
        let out = try Self.mine(block, x, c)
        #expect(maxAbsDifference(withNoGrad { out }, withNoGrad { x }) == 0, "零初始化时输出应逐比特等于输入，最大相差 \(maxAbsDifference(withNoGrad { out }, withNoGrad { x }))")
        // 初始化时的梯度（第 7 章的命题）：∂ℓ/∂b_m 只有 α₁、α₂ 两段非零，分别是 Σ_i G_i ⊙ Attn(LN(x))_i 与 Σ_i G_i ⊙ MLP(LN(x))_i；∂ℓ/∂x = G。
        let g = Tensor.randomNormal([2, 5, 16], seed: 19)
        (out * g).sum().backward()
        let (fa, fm) = withNoGrad { (block.attention(block.norm1(x)), block.mlp(block.norm2(x))) }
        let gateA = (g * fa).sum(axis: 1).sum(axis: 0), gateM = (g * fm).sum(axis: 1).sum(axis: 0)
        let zeros = Tensor.zeros([16])
        let expected = Tensor.concat([zeros, zeros, gateA, zeros, zeros, gateM], axis: 0)
        let biasGrad = try #require(block.modulation.bias!.grad, "modulation 的偏置没有梯度")
        #expect(maxAbsDifference(biasGrad, expected) < 1e-4, "∂ℓ/∂b_m 应只在两段门控上非零，且等于 Σ_i G_i ⊙ F_i")
        #expect(maxAbsDifference(try #require(x.grad, "x 没有梯度"), g) < 1e-6, "恒等的块把梯度原样传给 x：∂ℓ/∂x 应等于 G")
        for (name, p) in block.attention.namedParameters() + block.mlp.namedParameters() {
            let norm = p.grad.map { $0.scalars.map { abs($0) }.max() ?? 0 } ?? 0
            #expect(norm == 0, "初始化时分支内的参数 \(name) 的梯度应恰好为 0，实际最大 \(norm)")
        }
    }
}
