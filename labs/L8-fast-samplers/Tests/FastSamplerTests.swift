// 实验 L8 的评分测试（请不要修改）。每个测试的 .hint 是它失败时给你的提示。

import DiffusionEngine
import Diffusion
import Foundation
import Testing
@testable import Lab

@Suite("L8 DDIM 与 DPM-Solver++(2M)")
struct FastSamplerTests {
    static let mixture = GaussianMixture.example2D
    static func exact(_ x: Tensor, _ sigma: Double) -> Tensor { mixture.denoise(x, sigma: sigma) }

    /// 库的 DDIM 走一步（α = 1 坐标），去噪器固定返回 x0Hat。
    static func libraryDDIMStep(_ x: Tensor, _ x0Hat: Tensor, _ sigma: Double, _ sigmaNext: Double) -> Tensor {
        Sampling.ddim(ClosureDenoiser { _, _ in x0Hat }, x, sigmas: [sigma, sigmaNext])
    }

    @Test("DDIM 一步：α = 1 与一般的 (α, σ)", .hint("ε̂ = (x − α_t·x̂₀)/σ_t，x_s = α_s·x̂₀ + σ_s·ε̂：ε̂ 用出发水平的 (α_t, σ_t)，重组用目标水平的 (α_s, σ_s)。"))
    func ddimOneStep() throws {
        let x = Tensor.randomNormal([64, 2], seed: 1, std: 3), x0Hat = Tensor.randomNormal([64, 2], seed: 2)
        // α = 1：与库一致。
        let mine = try ddimStep(x: x, x0Hat: x0Hat, from: NoiseLevel(alpha: 1, sigma: 3), to: NoiseLevel(alpha: 1, sigma: 1.2))
        #expect(maxAbsDifference(mine, Self.libraryDDIMStep(x, x0Hat, 3, 1.2)) < 1e-5, "α = 1 时与库的 Sampling.ddim 不一致")
        // 方差保持的水平：换到 α = 1 坐标（x/α，σ/α）走一步，再乘回 α_s，结果应相同。
        let (t, s) = (NoiseLevel(alpha: 0.6, sigma: 0.8), NoiseLevel(alpha: 0.9, sigma: (1 - 0.81).squareRoot()))
        let vp = try ddimStep(x: x, x0Hat: x0Hat, from: t, to: s)
        let viaLibrary = Self.libraryDDIMStep(x * Float(1 / t.alpha), x0Hat, t.sigma / t.alpha, s.sigma / s.alpha) * Float(s.alpha)
        #expect(maxAbsDifference(vp, viaLibrary) < 1e-5, "一般的 (α, σ) 下结果不对：检查 α_t、α_s 分别用在哪里")
        let toClean = try ddimStep(x: x, x0Hat: x0Hat, from: t, to: NoiseLevel(alpha: 1, sigma: 0))
        #expect(maxAbsDifference(toClean, x0Hat) < 1e-6, "走到 σ = 0 时结果应正是 x̂₀")
    }

    @Test("DDIM 采样与库的 Sampling.ddim 逐点一致", .hint("第 i 步：x̂₀ = denoise(x, σ_i)，再用 ddimStep 从 (1, σ_i) 走到 (1, σ_{i+1})；共 sigmas.count − 1 步。"))
    func ddimMatchesLibrary() throws {
        let sigmas = Schedule.karras(steps: 20)
        let start = NoiseSource(seed: 3).prior([128, 2], sigma: sigmas[0])
        var calls = 0
        let mine = try ddim(denoise: { calls += 1; return Self.exact($0, $1) }, x: start, sigmas: sigmas)
        let library = Sampling.ddim(Self.mixture, start, sigmas: sigmas)
        try #require(mine.shape == [128, 2], "形状应为 [128, 2]")
        #expect(rmsDifference(mine, library) < 1e-4, "与库的均方根差 \(rmsDifference(mine, library))")
        #expect(calls == 20, "20 步应调用去噪器 20 次，实际 \(calls) 次")
    }

    @Test("DPM-Solver++ 的一阶更新就是 DDIM", .hint("h = log(σ/σ_next)；x_next = (σ_next/σ)·x − expm1(−h)·D。注意是 expm1(−h)，带负号。"))
    func firstOrderIsDDIM() throws {
        let x = Tensor.randomNormal([64, 2], seed: 4, std: 5), d = Tensor.randomNormal([64, 2], seed: 5)
        for (sigma, sigmaNext) in [(5.0, 4.0), (1.0, 0.1), (80.0, 40.0)] {
            let mine = try dpmSolverFirstOrderUpdate(x: x, denoised: d, sigma: sigma, sigmaNext: sigmaNext)
            let ddimResult = Self.libraryDDIMStep(x, d, sigma, sigmaNext)
            #expect(maxAbsDifference(mine, ddimResult) < 1e-4, "σ: \(sigma) → \(sigmaNext)：与 DDIM 一步相差 \(maxAbsDifference(mine, ddimResult))")
        }
    }

