// 实验 L3：DDPM——训练一步与祖先采样（配套第 3 章）
//
// DDPM（Ho 等，2020）训练一个网络 ε̂_θ(x_t, t) 去猜前向过程加进去的噪声：
//
//     x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε，   ε ~ N(0, I)，   t 在 {0, …, T−1} 中均匀抽取，
//     L(θ) = E ‖ε̂_θ(x_t, t) − ε‖²                         （“简化损失”，第 3 章推导它来自变分下界）
//
// 采样时从纯噪声 x_T 出发，一步步按反向条件分布 p(x_{t−1} | x_t) 往回走（“祖先采样”）：
//
//     x_{t−1} = 1/√α_t · ( x_t − β_t/√(1 − ᾱ_t) · ε̂ ) + σ_t·z，   z ~ N(0, I)，
//     α_t = ᾱ_t/ᾱ_{t−1}，β_t = 1 − α_t，σ_t² = β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t)·β_t，最后一步（t = 0）不加噪声。
//
// 数据是二维点：张量形状 [样本数 n, 2]。下标约定和实验 L1 相同：alphaBars[t] 是第 t 个训练步的 ᾱ（t 从 0 起），
// 并约定 ᾱ_{−1} = 1（“第 −1 步”就是干净数据）。
//
// 你要实现四个函数：损失 → 训练一步 → 采样一步 → 完整采样。
// 评分时，采样部分不用训练好的网络，而是用高斯混合的“精确去噪器”代替它：网络学得再好也就是这样，
// 所以采样结果应当和真实分布几乎无法区分——这能单独检验你的采样器是否写对。
//
// 会用到的库函数：
//   Tensor(数组, shape: [n, 1])     由 [Float] 构造张量；[n, 1] 的张量与 [n, 2] 相乘时按行广播
//   a * b、a + b、a - b、a.square()、a.mean()   逐元素运算与求平均（都可以反向传播）
//   loss.backward()、optimizer.zeroGrad()、optimizer.step()   反向传播与优化器
//   Tensor.randomIntegers、Tensor.randomNormal、NoiseSource.normal   可复现的随机数

import DiffusionEngine
import DiffusionLayers
import Diffusion

// MARK: - 已经写好的部分：一个很小的 ε 预测网络

/// 一个很小的 MLP：输入 x_t（[n, 2]）和训练步 t（[n]，整数存成 Float），输出 ε̂（[n, 2]）。
/// t 先经过 16 维正弦时间嵌入，再和 x_t 拼接。参数由 `seed` 决定，同一个 seed 总是得到同一个网络。
public final class TinyEpsilonNet: Module {
    public let layers: Sequential

    public init(hidden: Int = 64, seed: UInt64 = 0) {
        layers = withParameterSeed(seed) {
            Sequential(Linear(2 + 16, hidden), SiLU(), Linear(hidden, hidden), SiLU(), Linear(hidden, 2))
        }
        super.init()
    }

    public func callAsFunction(_ x: Tensor, _ t: Tensor) -> Tensor {
        layers(Tensor.concat([x, sinusoidalEmbedding(t, dim: 16)], axis: 1))
    }
}

// MARK: - 练习 1：DDPM 的训练损失

/// 简化损失 L = mean((ε̂ − ε)²)：对一批数据 `x0`（[n, 2]）、每个样本各自的训练步 `t`（n 个整数）
/// 和噪声 `epsilon`（[n, 2]），先算 x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε（每一行用它自己的 t），
/// 再调用 `model(x_t, t张量)` 得到 ε̂，返回所有元素上 (ε̂ − ε)² 的平均值（一个标量张量）。
///
/// 提示：
/// - 每行系数不同：把 n 个 √ᾱ_t 做成形状 [n, 1] 的张量 `Tensor(系数数组, shape: [n, 1])`，它会沿第二维广播。
/// - 传给模型的 t 是形状 [n] 的张量：`Tensor(t.map(Float.init))`。
/// - 不要把结果转成 Float 再包回张量：训练需要对这个张量调用 backward()。
public func ddpmLoss(model: (Tensor, Tensor) -> Tensor, x0: Tensor, t: [Int], epsilon: Tensor, alphaBars: [Double]) throws -> Tensor {
    // BEGIN SOLUTION ddpmLoss
    let n = x0.shape[0]
    let signal = Tensor(t.map { Float(alphaBars[$0].squareRoot()) }, shape: [n, 1])
    let noise = Tensor(t.map { Float((1 - alphaBars[$0]).squareRoot()) }, shape: [n, 1])
    let xt = x0 * signal + epsilon * noise
    let prediction = model(xt, Tensor(t.map(Float.init)))
    return (prediction - epsilon).square().mean()
    // END SOLUTION
}

