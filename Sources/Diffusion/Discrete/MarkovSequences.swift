import DiffusionEngine
import Foundation

/// Sequences with exact answers for discrete diffusion: x^1 ~ π, x^{i+1} ~ P[x^i] over K symbols, length L.
/// The log-likelihood, the entropy, the marginals of every position and the posterior of each position given
/// per-position evidence (forward–backward) are exact.
public struct MarkovChain: Sendable, Hashable {
    public let initial: [Double]
    /// P[a][b] = p(x^{i+1} = b | x^i = a).
    public let transition: [[Double]]
    public let length: Int

    public init(initial: [Double], transition: [[Double]], length: Int) {
        let k = initial.count
        precondition(k >= 2 && length >= 1, "a Markov chain needs at least two symbols and one position")
        precondition(transition.count == k && transition.allSatisfy { $0.count == k }, "transition must be \(k)×\(k)")
        for row in [initial] + transition {
            precondition(row.allSatisfy { $0 >= 0 } && abs(row.reduce(0, +) - 1) < 1e-12, "probabilities must be ≥ 0 and sum to 1: \(row)")
        }
        self.initial = initial
        self.transition = transition
        self.length = length
    }

    public var categories: Int { initial.count }

    /// The book's running example: four symbols a, b, c, d; uniform start; six of the sixteen transitions impossible.
    public static func example(length: Int = 8) -> MarkovChain {
        MarkovChain(initial: [0.25, 0.25, 0.25, 0.25],
                    transition: [[0, 0.7, 0.3, 0], [0.2, 0, 0.5, 0.3], [0.6, 0, 0, 0.4], [0.5, 0.1, 0.4, 0]],
                    length: length)
    }

    /// n sequences [n, L] (symbols as Float). Sample j uses uniform draws at offset (firstSample + j)·L of stream 0,
    /// so it does not depend on n.
    public func sample(_ n: Int, seed: UInt64, firstSample: Int = 0) -> Tensor {
        let l = length
        let u = Tensor.randomUniform([n, l], seed: seed, stream: 0, offset: firstSample * l).scalars
        var out = [Float](repeating: 0, count: n * l)
        func pick(_ p: [Double], _ u: Float) -> Int {
            var c = 0.0
            for (j, v) in p.enumerated() { c += v; if Double(u) < c { return j } }
            return p.lastIndex { $0 > 0 }!
        }
        for s in 0..<n {
            var x = pick(initial, u[s * l])
            out[s * l] = Float(x)
            for i in 1..<l {
                x = pick(transition[x], u[s * l + i])
                out[s * l + i] = Float(x)
            }
        }
        return Tensor(out, shape: [n, l])
    }

    /// log p(x) (−∞ for an impossible sequence).
    public func logProbability(_ x: [Int]) -> Double {
        precondition(x.count == length, "a sequence of length \(x.count), the chain has \(length)")
        var s = Foundation.log(initial[x[0]])
        for i in 1..<length { s += Foundation.log(transition[x[i - 1]][x[i]]) }
        return s
    }

    /// p(x^i = ·) for i = 1 … L.
    public func positionMarginals() -> [[Double]] {
        var p = [initial]
        for _ in 1..<length {
            let last = p.last!
            p.append((0..<categories).map { b in (0..<categories).reduce(0.0) { $0 + last[$1] * transition[$1][b] } })
        }
        return p
    }

    /// H(x^1 … x^L) = H(π) + Σ_{i<L} Σ_a p(x^i = a) H(P[a]) in nats.
    public var entropy: Double {
        func h(_ p: [Double]) -> Double { -p.reduce(0.0) { $0 + ($1 > 0 ? $1 * Foundation.log($1) : 0) } }
        let rowH = transition.map(h)
        return h(initial) + positionMarginals().dropLast().reduce(0.0) { acc, p in acc + zip(p, rowH).reduce(0.0) { $0 + $1.0 * $1.1 } }
    }

    /// p(x^i = k | evidence) for every position, where evidence[i][k] ∝ p(observation i | x^i = k) (forward–backward,
    /// rescaled at every position). The evidence must be possible under the chain.
    public func posterior(evidence e: [[Double]]) -> [[Double]] {
        guard let p = posteriorIfPossible(evidence: e) else { preconditionFailure("the evidence is impossible under the chain") }
        return p
    }

