// 实验 L3 的评分测试（请不要修改）。每个测试的 .hint 是它失败时给你的提示。

import DiffusionEngine
import DiffusionLayers
import Diffusion
import Foundation
import Testing
@testable import Lab

@Suite("L3 DDPM：训练一步与祖先采样")
struct DDPMTests {
    static let process = DiscreteVP.linear()
    static var alphaBars: [Double] { process.alphasCumprod }
    static let mixture = GaussianMixture.example2D

    /// 精确的 ε 预测：高斯混合在第 t 步的噪声水平 (√ᾱ_t, √(1 − ᾱ_t)) 上的 ε̂ = (x − α·E[x₀|x])/σ。
    static func exactEpsilon(_ x: Tensor, _ t: Int) -> Tensor {
        let abar = alphaBars[t]
        return mixture.epsilon(x, at: NoiseLevel(alpha: abar.squareRoot(), sigma: (1 - abar).squareRoot()))
    }

    @Test("DDPM 损失的数值", .hint("每行用自己的 t：x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε；损失是 (ε̂ − ε)² 在所有元素上的平均，不是求和。"))
    func lossValue() throws {
        let x0 = Tensor(rows: [[1, -1], [0.5, 2], [-1.5, 0], [0, 0.25]])
        let eps = Tensor(rows: [[0.2, -0.4], [1, 0.3], [-0.7, 1.1], [0.05, -2]])
        let t = [0, 10, 500, 999]
        // 一个写死的“模型”：ε̂ = 0.5·x_t + 0.001·t。
        let model: (Tensor, Tensor) -> Tensor = { x, tt in x * 0.5 + tt.unsqueezed(1) * 0.001 }
        let loss = try ddpmLoss(model: model, x0: x0, t: t, epsilon: eps, alphaBars: Self.alphaBars)
        try #require(loss.count == 1, "损失应是一个标量（形状 []），实际形状 \(loss.shape)")
        var expected = 0.0
        for i in 0..<4 {
            let abar = Self.alphaBars[t[i]]
            for j in 0..<2 {
                let xt = abar.squareRoot() * Double(x0[i, j]) + (1 - abar).squareRoot() * Double(eps[i, j])
                let d = 0.5 * xt + 0.001 * Double(t[i]) - Double(eps[i, j])
                expected += d * d / 8
            }
        }
        #expect(relativeError(Double(loss.item), expected) < 1e-5, "损失为 \(loss.item)，应为 \(expected)")
    }

    @Test("损失可以对网络的每个参数求导", .hint("全程用张量运算（*、+、square、mean），不要用 .scalars 或 .item 把中间结果取出来再包回张量，否则梯度会断开。"))
    func lossIsDifferentiable() throws {
        let net = TinyEpsilonNet(seed: 1)
        let x0 = Self.mixture.sample(32, seed: 2)
        let t = (0..<32).map { $0 * 31 }
        let loss = try ddpmLoss(model: { net($0, $1) }, x0: x0, t: t, epsilon: Tensor.randomNormal([32, 2], seed: 3), alphaBars: Self.alphaBars)
        loss.backward()
        for (name, p) in net.namedParameters() {
            let g = try #require(p.grad, "参数 \(name) 没有梯度")
            #expect(g.scalars.contains { $0 != 0 }, "参数 \(name) 的梯度全为 0")
        }
    }

    @Test("训练一步：随机数约定、返回的损失与 AdamW 更新", .hint("顺序是 zeroGrad → 算损失 → backward → step；t 用 randomIntegers(…, stream: 0)，ε 用 randomNormal(x0.shape, seed: seed, stream: 1)；返回更新前的损失。"))
    func oneTrainingStep() throws {
        let x0 = Self.mixture.sample(128, seed: 4)
        let net = TinyEpsilonNet(seed: 5), reference = TinyEpsilonNet(seed: 5)
        let optimizer = AdamW(net.parameters(), lr: 1e-2), referenceOptimizer = AdamW(reference.parameters(), lr: 1e-2)
        for (k, seed) in [UInt64(7), 8].enumerated() {
            let loss = try trainingStep(model: net, optimizer: optimizer, x0: x0, alphaBars: Self.alphaBars, seed: seed)
            // 参照：同样的抽样约定，用你的 ddpmLoss（它由另一个测试单独评分）。
            let t = Tensor.randomIntegers([128], in: 0..<1000, seed: seed, stream: 0).scalars.map { Int($0) }
            let eps = Tensor.randomNormal([128, 2], seed: seed, stream: 1)
            referenceOptimizer.zeroGrad()
            let expected = try ddpmLoss(model: { reference($0, $1) }, x0: x0, t: t, epsilon: eps, alphaBars: Self.alphaBars)
            expected.backward()
            referenceOptimizer.step()
            #expect(relativeError(loss, Double(expected.item)) < 1e-5, "第 \(k + 1) 步返回的损失 \(loss)，应为 \(expected.item)（更新前的损失）")
            for ((name, p), (_, q)) in zip(net.namedParameters(), reference.namedParameters()) {
                let d = maxAbsDifference(p.value, q.value)
                #expect(d < 1e-5, "第 \(k + 1) 步后参数 \(name) 与参照相差 \(d)\(k == 1 ? "（第二步不对：忘了 zeroGrad，梯度累加了？）" : "")")
            }
        }
    }

