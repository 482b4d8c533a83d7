// 实验 L5 的评分测试（请不要修改）。每个测试的 .hint 是它失败时给你的提示。

import DiffusionEngine
import Diffusion
import Foundation
import Testing
@testable import Lab

@Suite("L5 SDE 与概率流 ODE")
struct SDETests {
    /// 第 5 章的 VP SDE（@eq:sde-vp）：β(t) = 0.1 + 19.9·t，B(t) = ∫₀ᵗβ，α = e^{−B/2}，σ² = 1 − e^{−B}，导数取闭式。
    struct LinearVP: NoiseProcess {
        let betaMin = 0.1, betaMax = 20.0
        var name: String { "vp-sde" }
        func beta(_ t: Double) -> Double { betaMin + t * (betaMax - betaMin) }
        func integral(_ t: Double) -> Double { betaMin * t + 0.5 * (betaMax - betaMin) * t * t }
        func alpha(_ t: Double) -> Double { exp(-0.5 * integral(t)) }
        func sigma(_ t: Double) -> Double { (-expm1(-integral(t))).squareRoot() }
        func rates(_ t: Double) -> NoiseRates {
            NoiseRates(dAlpha: -0.5 * beta(t) * alpha(t), dSigma: 0.5 * beta(t) * exp(-integral(t)) / sigma(t))
        }
    }

    /// α = 1、σ_t² = c·t：以 t 计时的布朗运动，f = 0、g² = c 是常数。它的 Euler–Maruyama 与库里
    /// 在 σ_i = √(c·t_i) 上的 `Sampling.eulerMaruyama` 是同一个算法，可以逐点比较。
    struct BrownianClock: NoiseProcess {
        let c = 25.0
        var name: String { "brownian" }
        func alpha(_ t: Double) -> Double { 1 }
        func sigma(_ t: Double) -> Double { (c * t).squareRoot() }
        func rates(_ t: Double) -> NoiseRates { NoiseRates(dAlpha: 0, dSigma: 0.5 * c / (c * t).squareRoot()) }
    }

    static let vp = LinearVP()

