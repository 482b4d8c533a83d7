// 实验 L14：一致性模型（配套第 14 章 §14.2）
//
// 概率流 ODE（α = 1 的坐标，x = x₀ + σ·ε）dx/dσ = (x − D(x; σ))/σ 把噪声点沿一条确定的轨迹送到数据。
// 一致性函数 f(x, σ) 把轨迹上任一点映到同一条轨迹在 σ_min 处的点（@def:consistency）：
//
//     自一致性 f(x(σ), σ) = f(x(σ′), σ′)，   边界条件 f(x, σ_min) = x。            （@eq:self-consistency）
//
// 一致性模型用网络 F_θ 逼近它，并把边界条件写死在参数化里（@eq:cm-param、@eq:cm-cskip）。训练信号来自相邻两个水平：
// 一致性蒸馏（CD，@eq:cd-loss）让 f_θ(x_{n+1}, σ_{n+1}) 与 f_θ⁻(x̂_n, σ_n) 相同，x̂_n 是教师沿 ODE 从 σ_{n+1} 走到 σ_n 的一步。
// 生成时一步 x = f(σ_max·z, σ_max)，或交替“映射到终点”与“重新加噪”（@eq:cm-multistep）。
//
// 本实验的水平列表 `levels` 是**升序**的 σ_min = levels[0] < levels[1] < … < levels[N − 1] = σ_max（库的
// `ConsistencyLevels.levels(N)`）；书中从 1 编号（σ_1 = σ_min），这里的下标从 0 开始：下标 n 表示相邻的一对
// (levels[n], levels[n + 1])。一致性函数与去噪器都以闭包给出：consistency(x, σ)、denoise(x, σ)，对整批用同一个 σ。

import DiffusionEngine
import Diffusion
import Foundation

// MARK: - 练习 1：c_skip 与 c_out

/// 一致性参数化的两个系数 @eq:cm-cskip（Song 等，2023，附录 C）：
///
///     c_skip(σ) = σ_data² / ((σ − σ_min)² + σ_data²)，   c_out(σ) = σ_data·(σ − σ_min) / √(σ² + σ_data²)。
///
/// 它们把 EDM 的 c_skip 中的 σ 平移成 σ − σ_min，于是 c_skip(σ_min) = 1、c_out(σ_min) = 0，而且在浮点运算里也**精确**成立。
/// 注意 c_out 的分母里是 σ²，不是 (σ − σ_min)²。
public func consistencyCoefficients(sigma: Double, sigmaData: Double, sigmaMin: Double) throws -> (cSkip: Double, cOut: Double) {
    // BEGIN SOLUTION consistencyCoefficients
    let d2 = sigmaData * sigmaData, s = sigma - sigmaMin
    return (d2 / (s * s + d2), sigmaData * s / (sigma * sigma + d2).squareRoot())
    // END SOLUTION
}

// MARK: - 练习 2：一致性模型的输出

/// f_θ(x, σ) = c_skip(σ)·x + c_out(σ)·F_θ(c_in(σ)·x; c_noise(σ))（@eq:cm-param），c_in 与 c_noise 沿用 EDM 的：
///
///     c_in(σ) = 1/√(σ² + σ_data²)，   c_noise(σ) = ¼·ln σ。
///
/// `network(input, cNoise)` 就是 F_θ：第一个参数是已经乘过 c_in 的输入，第二个是 c_noise（一个数，整批相同）。
/// 用练习 1 的系数。全程用张量运算（测试会对网络参数求梯度）。
/// 想一想：为什么无论 `network` 输出什么（只要有限），σ = σ_min 时结果都与 x **逐位**相同？
public func consistencyFunction(x: Tensor, sigma: Double, sigmaData: Double, sigmaMin: Double,
                                network: (Tensor, Double) -> Tensor) throws -> Tensor {
    // BEGIN SOLUTION consistencyFunction
    let c = try consistencyCoefficients(sigma: sigma, sigmaData: sigmaData, sigmaMin: sigmaMin)
    let F = network(x * Float(1 / (sigma * sigma + sigmaData * sigmaData).squareRoot()), 0.25 * Foundation.log(sigma))
    return x * Float(c.cSkip) + F * Float(c.cOut)
    // END SOLUTION
}

// MARK: - 练习 3：单个高斯的理想一致性函数（闭式）

/// 数据 x₀ ~ N(μ, s²·I)（各坐标独立，均值 `mean` 每个坐标一个数，标准差 `std` 相同）时，精确去噪器是
/// D(x; σ) = μ + s²/(s² + σ²)·(x − μ)，于是概率流 ODE 成为
///
///     dx/dσ = (x − D)/σ = σ·(x − μ)/(s² + σ²)。
///
/// 解出它：(x − μ)/√(s² + σ²) 沿轨迹不变。所以理想的一致性函数是
///
///     f(x, σ) = μ + (x − μ)·√(s² + σ_min²)/√(s² + σ²)。
///
/// 实现它（x 的形状 [n, d]，d = mean.count）。测试会把它与库的 `ExactConsistencyFunction`（四阶 Runge–Kutta 数值地解 ODE）
/// 比较，并检查 @eq:self-consistency 的两条性质。后面的练习会用它当作“完美的一致性模型”。
/// 提示：`Tensor(mean.map(Float.init), shape: [1, d])` 会按行广播。
public func gaussianConsistency(x: Tensor, sigma: Double, mean: [Double], std: Double, sigmaMin: Double) throws -> Tensor {
    // BEGIN SOLUTION gaussianConsistency
    let mu = Tensor(mean.map(Float.init), shape: [1, mean.count])
    let ratio = ((std * std + sigmaMin * sigmaMin) / (std * std + sigma * sigma)).squareRoot()
    return mu + (x - mu) * Float(ratio)
    // END SOLUTION
}

