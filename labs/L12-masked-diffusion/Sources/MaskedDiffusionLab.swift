// 实验 L12：掩码扩散（配套第 12 章）
//
// 离散扩散逐个词元独立地“换符号”。词表有 K 个符号 0…K−1；吸收态噪声再加一个 [MASK] 状态，编号就是 K。
// 到第 t 步，一个词元以概率 ᾱ_t 从未被替换过，否则它是从平稳分布 m 里抽的（第 12 章“闭式边缘分布”一节的定理）：
//
//     q(x_t | x_0) = ᾱ_t·e_{x_0} + (1 − ᾱ_t)·m，   吸收态 m = e_K（状态共 K + 1 个），均匀噪声 m = (1/K, …, 1/K)。
//
// 吸收态的后验（第 12 章“前向过程的后验”一节）：x_t 未被掩码时 x_{t−1} = x_t；x_t 是 [MASK] 时
//
//     x_{t−1} = x_0 的概率 r_t = (ᾱ_{t−1} − ᾱ_t)/(1 − ᾱ_t)，   仍是 [MASK] 的概率 1 − r_t。
//
// 连续时间的掩码扩散（MDLM/MD4）的负 ELBO（第 12 章“取连续时间极限”一节的定理）是被掩码位置上的加权交叉熵，权重 w(t) = −α'_t/(1 − α_t)。
// 采样从全 [MASK] 出发，t = T…1 每步按 x_0 参数化的反向一步（“x_0 参数化”一节）揭开一部分词元（“祖先采样”一节）。
//
// 约定（与库相同）：
// - 符号是整数；放进张量时存成 Float（形状 [B, L]），[MASK] 是 K。
// - 有 T 步的离散过程用列表 alphaBar = [ᾱ_0 = 1, ᾱ_1, …, ᾱ_T]，下标就是步数 t（不是 t − 1！）。
// - 连续时间的调度是库里的 `DiscreteSchedule`：`schedule.alpha(t)` 是 α_t，`schedule.alphaDerivative(t)` 是 dα_t/dt。
//
// 评分测试会把你的结果与库中的 `DiscreteProcess`（marginal、posterior、reverse、sample）和 `MaskedDiffusion.losses`
// 逐项比较，采样器还要在 `MarkovChain.example` 的精确去噪器 `ExactMarkovDenoiser` 下生成合乎“语法”的序列。

import DiffusionEngine
import Diffusion
import Foundation

// MARK: - 练习 1：闭式的前向边缘分布

/// T 步的过程取 ᾱ_t = α(t/T)（α 即 `schedule.alpha`）。返回 q(x_t | x_0) 在所有状态上的分布：
///
///     q(x_t = j | x_0) = ᾱ_t·[j = x_0] + (1 − ᾱ_t)·m_j。
///
/// 吸收态（`noise == .absorbing`）有 K + 1 个状态，m 是 [MASK]（下标 K）上的单点分布；均匀噪声有 K 个状态，m_j = 1/K。
/// `categories` 是 K，`x0` 在 0..<K 中，`t` 在 0…steps 中。
///
/// 提示：均匀噪声下，被替换的词元有 1/K 的机会恰好换回自己，所以 q(x_t = x_0 | x_0) = ᾱ_t + (1 − ᾱ_t)/K，不是 ᾱ_t。
public func discreteForwardMarginal(x0: Int, t: Int, steps: Int, schedule: DiscreteSchedule, categories k: Int,
                                    noise: DiscreteNoise) throws -> [Double] {
    // BEGIN SOLUTION discreteForwardMarginal
    let alphaBar = schedule.alpha(Double(t) / Double(steps))
    let states = noise == .absorbing ? k + 1 : k
    let m: [Double] = noise == .absorbing ? (0..<states).map { $0 == k ? 1 : 0 } : [Double](repeating: 1 / Double(k), count: k)
    return (0..<states).map { j in (j == x0 ? alphaBar : 0) + (1 - alphaBar) * m[j] }
    // END SOLUTION
}

// MARK: - 练习 2：吸收态的后验 q(x_{t−1} | x_t, x_0)

