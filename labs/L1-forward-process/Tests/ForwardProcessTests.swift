// 实验 L1 的评分测试（请不要修改）。每个测试的 .hint 是它失败时给你的提示。

import DiffusionEngine
import Diffusion
import Foundation
import Testing
@testable import Lab

@Suite("L1 前向加噪过程与信噪比")
struct ForwardProcessTests {
    @Test("线性 β 调度：首尾、长度与等间距", .hint("β_i = betaStart + (betaEnd − betaStart)·i/(steps − 1)，i 从 0 数到 steps − 1；steps = 1 时返回 [betaStart]。"))
    func linearSchedule() throws {
        let betas = try linearBetas(steps: 1000)
        try #require(betas.count == 1000, "长度应为 steps = 1000，实际是 \(betas.count)")
        #expect(abs(betas[0] - 1e-4) < 1e-15 && abs(betas[999] - 0.02) < 1e-15, "首尾应为 1e-4 与 0.02，实际是 \(betas[0]) 与 \(betas[999])")
        let gaps = zip(betas.dropFirst(), betas).map { $0 - $1 }
        #expect(gaps.allSatisfy { abs($0 - gaps[0]) < 1e-15 }, "相邻两项之差应处处相同")
        // 库用同一调度构造 DDPM 的过程：两者的 ᾱ 必须一致。
        let library = DiscreteVP.linear().alphasCumprod
        let mine = DiscreteVP(betas: betas).alphasCumprod
        #expect(zip(mine, library).allSatisfy { relativeError($0, $1) < 1e-12 }, "用你的 β 构造的 DiscreteVP 与 DiscreteVP.linear() 不一致")
        #expect(try linearBetas(steps: 1, betaStart: 0.3, betaEnd: 0.5) == [0.3], "steps = 1 时应返回 [betaStart]")
    }

    @Test("ᾱ 是 1 − β 的累积乘积，与 DiscreteVP 一致", .hint("ᾱ[i] = (1 − β[0])·(1 − β[1])·…·(1 − β[i])：第 0 项就已经乘上了 (1 − β[0])，不是 1。"))
    func cumulativeProduct() throws {
        #expect(try alphaBars(betas: [0.5, 0.5, 0.2]) == [0.5, 0.25, 0.2], "β = [0.5, 0.5, 0.2] 时 ᾱ 应为 [0.5, 0.25, 0.2]")
        for process in [DiscreteVP.linear(), DiscreteVP.cosine()] {
            let abar = process.alphasCumprod
            // 从 ᾱ 反推 β：β_n = 1 − ᾱ_n/ᾱ_{n−1}。
            let betas = abar.indices.map { 1 - abar[$0] / ($0 == 0 ? 1 : abar[$0 - 1]) }
            let mine = try alphaBars(betas: betas)
            try #require(mine.count == abar.count, "长度应与 betas 相同")
            let worst = zip(mine, abar).map { relativeError($0, $1) }.max() ?? 0
            #expect(worst < 1e-9, "\(process.name)：与 DiscreteVP.alphasCumprod 的最大相对误差为 \(worst)")
            #expect(zip(mine, mine.dropFirst()).allSatisfy { $0 > $1 } && mine.allSatisfy { $0 > 0 && $0 < 1 }, "ᾱ 应严格递减且在 (0, 1) 内")
        }
    }

    @Test("给定 ε 时 x_n = √ᾱ·x₀ + √(1 − ᾱ)·ε", .hint("系数是 √ᾱ 和 √(1 − ᾱ)，不是 ᾱ 和 1 − ᾱ：方差为 1 − ᾱ，标准差要开平方。"))
    func noisyGivenNoise() throws {
        let x0 = Tensor(rows: [[1, -2], [0.5, 3], [0, 0]])
        let eps = Tensor(rows: [[0.3, 0.1], [-1, 2], [1, -1]])
        for abar in [0.999, 0.5, 0.01] {
            let mine = try noisySample(x0: x0, alphaBar: abar, epsilon: eps)
            try #require(mine.shape == x0.shape, "形状应为 \(x0.shape)，实际是 \(mine.shape)")
            let library = Parametrization.noisy(x0: x0, epsilon: eps, level: NoiseLevel(alpha: abar.squareRoot(), sigma: (1 - abar).squareRoot()))
            #expect(maxAbsDifference(mine, library) < 1e-6, "ᾱ = \(abar)：与库的 Parametrization.noisy 相差 \(maxAbsDifference(mine, library))")
        }
    }