    /// `posterior(evidence:)`, or nil when the evidence has probability 0 under the chain.
    public func posteriorIfPossible(evidence e: [[Double]]) -> [[Double]]? {
        let (l, k) = (length, categories)
        precondition(e.count == l && e.allSatisfy { $0.count == k }, "evidence must be \(l)×\(k)")
        func normalised(_ v: [Double]) -> [Double]? {
            let z = v.reduce(0, +)
            return z > 0 ? v.map { $0 / z } : nil
        }
        guard var current = normalised((0..<k).map { initial[$0] * e[0][$0] }) else { return nil }
        var f = [current]
        for i in 1..<l {
            guard let next = normalised((0..<k).map { b in e[i][b] * (0..<k).reduce(0.0) { $0 + current[$1] * transition[$1][b] } }) else { return nil }
            current = next
            f.append(next)
        }
        var back = [Double](repeating: 1, count: k)
        var out = [[Double]](repeating: [], count: l)
        for i in stride(from: l - 1, through: 0, by: -1) {
            guard let post = normalised((0..<k).map { f[i][$0] * back[$0] }) else { return nil }
            out[i] = post
            if i > 0 {
                guard let b = normalised((0..<k).map { a in (0..<k).reduce(0.0) { $0 + transition[a][$1] * e[i][$1] * back[$1] } }) else { return nil }
                back = b
            }
        }
        return out
    }

    /// The chain with every transition mixed with the uniform one: P_ε = (1 − ε) P + ε/K (and the same for π).
    public func smoothed(_ epsilon: Double) -> MarkovChain {
        let k = Double(categories)
        return MarkovChain(initial: initial.map { (1 - epsilon) * $0 + epsilon / k },
                           transition: transition.map { $0.map { (1 - epsilon) * $0 + epsilon / k } }, length: length)
    }

    /// Empirical transition frequencies [K][K] of samples [n, L] (a row with no visits is all zeros).
    public func transitionFrequencies(_ samples: Tensor) -> [[Double]] {
        let (n, l, k) = (samples.shape[0], samples.shape[1], categories)
        let x = samples.scalars.map { Int($0) }
        var c = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for s in 0..<n { for i in 1..<l { c[x[s * l + i - 1]][x[s * l + i]] += 1 } }
        return c.map { row in let z = row.reduce(0, +); return z > 0 ? row.map { $0 / z } : row }
    }

    /// The fraction of sequences in samples [n, L] that contain an impossible transition or start.
    public func invalidFraction(_ samples: Tensor) -> Double {
        let (n, l) = (samples.shape[0], samples.shape[1])
        let x = samples.scalars.map { Int($0) }
        let bad = (0..<n).filter { s in logProbability(Array(x[(s * l)..<(s * l + l)])) == -.infinity }.count
        return Double(bad) / Double(n)
    }
}

/// The optimal denoiser for Markov-chain data under per-token discrete noise: log p(x^i_0 | x_t) exactly, by
/// forward–backward with the evidence q(x^i_t | x^i_0 = k) = α_t δ_{k, x^i_t} + (1 − α_t) m_{x^i_t}.
public struct ExactMarkovDenoiser: TokenDenoiser {
    public let chain: MarkovChain
    public let noise: DiscreteNoise
    public let schedule: DiscreteSchedule

    public init(chain: MarkovChain, noise: DiscreteNoise, schedule: DiscreteSchedule = .linear) {
        (self.chain, self.noise, self.schedule) = (chain, noise, schedule)
    }

    public var categories: Int { chain.categories }

    /// p(x^i_0 | x_t) for one sequence at time t. An x_t the data cannot produce (parallel sampling can reach one: two
    /// tokens revealed together may form an impossible pair) gets the posterior under the chain smoothed by ε = 10⁻⁶,
    /// the limit of which favours the x_0 with the fewest impossible transitions.
    public func posterior(_ xt: [Int], at t: Double) -> [[Double]] {
        let (k, a, m) = (categories, schedule.alpha(t), noise.stationary(categories: categories))
        let evidence = xt.map { token in (0..<k).map { (token == $0 ? a : 0) + (1 - a) * m[token] } }
        return chain.posteriorIfPossible(evidence: evidence) ?? chain.smoothed(1e-6).posterior(evidence: evidence)
    }

    /// log p(x_0 | x_t) [B, L, K] (log of zero is clamped to −10⁹).
    public func logits(_ xt: Tensor, _ t: Tensor) -> Tensor {
        let (b, l, k) = (xt.shape[0], xt.shape[1], categories)
        precondition(l == chain.length, "sequences of length \(l), the chain has \(chain.length)")
        let x = xt.scalars.map { Int($0) }, ts = t.scalars
        var out = [Float](repeating: 0, count: b * l * k)
        for n in 0..<b {
            let p = posterior(Array(x[(n * l)..<(n * l + l)]), at: Double(ts[n]))
            for i in 0..<l { for j in 0..<k { out[(n * l + i) * k + j] = p[i][j] > 0 ? Float(Foundation.log(p[i][j])) : -1e9 } }
        }
        return Tensor(out, shape: [b, l, k])
    }
}
