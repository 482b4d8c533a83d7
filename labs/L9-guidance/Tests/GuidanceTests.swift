// 实验 L9 的评分测试（请不要修改）。每个测试的 .hint 是它失败时给你的提示。

import DiffusionEngine
import Diffusion
import Foundation
import Testing
@testable import Lab

@Suite("L9 分类器引导与无分类器引导")
struct GuidanceTests {
    /// 第 9 章的例子 `Chapter9.toy`：类 0 有两个团（峰 A、峰 B），类 1、类 2 是右边两个互相重叠的宽团。
    static let toy = LabelledMixture(classWeights: [0.4, 0.3, 0.3], classes: [
        GaussianMixture(weights: [0.5, 0.5], means: [[-2.2, 0], [-0.6, 0]], std: [0.3, 0.3]),
        GaussianMixture(weights: [1], means: [[1.4, 0.9]], std: [0.5]),
        GaussianMixture(weights: [1], means: [[1.4, -0.9]], std: [0.5]),
    ])
    /// 三种噪声水平：α = 1 的小噪声与大噪声，以及一个方差保持（α² + σ² = 1）的水平，用来区分 σ²/α 与 σ²·α 这类错误。
    static let levels = [NoiseLevel(alpha: 1, sigma: 0.4), NoiseLevel(alpha: 1, sigma: 3), NoiseLevel(alpha: 0.6, sigma: 0.8)]
    static let points = Tensor.randomNormal([60, 2], seed: 1, std: 1.5)
    static let labels = Tensor((0..<60).map { Float($0 % 3) })

    @Test("带噪分类器与库的精确分类器一致", .hint("ℓ_k 里的均值是 α·μ_k、方差是 α²·s_k² + σ²（每个坐标一项，σ 要平方）；分子只加属于类 y 的分量；用 log-sum-exp 防止下溢。"))
    func classifierMatchesLibrary() throws {
        for level in Self.levels + [NoiseLevel(alpha: 1, sigma: 0.05)] {
            let mine = try noisyClassifier(Self.points, level: level, mixture: Self.toy)
            try #require(mine.count == 60 && mine.allSatisfy { $0.count == 3 }, "应返回 60 行、每行 3 个概率")
            let exact = Self.toy.classLogProbabilities(Self.points, at: level).scalars.map { Foundation.exp(Double($0)) }
            let worst = (0..<60).flatMap { i in (0..<3).map { abs(mine[i][$0] - exact[i * 3 + $0]) } }.max()!
            #expect(worst < 1e-4, "\(level)：与 LabelledMixture.classLogProbabilities 的最大差 \(worst)")
            let rowSums = mine.map { $0.reduce(0, +) }
            #expect(rowSums.allSatisfy { abs($0 - 1) < 1e-9 }, "\(level)：每行的概率之和应为 1")
        }
        // 噪声极大时后验趋于先验，分类器趋于类别权重 p(y) = (0.4, 0.3, 0.3)（@ex:guide-prior）。
        let far = try noisyClassifier(Self.points, level: NoiseLevel(alpha: 1, sigma: 1e4), mixture: Self.toy)
        #expect(far.allSatisfy { abs($0[0] - 0.4) < 1e-3 && abs($0[1] - 0.3) < 1e-3 }, "σ → ∞ 时应趋于 p(y) = (0.4, 0.3, 0.3)，实际第一行 \(far[0])")
    }

