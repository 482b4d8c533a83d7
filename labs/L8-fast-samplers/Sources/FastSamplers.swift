// 实验 L8：DDIM 与 DPM-Solver++(2M)（配套第 8 章）
//
// 去噪器 D(x; σ) ≈ E[x₀ | x] 给出了一条确定性的“概率流 ODE”：在 α = 1 的坐标 x = x₀ + σ·ε 中
//
//     dx/dσ = (x − D(x; σ)) / σ。
//
// 从 x_{σ_max} ~ N(0, σ_max²·I) 出发，沿 σ 从大到小积分到 0，就得到数据分布的样本。采样器就是这个 ODE 的数值解法，
// 步数越少越快，但误差越大；误差随步数 N 的下降速度 ~ N^(−p)，p 叫“收敛阶”。
//
// DDIM（Song、Meng & Ermon，2021）：先估计 x̂₀ 和 ε̂，再把它们按下一个水平重新组合。一般的 (α, σ) 写法是
//
//     x̂₀ = D(x_t)，  ε̂ = (x_t − α_t·x̂₀)/σ_t，  x_s = α_s·x̂₀ + σ_s·ε̂。            （一阶）
//
// DPM-Solver++（Lu 等，2022）：在 λ = −log σ 上精确积分线性部分，只对 D 做多项式近似。令 h = log(σ/σ_next)：
//
//     一阶：x_next = (σ_next/σ)·x − expm1(−h)·D_i                               （恰好就是 DDIM！）
//     二阶多步 (2M)：把 D_i 换成 D̃ = (1 + 1/(2r))·D_i − 1/(2r)·D_{i−1}，r = h_{i−1}/h_i，
//
// 其中 D_{i−1}、h_{i−1} 来自上一步——不用额外调用去噪器就达到二阶。第一步（没有上一步）和落到 σ = 0 的最后一步用一阶。
//
// 噪声水平是从大到小的列表 sigmas = [σ_0 > σ_1 > … > σ_N]，通常最后一个是 0；去噪器是闭包 denoise(x, σ)。
// 评分用高斯混合的精确去噪器，与库里的 `Sampling.ddim`、`Sampling.dpmSolverPP2M` 逐点比较，并测量收敛阶。
// 小提示：Foundation 的 `expm1(x)` 精确计算 eˣ − 1（x 很小时比 exp(x) − 1 准确得多）。

import DiffusionEngine
import Diffusion
import Foundation

// MARK: - 练习 1：DDIM 的一步（一般的 α、σ）

/// 从水平 `from` = (α_t, σ_t) 上的 x 走到水平 `to` = (α_s, σ_s)：
///
///     ε̂ = (x − α_t·x̂₀)/σ_t，   x_s = α_s·x̂₀ + σ_s·ε̂。
///
/// `x0Hat` 是去噪器在 x 处给出的 x̂₀。`from.sigma` > 0；`to.sigma` 可以是 0（此时结果就是 α_s·x̂₀）。
/// 用 `from.alpha`、`from.sigma` 等读出 α、σ。
public func ddimStep(x: Tensor, x0Hat: Tensor, from: NoiseLevel, to: NoiseLevel) throws -> Tensor {
    // BEGIN SOLUTION ddimStep
    let epsilonHat = (x - x0Hat * Float(from.alpha)) * Float(1 / from.sigma)
    return x0Hat * Float(to.alpha) + epsilonHat * Float(to.sigma)
    // END SOLUTION
}

// MARK: - 练习 2：DDIM 采样（α = 1）

