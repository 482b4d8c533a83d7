// 实验 L12 的评分测试（请不要修改）。每个测试的 .hint 是它失败时给你的提示。

import DiffusionEngine
import Diffusion
import Foundation
import Testing
@testable import Lab

/// 一个总是输出同一张 logits 表的“去噪器”，用来让库的 MaskedDiffusion.losses 与你的损失看到同样的网络输出。
private struct FixedLogits: TokenDenoiser {
    let categories: Int
    let table: Tensor
    func logits(_ xt: Tensor, _ t: Tensor) -> Tensor { table }
}

/// 逆累积分布：第一个满足 u < p_0 + … + p_j 的 j；都不满足时取最后一个概率为正的 j。
private func inverseCDF(_ p: [Double], _ u: Float) -> Int {
    var c = 0.0, last = 0
    for (j, v) in p.enumerated() {
        if v > 0 { last = j }
        c += v
        if Double(u) < c { return j }
    }
    return last
}

@Suite("L12 掩码扩散")
struct MaskedDiffusionLabTests {
    static let k = 4

    @Test("前向边缘分布与库的 DiscreteProcess.marginal 一致", .hint("ᾱ_t = α(t/T)，不是 α((t − 1)/T)；吸收态有 K + 1 个状态，被替换的质量 1 − ᾱ_t 全在 [MASK]（下标 K）上；均匀噪声有 K 个状态，每个状态分到 (1 − ᾱ_t)/K，包括 x_0 自己。"))
    func marginal() throws {
        for noise in DiscreteNoise.allCases {
            for schedule in DiscreteSchedule.allCases {
                let process = DiscreteProcess(noise: noise, categories: Self.k, steps: 10, schedule: schedule)
                for t in 0...10 {
                    for x0 in 0..<Self.k {
                        let mine = try discreteForwardMarginal(x0: x0, t: t, steps: 10, schedule: schedule, categories: Self.k, noise: noise)
                        let onehot = (0..<process.states).map { $0 == x0 ? 1.0 : 0 }
                        let library = process.marginal(onehot, at: t)
                        try #require(mine.count == library.count, "\(noise) 噪声应有 \(library.count) 个状态，你返回了 \(mine.count) 个")
                        let error = zip(mine, library).map { abs($0 - $1) }.max()!
                        #expect(error < 1e-12, "\(noise)、\(schedule)、t = \(t)、x_0 = \(x0)：你的 \(mine)，库的 \(library)")
                    }
                }
            }
        }
        // 手算：均匀噪声、线性调度、t/T = 1/2：q(x_t = x_0) = 0.5 + 0.5/4 = 0.625，其余各 0.125。
        let half = try discreteForwardMarginal(x0: 2, t: 5, steps: 10, schedule: .linear, categories: 4, noise: .uniform)
        #expect(zip(half, [0.125, 0.125, 0.625, 0.125]).allSatisfy { abs($0 - $1) < 1e-12 }, "均匀噪声 t/T = 1/2 应为 [0.125, 0.125, 0.625, 0.125]，实际 \(half)")
    }

    @Test("吸收态后验与库的 DiscreteProcess.posterior（贝叶斯公式）一致", .hint("揭开的概率是 (ᾱ_{t−1} − ᾱ_t)/(1 − ᾱ_t)：分子是“这一步才被掩码”的概率，分母是“到 t 为止已被掩码”的概率；注意 alphaBar 的下标就是 t。未被掩码的 x_t 后验是它自己上的单点分布。"))
    func posterior() throws {
        let process = DiscreteProcess(noise: .absorbing, categories: Self.k, steps: 10, schedule: .cosine)
        for t in 1...10 {
            for x0 in 0..<Self.k {
                for xt in t == 10 ? [Self.k] : [x0, Self.k] {          // ᾱ_T = 0：t = T 时只有 [MASK]
                    let mine = try absorbingPosterior(xt: xt, x0: x0, t: t, alphaBar: process.alphaBar, categories: Self.k)
                    let library = process.posterior(xt: xt, x0: x0, at: t)
                    try #require(mine.count == Self.k + 1, "后验应覆盖 K + 1 = \(Self.k + 1) 个状态，你返回了 \(mine.count) 个")
                    let error = zip(mine, library).map { abs($0 - $1) }.max()!
                    #expect(error < 1e-12, "t = \(t)、x_0 = \(x0)、x_t = \(xt == Self.k ? "[MASK]" : "\(xt)")：你的 \(mine)，库的 \(library)")
                }
            }
        }
        // 手算：线性调度 ᾱ_t = 1 − t/8，t = 3 时揭开的概率是 1/t = 1/3。
        let linear = DiscreteSchedule.linear.grid(steps: 8)
        let p = try absorbingPosterior(xt: 4, x0: 1, t: 3, alphaBar: linear, categories: 4)
        #expect(abs(p[1] - 1.0 / 3) < 1e-12 && abs(p[4] - 2.0 / 3) < 1e-12, "线性调度 T = 8、t = 3：应为 x_0 上 1/3、[MASK] 上 2/3，实际 \(p)")
    }

