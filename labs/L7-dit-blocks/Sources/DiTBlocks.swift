// 实验 L7：DiT 的积木（配套第 7 章）
//
// 扩散 Transformer（DiT，Peebles & Xie 2023）把图像切成 p×p 的图块，每个图块变成一个 token，经过若干个
// adaLN-Zero 块，再把 token 放回图块的位置。本实验用张量运算和 DiffusionLayers 里的层，亲手搭出这些积木：
//
//     图块化：[B, C, H, W] → [B, N, p·p·C]，N = (H/p)·(W/p)，图块按行优先编号，块内按（行、列、通道）排列；
//     逆图块化：它的逆（第 7 章“输出头与逆图块化”一节的公式）：y[k, r·p + a, c·p + e] = o_(r,c)[(a·p + e)·C + k]；
//     时间嵌入：[sin(t·ω_0), …, sin(t·ω_{h−1}), cos(t·ω_0), …, cos(t·ω_{h−1})]，h = dim/2，ω_k = P^(−k/h)；
//     二维位置嵌入：前 D/2 维编码行号，后 D/2 维编码列号，每一半是 [sin(p·ω_k) ×D/4, cos(p·ω_k) ×D/4]，ω_k = 10000^(−k/(D/4))；
//     adaLN-Zero 块（第 7 章“adaLN-Zero 块”一节）：
//         (β₁, γ₁, α₁, β₂, γ₂, α₂) = W_m·SiLU(c) + b_m，
//         h = x + α₁ ⊙ Attn(LN(x) ⊙ (1 + γ₁) + β₁)，
//         out = h + α₂ ⊙ MLP(LN(h) ⊙ (1 + γ₂) + β₂)。
//
// 评分测试会与库中 DiffusionModels 的部件逐点比较：`DiT.unpatchify`、`DiT.embed` 里的卷积图块嵌入、
// `sinusoidalEmbedding`、`sinusoidalPositions2D`、`DiTBlock`；还会检查零初始化的块恰好是恒等映射，
// 以及初始化时的梯度（第 7 章“为什么零初始化让块从恒等映射开始”一节）。做完后可以去读 Sources/DiffusionModels/DiT.swift。
//
// 会用到的张量运算（都可以反向传播）：
//   x.reshaped([…])、x.permuted([…])     改形状、重排维度（permuted 之后再 reshaped 会按新的顺序复制）
//   x.unsqueezed(1)                      在第 1 维插入长度为 1 的维，用来把 [B, D] 广播到 [B, N, D]
//   x.chunk(6, axis: -1)                 沿最后一维等分成 6 块
//   x.sin()、x.cos()、x.silu()、Tensor.concat([a, b], axis: -1)、Tensor.arange(0, Float(n))

import DiffusionEngine
import DiffusionLayers
import Foundation

// MARK: - 练习 1：图块化

/// [B, C, H, W] → [B, N, p·p·C]。第 (r, c) 个图块（行 r·p…r·p + p − 1、列 c·p…c·p + p − 1）是第 r·(W/p) + c 个 token，
/// 它的 p·p·C 个数按（块内行 a、块内列 e、通道 k）的顺序排列：下标 (a·p + e)·C + k 处是 x[k, r·p + a, c·p + e]。
/// 这正是库里 `DiT.unpatchify` 所用的顺序，所以练习 2 是它的逆。H 与 W 都能被 p 整除（不一定相等）。
///
/// 提示：先 reshaped 成 [B, C, H/p, p, W/p, p]，想清楚每一维是什么（通道、图块行、块内行、图块列、块内列），
/// 再用一次 permuted 把它们排成 [B, 图块行, 图块列, 块内行, 块内列, 通道]，最后 reshaped。
public func patchifyImage(_ x: Tensor, patchSize p: Int) throws -> Tensor {
    // BEGIN SOLUTION patchifyImage
    let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    return x.reshaped([b, c, h / p, p, w / p, p]).permuted([0, 2, 4, 3, 5, 1]).reshaped([b, (h / p) * (w / p), p * p * c])
    // END SOLUTION
}

// MARK: - 练习 2：逆图块化

/// [B, N, p·p·C] → [B, C, H, W]，N = (H/p)·(W/p)，与练习 1 的顺序相同：
///
///     y[k, r·p + a, c·p + e] = tokens[r·(W/p) + c][(a·p + e)·C + k]。
///
/// 提示：把练习 1 的三步倒过来做；permuted 的顺序是练习 1 那个排列的逆排列。
public func unpatchifyTokens(_ tokens: Tensor, channels c: Int, height h: Int, width w: Int, patchSize p: Int) throws -> Tensor {
    // BEGIN SOLUTION unpatchifyTokens
    let b = tokens.shape[0]
    return tokens.reshaped([b, h / p, w / p, p, p, c]).permuted([0, 5, 1, 3, 2, 4]).reshaped([b, c, h, w])
    // END SOLUTION
}

// MARK: - 练习 3：正弦时间嵌入

