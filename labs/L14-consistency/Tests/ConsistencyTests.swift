// 实验 L14 的评分测试（请不要修改）。每个测试的 .hint 是它失败时给你的提示。

import DiffusionEngine
import DiffusionLayers
import Diffusion
import Foundation
import Testing
@testable import Lab

@Suite("L14 一致性模型")
struct ConsistencyModelTests {
    static let mixture = GaussianMixture(weights: [0.5, 0.3, 0.2], means: [[-1, 0], [1, 0.5], [0.2, 1.5]],
                                         stds: [[0.3, 0.25], [0.25, 0.3], [0.3, 0.3]])
    /// 单个高斯 N(μ, s²·I)：μ = (0.7, −1.2)，s = 0.6。
    static let gaussianMean = [0.7, -1.2], gaussianStd = 0.6
    static let gaussian = GaussianMixture(weights: [1], means: [gaussianMean], std: [gaussianStd])

    static func exactDenoiser(_ x: Tensor, _ sigma: Double) -> Tensor { mixture.denoise(x, sigma: sigma) }

    @Test("c_skip、c_out：与库一致，边界条件精确成立", .hint("c_skip = σ_d²/((σ − σ_min)² + σ_d²)，c_out = σ_d·(σ − σ_min)/√(σ² + σ_d²)：c_out 的分母里是 σ²，不是 (σ − σ_min)²。"))
    func coefficients() throws {
        for (sigmaData, sigmaMin) in [(0.5, 0.002), (1.0, 0.05)] {
            let p = ConsistencyPreconditioning(σ_data: sigmaData, σ_min: sigmaMin)
            let boundary = try consistencyCoefficients(sigma: sigmaMin, sigmaData: sigmaData, sigmaMin: sigmaMin)
            #expect(boundary.cSkip == 1 && boundary.cOut == 0, "σ = σ_min 时应恰好 c_skip = 1、c_out = 0，实际 \(boundary)")
            for sigma in [0.06, 0.3, 1.7, 80] {
                let mine = try consistencyCoefficients(sigma: sigma, sigmaData: sigmaData, sigmaMin: sigmaMin)
                let library = p(sigma)
                #expect(abs(mine.cSkip - library.c_skip) < 1e-12 && abs(mine.cOut - library.c_out) < 1e-12,
                        "σ_data = \(sigmaData)、σ_min = \(sigmaMin)、σ = \(sigma)：(\(mine.cSkip), \(mine.cOut))，库的 ConsistencyPreconditioning 给出 (\(library.c_skip), \(library.c_out))")
            }
        }
    }

    @Test("一致性模型的输出：与库的 ConsistencyModel 一致，σ_min 处逐位等于 x", .hint("f = c_skip·x + c_out·F(c_in·x; c_noise)，c_in = 1/√(σ² + σ_d²)，c_noise = ¼·ln σ：送进网络的是 c_in·x 与 c_noise，不是 x 与 σ。"))
    func consistencyOutput() throws {
        let net = withParameterSeed(3) { ToyMLP(width: 32, blocks: 2, embeddingDim: 16) }
        let network: (Tensor, Double) -> Tensor = { net($0, Tensor.full([$0.shape[0]], Float(1000 * $1)), labels: nil) }
        let model = ConsistencyModel(net, preconditioning: ConsistencyPreconditioning(σ_data: 0.5, σ_min: 0.002))
        let x = Tensor.randomNormal([64, 2], seed: 1, std: 2)
        for sigma in [0.05, 0.7, 20] {
            let mine = try consistencyFunction(x: x, sigma: sigma, sigmaData: 0.5, sigmaMin: 0.002, network: network)
            let library = model.consistency(x, sigma: sigma)
            #expect(maxAbsDifference(mine, library) < 1e-5, "σ = \(sigma)：与库的 ConsistencyModel 相差 \(maxAbsDifference(mine, library))")
        }
        // 边界条件写死在参数化里：网络输出再大，σ_min 处也逐位等于 x。
        let wild: (Tensor, Double) -> Tensor = { input, _ in input * 1e6 + 123 }
        let boundary = try consistencyFunction(x: x, sigma: 0.002, sigmaData: 0.5, sigmaMin: 0.002, network: wild)
        #expect(boundary.scalars == x.scalars, "σ = σ_min 时输出应与 x 逐位相同")
        // 对网络参数可微。
        let loss = try consistencyFunction(x: x, sigma: 0.7, sigmaData: 0.5, sigmaMin: 0.002, network: network).square().mean()
        net.zeroGrad()
        loss.backward()
        #expect(net.parameters().contains { $0.grad?.scalars.contains { $0 != 0 } == true }, "网络参数没有梯度：请全程用张量运算")
    }

    @Test("单个高斯的理想一致性函数：与数值解一致，满足自一致性与边界条件", .hint("f(x, σ) = μ + (x − μ)·√(s² + σ_min²)/√(s² + σ²)：s 与 σ 都要平方，比值要开方；x − μ 按行减去均值。"))
    func idealGaussian() throws {
        let exact = ExactConsistencyFunction(Self.gaussian, sigmaMin: 0.002)
        for sigma in [0.3, 5, 80] {
            let x = Tensor.randomNormal([64, 2], seed: 2, std: Float((0.36 + sigma * sigma).squareRoot())) + Tensor([0.7, -1.2], shape: [1, 2])
            let mine = try gaussianConsistency(x: x, sigma: sigma, mean: Self.gaussianMean, std: Self.gaussianStd, sigmaMin: 0.002)
            let numeric = exact.consistency(x, sigma: sigma)
            #expect(maxAbsDifference(mine, numeric) < 1e-4, "σ = \(sigma)：与库的 ExactConsistencyFunction（数值解 ODE）相差 \(maxAbsDifference(mine, numeric))")
        }
        // 自一致性：同一条轨迹上 σ = 5 与 σ = 0.4 两点的 f 值相同（轨迹由库的 probabilityFlow 数值求出）。
        let start = NoiseSource(seed: 3).prior([64, 2], sigma: 5)
        let later = Self.gaussian.probabilityFlow(start, from: 5, to: 0.4, steps: 400)
        let a = try gaussianConsistency(x: start, sigma: 5, mean: Self.gaussianMean, std: Self.gaussianStd, sigmaMin: 0.002)
        let b = try gaussianConsistency(x: later, sigma: 0.4, mean: Self.gaussianMean, std: Self.gaussianStd, sigmaMin: 0.002)
        #expect(maxAbsDifference(a, b) < 1e-4, "自一致性：f(x(5), 5) 与 f(x(0.4), 0.4) 相差 \(maxAbsDifference(a, b))")
        let boundary = try gaussianConsistency(x: start, sigma: 0.002, mean: Self.gaussianMean, std: Self.gaussianStd, sigmaMin: 0.002)
        #expect(maxAbsDifference(boundary, start) < 1e-5, "边界条件：f(x, σ_min) 应等于 x")
    }

    @Test("教师一步：与库的 ConsistencyTeacher 一致，Euler 局部误差 O(h²)、Heun O(h³)", .hint("Euler：d = (x − D(x; σ))/σ，x + (σ_next − σ)·d。Heun：在 Euler 的结果 x̃ 与 σ_next 处再算一次斜率（用 D(x̃; σ_next)），两个斜率取平均。"))
    func teacher() throws {
        let x = Tensor.randomNormal([64, 2], seed: 4, std: 2)
        for (sigma, next) in [(2.0, 1.5), (0.5, 0.3)] {
            for heun in [false, true] {
                var calls = 0
                let mine = try teacherStep(denoise: { calls += 1; return Self.exactDenoiser($0, $1) }, x: x, from: sigma, to: next, heun: heun)
                let library = (heun ? ConsistencyTeacher.heun(Self.mixture) : .euler(Self.mixture)).step(x, from: sigma, to: next)
                #expect(maxAbsDifference(mine, library) < 1e-5, "\(heun ? "Heun" : "Euler")，σ: \(sigma) → \(next)：与库相差 \(maxAbsDifference(mine, library))")
                #expect(calls == (heun ? 2 : 1), "\(heun ? "Heun" : "Euler") 应调用去噪器 \(heun ? 2 : 1) 次，实际 \(calls) 次")
            }
        }
        // 局部误差的阶：单个一维高斯 N(0.5, 0.4²) 的流有闭式 x′ = μ + (x − μ)·√(s² + σ′²)/√(s² + σ²)。
        let (mu, s) = (0.5, 0.4)
        let one = GaussianMixture(weights: [1], means: [[mu]], std: [s])
        let start = Tensor.randomNormal([256, 1], seed: 5, std: Float((s * s + 1).squareRoot())) + Float(mu)
        let steps = [0.2, 0.1, 0.05]
        func errors(_ heun: Bool) throws -> [Double] {
            try steps.map { h in
                let mine = try teacherStep(denoise: { one.denoise($0, sigma: $1) }, x: start, from: 1, to: 1 - h, heun: heun)
                let exact = (start - Float(mu)) * Float(((s * s + (1 - h) * (1 - h)) / (s * s + 1)).squareRoot()) + Float(mu)
                return rmsDifference(mine, exact)
            }
        }
        let euler = try errors(false), heun = try errors(true)
        let eulerSlope = logLogSlope(steps, euler), heunSlope = logLogSlope(steps, heun)
        #expect(abs(eulerSlope - 2) < 0.3, "Euler 的局部误差阶 \(eulerSlope)，应≈2（误差 \(euler)）")
        #expect(abs(heunSlope - 3) < 0.4, "Heun 的局部误差阶 \(heunSlope)，应≈3（误差 \(heun)）")
    }

    @Test("一致性蒸馏损失：数值与梯度都与库的 ConsistencyObjective 一致", .hint("x_{n+1} = x₀ + σ_{n+1}·z 用较大的水平 levels[n + 1]；教师（Heun）从 σ_{n+1} 走到 σ_n = levels[n]；目标 f(x̂_n, σ_n) 要在 withNoGrad 里算并 detached()，梯度只经过 f(x_{n+1}, σ_{n+1})；对坐标求和、对样本平均。"))
    func distillationLoss() throws {
        let net = withParameterSeed(6) { ToyMLP(width: 32, blocks: 2, embeddingDim: 16) }
        let model = ConsistencyModel(net, preconditioning: ConsistencyPreconditioning(σ_data: 0.5, σ_min: 0.002))
        let levels = ConsistencyLevels(sigmaMin: 0.002, sigmaMax: 10).levels(12)
        let x0 = Self.mixture.sample(48, seed: 7), z = Tensor.randomNormal([48, 2], seed: 8)
        let objective = ConsistencyObjective(teacher: .heun(Self.mixture))
        func gradients() -> [Float] { net.parameters().flatMap { $0.grad?.scalars ?? [] } }
        for n in [0, 5, 10] {
            net.zeroGrad()
            let mine = try consistencyDistillationLoss(consistency: { model.consistency($0, sigma: $1) }, denoise: Self.exactDenoiser,
                                                       x0: x0, noise: z, levels: levels, index: n)
            try #require(mine.count == 1, "损失应是标量，实际形状 \(mine.shape)")
            mine.backward()
            let mineGrad = gradients()
            net.zeroGrad()
            let library = objective.loss(model, target: { model.consistency($0, sigmas: $1) }, x0: x0, noise: z,
                                         indices: Array(repeating: n, count: 48), levels: levels).mean()
            library.backward()
            let libraryGrad = gradients()
            #expect(relativeError(Double(mine.item), Double(library.item)) < 1e-4, "n = \(n)：损失 \(mine.item)，库的 ConsistencyObjective 给出 \(library.item)")
            try #require(mineGrad.count == libraryGrad.count && !mineGrad.isEmpty, "n = \(n)：网络参数没有梯度：损失要用张量运算算出")
            let worst = zip(mineGrad, libraryGrad).map { abs(Double($0) - Double($1)) }.max()!
            let size = libraryGrad.map { abs(Double($0)) }.max()!
            #expect(worst < 1e-3 * size, "n = \(n)：梯度与库的最大差 \(worst)（梯度最大值 \(size)）——目标一侧是否停止了梯度？")
        }
    }

    /// 理想的高斯一致性函数（与练习 3 的公式相同），一维，用来检查采样的闭式。
    static func idealOneDimensional(_ x: Tensor, _ sigma: Double, mu: Double, s: Double, sigmaMin: Double) -> Tensor {
        (x - Float(mu)) * Float(((s * s + sigmaMin * sigmaMin) / (s * s + sigma * sigma)).squareRoot()) + Float(mu)
    }

    @Test("一步与多步一致性采样：与库的 Sampling.consistency 一致，输出方差符合闭式", .hint("先 x = f(x, σ_max)；第 i 个 τ（i 从 0 起）用噪声 noise.normal(like: x, step: i)，标准差 √(τ² − σ_min²)，再 x = f(·, τ)。"))
    func sampling() throws {
        for sigmaMin in [0.002, 0.3] {
            let f = ExactConsistencyFunction(Self.mixture, sigmaMin: sigmaMin)
            let start = NoiseSource(seed: 9).prior([64, 2], sigma: 80)
            for taus in [[], [0.8], [2, 0.5]] as [[Double]] {
                let mine = try multistepConsistencySample(consistency: { f.consistency($0, sigma: $1) }, x: start, sigmaMax: 80,
                                                          sigmas: taus, sigmaMin: sigmaMin, noise: NoiseSource(seed: 10))
                let library = Sampling.consistency(f, start, sigmaMax: 80, sigmas: taus, noise: NoiseSource(seed: 10))
                #expect(rmsDifference(mine, library) < 1e-5, "σ_min = \(sigmaMin)，τ = \(taus)：与库的均方根差 \(rmsDifference(mine, library))")
            }
        }
        // 闭式：数据 N(μ, s²)，理想的 f。一步之后均值 m₁ = μ + (0 − μ)·r(σ_max)、方差 v₁ = (s² + σ_min²)·σ_max²/(s² + σ_max²)；
        // 加噪到 τ 再映射：m₂ = μ + (m₁ − μ)·r(τ)，v₂ = (s² + σ_min²)·(v₁ + τ² − σ_min²)/(s² + τ²)，r(σ) = √((s² + σ_min²)/(s² + σ²))。
        let (mu, s, sigmaMin, tau, sigmaMax) = (0.5, 0.4, 0.3, 0.6, 80.0)
        let start = NoiseSource(seed: 11).prior([20000, 1], sigma: sigmaMax)
        let out = try multistepConsistencySample(consistency: { Self.idealOneDimensional($0, $1, mu: mu, s: s, sigmaMin: sigmaMin) }, x: start,
                                                 sigmaMax: sigmaMax, sigmas: [tau], sigmaMin: sigmaMin, noise: NoiseSource(seed: 12))
        func r(_ sigma: Double) -> Double { ((s * s + sigmaMin * sigmaMin) / (s * s + sigma * sigma)).squareRoot() }
        let m1 = mu - mu * r(sigmaMax), v1 = (s * s + sigmaMin * sigmaMin) * sigmaMax * sigmaMax / (s * s + sigmaMax * sigmaMax)
        let m2 = mu + (m1 - mu) * r(tau), v2 = (s * s + sigmaMin * sigmaMin) * (v1 + tau * tau - sigmaMin * sigmaMin) / (s * s + tau * tau)
        let v = out.scalars.map(Double.init), mean = v.reduce(0, +) / Double(v.count)
        let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)
        #expect(abs(mean - m2) < 0.015, "两步采样的均值 \(mean)，闭式 \(m2)")
        #expect(relativeError(variance, v2) < 0.03, "两步采样的方差 \(variance)，闭式 \(v2)（加噪的标准差应是 √(τ² − σ_min²)）")
    }
}
