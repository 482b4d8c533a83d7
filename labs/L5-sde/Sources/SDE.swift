// 实验 L5：SDE 与概率流 ODE（配套第 5 章）
//
// 第 5 章把扩散模型放进连续时间：t ∈ [0, 1]，t = 0 是数据，t = 1 接近纯噪声。前向过程是线性 SDE
//
//     dx = f(t)·x dt + g(t) dW_t，                                        （@eq:sde-general，漂移对 x 线性）
//
// 它的转移核是 x_t | x₀ ~ N(α_t·x₀, σ_t²·I)（@thm:sde-linear）。反过来读，生成数据的逆时 SDE 与概率流 ODE 是
//
//     dx = [f·x − g²·∇log p_t(x)] dt + g dW̄，    dx/dt = f·x − ½·g²·∇log p_t(x)，
//
// 两者都从 t = 1 向 t = 0 走（dt < 0）。它们是同一族过程（@prop:sde-eta）的 η = 1 与 η = 0：
//
//     dx = [f·x − (1 + η²)/2 · g²·∇log p_t(x)] dt + η·g dW̄。                                （@eq:sde-eta）
//
// 本实验依次实现：由 (α_t, σ_t) 求 (f, g²)；由 (f, g²) 求转移核；η 族的漂移；Euler–Maruyama 的一步；完整的采样器。
// 评分用高斯混合的精确分数（`GaussianMixture.score`）代替网络，并与库的 `Sampling.eulerMaruyama` 逐点比较。
// 约定：数据是张量 [样本数 n, 维数 d]；所有“时间”都是第 5 章的 VP 时间 t（不是 α = 1 坐标里的 σ）。

import DiffusionEngine
import Diffusion
import Foundation

// MARK: - 练习 1：由噪声过程求 SDE 的系数

/// 任何噪声过程 x_t = α_t·x₀ + σ_t·ε 都是一个线性 SDE（@eq:sde-f-g）：
///
///     f(t) = α̇_t / α_t，   g(t)² = dσ_t²/dt − 2·f(t)·σ_t² = 2·σ_t·σ̇_t − 2·f(t)·σ_t²。
///
/// 用 `process.alpha(t)`、`process.sigma(t)` 与 `process.rates(t)`（它的 `dAlpha`、`dSigma` 就是 α̇、σ̇）计算，
/// 返回 (f, g²)。提示：dσ²/dt 不是 σ̇——别漏了链式法则的 2σ。
public func sdeCoefficients(_ process: some NoiseProcess, at t: Double) throws -> (f: Double, g2: Double) {
    // BEGIN SOLUTION sdeCoefficients
    let (alpha, sigma, rates) = (process.alpha(t), process.sigma(t), process.rates(t))
    let f = rates.dAlpha / alpha
    return (f, 2 * sigma * rates.dSigma - 2 * f * sigma * sigma)
    // END SOLUTION
}

// MARK: - 练习 2：由 f、g² 求转移核

/// 反方向（@eq:sde-linear-solution）：给定系数函数 f(s) 与 g²(s)，求 x_t | x₀ 的均值系数与标准差
///
///     α_t = exp( ∫₀ᵗ f(s) ds )，   σ_t² = α_t² · ∫₀ᵗ g²(s) / α_s² ds。
///
/// 用复合梯形公式数值积分：把 [0, t] 等分成 `steps` 段，节点 s_k = k·t/steps（k = 0…steps）。
/// 先逐段累加 F_k = ∫₀^{s_k} f（梯形），于是 α_{s_k} = exp(F_k)；再对 h_k = g²(s_k)·exp(−2F_k) 用梯形公式。
/// 返回 (alpha: α_t, sigma: σ_t)。梯形公式的误差是 O(1/steps²)；左端点和（矩形公式）只有 O(1/steps)，测试会分辨。
public func linearSDEKernel(f: (Double) -> Double, g2: (Double) -> Double, t: Double, steps: Int) throws -> (alpha: Double, sigma: Double) {
    // BEGIN SOLUTION linearSDEKernel
    let h = t / Double(steps)
    var logAlpha = 0.0, variance = 0.0                 // variance = ∫ g²/α² so far
    var previousF = f(0), previousH = g2(0)            // α_0 = 1
    for k in 1...steps {
        let s = Double(k) * h
        let fk = f(s)
        logAlpha += 0.5 * h * (previousF + fk)
        let hk = g2(s) * exp(-2 * logAlpha)
        variance += 0.5 * h * (previousH + hk)
        (previousF, previousH) = (fk, hk)
    }
    let alpha = exp(logAlpha)
    return (alpha, alpha * variance.squareRoot())
    // END SOLUTION
}