    @Test("训练 300 步后损失明显下降", .hint("先让“训练一步”的测试通过；如果损失不降，检查 backward() 与 step() 是否都调用了。"))
    func trainingReducesLoss() throws {
        let net = TinyEpsilonNet(seed: 9)
        let optimizer = AdamW(net.parameters(), lr: 3e-3)
        var losses: [Double] = []
        for step in 0..<300 {
            let x0 = Self.mixture.sample(256, seed: 100 + UInt64(step))
            losses.append(try trainingStep(model: net, optimizer: optimizer, x0: x0, alphaBars: Self.alphaBars, seed: UInt64(step)))
        }
        let first = losses.prefix(30).reduce(0, +) / 30, last = losses.suffix(30).reduce(0, +) / 30
        #expect(last < 0.75 * first, "前 30 步平均损失 \(first)，后 30 步 \(last)：应下降至少 25%")
    }

    @Test("采样一步与库的 Sampling.ddpm 一致", .hint("α_t = ᾱ_t/ᾱ_{t−1}（ᾱ_{−1} = 1），β_t = 1 − α_t；均值是 (x − β_t/√(1 − ᾱ_t)·ε̂)/√α_t；噪声标准差是 √β̃_t，β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t)·β_t；t = 0 不加噪声。"),
          arguments: [999, 600, 1, 0])
    func oneAncestralStep(t: Int) throws {
        let abar = Self.alphaBars[t], abarPrevious = t > 0 ? Self.alphaBars[t - 1] : 1
        let x = Tensor.randomNormal([64, 2], seed: 20), epsHat = Tensor.randomNormal([64, 2], seed: 21)
        let noise = NoiseSource(seed: 22)
        let mine = try ancestralStep(x: x, epsilonHat: epsHat, t: t, alphaBars: Self.alphaBars, noise: noise.normal(like: x, step: 0))
        try #require(mine.shape == [64, 2], "形状应为 [64, 2]")
        // 库在 α = 1 的坐标 x/√ᾱ 中工作，噪声水平 σ = √((1 − ᾱ)/ᾱ)。
        let x0Hat = (x - epsHat * Float((1 - abar).squareRoot())) * Float(1 / abar.squareRoot())
        let sigmas = [((1 - abar) / abar).squareRoot(), t > 0 ? ((1 - abarPrevious) / abarPrevious).squareRoot() : 0]
        let library = Sampling.ddpm(ClosureDenoiser { _, _ in x0Hat }, x * Float(1 / abar.squareRoot()), sigmas: sigmas, noise: noise)
        let expected = library * Float(abarPrevious.squareRoot())
        #expect(maxAbsDifference(mine, expected) < 2e-4 * max(1, Double(expected.abs().max().item)),
                "t = \(t)：与库相差 \(maxAbsDifference(mine, expected))\(t == 0 ? "（t = 0 时不应加噪声）" : "")")
    }

    /// 用精确 ε 从纯噪声采 n 个样本（你的 sampleDDPM），以及库的对应结果。
    static func sample(_ n: Int, seed: UInt64) throws -> (mine: Tensor, library: Tensor) {
        let noise = NoiseSource(seed: seed)
        let sigmas = Array(process.discreteSigmas!.reversed()) + [0]
        let z = noise.prior([n, 2])
        let mine = try sampleDDPM(model: exactEpsilon, xT: z * Float((1 - alphaBars[999]).squareRoot()), alphaBars: alphaBars, noise: noise)
        let library = Sampling.ddpm(mixture, z * Float(sigmas[0]), sigmas: sigmas, noise: noise)
        return (mine, library)
    }

    @Test("完整采样与库的 Sampling.ddpm 逐点一致", .hint("先让“采样一步”的测试通过。循环 t = T−1 … 0，第 i 次循环用 noise.normal(like: x, step: i)；每一步调用 model(x, t) 得到 ε̂ 再调用 ancestralStep。"))
    func fullSamplerMatchesLibrary() throws {
        let (mine, library) = try Self.sample(256, seed: 30)
        try #require(mine.shape == [256, 2], "形状应为 [256, 2]，实际 \(mine.shape)")
        #expect(rmsDifference(mine, library) < 1e-3, "与库的均方根差 \(rmsDifference(mine, library))")
    }

    @Test("样本质量：与真实分布的能量距离和两组独立样本相当", .hint("先让前面的采样测试通过；它们都通过而这里失败时，请告诉老师。"))
    func sampleQuality() throws {
        var distance = 0.0, floor = 0.0
        for r in 0..<3 {                                       // 能量距离有随机起伏：取 3 次的平均
            let (mine, _) = try Self.sample(500, seed: 31 + UInt64(r))
            distance += Metrics.energyDistance(mine, Self.mixture.sample(500, seed: 40 + UInt64(r))) / 3
            floor += Metrics.energyDistance(Self.mixture.sample(500, seed: 50 + UInt64(r)), Self.mixture.sample(500, seed: 60 + UInt64(r))) / 3
        }
        #expect(distance < 3 * floor, "能量距离 \(distance)，两组独立真实样本之间约为 \(floor)")
    }
}
