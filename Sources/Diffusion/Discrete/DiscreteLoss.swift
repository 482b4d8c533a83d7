import DiffusionEngine
import Foundation

/// Predicts p(x_0 | x_t) for every token: logits [B, L, K] over the K categories for tokens x_t [B, L] (integers as
/// Float; the mask is K) at continuous times t [B] in [0, 1]. A network or an exact answer (`ExactMarkovDenoiser`).
public protocol TokenDenoiser {
    var categories: Int { get }
    func logits(_ xt: Tensor, _ t: Tensor) -> Tensor
}

/// A loss for back-propagation and its parts in nats per sequence (batch means).
public struct DiscreteLoss {
    public let loss: Tensor
    /// T · D_KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)) at the drawn steps (an unbiased estimate of Σ_t L_{t−1}).
    public let variationalBound: Double
    /// −log p̂_θ(x_0 | x_t) summed over the tokens.
    public let crossEntropy: Double
}

extension DiscreteProcess {
    /// The constant parts of the x_0-parametrised reverse step for every token of x_t [B, L] at steps t [B]:
    /// an additive mask [B, L, K] (0 where x_0 = k is consistent with x_t, −10⁹ elsewhere) and the posterior
    /// matrices [B·L, K, S] with rows q(x_{t−1} | x_t, x_0 = k).
    func reverseParts(_ xt: Tensor, steps t: [Int]) -> (consistency: Tensor, posteriors: Tensor) {
        let (b, l, k, s) = (xt.shape[0], xt.shape[1], categories, states)
        let x = xt.scalars.map { Int($0) }
        var c = [Float](repeating: 0, count: b * l * k), p = [Float](repeating: 0, count: b * l * k * s)
        for n in 0..<b {
            // The posterior rows depend only on (x_t, x_0, t): compute them once per state and sample.
            var rows: [Int: [[Float]]] = [:]
            for i in 0..<l {
                let token = x[n * l + i], base = n * l + i
                if rows[token] == nil {
                    rows[token] = (0..<k).map { x0 in
                        isConsistent(x0: x0, xt: token, at: t[n]) ? posterior(xt: token, x0: x0, at: t[n]).map { Float($0) } : [Float](repeating: 0, count: s)
                    }
                }
                for x0 in 0..<k {
                    if !isConsistent(x0: x0, xt: token, at: t[n]) { c[base * k + x0] = -1e9 }
                    for j in 0..<s { p[(base * k + x0) * s + j] = rows[token]![x0][j] }
                }
            }
        }
        return (Tensor(c, shape: [b, l, k]), Tensor(p, shape: [b * l, k, s]))
    }

    /// p̂_θ(x_0 | x_t) [B, L, K] (renormalised on the x_0 consistent with x_t) and the reverse step
    /// p_θ(x_{t−1} | x_t) [B, L, S] = Σ_k p̂_θ(k) q(x_{t−1} | x_t, k), differentiable in the logits.
    public func reverseProbabilities(logits: Tensor, xt: Tensor, steps t: [Int]) -> (x0: Tensor, previous: Tensor) {
        let (b, l, k) = (xt.shape[0], xt.shape[1], categories)
        precondition(logits.shape == [b, l, k], "logits must be [\(b), \(l), \(k)], got \(logits.shape)")
        let (c, p) = reverseParts(xt, steps: t)
        let x0 = (logits + c).softmax(axis: -1)
        let previous = x0.reshaped([b * l, 1, k]).matmul(p).reshaped([b, l, states])
        return (x0, previous)
    }

    /// The D3PM hybrid loss (Austin et al. 2021): for a step t ~ U{1…T} per sequence, T·Σ_i D_KL(q(x^i_{t−1} | x^i_t, x^i_0) ‖
    /// p_θ(x^i_{t−1} | x_t)) + λ·Σ_i −log p̂_θ(x^i_0 | x_t). At t = 1 the KL term is −log p_θ(x_0 | x_1). Three draws.
    public func d3pmLoss(_ model: some TokenDenoiser, _ x0: Tensor, lambda: Double = 0.01,
                         generator: inout RandomGenerator) -> DiscreteLoss {
        let b = x0.shape[0]
        let t = generator.integers([b], in: 1..<(steps + 1)).scalars.map { Int($0) }
        let xt = corrupt(x0, at: t, generator: &generator)
        let logits = model.logits(xt, Tensor(t.map { Float(Double($0) / Double(steps)) }))
        let (p0, previous) = reverseProbabilities(logits: logits, xt: xt, steps: t)
        // q(x_{t−1} | x_t, x_0) and Σ q log q, constants.
        let (l, s) = (x0.shape[1], states)
        let xs = x0.scalars.map { Int($0) }, ts = xt.scalars.map { Int($0) }
        var q = [Float](repeating: 0, count: b * l * s)
        var qLogQ = 0.0
        for n in 0..<b {
            for i in 0..<l {
                for (j, v) in posterior(xt: ts[n * l + i], x0: xs[n * l + i], at: t[n]).enumerated() where v > 0 {
                    q[(n * l + i) * s + j] = Float(v)
                    qLogQ += v * Foundation.log(v)
                }
            }
        }
        let cross = (Tensor(q, shape: [b, l, s]) * previous.clamp(min: 1e-30).log()).sum() * Float(-1)
        let kl = (cross + Float(qLogQ)) * Float(Double(steps) / Double(b))
        let ce = p0.clamp(min: 1e-30).log().gather(axis: 2, indices: x0.reshaped([b, l, 1])).sum() * Float(-1.0 / Double(b))
        let loss = lambda == 0 ? kl : kl + ce * Float(lambda)
        return DiscreteLoss(loss: loss, variationalBound: Double(kl.item), crossEntropy: Double(ce.item))
    }

