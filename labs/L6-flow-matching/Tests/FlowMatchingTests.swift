// 实验 L6 的评分测试（请不要修改）。每个测试的 .hint 是它失败时给你的提示。

import DiffusionEngine
import DiffusionLayers
import Diffusion
import Foundation
import Testing
@testable import Lab

@Suite("L6 流匹配")
struct FlowMatchingTests {
    static let mixture = GaussianMixture.example2D

    /// 精确的边缘速度（与库的采样器内部用的相同）：u = (x − D(x; α = 1 − t, σ = t))/t。
    static func exactVelocity(_ m: GaussianMixture) -> (Tensor, Double) -> Tensor {
        { x, t in (x - m.denoise(x, at: NoiseLevel(alpha: 1 - t, sigma: t))) * Float(1 / t) }
    }

    @Test("线性插值与速度目标", .hint("x_t = (1 − t)·x₀ + t·ε：t = 0 是数据、t = 1 是噪声；速度目标是 ε − x₀（从数据指向噪声），不是 x₀ − ε。"))
    func interpolant() throws {
        let x0 = Self.mixture.sample(6, seed: 1), eps = Tensor.randomNormal([6, 2], seed: 2)
        let times = [0, 0.1, 0.35, 0.5, 0.9, 1]
        let (xt, target) = try linearInterpolant(x0: x0, noise: eps, times: times)
        let library = LevelBatch(process: RectifiedFlow(), times: times).noisy(x0: x0, epsilon: eps)
        try #require(xt.shape == [6, 2] && target.shape == [6, 2], "形状应为 [6, 2]，实际 \(xt.shape)、\(target.shape)")
        #expect(maxAbsDifference(xt, library) < 1e-6, "x_t 与库的 LevelBatch(process: RectifiedFlow(), …).noisy 不一致")
        #expect(maxAbsDifference(target, eps - x0) < 1e-6, "速度目标应为 ε − x₀")
        #expect(zip(xt.scalars[0..<2], x0.scalars[0..<2]).allSatisfy { $0 == $1 }, "t = 0 时 x_t 应正是 x₀")
        #expect(zip(xt.scalars[10..<12], eps.scalars[10..<12]).allSatisfy { abs($0 - $1) < 1e-7 }, "t = 1 时 x_t 应正是 ε")
    }

    @Test("CFM 损失的数值", .hint("L = (1/n)·Σ_i‖v(x_t,i, t_i) − (ε_i − x₀_i)‖²：对样本求平均、对维度求和，没有 ½。"))
    func lossValue() throws {
        let x0 = Tensor(rows: [[1, -1], [0.5, 2], [-1.5, 0]]), eps = Tensor(rows: [[0.2, -0.4], [1, 0.3], [-0.7, 1.1]])
        let times = [0.2, 0.5, 0.9]
        // 一个故意不精确的模型：v(x, t) = 0.5·x·t。
        let velocity: (Tensor, [Double]) -> Tensor = { x, t in x * 0.5 * Tensor(t.map(Float.init), shape: [t.count, 1]) }
        let loss = try conditionalFlowMatchingLoss(velocity: velocity, x0: x0, noise: eps, times: times)
        try #require(loss.count == 1, "损失应是标量，实际形状 \(loss.shape)")
        var expected = 0.0
        for i in 0..<3 {
            for j in 0..<2 {
                let (a, e, t) = (Double(x0[i, j]), Double(eps[i, j]), times[i])
                let r = 0.5 * ((1 - t) * a + t * e) * t - (e - a)
                expected += r * r / 3
            }
        }
        #expect(relativeError(Double(loss.item), expected) < 1e-5, "损失为 \(loss.item)，应为 \(expected)")
    }