    @Test("分类器梯度：有限差分与贝叶斯公式", .hint("gather 的 indices 要 reshape 成 [n, 1]；只对每个样本自己标签的那一列求和再 backward，不要对所有类求和；对 log p 求导，不是对 p。"))
    func gradientChecks() throws {
        for level in Self.levels {
            let logp: (Tensor) -> Tensor = { Self.toy.classLogProbabilities($0, at: level) }
            let g = try withNoGrad { try classifierGradient(logProbabilities: logp, x: Self.points, labels: Self.labels) }
            try #require(g.shape == [60, 2], "梯度形状应为 [60, 2]，实际 \(g.shape)")
            // 中心差分：对每个坐标 j，(log p(y | x + h·e_j) − log p(y | x − h·e_j))/(2h)。
            let h: Float = 1e-2
            var worst = 0.0, scale = 0.0
            for j in 0..<2 {
                let e = Tensor((0..<120).map { $0 % 2 == j ? h : 0 }, shape: [60, 2])
                let plus = logp(Self.points + e).scalars, minus = logp(Self.points - e).scalars
                for i in 0..<60 {
                    let y = i % 3
                    let fd = (Double(plus[i * 3 + y]) - Double(minus[i * 3 + y])) / Double(2 * h)
                    worst = max(worst, abs(fd - Double(g[i, j]))); scale = max(scale, abs(fd))
                }
            }
            #expect(worst < 2e-3 * max(scale, 1), "\(level)：与有限差分的最大差 \(worst)（梯度的最大值 \(scale)）")
            // 贝叶斯公式 @eq:guide-implicit：∇ log p(y | x) = (α/σ²)·(D(x, y) − D(x, ∅))。
            let bayes = (Self.toy.denoise(Self.points, at: level, labels: Self.labels) - Self.toy.marginal.denoise(Self.points, at: level))
                * Float(level.alpha / (level.sigma * level.sigma))
            #expect(maxAbsDifference(g, bayes) < 2e-3 * max(scale, 1), "\(level)：与条件分数减无条件分数相差 \(maxAbsDifference(g, bayes))")
        }
    }

    @Test("分类器引导：w = 1 给出精确的条件去噪器", .hint("D̃ = D(x, ∅) + (σ²/α)·w·∇ log p(y | x)：σ 要平方，除以 α（不是乘）。这里的梯度由库的 ClassifierGuidance.classifierGradient 给出。"))
    func classifierGuidance() throws {
        for level in Self.levels + [NoiseLevel(alpha: 0.3, sigma: (1 - 0.09).squareRoot())] {
            let library = ClassifierGuidance(Self.toy.marginal, classifier: Self.toy, labels: Self.labels, scale: 3)
            let gradient = library.classifierGradient(Self.points, at: level)
            let unconditional = Self.toy.marginal.denoise(Self.points, at: level)
            let exact = try classifierGuidedDenoiser(denoised: unconditional, gradient: gradient, level: level, scale: 1)
            let conditional = Self.toy.denoise(Self.points, at: level, labels: Self.labels)
            #expect(maxAbsDifference(exact, conditional) < 1e-3, "\(level)：w = 1 时与条件去噪器相差 \(maxAbsDifference(exact, conditional))")
            let guided = try classifierGuidedDenoiser(denoised: unconditional, gradient: gradient, level: level, scale: 3)
            let reference = library.denoise(Self.points, at: level)
            #expect(maxAbsDifference(guided, reference) < 1e-4, "\(level)：w = 3 时与库的 ClassifierGuidance 相差 \(maxAbsDifference(guided, reference))")
        }
    }