    @Test("SDE 系数 f、g² 与闭式一致（VP、VE、余弦、整流流）", .hint("f = α̇/α；g² = dσ²/dt − 2fσ²，其中 dσ²/dt = 2σσ̇（不是 σ̇）。VP 应得 f = −β/2、g² = β。"))
    func coefficients() throws {
        for t in [0.1, 0.5, 0.9] {
            let (f, g2) = try sdeCoefficients(Self.vp, at: t)
            #expect(relativeError(f, -0.5 * Self.vp.beta(t)) < 1e-9, "VP，t = \(t)：f = \(f)，应为 −β/2 = \(-0.5 * Self.vp.beta(t))")
            #expect(relativeError(g2, Self.vp.beta(t)) < 1e-9, "VP，t = \(t)：g² = \(g2)，应为 β = \(Self.vp.beta(t))")
        }
        let ve = VEProcess(sigmaMin: 0.01, sigmaMax: 50)
        let (fVE, g2VE) = try sdeCoefficients(ve, at: 0.3)
        let g2VEExact = 2 * pow(ve.sigma(0.3), 2) * log(50 / 0.01)
        #expect(abs(fVE) < 1e-12, "VE 的 f 应为 0，实际 \(fVE)")
        #expect(relativeError(g2VE, g2VEExact) < 1e-9, "VE：g² = \(g2VE)，应为 2σ²·log(σ_max/σ_min) = \(g2VEExact)")
        // 余弦调度（@ex:sde-coeffs）：β(t) = π/(1 + s)·tan(π/2·(t + s)/(1 + s))；库的 rates 用中心差分，所以容差放宽。
        let s = 0.008, t = 0.5
        let betaCosine = Double.pi / (1 + s) * tan(Double.pi / 2 * (t + s) / (1 + s))
        let (fCos, g2Cos) = try sdeCoefficients(CosineProcess(), at: t)
        #expect(relativeError(fCos, -0.5 * betaCosine) < 1e-5, "余弦：f = \(fCos)，应为 \(-0.5 * betaCosine)")
        #expect(relativeError(g2Cos, betaCosine) < 1e-5, "余弦：g² = \(g2Cos)，应为 \(betaCosine)")
        // 整流流 α = 1 − t、σ = t：f = −1/(1 − t)，g² = 2t/(1 − t)。
        let (fFlow, g2Flow) = try sdeCoefficients(RectifiedFlow(), at: 0.25)
        #expect(relativeError(fFlow, -4.0 / 3) < 1e-9 && relativeError(g2Flow, 2.0 / 3) < 1e-9,
                "整流流 t = 0.25：(f, g²) = (\(fFlow), \(g2Flow))，应为 (−4/3, 2/3)")
    }

    @Test("转移核：VP 的闭式、库的余弦过程、VE 的 √(σ² − σ_min²)", .hint("先累加 F = ∫f 得到 α_s = e^F，再对 g²(s)·e^{−2F(s)} 用梯形公式（两端各乘 ½），最后 σ_t = α_t·√(积分)。"))
    func kernel() throws {
        let vp = Self.vp
        for t in [0.5, 1.0] {
            let (a, s) = try linearSDEKernel(f: { -0.5 * vp.beta($0) }, g2: { vp.beta($0) }, t: t, steps: 1000)
            #expect(relativeError(a, vp.alpha(t)) < 1e-6, "VP，t = \(t)：α = \(a)，应为 e^{−B/2} = \(vp.alpha(t))")
            #expect(relativeError(s, vp.sigma(t)) < 1e-4, "VP，t = \(t)：σ = \(s)，应为 √(1 − e^{−B}) = \(vp.sigma(t))")
        }
        // 余弦调度：用闭式的 f = −β/2、g² = β 积分，应回到库的 CosineProcess 的 α、σ。
        let c = 0.008
        func beta(_ t: Double) -> Double { Double.pi / (1 + c) * tan(Double.pi / 2 * (t + c) / (1 + c)) }
        let cosine = CosineProcess()
        let (ac, sc) = try linearSDEKernel(f: { -0.5 * beta($0) }, g2: { beta($0) }, t: 0.8, steps: 2000)
        #expect(relativeError(ac, cosine.alpha(0.8)) < 1e-5 && relativeError(sc, cosine.sigma(0.8)) < 1e-5,
                "余弦，t = 0.8：(α, σ) = (\(ac), \(sc))，库的 CosineProcess 给出 (\(cosine.alpha(0.8)), \(cosine.sigma(0.8)))")
        // VE：σ(0) = σ_min 而不是 0，所以从 x₀ 出发的核的标准差是 √(σ(t)² − σ_min²)（@sec:ve-subvp）。
        let ve = VEProcess(sigmaMin: 0.1, sigmaMax: 10)
        let (aVE, sVE) = try linearSDEKernel(f: { _ in 0 }, g2: { 2 * pow(ve.sigma($0), 2) * log(100) }, t: 0.25, steps: 1000)
        let sVEExact = (pow(ve.sigma(0.25), 2) - 0.01).squareRoot()
        #expect(abs(aVE - 1) < 1e-12, "VE 的 α 应为 1，实际 \(aVE)")
        #expect(relativeError(sVE, sVEExact) < 1e-4, "VE，t = 0.25：σ = \(sVE)，应为 √(σ(t)² − σ_min²) = \(sVEExact)（VEProcess.sigma 是 \(ve.sigma(0.25))）")
    }

    @Test("转移核的积分是二阶精度（梯形公式）", .hint("误差应按 1/steps² 下降。若只按 1/steps 下降，你用的是左端点（或右端点）和：每段应取两端值的平均。"))
    func kernelOrder() throws {
        let vp = Self.vp
        let steps = [50, 100, 200]
        let errors = try steps.map { n in
            abs(try linearSDEKernel(f: { -0.5 * vp.beta($0) }, g2: { vp.beta($0) }, t: 0.5, steps: n).sigma - vp.sigma(0.5))
        }
        let order = -logLogSlope(steps.map(Double.init), errors)
        #expect(abs(order - 2) < 0.3, "σ 的误差 \(errors)，收敛阶 \(order)，应≈2")
    }

    @Test("η 族的漂移：布朗桥与平稳的 OU 过程", .hint("b = f·x − (1 + η²)/2·g²·score：η = 1 时分数的系数是 g²，η = 0 时是 g²/2；不要替调用者改 dt 的符号。"))
    func drifts() throws {
        // 布朗桥（@ex:sde-bridge）：f = 0，g = 1，p_t = N(0, t·I)，分数 −x/t。
        let x = Tensor.randomNormal([64, 2], seed: 1, std: 2), t = 0.4
        let score = x * Float(-1 / t)
        for (eta, factor) in [(1.0, 1.0), (0.0, 0.5), (2.0, 2.5)] {
            let b = try reverseTimeDrift(x: x, score: score, f: 0, g2: 1, eta: eta)
            #expect(maxAbsDifference(b, x * Float(factor / t)) < 1e-5, "布朗桥，η = \(eta)：漂移应为 \(factor)·x/t")
        }
        // VP 上的数据恰好是 N(0, I)（@ex:sde-ou）：分数 −x；逆时漂移 ½βx，概率流 ODE 的漂移为 0。
        let beta = 7.0
        let sde = try reverseTimeDrift(x: x, score: -x, f: -beta / 2, g2: beta, eta: 1)
        let ode = try reverseTimeDrift(x: x, score: -x, f: -beta / 2, g2: beta, eta: 0)
        #expect(maxAbsDifference(sde, x * Float(beta / 2)) < 1e-5, "平稳 OU：逆时 SDE 的漂移应为 ½βx")
        #expect(maxAbsDifference(ode, Tensor.zeros(x.shape)) < 1e-5, "平稳 OU：概率流 ODE 的漂移应为 0（每个点都不动）")
    }

    @Test("Euler–Maruyama 一步：与库的 Sampling.eulerMaruyama 逐点一致", .hint("x' = x − b·Δt + η·√(g²·Δt)·z：倒着走，所以漂移乘以 −Δt；噪声的标准差是 g·√Δt，不是 g²·Δt。"))
    func oneStep() throws {
        // α = 1 坐标以 τ = σ² 计时：f = 0、g² = 1，从 σ = 2 走到 1.2 就是 Δτ = 4 − 1.44。
        let m = GaussianMixture.example2D
        let x = NoiseSource(seed: 3).prior([128, 2], sigma: 2), noise = NoiseSource(seed: 4)
        let score = m.score(x, at: NoiseLevel(alpha: 1, sigma: 2))
        let mine = try reverseTimeStep(x: x, score: score, f: 0, g2: 1, eta: 1, dt: 4 - 1.44, noise: noise.normal(like: x, step: 0))
        let library = Sampling.eulerMaruyama(m, x, sigmas: [2, 1.2], noise: noise)
        #expect(maxAbsDifference(mine, library) < 1e-4, "与库相差 \(maxAbsDifference(mine, library))")
        // VP 时间上的一步（@ex:sde-vp-em）：x + (½βx + β·s)Δt + √(βΔt)·z。
        let s = Tensor.randomNormal([64, 2], seed: 5), z = Tensor.randomNormal([64, 2], seed: 6), y = Tensor.randomNormal([64, 2], seed: 7)
        let (beta, dt) = (5.0, 0.01)
        let vpStep = try reverseTimeStep(x: y, score: s, f: -beta / 2, g2: beta, eta: 1, dt: dt, noise: z)
        let expected = y + (y * Float(beta / 2) + s * Float(beta)) * Float(dt) + z * Float((beta * dt).squareRoot())
        #expect(maxAbsDifference(vpStep, expected) < 1e-5, "VP 一步与 x + (½βx + βs)Δt + √(βΔt)·z 相差 \(maxAbsDifference(vpStep, expected))")
        let odeStep = try reverseTimeStep(x: y, score: s, f: -beta / 2, g2: beta, eta: 0, dt: dt, noise: z)
        let odeExpected = y + (y * Float(beta / 2) + s * Float(beta / 2)) * Float(dt)
        #expect(maxAbsDifference(odeStep, odeExpected) < 1e-5, "η = 0 时应没有噪声，且分数的系数是 β/2")
    }
}

