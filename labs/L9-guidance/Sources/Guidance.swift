// 实验 L9：分类器引导与无分类器引导（配套第 9 章）
//
// 条件生成只改了一件事：去噪器多了一个条件 y。第 9 章的记号（α = 1 时就是第 8 章的 σ 坐标）：
//
//     x_t = α_t·x₀ + σ_t·ε，   D(x, t, y) = E[x₀ | x_t = x, y]，   D(x, t, ∅) = E[x₀ | x_t = x]。
//
// 条件 Tweedie 公式 @eq:guide-cond-tweedie 把去噪器与分数联系起来：∇ log p_t(x | y) = (α_t·D(x, t, y) − x)/σ_t²。
// 贝叶斯公式 @eq:guide-bayes-score 说：条件分数 = 无条件分数 + 带噪分类器的对数梯度 ∇ log p_t(y | x)。
// 把分类器项乘以 w 就是分类器引导（§9.2）；用条件与无条件两种预测之差冒充分类器就是无分类器引导（§9.3）。
//
// 本实验的数据是库里的 `LabelledMixture`：若干类，每类是一个高斯混合（对角协方差）。它的条件与无条件去噪器、
// 带噪数据上的分类器都有闭式，所以每个练习都能和精确答案比较：
//
//     mixture.marginal                      所有分量合成的一个 GaussianMixture（分量按类的顺序排列）
//     mixture.marginal.weights/means/stds   分量 k 的整体权重 ω_k、均值 μ_k、各坐标的标准差 s_k
//     mixture.componentClasses              分量 k 属于哪一类
//     mixture.denoise(x, at: level, labels: y)   精确的条件去噪器（y 是形状 [n] 的张量，值是类别编号）
//     mixture.marginal.denoise(x, at: level)     精确的无条件去噪器
//
// 张量形状：样本在第 0 维，[n, d]；标签是形状 [n] 的张量，元素是类别编号（0, 1, 2 …，以 Float 存储）。

import DiffusionEngine
import Diffusion
import Foundation

// MARK: - 练习 1：带噪数据上的精确分类器

/// 对 x 的每一行算出 p_t(y | x)，返回 n 行、每行 C 个概率（C = `mixture.classCount`）。公式 @eq:guide-mixture-classifier：
///
///     p_t(y | x) = Σ_{k ∈ y} ω_k·N(x; α·μ_k, diag(α²·s_k² + σ²)) / Σ_k ω_k·N(x; α·μ_k, diag(α²·s_k² + σ²))，
///
/// 其中分子只对属于类 y 的分量求和，ω_k、μ_k、s_k 来自 `mixture.marginal`，类别来自 `mixture.componentClasses`。
/// 提示：在对数域里算。ℓ_k = log ω_k − ½·Σ_j [ log(2π·v_kj) + (x_j − α·μ_kj)²/v_kj ]，v_kj = α²·s_kj² + σ²；
/// 再用 log-sum-exp（先减去最大值）得到 log p_t(y | x)，最后取指数。σ 小、x 离某些分量很远时，直接算 exp(ℓ_k) 会下溢成 0。
public func noisyClassifier(_ x: Tensor, level: NoiseLevel, mixture: LabelledMixture) throws -> [[Double]] {
    // BEGIN SOLUTION noisyClassifier
    let gm = mixture.marginal, classes = mixture.componentClasses
    let (alpha, sigma) = (level.alpha, level.sigma)
    let d = mixture.dimension, n = x.shape[0], xs = x.scalars.map(Double.init)
    func logSumExp(_ v: [Double]) -> Double {
        guard let m = v.max(), m > -.infinity else { return -.infinity }
        return m + Foundation.log(v.reduce(0) { $0 + Foundation.exp($1 - m) })
    }
    return (0..<n).map { i in
        let ell = (0..<gm.componentCount).map { k -> Double in
            var s = Foundation.log(gm.weights[k])
            for j in 0..<d {
                let v = alpha * alpha * gm.stds[k][j] * gm.stds[k][j] + sigma * sigma
                let r = xs[i * d + j] - alpha * gm.means[k][j]
                s -= 0.5 * (Foundation.log(2 * Double.pi * v) + r * r / v)
            }
            return s
        }
        let total = logSumExp(ell)
        return (0..<mixture.classCount).map { y in
            Foundation.exp(logSumExp(ell.indices.filter { classes[$0] == y }.map { ell[$0] }) - total)
        }
    }
    // END SOLUTION
}

