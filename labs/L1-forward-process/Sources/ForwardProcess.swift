// 实验 L1：前向加噪过程 q(x_t | x₀) 与信噪比（配套第 1 章）
//
// 扩散模型的前向过程每一步往数据里加一点高斯噪声：
//
//     q(x_n | x_{n−1}) = N( √(1 − β_n)·x_{n−1},  β_n·I ),   n = 1, …, T。
//
// 高斯分布的复合仍是高斯分布，所以不必真的走 n 步，可以一步直接得到 x_n：
//
//     q(x_n | x₀) = N( √ᾱ_n·x₀,  (1 − ᾱ_n)·I ),   其中 ᾱ_n = ∏_{k=1}^{n} (1 − β_k)，
//
// 也就是 x_n = √ᾱ_n·x₀ + √(1 − ᾱ_n)·ε，ε ~ N(0, I)。信号的“功率”是 ᾱ_n，噪声的是 1 − ᾱ_n，
// 二者之比就是信噪比 SNR_n = ᾱ_n / (1 − ᾱ_n)；它的对数 λ_n = log SNR_n 是后面各章反复出现的“时间坐标”。
//
// 本实验依次实现：β 调度 → ᾱ → 采样 x_n → SNR 与 log-SNR → SNR 何时跌破 1，
// 测试会把你的结果和库里的 `DiscreteVP`（离散时间的方差保持过程）逐项对照。
//
// 下标约定（和库一致）：数组从 0 开始，betas[i] 是第 i+1 步的 β_{i+1}，alphaBars[i] = ᾱ_{i+1}。
// 库中对应的量是 `DiscreteVP(betas:).alphasCumprod`。
//
// 运行评分：在实验包的文件夹里执行 `diffusion lab check .`（或 `swift test`）。

import DiffusionEngine
import Diffusion
import Foundation

// MARK: - 练习 1：线性 β 调度

/// DDPM（Ho 等，2020）的线性调度：β 从 `betaStart` 等间距地增加到 `betaEnd`，共 `steps` 个值：
///
///     β_i = betaStart + (betaEnd − betaStart)·i/(steps − 1),   i = 0, 1, …, steps − 1。
///
/// 要求：返回长度为 `steps` 的数组，第一个是 betaStart，最后一个是 betaEnd。
/// 提示：`steps == 1` 时只返回 `[betaStart]`，不要除以 0。
public func linearBetas(steps: Int, betaStart: Double = 1e-4, betaEnd: Double = 0.02) throws -> [Double] {
    // BEGIN SOLUTION linearBetas
    if steps == 1 { return [betaStart] }
    return (0..<steps).map { betaStart + (betaEnd - betaStart) * Double($0) / Double(steps - 1) }
    // END SOLUTION
}

// MARK: - 练习 2：累积乘积 ᾱ

/// ᾱ_n = ∏_{k≤n} (1 − β_k)：返回和 `betas` 一样长的数组，第 i 项是前 i+1 个 (1 − β) 的乘积。
///
/// 要求：用 Double 计算；结果应当严格递减并且都落在 (0, 1) 里。
/// 提示：维护一个累乘变量 `product`，每读一个 β 就乘上 (1 − β) 再记下来；`map` 或 `for` 循环都可以。
public func alphaBars(betas: [Double]) throws -> [Double] {
    // BEGIN SOLUTION alphaBars
    var product = 1.0
    return betas.map { beta in
        product *= 1 - beta
        return product
    }
    // END SOLUTION
}

// MARK: - 练习 3：给定噪声，算出 x_n

/// 按 x_n = √ᾱ·x₀ + √(1 − ᾱ)·ε 把干净数据 `x0` 加噪到 ᾱ = `alphaBar` 的水平。
///
/// `x0` 与 `epsilon` 形状相同（例如 [样本数, 维数]），返回同样形状的张量。
/// 提示：张量乘以标量写作 `x0 * Float(a)`；先在 Double 里算好 √ᾱ 和 √(1 − ᾱ)，再转成 Float。
public func noisySample(x0: Tensor, alphaBar: Double, epsilon: Tensor) throws -> Tensor {
    // BEGIN SOLUTION noisySample
    x0 * Float(alphaBar.squareRoot()) + epsilon * Float((1 - alphaBar).squareRoot())
    // END SOLUTION
}

// MARK: - 练习 4：从 q(x_n | x₀) 采样

/// 从 q(x_n | x₀) 采样：抽取标准正态噪声 ε，再用练习 3 算出 x_n。返回 (x_n, ε)，训练时两者都要用到。
///
/// 约定（评分会检查）：噪声必须是 `Tensor.randomNormal(x0.shape, seed: seed)`。
/// 本库的随机数是“计数器式”的：同样的 (seed, stream, 形状) 永远给出同样的数，所以结果可以逐位复现。
public func sampleForward(x0: Tensor, alphaBar: Double, seed: UInt64) throws -> (x: Tensor, epsilon: Tensor) {
    // BEGIN SOLUTION sampleForward
    let epsilon = Tensor.randomNormal(x0.shape, seed: seed)
    return (try noisySample(x0: x0, alphaBar: alphaBar, epsilon: epsilon), epsilon)
    // END SOLUTION
}

// MARK: - 练习 5：信噪比与 log-SNR

/// 信噪比 SNR = ᾱ / (1 − ᾱ)。ᾱ 越接近 1，信号越强；ᾱ 越接近 0，几乎全是噪声。
public func snr(alphaBar: Double) throws -> Double {
    // BEGIN SOLUTION snr
    alphaBar / (1 - alphaBar)
    // END SOLUTION
}

/// log-SNR：λ = log(ᾱ / (1 − ᾱ))（自然对数）。
///
/// 提示：写成 log(ᾱ) − log(1 − ᾱ) 更稳；Foundation 的 `log1p(x)` 精确地计算 log(1 + x)，
/// 于是 log(1 − ᾱ) = `log1p(-alphaBar)`。
public func logSNR(alphaBar: Double) throws -> Double {
    // BEGIN SOLUTION logSNR
    Foundation.log(alphaBar) - log1p(-alphaBar)
    // END SOLUTION
}

// MARK: - 练习 6：噪声何时盖过信号

/// 返回第一个 SNR < 1（即 ᾱ < 1/2、λ < 0）的下标 i；如果一直没有跌破 1，返回 nil。
///
/// 这是“噪声开始比信号强”的那一步。对 DDPM 的线性调度（T = 1000）它出现得相当早——
/// 想一想这对训练意味着什么（第 1 章讨论了为什么后来有人改用余弦调度）。
/// 提示：`firstIndex(where:)`。
public func firstStepBelowUnitSNR(alphaBars: [Double]) throws -> Int? {
    // BEGIN SOLUTION firstStepBelowUnitSNR
    try alphaBars.firstIndex { try snr(alphaBar: $0) < 1 }
    // END SOLUTION
}