    @Test("CFM 损失与库的 FlowMatching 在同样的 t、ε 上一致", .hint("先让“CFM 损失的数值”通过。库的 FlowMatching 返回每个样本的损失（对维度求和），它们的平均应等于你的损失。"))
    func lossMatchesLibrary() throws {
        // 库的 FlowMatching 先抽 u ~ U[0, 1) 得 t = 1 − u，再抽 ε；用同一个种子重放这两次抽样。
        let x0 = Self.mixture.sample(512, seed: 3), model = ExactMixtureModel(Self.mixture, prediction: .velocity)
        var replay = RandomGenerator(seed: 4)
        let times = replay.uniform([512]).scalars.map { 1 - Double($0) }
        let eps = replay.normal(x0.shape)
        let velocity: (Tensor, [Double]) -> Tensor = { x, t in model.predict(x, at: LevelBatch(process: RectifiedFlow(), times: t), labels: nil) }
        let mine = try conditionalFlowMatchingLoss(velocity: velocity, x0: x0, noise: eps, times: times).item
        var rng = RandomGenerator(seed: 4)
        let library = FlowMatching()(model, x0, rng: &rng).mean().item
        #expect(relativeError(Double(mine), Double(library)) < 1e-4, "你的损失 \(mine)，库的 FlowMatching 给出 \(library)")
        // 精确的边缘速度是最优解：放大或平移它都会让损失变大（@thm:cfm）。
        let scaled = try conditionalFlowMatchingLoss(velocity: { velocity($0, $1) * 1.2 }, x0: x0, noise: eps, times: times).item
        let shifted = try conditionalFlowMatchingLoss(velocity: { velocity($0, $1) + 0.3 }, x0: x0, noise: eps, times: times).item
        #expect(mine < scaled && mine < shifted, "精确速度的损失 \(mine) 应小于放大 1.2 倍的 \(scaled) 与平移的 \(shifted)")
    }

    @Test("CFM 损失可以反向传播到模型的参数", .hint("全程用张量运算，不要用 .scalars 或 .item 取出中间结果。"))
    func lossIsDifferentiable() throws {
        let net = withParameterSeed(5) { Linear(2, 2) }
        let loss = try conditionalFlowMatchingLoss(velocity: { x, _ in net(x) }, x0: Self.mixture.sample(16, seed: 6),
                                                   noise: Tensor.randomNormal([16, 2], seed: 7), times: (0..<16).map { (Double($0) + 0.5) / 16 })
        loss.backward()
        let g = try #require(net.weight.grad, "权重没有梯度")
        #expect(g.scalars.contains { $0 != 0 }, "权重的梯度全为 0")
    }

    @Test("边缘速度：与库的精确模型、高斯的闭式一致", .hint("u = (x − x̂₀)/t，x̂₀ = denoise(x, NoiseLevel(alpha: 1 − t, sigma: t))：α 是 1 − t、σ 是 t，别颠倒；符号是 x − x̂₀。"))
    func velocityField() throws {
        let x = Tensor.randomNormal([200, 2], seed: 8, std: 1.5), model = ExactMixtureModel(Self.mixture, prediction: .velocity)
        for t in [0.2, 0.7] {
            let mine = try marginalVelocity(x: x, t: t, denoise: { Self.mixture.denoise($0, at: $1) })
            let library = model.predict(x, at: LevelBatch(process: RectifiedFlow(), times: Array(repeating: t, count: 200)), labels: nil)
            #expect(maxAbsDifference(mine, library) < 1e-4, "t = \(t)：与库的 ExactMixtureModel(prediction: .velocity) 相差 \(maxAbsDifference(mine, library))")
        }
        // 数据是 N(0, s²)：x_t ~ N(0, k²)，k² = (1 − t)²s² + t²，流是 x ↦ (k_t/k_1)·z，速度 (k̇/k)·x = (t − (1 − t)s²)/k²·x。
        let s = 0.5, gaussian = GaussianMixture(weights: [1], means: [[0]], std: [s]), y = Tensor.randomNormal([50, 1], seed: 9, std: 2)
        for t in [0.1, 0.5, 0.95] {
            let mine = try marginalVelocity(x: y, t: t, denoise: { gaussian.denoise($0, at: $1) })
            let k2 = (1 - t) * (1 - t) * s * s + t * t
            #expect(maxAbsDifference(mine, y * Float((t - (1 - t) * s * s) / k2)) < 1e-5, "高斯数据、t = \(t)：速度应为 (t − (1 − t)s²)/k²·x")
        }
        // t = 1 时 x − u₁(x) = E[x₀]，与 x 无关（@ex:flow-one-step）。
        let oneStep = x - (try marginalVelocity(x: x, t: 1, denoise: { Self.mixture.denoise($0, at: $1) }))
        let mean = (0..<2).map { j in zip(Self.mixture.weights, Self.mixture.means).reduce(0) { $0 + $1.0 * $1.1[j] } }
        let spread = (0..<200).map { i in max(abs(Double(oneStep[i, 0]) - mean[0]), abs(Double(oneStep[i, 1]) - mean[1])) }.max()!
        #expect(spread < 1e-4, "t = 1 时 x − u 应处处等于数据均值 \(mean)，最大偏差 \(spread)")
    }
}