    /// 同一批 x_0、logits 与随机数下，库的 MaskedDiffusion.losses 给出的 (损失, x_t)。
    static func libraryLosses(schedule: DiscreteSchedule) -> (x0: Tensor, logits: Tensor, times: [Double], losses: Tensor, xt: Tensor) {
        let x0 = MarkovChain.example(length: 8).sample(6, seed: 1)
        let logits = Tensor.randomNormal([6, 8, 4], seed: 2, std: 2)
        let times = [0.15, 0.3, 0.5, 0.65, 0.8, 1.0]
        var g = RandomGenerator(seed: 3)
        let (losses, xt) = MaskedDiffusion.losses(FixedLogits(categories: 4, table: logits), x0, times: times, schedule: schedule, generator: &g)
        return (x0, logits, times, losses, xt)
    }

    @Test("掩码扩散损失与库的 MaskedDiffusion.losses 一致", .hint("权重 w(t) = −α'_t/(1 − α_t) 是正数（α 递减，α' < 0）；只对被掩码的位置（x_t = K）求和，不是求平均；余弦调度下 w(t) ≠ 1/t。"))
    func loss() throws {
        for schedule in [DiscreteSchedule.linear, .cosine] {
            let r = Self.libraryLosses(schedule: schedule)
            let maskedCount = r.xt.scalars.filter { $0 == 4 }.count
            try #require(maskedCount > 5 && maskedCount < 43, "测试数据应同时含有掩码和未掩码的位置")
            let mine = try maskedDiffusionLoss(logits: r.logits, x0: r.x0, xt: r.xt, times: r.times, schedule: schedule)
            try #require(mine.shape == [6], "损失的形状应为 [B] = [6]（每条序列一个数），实际 \(mine.shape)")
            let error = zip(mine.scalars, r.losses.scalars).map { relativeError(Double($0), Double($1)) }.max()!
            #expect(error < 1e-5, "\(schedule) 调度：你的 \(mine.scalars)，库的 \(r.losses.scalars)")
        }
    }

    @Test("损失对 logits 的梯度等于 w·[被掩码]·(softmax − onehot(x_0))", .hint("先让上一个测试通过。梯度不对通常是中途把张量转成了 [Float] 再包回去（图断了），或者对未被掩码的位置也算了交叉熵。"))
    func lossGradient() throws {
        let r = Self.libraryLosses(schedule: .cosine)
        let leaf = r.logits.requiringGrad()
        try maskedDiffusionLoss(logits: leaf, x0: r.x0, xt: r.xt, times: r.times, schedule: .cosine).sum().backward()
        let grad = try #require(leaf.grad, "logits 没有得到梯度：损失必须用张量运算从 logits 算出来")
        // 闭式：∂loss_n/∂logit_{n,i,j} = w(t_n)·[x_t^i = MASK]·(softmax_j − [j = x_0^i])。
        let p = r.logits.softmax(axis: -1).scalars, x0 = r.x0.scalars, xt = r.xt.scalars
        var expected = [Float](repeating: 0, count: 6 * 8 * 4)
        for n in 0..<6 {
            let w = DiscreteSchedule.cosine.weight(r.times[n])
            for i in 0..<8 where xt[n * 8 + i] == 4 {
                for j in 0..<4 {
                    let base = (n * 8 + i) * 4 + j
                    expected[base] = Float(w * (Double(p[base]) - (Int(x0[n * 8 + i]) == j ? 1 : 0)))
                }
            }
        }
        #expect(maxAbsDifference(grad, Tensor(expected, shape: [6, 8, 4])) < 1e-4, "梯度与闭式相差 \(maxAbsDifference(grad, Tensor(expected, shape: [6, 8, 4])))")
    }

