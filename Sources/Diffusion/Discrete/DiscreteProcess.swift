import DiffusionEngine
import Foundation

/// Where a corrupted token goes.
public enum DiscreteNoise: String, Sendable, Hashable, Codable, CaseIterable {
    /// Resampled uniformly among the K categories (D3PM-uniform); stationary distribution m = 1/K.
    case uniform
    /// Replaced by an extra [MASK] state K, which never leaves (D3PM-absorbing, MDLM); m = e_MASK.
    case absorbing

    /// Number of states for K categories.
    public func states(categories: Int) -> Int { self == .absorbing ? categories + 1 : categories }

    /// The stationary distribution m over the states.
    public func stationary(categories k: Int) -> [Double] {
        self == .absorbing ? (0..<k).map { _ in 0.0 } + [1] : [Double](repeating: 1 / Double(k), count: k)
    }

    /// Draws x_t ~ q(x_t | x_0) = ᾱ e_{x_0} + (1 − ᾱ) m for each token of x0 [B, L] (integers as Float), with one keep
    /// probability ᾱ per sample: a token is kept when its uniform draw is below ᾱ, otherwise it becomes the mask (absorbing)
    /// or a uniform category (uniform noise; it may land on itself). Two draws from `generator`.
    public func corrupt(_ x0: Tensor, keep alphaBar: [Double], categories k: Int, generator: inout RandomGenerator) -> Tensor {
        precondition(x0.rank == 2 && alphaBar.count == x0.shape[0], "corrupt: x0 [B, L] and one ᾱ per sample, got \(x0.shape) and \(alphaBar.count)")
        let (b, l) = (x0.shape[0], x0.shape[1])
        let u = generator.uniform([b, l]).scalars
        let r = generator.integers([b, l], in: 0..<k).scalars
        var out = x0.scalars
        for s in 0..<b {
            for i in 0..<l where Double(u[s * l + i]) >= alphaBar[s] {
                out[s * l + i] = self == .absorbing ? Float(k) : r[s * l + i]
            }
        }
        return Tensor(out, shape: [b, l])
    }
}

/// A D3PM forward process (Austin et al. 2021, arXiv 2107.03006) on K categories, applied to every token independently:
///
///     Q_t = (1 − β_t) I + β_t 1mᵀ,   Q̄_t = Q_1 ⋯ Q_t = ᾱ_t I + (1 − ᾱ_t) 1mᵀ,   ᾱ_t = ∏_{s ≤ t} (1 − β_s),
///
/// with rows indexing the current state (q(x_t | x_{t−1}) = x_{t−1} Q_t for one-hot rows) and m the stationary
/// distribution of `noise`. Matrices and posteriors are exact, in Double; `corrupt` samples with the counter-based RNG.
public struct DiscreteProcess: Sendable, Hashable {
    public let noise: DiscreteNoise
    public let categories: Int
    /// ᾱ_0 = 1, ᾱ_1, …, ᾱ_T: non-increasing in [0, 1].
    public let alphaBar: [Double]

    public init(noise: DiscreteNoise, categories: Int, alphaBar: [Double]) {
        precondition(categories >= 2, "a discrete process needs at least two categories, got \(categories)")
        precondition(alphaBar.count >= 2 && alphaBar[0] == 1, "ᾱ must start at ᾱ_0 = 1 and have at least one step")
        precondition(zip(alphaBar, alphaBar.dropFirst()).allSatisfy { $1 <= $0 && $1 >= 0 }, "ᾱ must be non-increasing in [0, 1]")
        self.noise = noise
        self.categories = categories
        self.alphaBar = alphaBar
    }

    /// T steps of a continuous schedule: ᾱ_t = α(t/T).
    public init(noise: DiscreteNoise, categories: Int, steps: Int, schedule: DiscreteSchedule = .linear) {
        self.init(noise: noise, categories: categories, alphaBar: schedule.grid(steps: steps))
    }

    public var steps: Int { alphaBar.count - 1 }
    public var states: Int { noise.states(categories: categories) }
    /// The [MASK] state (absorbing noise only).
    public var mask: Int? { noise == .absorbing ? categories : nil }
    public var stationary: [Double] { noise.stationary(categories: categories) }

    /// β_t = 1 − ᾱ_t / ᾱ_{t−1} (1 once ᾱ has reached 0).
    public func beta(_ t: Int) -> Double {
        precondition((1...steps).contains(t), "step \(t) outside 1…\(steps)")
        return alphaBar[t - 1] == 0 ? 1 : 1 - alphaBar[t] / alphaBar[t - 1]
    }