// MARK: - 练习 4：教师沿概率流 ODE 走一步

/// 一致性蒸馏的教师：从水平 σ 上的 x 沿 ODE dx/dσ = (x − D(x; σ))/σ 走到 σ_next < σ（都大于 0）。
///
/// - Euler（`heun == false`，即 DDIM）：d = (x − D(x; σ))/σ，x_next = x + (σ_next − σ)·d。一次去噪器调用。
/// - Heun（`heun == true`，Karras 等 2022 的算法 1）：先做上面的 Euler 一步得到 x̃，再在 (x̃, σ_next) 处算斜率
///   d′ = (x̃ − D(x̃; σ_next))/σ_next，用两个斜率的平均：x_next = x + (σ_next − σ)·(d + d′)/2。两次调用。
///
/// Euler 的局部误差是 O(h²)，Heun 是 O(h³)（h = σ − σ_next）。测试在单个高斯的精确流上测出这两个阶，
/// 并与库的 `ConsistencyTeacher.euler`、`.heun` 逐点比较。
public func teacherStep(denoise: (Tensor, Double) -> Tensor, x: Tensor, from sigma: Double, to sigmaNext: Double,
                        heun: Bool) throws -> Tensor {
    // BEGIN SOLUTION teacherStep
    let d = (x - denoise(x, sigma)) * Float(1 / sigma)
    let euler = x + d * Float(sigmaNext - sigma)
    guard heun else { return euler }
    let d2 = (euler - denoise(euler, sigmaNext)) * Float(1 / sigmaNext)
    return x + (d + d2) * Float(0.5 * (sigmaNext - sigma))
    // END SOLUTION
}

// MARK: - 练习 5：一致性蒸馏损失

/// 一致性蒸馏损失 @eq:cd-loss 在一批样本与一对相邻水平 (σ_n, σ_{n+1}) = (levels[n], levels[n + 1]) 上的值，
/// 距离取平方 ℓ₂，λ = 1，对样本求平均：
///
/// 1. x_{n+1} = x₀ + σ_{n+1}·z（`x0`、`noise` 形状都是 [B, d]）；
/// 2. x̂_n = 教师从 x_{n+1} 走到 σ_n 的一步（练习 4，Heun）；
/// 3. 目标 y = f(x̂_n, σ_n)，**不求梯度**（θ⁻ = stopgrad(θ)：用 `withNoGrad { … }` 计算，再 `.detached()`）；
/// 4. 损失 = (1/B)·Σ_i ‖f(x_{n+1,i}, σ_{n+1}) − y_i‖²（对坐标求和、对样本平均）。
///
/// 返回标量张量，要能反向传播到 `consistency` 里的网络参数——但只经过 σ_{n+1} 那一侧。
/// 想一想：如果目标那一侧也求梯度，网络可以怎样“作弊”，让损失变成 0？
public func consistencyDistillationLoss(consistency: (Tensor, Double) -> Tensor, denoise: (Tensor, Double) -> Tensor,
                                        x0: Tensor, noise z: Tensor, levels: [Double], index n: Int) throws -> Tensor {
    // BEGIN SOLUTION consistencyDistillationLoss
    let (lower, upper) = (levels[n], levels[n + 1])
    let xUpper = x0 + z * Float(upper)
    let xHat = try withNoGrad { try teacherStep(denoise: denoise, x: xUpper, from: upper, to: lower, heun: true) }
    let target = withNoGrad { consistency(xHat, lower) }.detached()
    let difference = consistency(xUpper, upper) - target
    return difference.square().sum() * Float(1 / Double(x0.shape[0]))
    // END SOLUTION
}

// MARK: - 练习 6：一步与多步一致性采样

/// Song 等（2023）的算法 1（@eq:cm-multistep）：先一步 x ← f(x, σ_max)（x 是先验样本 σ_max·z），再对
/// `sigmas` 中的每个 τ_i（降序，σ_min < τ_i < σ_max）重新加噪、再映射回来：
///
///     x ← f( x + √(τ_i² − σ_min²)·z_i,  τ_i )，   z_i = noise.normal(like: x, step: i)（i 从 0 起）。
///
/// `sigmas` 为空时就是一步采样。加噪的标准差是 √(τ_i² − σ_min²) 而不是 τ_i：f 的输出已经带着 σ_min 的噪声，方差相加恰为 τ_i²。
/// 测试会与库的 `Sampling.consistency` 逐点比较，并用练习 3 的理想高斯一致性函数检查输出方差的闭式。
public func multistepConsistencySample(consistency: (Tensor, Double) -> Tensor, x: Tensor, sigmaMax: Double,
                                       sigmas: [Double], sigmaMin: Double, noise: NoiseSource) throws -> Tensor {
    // BEGIN SOLUTION multistepConsistencySample
    var x = consistency(x, sigmaMax)
    for (i, tau) in sigmas.enumerated() {
        x = consistency(x + noise.normal(like: x, step: i) * Float((tau * tau - sigmaMin * sigmaMin).squareRoot()), tau)
    }
    return x
    // END SOLUTION
}