// MARK: - 练习 2：训练一步

/// 用一批干净数据 `x0` 训练一步，返回这一步的损失值（更新参数之前算出的那个）。步骤：
///
/// 1. 抽训练步：`Tensor.randomIntegers([n], in: 0..<T, seed: seed, stream: 0)`，T = alphaBars.count，
///    再把每个元素转成 Int；
/// 2. 抽噪声：`Tensor.randomNormal(x0.shape, seed: seed, stream: 1)`；
/// 3. `optimizer.zeroGrad()` 清掉上一步留下的梯度（不清的话梯度会累加！）；
/// 4. 用练习 1 的 `ddpmLoss` 算损失（模型就是 `{ model($0, $1) }`），`loss.backward()`；
/// 5. `optimizer.step()` 更新参数，返回 `Double(loss.item)`。
///
/// 评分会用同样的随机数约定重做一遍，逐个参数比较，所以第 1、2 步的 seed 和 stream 必须照写。
public func trainingStep(model: TinyEpsilonNet, optimizer: AdamW, x0: Tensor, alphaBars: [Double], seed: UInt64) throws -> Double {
    // BEGIN SOLUTION trainingStep
    let n = x0.shape[0]
    let t = Tensor.randomIntegers([n], in: 0..<alphaBars.count, seed: seed, stream: 0).scalars.map { Int($0) }
    let epsilon = Tensor.randomNormal(x0.shape, seed: seed, stream: 1)
    optimizer.zeroGrad()
    let loss = try ddpmLoss(model: { model($0, $1) }, x0: x0, t: t, epsilon: epsilon, alphaBars: alphaBars)
    loss.backward()
    optimizer.step()
    return Double(loss.item)
    // END SOLUTION
}

// MARK: - 练习 3：祖先采样的一步

/// 从 x_t 走到 x_{t−1}：
///
///     x_{t−1} = 1/√α_t · ( x_t − β_t/√(1 − ᾱ_t) · ε̂ ) + σ_t·z，
///     α_t = ᾱ_t/ᾱ_{t−1}，β_t = 1 − α_t，σ_t² = (1 − ᾱ_{t−1})/(1 − ᾱ_t)·β_t，
///
/// 其中 ᾱ_{−1} = 1。t = 0 时直接返回均值（不加噪声）——那已经是最终样本了。
/// `epsilonHat` 是网络对 x_t 的噪声预测，`z` 是调用者给的标准正态噪声（形状都与 x 相同）。
///
/// 提示：先在 Double 里算好 α_t、β_t 和 σ_t，最后才转成 Float 与张量相乘。
/// 想一想：为什么方差取 β̃_t 而不是 β_t？（第 3 章：β̃_t 是 q(x_{t−1} | x_t, x₀) 的方差。）
public func ancestralStep(x: Tensor, epsilonHat: Tensor, t: Int, alphaBars: [Double], noise z: Tensor) throws -> Tensor {
    // BEGIN SOLUTION ancestralStep
    let abar = alphaBars[t]
    let abarPrevious = t > 0 ? alphaBars[t - 1] : 1
    let alpha = abar / abarPrevious
    let beta = 1 - alpha
    let mean = (x - epsilonHat * Float(beta / (1 - abar).squareRoot())) * Float(1 / alpha.squareRoot())
    if t == 0 { return mean }
    let variance = (1 - abarPrevious) / (1 - abar) * beta
    return mean + z * Float(variance.squareRoot())
    // END SOLUTION
}

// MARK: - 练习 4：完整的祖先采样

/// 从 `xT` 出发，t = T−1, T−2, …, 0 依次调用练习 3，返回最终样本 x₀（形状与 xT 相同）。
///
/// - `model(x, t)` 返回 ε̂（评分时它是精确的高斯混合，而不是网络）。
/// - 第 i 次循环（i = 0, 1, …，即 t = T−1−i）的噪声用 `noise.normal(like: x, step: i)`。
///   这个约定和库里的 `Sampling.ddpm` 相同，评分会拿两者逐点比较。
public func sampleDDPM(model: (Tensor, Int) -> Tensor, xT: Tensor, alphaBars: [Double], noise: NoiseSource) throws -> Tensor {
    // BEGIN SOLUTION sampleDDPM
    var x = xT
    for (i, t) in (0..<alphaBars.count).reversed().enumerated() {
        let epsilonHat = model(x, t)
        x = try ancestralStep(x: x, epsilonHat: epsilonHat, t: t, alphaBars: alphaBars, noise: noise.normal(like: x, step: i))
    }
    return x
    // END SOLUTION
}