    /// −ELBO(x_0) per sequence in nats: Σ_{t=1}^{T} E_{x_t} D_KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)) + D_KL(q(x_T | x_0) ‖ m),
    /// every step visited, one draw of x_t per step and sequence (`draws` averages several).
    public func negativeELBO(_ model: some TokenDenoiser, _ x0: Tensor, draws: Int = 1, generator: inout RandomGenerator) -> [Double] {
        let (b, l) = (x0.shape[0], x0.shape[1])
        let xs = x0.scalars.map { Int($0) }
        var total = (0..<b).map { n in (0..<l).reduce(0.0) { $0 + priorKL(x0: xs[n * l + $1]) } }
        withNoGrad {
            for t in 1...steps {
                for _ in 0..<draws {
                    let xt = corrupt(x0, at: [Int](repeating: t, count: b), generator: &generator)
                    let logits = model.logits(xt, Tensor.full([b], Float(Double(t) / Double(steps))))
                    let p = reverseProbabilities(logits: logits, xt: xt, steps: [Int](repeating: t, count: b)).previous.scalars
                    let ts = xt.scalars.map { Int($0) }
                    for n in 0..<b {
                        for i in 0..<l {
                            for (j, v) in posterior(xt: ts[n * l + i], x0: xs[n * l + i], at: t).enumerated() where v > 0 {
                                total[n] += v * (Foundation.log(v) - Foundation.log(max(Double(p[(n * l + i) * states + j]), 1e-30))) / Double(draws)
                            }
                        }
                    }
                }
            }
        }
        return total
    }
}

/// Continuous-time masked diffusion (MDLM, Sahoo et al. 2024, arXiv 2406.07524; MD4, Shi et al. 2024, arXiv 2406.04329):
/// each token is masked independently with probability 1 − α_t, and the negative ELBO is
/// E_t [ −α'_t / (1 − α_t) · Σ_{i masked} −log p̂_θ(x^i_0 | x_t) ] with t ~ U(0, 1].
public enum MaskedDiffusion {
    /// Times for a batch of b: t_n = 1 − ((u + n/b) mod 1) ∈ (0, 1] from one uniform u (MDLM's low-discrepancy draw).
    public static func times(_ b: Int, generator: inout RandomGenerator) -> [Double] {
        let u = Double(generator.uniform([1]).item)
        return (0..<b).map { n in 1 - (u + Double(n) / Double(b)).truncatingRemainder(dividingBy: 1) }
    }

    /// The per-sequence loss terms [B] (differentiable) at the given times, and the masked x_t.
    public static func losses(_ model: some TokenDenoiser, _ x0: Tensor, times t: [Double], schedule: DiscreteSchedule,
                              generator: inout RandomGenerator) -> (losses: Tensor, xt: Tensor) {
        let (b, l, k) = (x0.shape[0], x0.shape[1], model.categories)
        precondition(t.count == b && t.allSatisfy { $0 > 0 && $0 <= 1 }, "masked diffusion needs one time in (0, 1] per sequence")
        let xt = DiscreteNoise.absorbing.corrupt(x0, keep: t.map { schedule.alpha($0) }, categories: k, generator: &generator)
        let masked = xt .== Float(k)
        let logp = model.logits(xt, Tensor(t.map { Float($0) })).logSoftmax(axis: -1).gather(axis: 2, indices: x0.reshaped([b, l, 1])).reshaped([b, l])
        let w = Tensor(t.map { Float(schedule.weight($0)) }, shape: [b, 1])
        return ((logp * masked * w).sum(axis: 1) * Float(-1), xt)
    }

    /// The batch mean of the loss (nats per sequence), with low-discrepancy times. Three draws.
    public static func loss(_ model: some TokenDenoiser, _ x0: Tensor, schedule: DiscreteSchedule = .linear,
                            generator: inout RandomGenerator) -> Tensor {
        let t = times(x0.shape[0], generator: &generator)
        return losses(model, x0, times: t, schedule: schedule, generator: &generator).losses.mean()
    }

    /// A Monte-Carlo estimate of −ELBO(x_0) per sequence [B] in nats, averaging `draws` times per sequence.
    public static func negativeELBO(_ model: some TokenDenoiser, _ x0: Tensor, schedule: DiscreteSchedule = .linear, draws: Int,
                                    generator: inout RandomGenerator) -> [Double] {
        var total = [Double](repeating: 0, count: x0.shape[0])
        withNoGrad {
            for _ in 0..<draws {
                let t = times(x0.shape[0], generator: &generator)
                let l = losses(model, x0, times: t, schedule: schedule, generator: &generator).losses.scalars
                for n in 0..<total.count { total[n] += Double(l[n]) / Double(draws) }
            }
        }
        return total
    }
}
