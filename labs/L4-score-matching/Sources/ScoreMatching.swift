// 实验 L4：去噪分数匹配与退火 Langevin 动力学（配套第 4 章）
//
// 分数（score）是对数密度的梯度 s(x) = ∇ log p(x)。知道了分数，就能用 Langevin 动力学从 p 采样：
//
//     x ← x + (a/2)·s(x) + √a·z，   z ~ N(0, I)，   a 是步长；a → 0、步数 → ∞ 时样本服从 p。
//
// 但真实数据的分数未知。Vincent（2011）发现：给数据加噪声 x̃ = x₀ + σ·ε 之后，带噪分布 p_σ 的分数可以
// 用“去噪”来学——最小化
//
//     DSM(θ; σ) = ½·E ‖ s_θ(x̃, σ) − ∇ log q(x̃ | x₀) ‖²，   ∇ log q(x̃ | x₀) = −(x̃ − x₀)/σ² = −ε/σ，
//
// 最优解正是 s_θ(x̃, σ) = ∇ log p_σ(x̃)。NCSN（Song & Ermon，2019）在一串从大到小的 σ 上同时学习，
// 采样时从大 σ 退火到小 σ，每个水平上跑几步 Langevin——这就是“退火 Langevin 动力学”。
//
// 本实验全部在 α = 1 的坐标里：x̃ = x₀ + σ·ε（第 4 章的写法）。Tweedie 公式（练习 2）也给出一般 α 的形式。
// 数据是二维点，张量形状 [样本数 n, 2]；分数模型是一个闭包 score(x, σ)，返回与 x 同形状的张量。
// 评分时用高斯混合的“精确分数”代替训练好的网络（`GaussianMixture.score`）。

import DiffusionEngine
import Diffusion
import Foundation

// MARK: - 练习 1：去噪分数匹配损失

/// 一个噪声水平 σ 上的 DSM 损失，按 λ(σ) = σ² 加权（NCSN 的选择，使各个 σ 上的损失大小相近）：
///
///     L = ½ · (1/n) · Σ_i σ²·‖ s(x̃_i, σ) + ε_i/σ ‖² = ½ · (1/n) · Σ_i ‖ σ·s(x̃_i, σ) + ε_i ‖²，
///     x̃_i = x₀_i + σ·ε_i。
///
/// `x0` 和 `epsilon` 形状都是 [n, d]。注意是对样本求平均、对维度求和（‖·‖² 是每个样本的平方范数）。
/// 返回标量张量，要能反向传播到 score 的参数（全程用张量运算）。
/// 提示：`.square().sum()` 对所有元素求和；再乘以 0.5/n。
public func dsmLoss(score: (Tensor, Double) -> Tensor, x0: Tensor, epsilon: Tensor, sigma: Double) throws -> Tensor {
    // BEGIN SOLUTION dsmLoss
    let n = x0.shape[0]
    let noisy = x0 + epsilon * Float(sigma)
    let residual = score(noisy, sigma) * Float(sigma) + epsilon
    return residual.square().sum() * Float(0.5 / Double(n))
    // END SOLUTION
}

// MARK: - 练习 2：Tweedie 公式

/// Tweedie 公式：若 x = α·x₀ + σ·ε，则后验均值（最优去噪结果）是
///
///     E[x₀ | x] = ( x + σ²·∇ log p(x) ) / α。
///
/// 给定 x 和它所在水平上的分数 `score`（与 x 同形状），返回 E[x₀ | x]。α = 1 时就是 x + σ²·s。
/// 这说明“学分数”和“学去噪”是一回事：第 4 章由此把分数模型与 DDPM 联系起来。
public func tweedieDenoise(x: Tensor, score: Tensor, alpha: Double, sigma: Double) throws -> Tensor {
    // BEGIN SOLUTION tweedieDenoise
    (x + score * Float(sigma * sigma)) * Float(1 / alpha)
    // END SOLUTION
}

// MARK: - 练习 3：Langevin 动力学的一步

/// x ← x + (a/2)·s + √a·z，其中 s 是 x 处的分数，a = `stepSize` > 0，z 是调用者给的标准正态噪声。
public func langevinStep(x: Tensor, score: Tensor, stepSize a: Double, noise z: Tensor) throws -> Tensor {
    // BEGIN SOLUTION langevinStep
    x + score * Float(a / 2) + z * Float(a.squareRoot())
    // END SOLUTION
}

// MARK: - 练习 4：退火 Langevin 动力学

/// Song & Ermon（2019）算法 1：对从大到小的每个噪声水平 σ_i（`sigmas`，都大于 0），
/// 用步长 a_i = ε·σ_i²/σ_L² 跑 `stepsPerLevel` 步 Langevin（σ_L 是最后、也是最小的水平），返回最后的 x。
///
/// 约定（评分会和库的 `Sampling.annealedLangevin` 逐点比较）：
/// - 第 i 个水平（i 从 0 起）的第 k 步（k 从 0 起）用噪声 `noise.normal(like: x, step: i, draw: k)`；
/// - 每一步都在当前 x 上重新计算分数 `score(x, σ_i)`，再调用练习 3 的 `langevinStep`。
///
/// 想一想：为什么步长要随 σ_i² 缩放？（提示：分数的大小约为 1/σ，噪声的大小约为 √a。）
public func annealedLangevin(score: (Tensor, Double) -> Tensor, x: Tensor, sigmas: [Double], stepsPerLevel: Int,
                             epsilon: Double, noise: NoiseSource) throws -> Tensor {
    // BEGIN SOLUTION annealedLangevin
    let smallest = sigmas[sigmas.count - 1]
    var x = x
    for (i, sigma) in sigmas.enumerated() {
        let a = epsilon * sigma * sigma / (smallest * smallest)
        for k in 0..<stepsPerLevel {
            x = try langevinStep(x: x, score: score(x, sigma), stepSize: a, noise: noise.normal(like: x, step: i, draw: k))
        }
    }
    return x
    // END SOLUTION
}