extension SDETests {
    @Test("采样器与库的 Sampling.eulerMaruyama 逐点一致", .hint("第 i 步：系数与分数都取在 t_i；Δt = t_i − t_{i+1}；噪声用 noise.normal(like: x, step: i)。每步只调用一次 score。"))
    func samplerMatchesLibrary() throws {
        // f = 0、g² = c 时，t 上的一步 Euler–Maruyama 就是库在 σ = √(c·t) 上的一步（Δτ = c·Δt）。
        let m = GaussianMixture.example2D, clock = BrownianClock()
        let times = (0...20).map { 1 - 0.98 * Double($0) / 20 }
        let sigmas = times.map { clock.sigma($0) }
        let start = NoiseSource(seed: 8).prior([128, 2], sigma: sigmas[0]), noise = NoiseSource(seed: 9)
        var calls = 0
        let mine = try sampleReverseTime(process: clock, score: { calls += 1; return m.score($0, at: clock.level($1)) },
                                         x: start, times: times, eta: 1, noise: noise)
        let library = Sampling.eulerMaruyama(m, start, sigmas: sigmas, noise: noise)
        try #require(mine.shape == [128, 2], "形状应为 [128, 2]，实际 \(mine.shape)")
        #expect(rmsDifference(mine, library) < 1e-4, "与库的均方根差 \(rmsDifference(mine, library))")
        #expect(calls == 20, "20 步应调用 score 20 次，实际 \(calls) 次")
    }