// MARK: - 练习 2：分类器的梯度（自动求导）

/// 分类器引导需要 ∇ₓ log p_t(y_i | x_i)（每个样本对它自己的标签）。`logProbabilities(x)` 返回形状 [n, C] 的
/// log p_t(· | x)，由张量运算构成、可以对 x 求导（比如 `mixture.classLogProbabilities(x, at: level)`）。
///
/// 做法（§9.2 的代码）：
/// 1. 把 x 变成一个需要梯度的叶子：`x.detached().requiringGrad()`；
/// 2. 用 `gather(axis: 1, indices:)` 取出每一行自己标签那一列（indices 的形状要是 [n, 1]），对所有样本求和，再 `backward()`；
/// 3. 叶子的 `.grad` 就是答案。样本之间没有耦合，所以“对和求梯度”给出的正是每个样本自己的梯度。
///
/// 注意：测试（和采样器）可能在关闭了梯度记录的环境里调用你，所以要把上面三步包在
/// `GradMode.$isEnabled.withValue(true) { … }` 里。
public func classifierGradient(logProbabilities: (Tensor) -> Tensor, x: Tensor, labels: Tensor) throws -> Tensor {
    // BEGIN SOLUTION classifierGradient
    GradMode.$isEnabled.withValue(true) {
        let leaf = x.detached().requiringGrad()
        let logp = logProbabilities(leaf)
        logp.gather(axis: 1, indices: labels.reshaped([x.shape[0], 1])).sum().backward()
        return leaf.grad!
    }
    // END SOLUTION
}

// MARK: - 练习 3：分类器引导的去噪器

/// 分类器引导 @eq:guide-cg-denoiser：把分数 ∇ log p_t(x) + w·∇ log p_t(y | x) 换回去噪器，
///
///     D̃(x, t) = D(x, t, ∅) + (σ_t²/α_t)·w·∇ₓ log p_t(y | x)。
///
/// `denoised` 是无条件去噪器在 x 处的输出 D(x, t, ∅)，`gradient` 是分类器的梯度，`level` 是 (α_t, σ_t)。
/// 推导：由 D = (x + σ_t²·s)/α_t（@eq:guide-cond-tweedie 反过来），分数多出 w·g，去噪器就多出 σ_t²·w·g/α_t。
/// w = 1 且梯度精确时，结果应当正是精确的条件去噪器。
public func classifierGuidedDenoiser(denoised: Tensor, gradient: Tensor, level: NoiseLevel, scale w: Double) throws -> Tensor {
    // BEGIN SOLUTION classifierGuidedDenoiser
    denoised + gradient * Float(w * level.sigma * level.sigma / level.alpha)
    // END SOLUTION
}

// MARK: - 练习 4：无分类器引导的组合

/// 无分类器引导 @eq:guide-cfg（本书与 diffusers 的 w 约定，见 @rem:guide-w-convention）：
///
///     Ã = A_∅ + w·(A_y − A_∅) = (1 − w)·A_∅ + w·A_y，
///
/// `conditional` 是 A_y，`unconditional` 是 A_∅。w = 1 是条件模型，w = 0 是无条件模型，w > 1 从无条件向条件方向外推。
/// 这里的 A 可以是 x̂₀ 预测 D，也可以是噪声预测 ε̂ = (x − α·D)/σ：在同一个 x、同一个噪声水平上，ε̂ 是 D 的仿射函数，
/// 所以两种写法给出同一个结果（@ex:guide-param）——测试会验证这一点。
/// 常见的错误是用 Ho 与 Salimans 原文的约定 (1 + w)·A_y − w·A_∅：那里的 w 比本书的小 1。
public func classifierFreeGuidance(conditional: Tensor, unconditional: Tensor, scale w: Double) throws -> Tensor {
    // BEGIN SOLUTION classifierFreeGuidance
    unconditional + (conditional - unconditional) * Float(w)
    // END SOLUTION
}

