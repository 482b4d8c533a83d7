// 实验 L4 的评分测试（请不要修改）。每个测试的 .hint 是它失败时给你的提示。

import DiffusionEngine
import DiffusionLayers
import Diffusion
import Foundation
import Testing
@testable import Lab

@Suite("L4 去噪分数匹配与退火 Langevin")
struct ScoreMatchingTests {
    static let mixture = GaussianMixture.example2D

    /// 混合在 α = 1、噪声 σ 上的精确分数，按库的算法由去噪器得到：s = (D(x; σ) − x)/σ²。
    static func exactScore(_ x: Tensor, _ sigma: Double) -> Tensor {
        (mixture.denoise(x, sigma: sigma) - x) * Float(1 / (sigma * sigma))
    }

    @Test("DSM 损失的数值", .hint("x̃ = x₀ + σ·ε；损失 = ½·(1/n)·Σ‖σ·s(x̃, σ) + ε‖²：对样本求平均，对维度求和，别漏了 ½。"))
    func lossValue() throws {
        // 数据若是 N(0, I)，带噪分布是 N(0, (1 + σ²)I)，精确分数为 −x/(1 + σ²)。这里故意用一个不精确的分数。
        let x0 = Tensor(rows: [[1, -1], [0.5, 2], [-1.5, 0]])
        let eps = Tensor(rows: [[0.2, -0.4], [1, 0.3], [-0.7, 1.1]])
        let sigma = 0.7
        let score: (Tensor, Double) -> Tensor = { x, s in x * Float(-0.8 / (1 + s * s)) }
        let loss = try dsmLoss(score: score, x0: x0, epsilon: eps, sigma: sigma)
        try #require(loss.count == 1, "损失应是标量，实际形状 \(loss.shape)")
        var expected = 0.0
        for i in 0..<3 {
            for j in 0..<2 {
                let xt = Double(x0[i, j]) + sigma * Double(eps[i, j])
                let r = sigma * (-0.8 / (1 + sigma * sigma) * xt) + Double(eps[i, j])
                expected += 0.5 * r * r / 3
            }
        }
        #expect(relativeError(Double(loss.item), expected) < 1e-5, "损失为 \(loss.item)，应为 \(expected)")
    }

    @Test("精确分数使 DSM 损失最小", .hint("DSM 的最优解是带噪分布的分数；如果扰动后的分数损失反而更小，多半是目标 −ε/σ 的符号或 σ 的幂次写错了。"))
    func exactScoreMinimises() throws {
        let x0 = Self.mixture.sample(4000, seed: 1)
        let eps = Tensor.randomNormal([4000, 2], seed: 2)
        for sigma in [0.1, 0.5, 2.0] {
            let exact = try dsmLoss(score: Self.exactScore, x0: x0, epsilon: eps, sigma: sigma).item
            let scaled = try dsmLoss(score: { Self.exactScore($0, $1) * 1.2 }, x0: x0, epsilon: eps, sigma: sigma).item
            let shifted = try dsmLoss(score: { Self.exactScore($0, $1) + Float(0.3 / $1) }, x0: x0, epsilon: eps, sigma: sigma).item
            #expect(exact < scaled && exact < shifted, "σ = \(sigma)：精确分数的损失 \(exact)，放大 1.2 倍的 \(scaled)，平移的 \(shifted)")
        }
    }

    @Test("DSM 损失可以反向传播到分数模型的参数", .hint("全程用张量运算，不要用 .scalars 或 .item 取出中间结果。"))
    func lossIsDifferentiable() throws {
        let net = withParameterSeed(3) { Linear(2, 2) }
        let loss = try dsmLoss(score: { x, _ in net(x) }, x0: Self.mixture.sample(16, seed: 4), epsilon: Tensor.randomNormal([16, 2], seed: 5), sigma: 0.5)
        loss.backward()
        let g = try #require(net.weight.grad, "权重没有梯度")
        #expect(g.scalars.contains { $0 != 0 }, "权重的梯度全为 0")
    }

    @Test("Tweedie 公式由精确分数给出精确的去噪结果", .hint("E[x₀ | x] = (x + σ²·s)/α：σ 要平方，最后除以 α。"))
    func tweedie() throws {
        let x = Tensor.randomNormal([200, 2], seed: 6, std: 2)
        for (alpha, sigma) in [(1.0, 0.3), (1.0, 2.0), (0.8, 0.6), (0.1, 0.995)] {
            let level = NoiseLevel(alpha: alpha, sigma: sigma)
            let mine = try tweedieDenoise(x: x, score: Self.mixture.score(x, at: level), alpha: alpha, sigma: sigma)
            let exact = Self.mixture.denoise(x, at: level)
            #expect(maxAbsDifference(mine, exact) < 2e-4 / alpha, "(α, σ) = (\(alpha), \(sigma))：与精确去噪器 GaussianMixture.denoise 相差 \(maxAbsDifference(mine, exact))")
        }
    }