    @Test("无分类器引导：与库一致，ε 形式与 x̂₀ 形式相同，且等于精确的分类器引导", .hint("Ã = A_∅ + w·(A_y − A_∅)：w = 0 应给出无条件预测、w = 1 给出条件预测。(1 + w)·A_y − w·A_∅ 是另一种约定，这里的 w 比它大 1。"))
    func classifierFree() throws {
        for level in Self.levels {
            let conditional = Self.toy.denoise(Self.points, at: level, labels: Self.labels)
            let unconditional = Self.toy.marginal.denoise(Self.points, at: level)
            for w in [0.0, 1, 3] {
                let mine = try classifierFreeGuidance(conditional: conditional, unconditional: unconditional, scale: w)
                let library = ClassifierFreeGuidance(Self.toy, labels: Self.labels, scale: w).denoise(Self.points, at: level)
                #expect(maxAbsDifference(mine, library) < 1e-5, "\(level)，w = \(w)：与库的 ClassifierFreeGuidance 相差 \(maxAbsDifference(mine, library))")
            }
            // 对噪声预测 ε̂ = (x − α·D)/σ 做同样的组合，再换回 x̂₀ = (x − σ·ε̃)/α，应与直接组合 D 相同（@ex:guide-param）。
            func epsilon(_ d: Tensor) -> Tensor { (Self.points - d * Float(level.alpha)) * Float(1 / level.sigma) }
            let viaEpsilon = try classifierFreeGuidance(conditional: epsilon(conditional), unconditional: epsilon(unconditional), scale: 3)
            let back = (Self.points - viaEpsilon * Float(level.sigma)) * Float(1 / level.alpha)
            let direct = try classifierFreeGuidance(conditional: conditional, unconditional: unconditional, scale: 3)
            #expect(maxAbsDifference(back, direct) < 1e-4, "\(level)：ε 形式换回 x̂₀ 后与 x̂₀ 形式相差 \(maxAbsDifference(back, direct))")
            // 精确模型上 CFG 与用精确分类器的分类器引导是同一个东西（@eq:guide-implicit 代入 @eq:guide-cg-denoiser）。
            let cg = ClassifierGuidance(Self.toy.marginal, classifier: Self.toy, labels: Self.labels, scale: 3).denoise(Self.points, at: level)
            #expect(maxAbsDifference(direct, cg) < 2e-3, "\(level)：w = 3 时与精确的分类器引导相差 \(maxAbsDifference(direct, cg))")
        }
    }