/// 在 α = 1 的坐标中，沿 `sigmas` 逐步用练习 1 走完：第 i 步在 σ_i 上调用一次 `denoise(x, σ_i)` 得到 x̂₀，
/// 再从水平 (1, σ_i) 走到 (1, σ_{i+1})。返回最后的 x。每步恰好调用一次去噪器。
public func ddim(denoise: (Tensor, Double) -> Tensor, x: Tensor, sigmas: [Double]) throws -> Tensor {
    // BEGIN SOLUTION ddim
    var x = x
    for i in 0..<(sigmas.count - 1) {
        let x0Hat = denoise(x, sigmas[i])
        x = try ddimStep(x: x, x0Hat: x0Hat, from: NoiseLevel(alpha: 1, sigma: sigmas[i]), to: NoiseLevel(alpha: 1, sigma: sigmas[i + 1]))
    }
    return x
    // END SOLUTION
}

// MARK: - 练习 3：DPM-Solver++ 的一阶更新

/// x_next = (σ_next/σ)·x − expm1(−h)·D，h = log(σ/σ_next)，要求 σ_next > 0。
/// 测试会验证它与 α = 1 的 DDIM 一步完全相同——请想一想为什么（把 expm1(−h) 写成 σ_next/σ − 1）。
public func dpmSolverFirstOrderUpdate(x: Tensor, denoised: Tensor, sigma: Double, sigmaNext: Double) throws -> Tensor {
    // BEGIN SOLUTION dpmSolverFirstOrderUpdate
    let h = Foundation.log(sigma / sigmaNext)
    return x * Float(sigmaNext / sigma) - denoised * Float(expm1(-h))
    // END SOLUTION
}

// MARK: - 练习 4：DPM-Solver++(2M) 的二阶修正

/// D̃ = (1 + 1/(2r))·D_i − 1/(2r)·D_{i−1}，r = h_{i−1}/h_i。
/// `current` 是 D_i，`previous` 是 D_{i−1}；`h` 是这一步的 h_i = log(σ_i/σ_{i+1})，`previousH` 是上一步的 h_{i−1}。
/// 这是在 λ 上用两点做线性外推：步长相等（r = 1）时 D̃ = 1.5·D_i − 0.5·D_{i−1}。
public func dpmSolver2MCorrection(current: Tensor, previous: Tensor, h: Double, previousH: Double) throws -> Tensor {
    // BEGIN SOLUTION dpmSolver2MCorrection
    let r = previousH / h
    return current * Float(1 + 1 / (2 * r)) - previous * Float(1 / (2 * r))
    // END SOLUTION
}

// MARK: - 练习 5：DPM-Solver++(2M) 采样

/// 沿 `sigmas` 走完 DPM-Solver++(2M)：第 i 步
///
/// 1. D_i = denoise(x, σ_i)（每步恰好一次调用）；
/// 2. 如果 σ_{i+1} = 0：x = D_i，进入下一步（其实已经结束）；
/// 3. 否则 h_i = log(σ_i/σ_{i+1})；有上一步时用练习 4 得到 D̃，否则 D̃ = D_i；
/// 4. 用练习 3 的一阶更新公式，但把 D 换成 D̃；记下 (D_i, h_i) 给下一步。
///
/// 提示：用一个可选值 `var previous: (denoised: Tensor, h: Double)? = nil` 记住上一步。
public func dpmSolverPP2M(denoise: (Tensor, Double) -> Tensor, x: Tensor, sigmas: [Double]) throws -> Tensor {
    // BEGIN SOLUTION dpmSolverPP2M
    var x = x
    var previous: (denoised: Tensor, h: Double)? = nil
    for i in 0..<(sigmas.count - 1) {
        let (sigma, sigmaNext) = (sigmas[i], sigmas[i + 1])
        let denoised = denoise(x, sigma)
        if sigmaNext == 0 { x = denoised; continue }
        let h = Foundation.log(sigma / sigmaNext)
        var d = denoised
        if let previous { d = try dpmSolver2MCorrection(current: denoised, previous: previous.denoised, h: h, previousH: previous.h) }
        x = try dpmSolverFirstOrderUpdate(x: x, denoised: d, sigma: sigma, sigmaNext: sigmaNext)
        previous = (denoised, h)
    }
    return x
    // END SOLUTION
}
