// 实验 L6：流匹配（配套第 6 章）
//
// 第 6 章的约定：t ∈ [0, 1]，t = 0 是数据，t = 1 是纯噪声；数据 x₀ 与噪声 ε ~ N(0, I) 用直线连起来
//
//     x_t = (1 − t)·x₀ + t·ε，                                                         （@eq:linear-path）
//
// 沿这条直线的速度是常数 ε − x₀。流匹配对它做回归；最优解是边缘速度 u_t(x) = E[ε − x₀ | x_t = x]
// （@thm:marginal-velocity），它可以用去噪器写出（@eq:fm-velocity-denoiser）。采样时从 t = 1 的噪声出发，
// 沿 dx/dt = u_t(x) 向 t = 0 积分——时间是**递减**的，所以每一步的 Δt = t_{i+1} − t_i 是负数。
//
// 本实验依次实现：插值与速度目标；条件流匹配（CFM）损失；精确的边缘速度；Euler 与 Heun 两个流采样器；reflow 的配对。
// 评分时把高斯混合的精确去噪器（`GaussianMixture.denoise`）当作“训练好的模型”，并与库的 `FlowMatching`、
// `Sampling.flowEuler`、`Sampling.flowHeun` 逐点比较。数据是张量 [样本数 n, 维数 d]。
// 小提示：每个样本一个时间时，`Tensor(times.map(Float.init), shape: [n, 1])` 是一列，可以与 [n, d] 的张量逐元素相乘（广播）。

import DiffusionEngine
import Diffusion
import Foundation

// MARK: - 练习 1：线性插值与速度目标

/// 对第 i 个样本用时间 `times[i]`：x_t = (1 − t)·x₀ + t·ε，速度目标 = ε − x₀。
/// `x0`、`noise` 形状都是 [n, d]，`times` 有 n 个数。返回 (xt, target)，形状都是 [n, d]。
/// 注意哪一端是数据：t = 0 时 x_t = x₀，t = 1 时 x_t = ε。
public func linearInterpolant(x0: Tensor, noise: Tensor, times: [Double]) throws -> (xt: Tensor, target: Tensor) {
    // BEGIN SOLUTION linearInterpolant
    let t = Tensor(times.map(Float.init), shape: [times.count, 1])
    return (x0 * (1 - t) + noise * t, noise - x0)
    // END SOLUTION
}

// MARK: - 练习 2：条件流匹配损失

/// @eq:fm-losses 中的 L_CFM 在一个批次上的值：
///
///     L = (1/n) · Σ_i ‖ v(x_t,i, t_i) − (ε_i − x₀_i) ‖²，
///
/// 其中 (x_t, 目标) 来自练习 1，`velocity(x_t, times)` 是模型（一次调用整个批次，返回 [n, d]）。
/// 对样本求平均、对维度求和。返回标量张量，要能反向传播到模型的参数（全程用张量运算）。
public func conditionalFlowMatchingLoss(velocity: (Tensor, [Double]) -> Tensor, x0: Tensor, noise: Tensor, times: [Double]) throws -> Tensor {
    // BEGIN SOLUTION conditionalFlowMatchingLoss
    let (xt, target) = try linearInterpolant(x0: x0, noise: noise, times: times)
    return (velocity(xt, times) - target).square().sum() * Float(1 / Double(x0.shape[0]))
    // END SOLUTION
}

// MARK: - 练习 3：由去噪器得到的边缘速度

/// 独立耦合的边缘速度（@eq:fm-velocity-denoiser）：
///
///     u_t(x) = ( x − E[x₀ | x_t = x] ) / t，
///
/// E[x₀ | x_t = x] 是去噪器在水平 (α, σ) = (1 − t, t) 处的值：调用 `denoise(x, NoiseLevel(alpha: 1 − t, sigma: t))`。
/// 0 < t ≤ 1。想一想：t = 1 时 x − u_1(x) 等于什么（@ex:flow-one-step）？
public func marginalVelocity(x: Tensor, t: Double, denoise: (Tensor, NoiseLevel) -> Tensor) throws -> Tensor {
    // BEGIN SOLUTION marginalVelocity
    (x - denoise(x, NoiseLevel(alpha: 1 - t, sigma: t))) * Float(1 / t)
    // END SOLUTION
}

// MARK: - 练习 4：流上的 Euler 法

/// 沿递减的时间网格 `times` = [t_0 > t_1 > … > t_N]（例如 `Schedule.flowTimes(steps: N)` = [1, …, 0]）：
///
///     x ← x + (t_{i+1} − t_i) · v(x, t_i)，
///
/// 每步调用一次 `velocity(x, t_i)`。t_{i+1} − t_i < 0：往数据的方向走。返回最后的 x。
/// 测试会与库的 `Sampling.flowEuler` 逐点比较（@prop:flow-ddim 证明它就是 DDIM）。
public func flowEulerSampler(velocity: (Tensor, Double) -> Tensor, x: Tensor, times: [Double]) throws -> Tensor {
    // BEGIN SOLUTION flowEulerSampler
    var x = x
    for i in 0..<(times.count - 1) {
        x = x + velocity(x, times[i]) * Float(times[i + 1] - times[i])
    }
    return x
    // END SOLUTION
}

// MARK: - 练习 5：流上的 Heun 法

/// 梯形预测–校正（Heun 法，二阶），与库的 `Sampling.flowHeun` 相同的约定。第 i 步，Δ = t_{i+1} − t_i：
///
/// 1. v = velocity(x, t_i)；
/// 2. 若 t_{i+1} = 0：只走 Euler，x ← x + Δ·v（t = 0 处速度 (x − x̂₀)/t 没有定义），进入下一步；
/// 3. 否则预测 x̃ = x + Δ·v，再算 ṽ = velocity(x̃, t_{i+1})，校正 x ← x + Δ·(v + ṽ)/2。
///
/// N 步、最后落到 0 时共调用 2N − 1 次 velocity。
public func flowHeunSampler(velocity: (Tensor, Double) -> Tensor, x: Tensor, times: [Double]) throws -> Tensor {
    // BEGIN SOLUTION flowHeunSampler
    var x = x
    for i in 0..<(times.count - 1) {
        let (t, tNext) = (times[i], times[i + 1])
        let v = velocity(x, t)
        if tNext == 0 { x = x + v * Float(tNext - t); continue }
        let predicted = x + v * Float(tNext - t)
        x = x + (v + velocity(predicted, tNext)) * Float(0.5 * (tNext - t))
    }
    return x
    // END SOLUTION
}

// MARK: - 练习 6：reflow 的配对

/// Reflow 的第一步（@sec:reflow）：把一批噪声 z（t = 1）沿已有的流解到 t = 0，得到确定性的耦合 (φ₀(z), z)。
/// 用练习 5 的 Heun 法，时间网格 `Schedule.flowTimes(steps: steps)`（从 1 均匀地到 0）。
/// 返回 (x0: φ₀(z), noise: z)；之后在这些固定的配对上做流匹配（把练习 2 的 x0、noise 换成它们）就是 2-整流流。
/// 测试会检查 @thm:rectify：这个耦合的平方运输代价 E‖z − φ₀(z)‖² 不超过独立耦合的；一维时它就是分位数映射。
public func reflowPairs(velocity: (Tensor, Double) -> Tensor, noise z: Tensor, steps: Int) throws -> (x0: Tensor, noise: Tensor) {
    // BEGIN SOLUTION reflowPairs
    (try flowHeunSampler(velocity: velocity, x: z, times: Schedule.flowTimes(steps: steps)), z)
    // END SOLUTION
}