/// 噪声水平（或时间）t [B] → [B, dim]（dim 为偶数）：令 h = dim/2，ω_k = exp(−ln(maxPeriod)·k/h)，k = 0…h−1，
///
///     e(t) = [sin(t·ω_0), …, sin(t·ω_{h−1}), cos(t·ω_0), …, cos(t·ω_{h−1})]。
///
/// 先是 h 个正弦，再是 h 个余弦（不是交错排列）；最高频率 ω_0 = 1，最低频率 ω_{h−1} = maxPeriod^(−(h−1)/h)。
/// 与库的 `sinusoidalEmbedding(_:dim:maxPeriod:)` 比较（第 2 章“正弦嵌入”一节）。
///
/// 提示：`Tensor.arange(0, Float(h))` 给出 [0, 1, …, h − 1]；t.unsqueezed(-1) 与 [h] 的频率相乘得到 [B, h] 的角度。
public func timestepEmbedding(_ t: Tensor, dim: Int, maxPeriod: Double = 10000) throws -> Tensor {
    // BEGIN SOLUTION timestepEmbedding
    let half = dim / 2
    let frequencies = (Tensor.arange(0, Float(half)) * Float(-Foundation.log(maxPeriod) / Double(half))).exp()
    let angles = t.unsqueezed(-1) * frequencies
    return Tensor.concat([angles.sin(), angles.cos()], axis: -1)
    // END SOLUTION
}

// MARK: - 练习 4：二维正弦–余弦位置嵌入

/// n×n 个图块的固定位置嵌入 [n², dim]（dim 能被 4 整除），第 r·n + c 行属于第 (r, c) 个图块。令 q = dim/4，
/// ω_k = 10000^(−k/q)，k = 0…q−1。一行的 dim 个数依次是
///
///     [sin(r·ω_0…ω_{q−1}), cos(r·ω_0…ω_{q−1}), sin(c·ω_0…ω_{q−1}), cos(c·ω_0…ω_{q−1})]
///
/// ——前一半编码行号 r，后一半编码列号 c（第 7 章“位置嵌入：平移就是旋转”一节）。与库的 `sinusoidalPositions2D` 比较。
/// 可以用 Double 算好再 `Tensor(数组, shape: [n * n, dim])`。
public func sinCosPositions2D(gridSize n: Int, dim: Int) throws -> Tensor {
    // BEGIN SOLUTION sinCosPositions2D
    let q = dim / 4
    var out = [Float](repeating: 0, count: n * n * dim)
    for r in 0..<n {
        for c in 0..<n {
            for (half, position) in [(0, r), (1, c)] {
                for k in 0..<q {
                    let angle = Double(position) * Foundation.pow(10000, -Double(k) / Double(q))
                    let base = (r * n + c) * dim + half * 2 * q
                    out[base + k] = Float(Foundation.sin(angle))
                    out[base + q + k] = Float(Foundation.cos(angle))
                }
            }
        }
    }
    return Tensor(out, shape: [n * n, dim])
    // END SOLUTION
}

// MARK: - 练习 5：adaLN 调制

/// x [B, N, D] ⊙ (1 + scale) + shift，其中 shift、scale 是每个样本一个的 [B, D]，对该样本的所有 N 个 token 相同。
/// 这就是第 7 章 adaLN-Zero 块里的 LN(x) ⊙ (1 + γ) + β（γ 是 scale，β 是 shift）。
///
/// 提示：`scale.unsqueezed(1)` 的形状是 [B, 1, D]，与 [B, N, D] 相乘时沿 token 维广播。注意是 1 + scale，不是 scale：
/// scale = 0 时调制什么也不做。全程用张量运算，测试会对 shift 和 scale 求梯度。
public func adaLNModulate(_ x: Tensor, shift: Tensor, scale: Tensor) throws -> Tensor {
    // BEGIN SOLUTION adaLNModulate
    return x * (scale.unsqueezed(1) + 1) + shift.unsqueezed(1)
    // END SOLUTION
}

// MARK: - 练习 6：adaLN-Zero 块

/// 一个 adaLN-Zero 块的前向（第 7 章的块公式），x [B, N, D] 是 token，c [B, D] 是条件向量：
///
/// 1. m = modulation(c.silu())，形状 [B, 6D]，沿最后一维等分成六块，**依次**是 β₁、γ₁、α₁、β₂、γ₂、α₂
///    （平移、缩放、门控；先注意力分支，再 MLP 分支）；
/// 2. h = x + α₁ ⊙ attention(调制(norm1(x), β₁, γ₁))；
/// 3. out = h + α₂ ⊙ mlp(调制(norm2(h), β₂, γ₂))，返回 out。
///
/// 门控 α 是 [B, D]，乘到 [B, N, D] 上之前也要 unsqueezed(1)。调制用练习 5。
/// 第二个分支的输入是 h（第一个分支之后的结果），不是 x。
/// 这些层是库的 `DiTBlock` 里的那几个：测试把同一个块的层交给你，再与 `DiTBlock` 的输出和梯度比较；
/// 当 modulation 的权重和偏置全为零时（adaLN-Zero 的初始化），你的块应当**精确地**返回 x。
public func adaLNZeroBlock(_ x: Tensor, _ c: Tensor, norm1: LayerNorm, attention: MultiHeadAttention, norm2: LayerNorm,
                           mlp: Sequential, modulation: Linear) throws -> Tensor {
    // BEGIN SOLUTION adaLNZeroBlock
    let m = modulation(c.silu()).chunk(6, axis: -1)
    let h = x + m[2].unsqueezed(1) * attention(try adaLNModulate(norm1(x), shift: m[0], scale: m[1]))
    return h + m[5].unsqueezed(1) * mlp(try adaLNModulate(norm2(h), shift: m[3], scale: m[4]))
    // END SOLUTION
}