    @Test("Langevin 一步的数值", .hint("x + (a/2)·s + √a·z：分数项的系数是 a/2，噪声项是 √a。"))
    func oneLangevinStep() throws {
        let x = Tensor.randomNormal([50, 2], seed: 7), s = Tensor.randomNormal([50, 2], seed: 8), z = Tensor.randomNormal([50, 2], seed: 9)
        let mine = try langevinStep(x: x, score: s, stepSize: 0.04, noise: z)
        #expect(maxAbsDifference(mine, x + s * 0.02 + z * 0.2) < 1e-6, "与 x + 0.02·s + 0.2·z 不符")
    }

    @Test("Langevin 动力学收敛到目标分布", .hint("先让“Langevin 一步”通过。目标是 N(1, 0.5²)，分数 s(x) = −(x − 1)/0.25。"))
    func langevinStationary() throws {
        var x = Tensor.zeros([4000, 1])
        for k in 0..<300 {
            let score = (x - 1) * Float(-1 / 0.25)
            x = try langevinStep(x: x, score: score, stepSize: 0.01, noise: Tensor.randomNormal([4000, 1], seed: 10, stream: UInt64(k)))
        }
        let v = x.scalars.map(Double.init)
        let mean = v.reduce(0, +) / Double(v.count)
        let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
        #expect(abs(mean - 1) < 0.04 && abs(std - 0.5) < 0.03, "300 步后均值 \(mean)（应≈1）、标准差 \(std)（应≈0.5）")
    }

    @Test("退火 Langevin 与库的 Sampling.annealedLangevin 逐点一致", .hint("步长 a_i = ε·σ_i²/σ_L²（σ_L 是最小的水平）；第 i 个水平第 k 步的噪声是 noise.normal(like: x, step: i, draw: k)；每步都重新算 score(x, σ_i)。"))
    func matchesLibrary() throws {
        let sigmas = Array(Schedule.exponential(steps: 8, sigmaMin: 0.05, sigmaMax: 5).dropLast())   // 只要正的水平
        let noise = NoiseSource(seed: 11)
        let start = noise.prior([128, 2], sigma: sigmas[0])
        let epsilon = 0.2 * 0.05 * 0.05
        let mine = try annealedLangevin(score: Self.exactScore, x: start, sigmas: sigmas, stepsPerLevel: 10, epsilon: epsilon, noise: noise)
        let library = Sampling.annealedLangevin(Self.mixture, start, sigmas: sigmas, noise: noise, stepsPerLevel: 10, epsilon: epsilon)
        try #require(mine.shape == [128, 2], "形状应为 [128, 2]")
        #expect(rmsDifference(mine, library) < 1e-3, "与库的均方根差 \(rmsDifference(mine, library))")
    }

    @Test("退火 Langevin + Tweedie 去噪的样本质量", .hint("先让前面的测试通过；采样之后用 tweedieDenoise 在最小的 σ 上去掉最后一点噪声。"))
    func sampleQuality() throws {
        let sigmas = Array(Schedule.exponential(steps: 20, sigmaMin: 0.01, sigmaMax: 20).dropLast())
        let smallest = sigmas[sigmas.count - 1]
        var distance = 0.0, floor = 0.0
        for r in 0..<3 {
            let noise = NoiseSource(seed: 12 + UInt64(r))
            let x = try annealedLangevin(score: Self.exactScore, x: noise.prior([500, 2], sigma: sigmas[0]), sigmas: sigmas,
                                         stepsPerLevel: 20, epsilon: 0.2 * smallest * smallest, noise: noise)
            let samples = try tweedieDenoise(x: x, score: Self.exactScore(x, smallest), alpha: 1, sigma: smallest)
            distance += Metrics.energyDistance(samples, Self.mixture.sample(500, seed: 40 + UInt64(r))) / 3
            floor += Metrics.energyDistance(Self.mixture.sample(500, seed: 50 + UInt64(r)), Self.mixture.sample(500, seed: 60 + UInt64(r))) / 3
        }
        #expect(distance < 3 * floor, "能量距离 \(distance)，两组独立真实样本之间约为 \(floor)")
    }
}