/// 返回 K + 1 个状态上的后验分布，t 在 1…T 中，`alphaBar[t]` 是 ᾱ_t：
///
/// - x_t 不是 [MASK]（此时必有 x_t = x_0）：x_{t−1} = x_t 的概率是 1；
/// - x_t 是 [MASK]（= K）：x_{t−1} = x_0 的概率 (ᾱ_{t−1} − ᾱ_t)/(1 − ᾱ_t)，x_{t−1} = [MASK] 的概率 (1 − ᾱ_{t−1})/(1 − ᾱ_t)。
///
/// 测试只给相容的 (x_t, x_0)。它会与库的 `DiscreteProcess.posterior(xt:x0:at:)`（由转移矩阵按贝叶斯公式算出）逐项比较，
/// 用的是余弦调度——线性调度下 ᾱ_{t−1} 与 ᾱ_t 写反了也可能碰巧看不出来。
public func absorbingPosterior(xt: Int, x0: Int, t: Int, alphaBar: [Double], categories k: Int) throws -> [Double] {
    // BEGIN SOLUTION absorbingPosterior
    var p = [Double](repeating: 0, count: k + 1)
    if xt != k { p[xt] = 1; return p }
    let reveal = (alphaBar[t - 1] - alphaBar[t]) / (1 - alphaBar[t])
    p[x0] = reveal
    p[k] = 1 - reveal
    return p
    // END SOLUTION
}

// MARK: - 练习 3：掩码扩散（MDLM）的损失

/// 一批序列各自的损失 [B]，对 `logits` 可微：
///
///     loss_n = w(t_n) · Σ_{i: x_t^i = [MASK]} −log p̂_θ(x_0^i | x_t)，   w(t) = −α'_t / (1 − α_t)，
///
/// 其中 p̂_θ = softmax(logits)（沿最后一维）。`logits` 是网络的输出 [B, L, K]，`x0`、`xt` 是 [B, L] 的符号（[MASK] = K），
/// `times` 是每条序列的连续时间 t_n ∈ (0, 1]。线性调度 α_t = 1 − t 时 w(t) = 1/t。
///
/// 提示：
/// - 用 `logits.logSoftmax(axis: -1)` 得到 log p̂，再用 `.gather(axis: 2, indices: x0.reshaped([b, l, 1]))` 取出 x_0 的那一项；
/// - `xt .== Float(k)` 给出被掩码位置的 0/1 张量；未被掩码的位置不计入损失（那里的 KL 是 0，见“吸收态下每一项 KL 都是交叉熵”一节）；
/// - 沿位置求和（不是求平均），每条序列乘上它自己的 w(t_n)（形状 [B, 1] 的张量会沿位置广播）；
/// - 交叉熵带负号，损失是正的。全程用张量运算，不要取出 Float 再包回去——测试要对 logits 求梯度。
public func maskedDiffusionLoss(logits: Tensor, x0: Tensor, xt: Tensor, times: [Double], schedule: DiscreteSchedule) throws -> Tensor {
    // BEGIN SOLUTION maskedDiffusionLoss
    let (b, l, k) = (logits.shape[0], logits.shape[1], logits.shape[2])
    let logp = logits.logSoftmax(axis: -1).gather(axis: 2, indices: x0.reshaped([b, l, 1])).reshaped([b, l])
    let masked = xt .== Float(k)
    let w = Tensor(times.map { Float(-schedule.alphaDerivative($0) / (1 - schedule.alpha($0))) }, shape: [b, 1])
    return (logp * masked * w).sum(axis: 1) * Float(-1)
    // END SOLUTION
}

// MARK: - 练习 4：祖先采样的一步（逐个词元揭开）