// MARK: - 练习 5：引导重缩放

/// 引导重缩放 @eq:guide-rescale（Lin 等，2024，§3.4）：按**每个样本**的标准差把引导后的预测 D̃ 缩放到条件预测 D_y 的水平，
/// 再与 D̃ 混合：
///
///     D̃_r = D̃ · std(D_y)/std(D̃)，   D̃_φ = φ·D̃_r + (1 − φ)·D̃。
///
/// std 是一个样本内所有元素（除第 0 维外的全部坐标）的标准差；φ ∈ [0, 1]。`guided` 是 D̃，`conditional` 是 D_y，
/// 形状相同，都是 [n, …]。注意缩放是关于 0 的（不减均值），见 @ex:guide-rescale。
/// 提示：`t.reshaped([n, -1]).variance(axis: 1, keepDims: true, correction: 0)` 给出每个样本的方差，形状 [n, 1]；
/// 为了和原来的形状相乘，把比值 reshape 成 [n, 1, 1, …]（长度与原来的秩相同）。
/// 为了防止除以零，像库一样在方差上加 1e-20 再开方。
public func guidanceRescale(guided: Tensor, conditional: Tensor, phi: Double) throws -> Tensor {
    // BEGIN SOLUTION guidanceRescale
    let n = guided.shape[0]
    func std(_ t: Tensor) -> Tensor {
        (t.reshaped([n, -1]).variance(axis: 1, keepDims: true, correction: 0) + 1e-20).sqrt()
            .reshaped([n] + Array(repeating: 1, count: guided.rank - 1))
    }
    let rescaled = guided * (std(conditional) / std(guided))
    return rescaled * Float(phi) + guided * Float(1 - phi)
    // END SOLUTION
}

// MARK: - 练习 6：带 CFG 的 DDIM 采样

/// 在 α = 1 的坐标里，沿从大到小的噪声水平 `sigmas`（最后一个通常是 0）用 DDIM 采样，去噪器换成练习 4 的 CFG：
/// 第 i 步在 σ_i 上
///
/// 1. 条件预测 D_y = `mixture.denoise(x, at: NoiseLevel(alpha: 1, sigma: σ_i), labels: y)`，y 是全为 `label` 的标签张量；
/// 2. 无条件预测 D_∅ = `mixture.marginal.denoise(x, at: 同一个水平)`；
/// 3. D̃ = 练习 4 的组合（引导系数 `scale`）；
/// 4. DDIM（第 8 章 @eq:ddim-euler）：x ← D̃ + (σ_{i+1}/σ_i)·(x − D̃)。
///
/// 返回最后的 x。`start` 是 σ_0 上的起点（形状 [n, d]）。测试会把结果与库的
/// `Sampling.ddim(ClassifierFreeGuidance(mixture, labels:, scale:), start, sigmas:)` 逐点比较，
/// 再用你的采样器测量 w 怎样改变样本的类别纯度（精确分类器的平均置信度）与多样性（总方差）。
public func cfgSample(mixture: LabelledMixture, label: Int, scale: Double, start: Tensor, sigmas: [Double]) throws -> Tensor {
    // BEGIN SOLUTION cfgSample
    let labels = Tensor.full([start.shape[0]], Float(label))
    var x = start
    for i in 0..<(sigmas.count - 1) {
        let level = NoiseLevel(alpha: 1, sigma: sigmas[i])
        let guided = try classifierFreeGuidance(conditional: mixture.denoise(x, at: level, labels: labels),
                                                unconditional: mixture.marginal.denoise(x, at: level), scale: scale)
        x = guided + (x - guided) * Float(sigmas[i + 1] / sigmas[i])
    }
    return x
    // END SOLUTION
}