    @Test("引导重缩放：每个样本按自己的标准差缩放", .hint("std 对每个样本单独算（reshape 成 [n, −1] 后沿第 1 维），不是对整个批次；缩放关于 0，不要减均值；结果是 φ·D̃_r + (1 − φ)·D̃。"))
    func rescale() throws {
        // 与库对照：六维的混合，每个分量一类，w = 4，φ = 0.7。
        let mixture = LabelledMixture(componentsOf: GaussianMixture(weights: [0.6, 0.4], means: [[1, -1, 0.5, 0, 2, -0.5], [-1, 0, 0, 1, -2, 0.5]],
                                                                    std: [0.4, 0.7]))
        let x = Tensor.randomNormal([40, 6], seed: 2, std: 1.5), labels = Tensor((0..<40).map { Float($0 % 2) })
        let level = NoiseLevel(alpha: 1, sigma: 0.9)
        let conditional = mixture.denoise(x, at: level, labels: labels), unconditional = mixture.marginal.denoise(x, at: level)
        let guided = unconditional + (conditional - unconditional) * 4
        let mine = try guidanceRescale(guided: guided, conditional: conditional, phi: 0.7)
        let library = ClassifierFreeGuidance(mixture, labels: labels, scale: 4, rescale: 0.7).denoise(x, at: level)
        try #require(mine.shape == [40, 6], "形状应为 [40, 6]，实际 \(mine.shape)")
        #expect(maxAbsDifference(mine, library) < 1e-4, "与库的 ClassifierFreeGuidance(rescale: 0.7) 相差 \(maxAbsDifference(mine, library))")
        // 三维张量、各样本尺度相差很大：φ = 1 时每个样本的标准差等于条件预测的，且输出与 D̃ 成比例；φ = 0 时不变。
        let scales: [Float] = [0.1, 1, 10, 3]
        let g = Tensor.randomNormal([4, 2, 3], seed: 3) * Tensor(scales, shape: [4, 1, 1]) + 0.5
        let c = Tensor.randomNormal([4, 2, 3], seed: 4)
        let full = try guidanceRescale(guided: g, conditional: c, phi: 1)
        let none = try guidanceRescale(guided: g, conditional: c, phi: 0)
        try #require(full.shape == [4, 2, 3], "形状应保持 [4, 2, 3]，实际 \(full.shape)")
        #expect(maxAbsDifference(none, g) < 1e-6, "φ = 0 时输出应就是 D̃")
        func rowStd(_ t: Tensor, _ i: Int) -> Double {
            let v = t.scalars[(i * 6)..<(i * 6 + 6)].map(Double.init), m = v.reduce(0, +) / 6
            return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 6).squareRoot()
        }
        for i in 0..<4 {
            #expect(relativeError(rowStd(full, i), rowStd(c, i)) < 1e-4, "样本 \(i)：φ = 1 时标准差 \(rowStd(full, i))，应等于条件预测的 \(rowStd(c, i))")
            let ratios = (0..<6).map { Double(full.scalars[i * 6 + $0]) / Double(g.scalars[i * 6 + $0]) }
            #expect(ratios.allSatisfy { relativeError($0, ratios[0]) < 1e-4 }, "样本 \(i)：φ = 1 时输出应是 D̃ 乘以一个数（关于 0 缩放，不减均值），比值 \(ratios)")
        }
    }

    /// 样本的类别纯度（精确分类器在很小的噪声上对 `label` 的平均置信度）与总方差 tr Cov。
    static func purityAndVariance(_ x: Tensor, label: Int) -> (purity: Double, variance: Double) {
        let n = x.shape[0]
        let p = toy.classLogProbabilities(x, at: NoiseLevel(alpha: 1, sigma: 0.01)).scalars
        let purity = (0..<n).reduce(0.0) { $0 + Foundation.exp(Double(p[$1 * 3 + label])) } / Double(n)
        let v = x.scalars.map(Double.init)
        var total = 0.0
        for j in 0..<2 {
            let column = stride(from: j, to: v.count, by: 2).map { v[$0] }, m = column.reduce(0, +) / Double(n)
            total += column.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(n)
        }
        return (purity, total)
    }

    @Test("带 CFG 的 DDIM：与库逐点一致；w 增大时纯度上升、多样性下降", .hint("每步：D_y 用 mixture.denoise(x, at:, labels:)，D_∅ 用 mixture.marginal.denoise；D̃ = 练习 4；x ← D̃ + (σ_{i+1}/σ_i)·(x − D̃)。共 sigmas.count − 1 步。"))
    func guidedSampling() throws {
        let sigmas = Schedule.karras(steps: 64)
        let start = NoiseSource(seed: 5).prior([600, 2], sigma: sigmas[0])
        let mine = try cfgSample(mixture: Self.toy, label: 1, scale: 3, start: start, sigmas: sigmas)
        let library = Sampling.ddim(ClassifierFreeGuidance(Self.toy, labels: Tensor.full([600], 1), scale: 3), start, sigmas: sigmas)
        try #require(mine.shape == [600, 2], "形状应为 [600, 2]，实际 \(mine.shape)")
        #expect(rmsDifference(mine, library) < 1e-4, "w = 3：与库的 Sampling.ddim(ClassifierFreeGuidance(…)) 的均方根差 \(rmsDifference(mine, library))")
        // 纯度与多样性随 w 的变化（§9.4.2 的表）：w = 1 与真实的类 1 数据相同，w = 0 混入别的类，w = 3 更纯、更窄。
        let data = Self.purityAndVariance(Self.toy.classes[1].sample(3000, seed: 6), label: 1)
        let stats = try [0.0, 1, 3].map { Self.purityAndVariance(try cfgSample(mixture: Self.toy, label: 1, scale: $0, start: start, sigmas: sigmas), label: 1) }
        #expect(stats[0].purity < 0.6, "w = 0（无条件）时纯度应远低于 1，实际 \(stats[0].purity)")
        #expect(abs(stats[1].purity - data.purity) < 0.03, "w = 1 时纯度 \(stats[1].purity)，应接近真实类 1 数据的 \(data.purity)")
        #expect(abs(stats[1].variance - data.variance) < 0.12 * data.variance, "w = 1 时总方差 \(stats[1].variance)，应接近真实类 1 数据的 \(data.variance)")
        #expect(stats[2].purity > stats[1].purity + 0.02, "w = 3 的纯度 \(stats[2].purity) 应高于 w = 1 的 \(stats[1].purity)")
        #expect(stats[2].variance < 0.8 * stats[1].variance, "w = 3 的总方差 \(stats[2].variance) 应明显小于 w = 1 的 \(stats[1].variance)")
    }
}