    @Test("2M 的二阶修正系数", .hint("r = h_{i−1}/h_i（上一步的 h 除以这一步的 h）；D̃ = (1 + 1/(2r))·D_i − 1/(2r)·D_{i−1}。"))
    func correction() throws {
        let current = Tensor([1, 2]), previous = Tensor([3, -1])
        let equal = try dpmSolver2MCorrection(current: current, previous: previous, h: 0.5, previousH: 0.5)
        #expect(maxAbsDifference(equal, Tensor([0, 3.5])) < 1e-6, "步长相等时应为 1.5·D_i − 0.5·D_{i−1} = [0, 3.5]，实际 \(equal.scalars)")
        let unequal = try dpmSolver2MCorrection(current: current, previous: previous, h: 0.25, previousH: 0.5)   // r = 2
        #expect(maxAbsDifference(unequal, Tensor([0.5, 2.75])) < 1e-6, "r = 2 时应为 1.25·D_i − 0.25·D_{i−1} = [0.5, 2.75]，实际 \(unequal.scalars)")
    }

    @Test("DPM-Solver++(2M) 与库的 Sampling.dpmSolverPP2M 逐点一致", .hint("第一步没有上一步，用 D_i；σ_{i+1} = 0 时直接 x = D_i；记住 (D_i, h_i) 时存的是未经修正的 D_i。每步只调用一次去噪器。"))
    func dpmSolverMatchesLibrary() throws {
        for sigmas in [Schedule.karras(steps: 12), Schedule.exponential(steps: 9, sigmaMin: 0.01, sigmaMax: 50)] {
            let start = NoiseSource(seed: 6).prior([128, 2], sigma: sigmas[0])
            var calls = 0
            let mine = try dpmSolverPP2M(denoise: { calls += 1; return Self.exact($0, $1) }, x: start, sigmas: sigmas)
            let library = Sampling.dpmSolverPP2M(Self.mixture, start, sigmas: sigmas)
            try #require(mine.shape == [128, 2], "形状应为 [128, 2]")
            #expect(rmsDifference(mine, library) < 1e-4, "\(sigmas.count - 1) 步：与库的均方根差 \(rmsDifference(mine, library))")
            #expect(calls == sigmas.count - 1, "\(sigmas.count - 1) 步应调用去噪器 \(sigmas.count - 1) 次，实际 \(calls) 次")
        }
    }

    // 收敛阶：在精确的概率流 ODE 上，从 σ = 80 积到 σ = 0.02（不做最后跳到 0 的那一步），
    // 与 2000 步四阶 Runge–Kutta 的解比较；误差对步数的 log-log 斜率就是阶数。
    static let broad = GaussianMixture(weights: [0.5, 0.3, 0.2], means: [[-1, 0], [1, 0.5], [0.2, 1.5]],
                                       stds: [[0.5, 0.4], [0.4, 0.6], [0.5, 0.5]])
    static let start = NoiseSource(seed: 3).prior([64, 2], sigma: 80)
    static let reference = broad.probabilityFlow(start, from: 80, to: 0.02, steps: 2000)

    static func orderOf(_ sampler: ((Tensor, Double) -> Tensor, Tensor, [Double]) throws -> Tensor) throws -> (slope: Double, errors: [Double]) {
        let steps = [16, 32, 64]
        let errors = try steps.map { n -> Double in
            let sigmas = Array(Schedule.karras(steps: n + 1, sigmaMin: 0.02, sigmaMax: 80).dropLast())
            return rmsDifference(try sampler({ broad.denoise($0, sigma: $1) }, start, sigmas), reference)
        }
        return (-logLogSlope(steps.map(Double.init), errors), errors)
    }

    @Test("收敛阶：DDIM 一阶，DPM-Solver++(2M) 二阶", .hint("先让前面逐点比较的测试通过。2M 的阶数接近 1 说明修正没有生效（比如 r 取了倒数，或存的是修正后的 D̃）。"))
    func convergenceOrder() throws {
        let first = try Self.orderOf { try ddim(denoise: $0, x: $1, sigmas: $2) }
        let second = try Self.orderOf { try dpmSolverPP2M(denoise: $0, x: $1, sigmas: $2) }
        #expect(abs(first.slope - 1) < 0.3, "DDIM 的阶数 \(first.slope)，应≈1（误差 \(first.errors)）")
        #expect(abs(second.slope - 2) < 0.3, "DPM-Solver++(2M) 的阶数 \(second.slope)，应≈2（误差 \(second.errors)）")
    }
}