// MARK: - 练习 3：逆时 SDE 与概率流 ODE 的漂移

/// η 族的漂移（@eq:sde-eta）：
///
///     b = f·x − (1 + η²)/2 · g² · score，
///
/// `score` 是 x 处的分数 ∇log p_t(x)（与 x 同形状），f、g² 是练习 1 的系数。η = 1 是逆时 SDE（@eq:sde-reverse），
/// η = 0 是概率流 ODE（@eq:sde-pf）。b 是 dx/dt 的“漂移”，而采样时 dt < 0：这里不要替调用者改符号。
public func reverseTimeDrift(x: Tensor, score: Tensor, f: Double, g2: Double, eta: Double) throws -> Tensor {
    // BEGIN SOLUTION reverseTimeDrift
    x * Float(f) - score * Float((1 + eta * eta) / 2 * g2)
    // END SOLUTION
}

// MARK: - 练习 4：Euler–Maruyama 的一步（倒着走）

/// 从时刻 t 倒退到 t − Δt（`dt` = Δt > 0）：
///
///     x' = x − b·Δt + η·√(g²·Δt)·z，   b = reverseTimeDrift(x, score, f, g², η)，
///
/// z 是调用者给的标准正态噪声（与 x 同形状）。这就是 @eq:sde-em 在 dt = −Δt 时的写法：漂移项要乘以 −Δt，
/// 而噪声的标准差是 g·√Δt（布朗运动的增量方差是 |dt|）。η = 0 时没有噪声，就是概率流 ODE 上的 Euler 法。
public func reverseTimeStep(x: Tensor, score: Tensor, f: Double, g2: Double, eta: Double, dt: Double, noise z: Tensor) throws -> Tensor {
    // BEGIN SOLUTION reverseTimeStep
    let drift = try reverseTimeDrift(x: x, score: score, f: f, g2: g2, eta: eta)
    return x - drift * Float(dt) + z * Float(eta * (g2 * dt).squareRoot())
    // END SOLUTION
}

// MARK: - 练习 5：完整的采样器

/// 沿从大到小的时间网格 `times` = [t_0 > t_1 > … > t_N]（通常 t_0 = 1，t_N 是一个小的正数）走完 η 族：
///
/// 第 i 步（i = 0…N−1）在 t = t_i 上：
/// 1. (f, g²) = 练习 1 的 `sdeCoefficients(process, at: t_i)`；
/// 2. 分数 s = `score(x, t_i)`（每步恰好调用一次）；
/// 3. 用练习 4 倒退 Δt = t_i − t_{i+1}，噪声 z = `noise.normal(like: x, step: i)`。
///
/// 返回 t_N 时的 x（不做最后的去噪）。系数与分数都取在这一步的**起点** t_i——这是 Euler 法的定义。
/// η = 1 是逆时 SDE 的 Euler–Maruyama（弱一阶），η = 0 是概率流 ODE 的 Euler 法（一阶）。
public func sampleReverseTime(process: some NoiseProcess, score: (Tensor, Double) -> Tensor, x: Tensor, times: [Double],
                              eta: Double, noise: NoiseSource) throws -> Tensor {
    // BEGIN SOLUTION sampleReverseTime
    var x = x
    for i in 0..<(times.count - 1) {
        let t = times[i]
        let (f, g2) = try sdeCoefficients(process, at: t)
        x = try reverseTimeStep(x: x, score: score(x, t), f: f, g2: g2, eta: eta, dt: t - times[i + 1],
                                noise: noise.normal(like: x, step: i))
    }
    return x
    // END SOLUTION
}