    @Test("逆时 VP SDE 的样本：均值与方差对上精确的边缘分布", .hint("先让“逐点一致”的测试通过。方差偏大多半是漂移里分数的系数用成了 g²/2（那是 ODE 的），或噪声没有乘 η·g·√Δt。"))
    func reverseSDEMarginal() throws {
        // 一维三峰混合，VP 时间上均匀的 400 步从 t = 1 走到 0.01；与精确的 p_{0.01} 比较前两阶矩。
        // 容差取 4 倍标准误（由样本自己的方差与四阶中心矩算出）；400 步的离散化偏差（弱一阶）比它小一个数量级。
        let m = GaussianMixture.example1D, vp = Self.vp, n = 10_000, steps = 400, tEnd = 0.01
        let times = (0...steps).map { 1 - (1 - tEnd) * Double($0) / Double(steps) }
        let start = NoiseSource(seed: 10).prior([n, 1])            // x_1 ~ N(0, 1)；α_1 ≈ 0.007，p_1 与它几乎相同
        let x = try sampleReverseTime(process: vp, score: { m.score($0, at: vp.level($1)) }, x: start, times: times,
                                      eta: 1, noise: NoiseSource(seed: 11))
        let mean0 = zip(m.weights, m.means).reduce(0) { $0 + $1.0 * $1.1[0] }
        let second0 = zip(m.weights, zip(m.means, m.stds)).reduce(0) { $0 + $1.0 * ($1.1.0[0] * $1.1.0[0] + $1.1.1[0] * $1.1.1[0]) }
        let (a, s) = (vp.alpha(tEnd), vp.sigma(tEnd))
        let exactMean = a * mean0, exactVariance = a * a * (second0 - mean0 * mean0) + s * s
        let values = x.scalars.map(Double.init)
        let mean = values.reduce(0, +) / Double(n)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let fourth = values.reduce(0) { $0 + pow($1 - mean, 4) } / Double(n)
        let (seMean, seVariance) = ((variance / Double(n)).squareRoot(), ((fourth - variance * variance) / Double(n)).squareRoot())
        #expect(abs(mean - exactMean) < 4 * seMean, "均值 \(mean)，精确值 \(exactMean)（标准误 \(seMean)）")
        #expect(abs(variance - exactVariance) < 4 * seVariance, "方差 \(variance)，精确值 \(exactVariance)（标准误 \(seVariance)）")
    }

    // 收敛阶：η = 0 是概率流 ODE 上的 Euler 法。参考解：在 α = 1 坐标 y = x/α_t 中用库的四阶 Runge–Kutta
    // （`GaussianMixture.probabilityFlow`，2000 步）从 σ̃(1) 积到 σ̃(0.05)，再乘回 α_{0.05}——两种坐标里是同一条轨迹。
    static let broad = GaussianMixture(weights: [0.5, 0.3, 0.2], means: [[-1, 0], [1, 0.5], [0.2, 1.5]],
                                       stds: [[0.5, 0.4], [0.4, 0.6], [0.5, 0.5]])

    @Test("概率流 ODE 上的 Euler 法：确定性，收敛阶≈1", .hint("η = 0 时结果不应依赖噪声。阶数明显小于 1 时检查：分数是否在 t_i 而不是 t_{i+1} 处取、ODE 漂移里分数的系数是否是 g²/2。"))
    func odeOrder() throws {
        let vp = Self.vp, tEnd = 0.05
        let start = NoiseSource(seed: 12).prior([64, 2])
        let reference = Self.broad.probabilityFlow(start * Float(1 / vp.alpha(1)), from: vp.edmSigma(1), to: vp.edmSigma(tEnd)) * Float(vp.alpha(tEnd))
        func run(_ steps: Int, seed: UInt64) throws -> Tensor {
            let times = (0...steps).map { 1 - (1 - tEnd) * Double($0) / Double(steps) }
            return try sampleReverseTime(process: vp, score: { Self.broad.score($0, at: vp.level($1)) }, x: start, times: times,
                                         eta: 0, noise: NoiseSource(seed: seed))
        }
        #expect(maxAbsDifference(try run(20, seed: 13), try run(20, seed: 14)) == 0, "η = 0 时换一个噪声种子，结果应完全相同")
        let steps = [20, 40, 80]
        let errors = try steps.map { rmsDifference(try run($0, seed: 13), reference) }
        let order = -logLogSlope(steps.map(Double.init), errors)
        #expect(abs(order - 1) < 0.25, "收敛阶 \(order)，应≈1（误差 \(errors)）")
    }
}