extension FlowMatchingTests {
    /// 在 [128, 2] 个起点上运行你的采样器与库的采样器，比较终点并数出速度场的调用次数。
    static func compare(steps: Int, seed: UInt64, calls expected: Int,
                        mine: ((Tensor, Double) -> Tensor, Tensor, [Double]) throws -> Tensor,
                        library: (GaussianMixture, Tensor, [Double]) -> Tensor) throws {
        let times = Schedule.flowTimes(steps: steps), start = NoiseSource(seed: seed).prior([128, 2])
        var calls = 0
        let velocity = exactVelocity(mixture)
        let result = try mine({ calls += 1; return velocity($0, $1) }, start, times)
        let reference = library(mixture, start, times)
        try #require(result.shape == [128, 2], "形状应为 [128, 2]，实际 \(result.shape)")
        #expect(rmsDifference(result, reference) < 1e-4, "与库的均方根差 \(rmsDifference(result, reference))")
        #expect(calls == expected, "\(steps) 步应调用速度场 \(expected) 次，实际 \(calls) 次")
    }

    @Test("Euler 流采样器与库的 Sampling.flowEuler 逐点一致", .hint("x ← x + (t_{i+1} − t_i)·v(x, t_i)：时间递减，这个差是负数；速度在这一步的起点 t_i 处取。"))
    func eulerMatchesLibrary() throws {
        try Self.compare(steps: 10, seed: 10, calls: 10, mine: { try flowEulerSampler(velocity: $0, x: $1, times: $2) },
                         library: { Sampling.flowEuler($0, $1, times: $2) })
    }

    @Test("Heun 流采样器与库的 Sampling.flowHeun 逐点一致", .hint("校正用两端速度的平均 (v + ṽ)/2，ṽ 在预测点 x + Δ·v、时间 t_{i+1} 处取；落到 t = 0 的最后一步只走 Euler，N 步共 2N − 1 次调用。"))
    func heunMatchesLibrary() throws {
        try Self.compare(steps: 8, seed: 11, calls: 15, mine: { try flowHeunSampler(velocity: $0, x: $1, times: $2) },
                         library: { Sampling.flowHeun($0, $1, times: $2) })
    }

    // 收敛阶：从 t = 1 的纯噪声积到 t = 0.05（不做最后落到 0 的一步），与库的 Heun 法 4000 步的解比较；
    // 误差对步数的 log-log 斜率就是阶数。
    @Test("收敛阶：Euler 一阶，Heun 二阶", .hint("先让两个逐点比较的测试通过。Heun 的阶数接近 1 多半是校正没有生效（比如 ṽ 取在了 x 而不是预测点，或用了 t_i 而不是 t_{i+1}）。"))
    func convergenceOrder() throws {
        let m = GaussianMixture(weights: [0.5, 0.3, 0.2], means: [[-1, 0], [1, 0.5], [0.2, 1.5]],
                                stds: [[0.5, 0.4], [0.4, 0.6], [0.5, 0.5]])
        let start = NoiseSource(seed: 12).prior([64, 2]), tEnd = 0.05
        func grid(_ n: Int) -> [Double] { (0...n).map { 1 - (1 - tEnd) * Double($0) / Double(n) } }
        let reference = Sampling.flowHeun(m, start, times: grid(4000))
        func order(_ steps: [Int], _ sampler: ([Double]) throws -> Tensor) throws -> (Double, [Double]) {
            let errors = try steps.map { rmsDifference(try sampler(grid($0)), reference) }
            return (-logLogSlope(steps.map(Double.init), errors), errors)
        }
        let velocity = Self.exactVelocity(m)
        let euler = try order([16, 32, 64]) { try flowEulerSampler(velocity: velocity, x: start, times: $0) }
        let heun = try order([8, 16, 32]) { try flowHeunSampler(velocity: velocity, x: start, times: $0) }
        #expect(abs(euler.0 - 1) < 0.25, "Euler 的阶数 \(euler.0)，应≈1（误差 \(euler.1)）")
        #expect(abs(heun.0 - 2) < 0.3, "Heun 的阶数 \(heun.0)，应≈2（误差 \(heun.1)）")
    }