/// 从 x_t 抽 x_{t−1} ~ p_θ(x_{t−1} | x_t)（“x_0 参数化”一节），对每个词元独立地：
///
/// - 未被掩码（`xt[n] != K`）：保持不变；
/// - 是 [MASK]：反向一步的分布是 K + 1 个状态上的
///
///       p_j = r_t · p̂_j（j = 0…K−1），   p_K = 1 − r_t，   r_t = (ᾱ_{t−1} − ᾱ_t)/(1 − ᾱ_t)，
///
///   即以概率 r_t 揭开、揭开时按 p̂ 抽符号（也就是 Σ_k q(x_{t−1} | x_t, x_0 = k)·p̂_k，可以直接用练习 2）。
///
/// 抽样用给定的均匀数和“逆累积分布”：取第一个满足 u_n < p_0 + … + p_j 的 j（j 从 0 数到 K）；若因为舍入一个也没有，
/// 取最后一个概率为正的 j。`xt` 是 B·L 个词元排成的一维数组，`x0Probabilities[n]` 是第 n 个词元的 p̂（K 个数，和为 1），
/// `uniforms[n]` 是它的均匀数。这个约定与库的 `DiscreteProcess.sample` 相同，评分会逐个词元比较。
public func ancestralUnmaskingStep(xt: [Int], x0Probabilities: [[Double]], t: Int, alphaBar: [Double], categories k: Int,
                                   uniforms: [Float]) throws -> [Int] {
    // BEGIN SOLUTION ancestralUnmaskingStep
    let reveal = (alphaBar[t - 1] - alphaBar[t]) / (1 - alphaBar[t])
    return xt.indices.map { n in
        guard xt[n] == k else { return xt[n] }
        let p = x0Probabilities[n].map { reveal * $0 } + [1 - reveal]
        var c = 0.0, last = 0
        for (j, v) in p.enumerated() {
            if v > 0 { last = j }
            c += v
            if Double(uniforms[n]) < c { return j }
        }
        return last
    }
    // END SOLUTION
}

// MARK: - 练习 5：完整的采样器

/// 从全 [MASK] 的 x_T 出发（`count` 条长为 `length` 的序列），对 t = T, T−1, …, 1 依次：
///
/// 1. 调用一次去噪器 `denoiser(x_t, times)` 得到 logits [B, L, K]，times 是形状 [B]、每个元素都是 t/T 的张量
///    （`Tensor.full([b], Float(Double(t) / Double(T)))`）；
/// 2. p̂ = softmax(logits)，逐个词元取出 K 个概率；
/// 3. 均匀数用 `Tensor.randomUniform([b, l], seed: seed, stream: (UInt64(T − t) + 1) << 16).scalars`
///    （第 i = T − t 步用流 (i + 1)·2¹⁶）；
/// 4. 用练习 4 走一步。
///
/// 返回 x_0，形状 [count, length]，符号存成 Float。T = alphaBar.count − 1；若 ᾱ_0 = 1，最后一步 r_1 = 1，所有词元都会揭开。
/// 评分用 `ExactMarkovDenoiser`（马尔可夫链数据的精确去噪器）当作去噪器，与库的 `DiscreteProcess.sample` 逐点比较，
/// 再看样本的符号频率与相邻二元组（bigram）频率是否与链的精确值一致。
public func sampleMaskedTokens(denoiser: (Tensor, Tensor) -> Tensor, count b: Int, length l: Int, alphaBar: [Double],
                               categories k: Int, seed: UInt64) throws -> Tensor {
    // BEGIN SOLUTION sampleMaskedTokens
    let steps = alphaBar.count - 1
    var x = [Int](repeating: k, count: b * l)
    for t in stride(from: steps, through: 1, by: -1) {
        let xt = Tensor(x.map { Float($0) }, shape: [b, l])
        let p = denoiser(xt, Tensor.full([b], Float(Double(t) / Double(steps)))).softmax(axis: -1).scalars
        let rows = (0..<(b * l)).map { n in (0..<k).map { Double(p[n * k + $0]) } }
        let u = Tensor.randomUniform([b, l], seed: seed, stream: (UInt64(steps - t) + 1) << 16).scalars
        x = try ancestralUnmaskingStep(xt: x, x0Probabilities: rows, t: t, alphaBar: alphaBar, categories: k, uniforms: u)
    }
    return Tensor(x.map { Float($0) }, shape: [b, l])
    // END SOLUTION
}