    @Test("祖先揭开的一步与库的 DiscreteProcess.reverse 逐个词元一致", .hint("被掩码的词元：分布是 [r_t·p̂_0, …, r_t·p̂_{K−1}, 1 − r_t]，[MASK] 排在最后；r_t = (ᾱ_{t−1} − ᾱ_t)/(1 − ᾱ_t)，余弦调度下不是 1/t。未被掩码的词元原样保留，不消耗任何判断。"))
    func unmaskingStep() throws {
        let process = DiscreteProcess(noise: .absorbing, categories: Self.k, steps: 10, schedule: .cosine)
        let n = 400
        let masked = Tensor.randomUniform([n], seed: 10).scalars.map { $0 < 0.6 }
        let symbols = Tensor.randomIntegers([n], in: 0..<Self.k, seed: 11).scalars.map { Int($0) }
        let xt = (0..<n).map { masked[$0] ? Self.k : symbols[$0] }
        let raw = Tensor.randomUniform([n, Self.k], seed: 12).scalars.map { Double($0) + 0.01 }
        let probabilities = (0..<n).map { i -> [Double] in
            let row = Array(raw[(i * Self.k)..<((i + 1) * Self.k)]), z = row.reduce(0, +)
            return row.map { $0 / z }
        }
        for t in [9, 6, 3, 1] {          // t = T 时 ᾱ_T = 0，不会有未被掩码的词元
            let u = Tensor.randomUniform([n], seed: 13, stream: UInt64(t)).scalars
            let mine = try ancestralUnmaskingStep(xt: xt, x0Probabilities: probabilities, t: t, alphaBar: process.alphaBar, categories: Self.k, uniforms: u)
            try #require(mine.count == n, "应返回 \(n) 个词元，实际 \(mine.count) 个")
            let expected = (0..<n).map { inverseCDF(process.reverse(xt: xt[$0], x0Probabilities: probabilities[$0], at: t), u[$0]) }
            let wrong = (0..<n).filter { mine[$0] != expected[$0] }
            #expect(wrong.isEmpty, "t = \(t)：\(wrong.count) 个词元与库不同，例如第 \(wrong.first ?? 0) 个（x_t = \(xt[wrong.first ?? 0])）：你的 \(mine[wrong.first ?? 0])，应为 \(expected[wrong.first ?? 0])")
            #expect((0..<n).allSatisfy { masked[$0] || mine[$0] == xt[$0] }, "t = \(t)：未被掩码的词元必须原样保留")
            if t == 1 { #expect(!mine.contains(Self.k), "t = 1 时 ᾱ_0 = 1，r_1 = 1：所有 [MASK] 都应被揭开") }
        }
    }

    @Test("完整采样与库的 DiscreteProcess.sample 逐点一致", .hint("t 从 T 走到 1，每步恰好调用一次去噪器，时间是 t/T；第 i = T − t 步的均匀数用流 (i + 1) << 16；p̂ 是 logits 沿最后一维的 softmax。"))
    func samplerMatchesLibrary() throws {
        let chain = MarkovChain.example(length: 8)
        let exact = ExactMarkovDenoiser(chain: chain, noise: .absorbing, schedule: .cosine)
        let process = DiscreteProcess(noise: .absorbing, categories: 4, steps: 12, schedule: .cosine)
        var calls = 0, times: [Float] = []
        let mine = try sampleMaskedTokens(denoiser: { calls += 1; times.append($1.scalars[0]); return exact.logits($0, $1) },
                                          count: 100, length: 8, alphaBar: process.alphaBar, categories: 4, seed: 5)
        let library = process.sample(exact, count: 100, length: 8, seed: 5)
        try #require(mine.shape == [100, 8], "形状应为 [100, 8]，实际 \(mine.shape)")
        #expect(calls == 12, "12 步应调用去噪器 12 次，实际 \(calls) 次")
        #expect(times.first == 1 && abs(Double(times.last ?? 0) - 1.0 / 12) < 1e-6, "时间应从 t/T = 1 走到 1/T，实际从 \(times.first ?? -1) 到 \(times.last ?? -1)")
        #expect(!mine.scalars.contains(4), "采样结束时不应再有 [MASK]")
        // 你的概率与库的在 Float 舍入上可能略有不同，极少数恰好落在边界上的均匀数会抽到相邻的符号。
        let same = zip(mine.scalars, library.scalars).filter { $0 == $1 }.count
        #expect(same >= 792, "800 个词元中只有 \(same) 个与库相同")
    }

    @Test("精确去噪器 + 32 步：符号与二元组频率接近马尔可夫链的精确值", .hint("先让逐点比较的测试通过。频率差得远通常是揭开得太快（一步揭开很多词元，相邻的词元各自从边缘分布抽，会抽出被禁止的组合）。"))
    func samplerFrequencies() throws {
        let chain = MarkovChain.example(length: 8)
        let exact = ExactMarkovDenoiser(chain: chain, noise: .absorbing)
        let n = 600
        let x = try sampleMaskedTokens(denoiser: { exact.logits($0, $1) }, count: n, length: 8,
                                       alphaBar: DiscreteSchedule.linear.grid(steps: 32), categories: 4, seed: 21)
        // 每个位置的符号频率与 positionMarginals（精确）比较：n = 600 时二项分布的标准差 ≤ 0.02。
        let s = x.scalars.map { Int($0) }, marginals = chain.positionMarginals()
        var worstToken = 0.0
        for i in 0..<8 {
            for a in 0..<4 {
                let f = Double((0..<n).filter { s[$0 * 8 + i] == a }.count) / Double(n)
                worstToken = max(worstToken, abs(f - marginals[i][a]))
            }
        }
        #expect(worstToken < 0.08, "位置符号频率与精确边缘分布的最大差 \(worstToken)")
        // 二元组：经验转移频率与转移矩阵比较；禁止的转移应几乎不出现。
        let frequencies = chain.transitionFrequencies(x)
        let worstBigram = (0..<4).flatMap { a in (0..<4).map { b in abs(frequencies[a][b] - chain.transition[a][b]) } }.max()!
        #expect(worstBigram < 0.05, "转移频率与转移矩阵的最大差 \(worstBigram)：\(frequencies)")
        let invalid = chain.invalidFraction(x)
        #expect(invalid < 0.1, "不可能序列的比例 \(invalid) 太高")
    }
}