    @Test("reflow 的配对：与库一致，运输代价下降，一维时就是分位数映射", .hint("用你的 flowHeunSampler 在 Schedule.flowTimes(steps: steps) 上从 z 解到 t = 0；返回的 noise 就是原来的 z，不要重新抽。"))
    func reflow() throws {
        let z = NoiseSource(seed: 13).prior([2000, 2]), velocity = Self.exactVelocity(Self.mixture)
        let (x, noise) = try reflowPairs(velocity: velocity, noise: z, steps: 16)
        try #require(x.shape == [2000, 2] && noise.shape == [2000, 2], "形状应为 [2000, 2]")
        #expect(maxAbsDifference(noise, z) == 0, "返回的 noise 应正是输入的 z")
        #expect(rmsDifference(x, Sampling.flowHeun(Self.mixture, z, times: Schedule.flowTimes(steps: 16))) < 1e-4, "终点与库的 Sampling.flowHeun 不一致")
        // @thm:rectify：E‖z − φ₀(z)‖² ≤ E‖ε − x₀‖²；独立耦合的右边是 d + E‖x₀‖²（闭式）。
        let m = Self.mixture
        let secondMoment = zip(m.weights, zip(m.means, m.stds)).reduce(0) { acc, c in
            acc + c.0 * zip(c.1.0, c.1.1).reduce(0) { $0 + $1.0 * $1.0 + $1.1 * $1.1 }
        }
        let independent = 2 + secondMoment
        let cost = (x - z).square().sum().item / 2000
        #expect(Double(cost) < 0.7 * independent, "配对的平方代价 \(cost) 应明显小于独立耦合的 \(independent)")
        // 一维：流保持次序，终点就是分位数映射 T(z) = F₀⁻¹(Φ(z))（@ex:flow-1d-ot），即 F₀(φ₀(z)) = Φ(z)。
        // 在概率上比较：两峰之间 F₀ 几乎是平的，T 在那里极陡，直接比较 x 会放大无关紧要的求解误差。
        let m1 = GaussianMixture.example1D
        let z1 = Tensor((0..<41).map { Float(-2.5 + 0.125 * Double($0)) }, shape: [41, 1])
        let (x1, _) = try reflowPairs(velocity: Self.exactVelocity(m1), noise: z1, steps: 100)
        func cdf(_ x: Double) -> Double {
            zip(m1.weights, zip(m1.means, m1.stds)).reduce(0) { $0 + $1.0 * 0.5 * erfc(-(x - $1.1.0[0]) / ($1.1.1[0] * 2.0.squareRoot())) }
        }
        for i in 0..<41 {
            let (level, reached) = (0.5 * erfc(-Double(z1[i, 0]) / 2.0.squareRoot()), cdf(Double(x1[i, 0])))
            #expect(abs(reached - level) < 5e-4, "一维，z = \(z1[i, 0])：F₀(φ₀(z)) = \(reached)，应等于 Φ(z) = \(level)")
            if i > 0 { #expect(x1[i, 0] > x1[i - 1, 0], "一维的配对应保持次序（z 递增时 φ₀(z) 也递增）") }
        }
    }
}