    /// a I + (1 − a) 1mᵀ as rows.
    func matrix(keep a: Double) -> [[Double]] {
        let m = stationary
        return (0..<states).map { i in (0..<states).map { j in (i == j ? a : 0) + (1 - a) * m[j] } }
    }

    /// Q_t (one step, t ≥ 1).
    public func transitionMatrix(_ t: Int) -> [[Double]] { matrix(keep: 1 - beta(t)) }

    /// Q̄_t = Q_1 ⋯ Q_t (Q̄_0 = I).
    public func cumulativeMatrix(_ t: Int) -> [[Double]] { matrix(keep: alphaBar[t]) }

    /// q(x_t | x_0 ~ p0) = p0 Q̄_t = ᾱ_t p0 + (1 − ᾱ_t) m, for a distribution p0 over the states.
    public func marginal(_ p0: [Double], at t: Int) -> [Double] {
        precondition(p0.count == states, "marginal: p0 has \(p0.count) entries, the process \(states) states")
        let (a, m) = (alphaBar[t], stationary)
        return (0..<states).map { a * p0[$0] + (1 - a) * m[$0] }
    }

    /// q(x_t = j | x_0 = i) = Q̄_t[i][j] without building the matrix.
    public func cumulative(_ t: Int, from i: Int, to j: Int) -> Double {
        (i == j ? alphaBar[t] : 0) + (1 - alphaBar[t]) * stationary[j]
    }

    /// q(x_t = j | x_{t−1} = i) = Q_t[i][j].
    public func transition(_ t: Int, from i: Int, to j: Int) -> Double {
        let b = beta(t)
        return (i == j ? 1 - b : 0) + b * stationary[j]
    }

    /// The posterior q(x_{t−1} | x_t, x_0) over the states (t ≥ 1), by Bayes:
    /// q(x_{t−1} = j | x_t, x_0) = Q_t[j][x_t] · Q̄_{t−1}[x_0][j] / Q̄_t[x_0][x_t]. Requires q(x_t | x_0) > 0.
    public func posterior(xt: Int, x0: Int, at t: Int) -> [Double] {
        let z = cumulative(t, from: x0, to: xt)
        precondition(z > 0, "posterior: x_t = \(xt) is impossible from x_0 = \(x0) at step \(t)")
        return (0..<states).map { j in transition(t, from: j, to: xt) * cumulative(t - 1, from: x0, to: j) / z }
    }

    /// Whether x_0 = i can have produced x_t = j at step t (q(x_t | x_0) > 0).
    public func isConsistent(x0 i: Int, xt j: Int, at t: Int) -> Bool { cumulative(t, from: i, to: j) > 0 }

    /// The x_0-parametrised reverse step p(x_{t−1} | x_t) = Σ_k q(x_{t−1} | x_t, x_0 = k) p̂(k), with p̂ over the K categories
    /// renormalised on the x_0 consistent with x_t (exact when p̂ is the true p(x_0 | x_t)).
    public func reverse(xt: Int, x0Probabilities p: [Double], at t: Int) -> [Double] {
        precondition(p.count == categories, "reverse: p̂ has \(p.count) entries for \(categories) categories")
        var out = [Double](repeating: 0, count: states)
        var total = 0.0
        for k in 0..<categories where p[k] > 0 && isConsistent(x0: k, xt: xt, at: t) {
            total += p[k]
            for (j, v) in posterior(xt: xt, x0: k, at: t).enumerated() { out[j] += p[k] * v }
        }
        precondition(total > 0, "reverse: p̂ puts no mass on an x_0 consistent with x_t = \(xt)")
        return out.map { $0 / total }
    }

    /// D_KL(q(x_T | x_0) ‖ m) for one token (the prior term of the ELBO; 0 when ᾱ_T = 0).
    public func priorKL(x0: Int) -> Double {
        let m = stationary
        var kl = 0.0
        for j in 0..<states {
            let q = cumulative(steps, from: x0, to: j)
            if q > 0 { kl += q * Foundation.log(q / m[j]) }
        }
        return kl
    }

    /// x_t ~ q(x_t | x_0) for x0 [B, L] at one step per sample.
    public func corrupt(_ x0: Tensor, at t: [Int], generator: inout RandomGenerator) -> Tensor {
        noise.corrupt(x0, keep: t.map { alphaBar[$0] }, categories: categories, generator: &generator)
    }
}