    @Test("采样使用约定的噪声，且分布正确", .hint("噪声用 Tensor.randomNormal(x0.shape, seed: seed)，然后调用练习 3 的 noisySample；返回 (x_n, ε)。"))
    func forwardSampling() throws {
        let x0 = Tensor.full([20000, 1], 1.5)
        let abar = 0.36
        let (x, eps) = try sampleForward(x0: x0, alphaBar: abar, seed: 11)
        try #require(x.shape == [20000, 1] && eps.shape == [20000, 1], "x 与 ε 的形状都应为 [20000, 1]")
        #expect(maxAbsDifference(eps, Tensor.randomNormal([20000, 1], seed: 11)) == 0, "ε 应当正是 Tensor.randomNormal(x0.shape, seed: seed)")
        #expect(maxAbsDifference(x, x0 * 0.6 + eps * 0.8) < 1e-6, "x_n 应为 √ᾱ·x₀ + √(1 − ᾱ)·ε")
        let v = x.scalars.map(Double.init)
        let mean = v.reduce(0, +) / Double(v.count)
        let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
        // q(x_n | x₀ = 1.5) = N(0.6·1.5, 0.64)：均值 0.9，标准差 0.8。容差约为 5 个标准误。
        #expect(abs(mean - 0.9) < 0.03 && abs(std - 0.8) < 0.03, "样本均值 \(mean)（应≈0.9）、标准差 \(std)（应≈0.8）")
    }

    @Test("SNR 与 log-SNR 与库中每一步的噪声水平一致", .hint("SNR = ᾱ/(1 − ᾱ)，λ = log ᾱ − log(1 − ᾱ)，用自然对数；log(1 − ᾱ) 可以写成 log1p(-ᾱ)。"))
    func signalToNoise() throws {
        #expect(try abs(snr(alphaBar: 0.8) - 4) < 1e-12, "ᾱ = 0.8 时 SNR 应为 4")
        #expect(try abs(logSNR(alphaBar: 0.5)) < 1e-15, "ᾱ = 0.5 时 λ 应为 0")
        let process = DiscreteVP.linear()
        let T = process.T
        for n in [0, 1, 10, 100, 500, 999] {
            let abar = process.alphasCumprod[n]
            let t = Double(n + 1) / Double(T)                 // 库中第 n 个训练步所在的连续时间
            let library = process.logSNR(t)
            let mine = try logSNR(alphaBar: abar)
            #expect(abs(mine - library) < 1e-6 * max(1, abs(library)), "第 \(n) 步：你的 λ = \(mine)，库的 λ = \(library)")
            let s = try snr(alphaBar: abar)
            #expect(relativeError(Foundation.log(s), mine) < 1e-9 || abs(Foundation.log(s) - mine) < 1e-9, "log(SNR) 应等于 λ")
        }
    }

    @Test("SNR 跌破 1 的那一步与库的 log-SNR 反函数一致", .hint("找第一个 ᾱ/(1 − ᾱ) < 1 的下标（从 0 数起）；都不小于 1 时返回 nil。"))
    func crossing() throws {
        for process in [DiscreteVP.linear(), DiscreteVP.cosine()] {
            let mine = try firstStepBelowUnitSNR(alphaBars: process.alphasCumprod)
            // 库：λ(t) = 0 的连续时间 t*，换算成训练下标后向上取整。
            let expected = Int(process.index(process.t(logSNR: 0)).rounded(.up))
            #expect(mine == expected, "\(process.name)：你的答案 \(String(describing: mine))，应为 \(expected)")
        }
        #expect(try firstStepBelowUnitSNR(alphaBars: [0.9, 0.8, 0.6]) == nil, "SNR 从未低于 1 时应返回 nil")
    }
}
