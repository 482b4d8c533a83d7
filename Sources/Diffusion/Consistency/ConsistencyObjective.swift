import Foundation
import DiffusionEngine

/// The N boundaries σ_1 = σ_min < … < σ_N = σ_max of consistency training, Karras-spaced:
/// σ_i = (σ_min^{1/ρ} + (i − 1)/(N − 1)·(σ_max^{1/ρ} − σ_min^{1/ρ}))^ρ (Song et al. 2023, arXiv 2303.01469, App. C).
public struct ConsistencyLevels: Sendable, Hashable {
    public var sigmaMin: Double, sigmaMax: Double, rho: Double
    public init(sigmaMin: Double = 0.002, sigmaMax: Double = 80, rho: Double = 7) {
        precondition(0 < sigmaMin && sigmaMin < sigmaMax && rho > 0, "need 0 < σ_min < σ_max and ρ > 0")
        (self.sigmaMin, self.sigmaMax, self.rho) = (sigmaMin, sigmaMax, rho)
    }
    /// Ascending levels, first exactly σ_min and last exactly σ_max.
    public func levels(_ N: Int) -> [Double] {
        precondition(N >= 2, "a consistency discretisation needs N ≥ 2 levels")
        let (a, b) = (pow(sigmaMin, 1 / rho), pow(sigmaMax, 1 / rho))
        var σ = (0..<N).map { pow(a + Double($0) / Double(N - 1) * (b - a), rho) }
        (σ[0], σ[N - 1]) = (sigmaMin, sigmaMax)
        return σ
    }
}

/// How the number of levels N grows with the training step k of K.
public enum ConsistencyCurriculum: Sendable, Hashable {
    /// N constant (consistency distillation).
    case fixed(Int)
    /// CT (Song et al. 2023, App. C): N(k) = ⌈√(k/K·((s₁ + 1)² − s₀²) + s₀²) − 1⌉ + 1.
    case original(s0: Int, s1: Int)
    /// iCT (Song & Dhariwal 2023, arXiv 2310.14189, §3.4): N(k) = min(s₀·2^⌊k/K′⌋, s₁) + 1, K′ = ⌊K/(log₂⌊s₁/s₀⌋ + 1)⌋.
    case improved(s0: Int, s1: Int)

    public func N(step k: Int, of K: Int) -> Int {
        switch self {
        case .fixed(let n): return n
        case .original(let s0, let s1):
            let r = (Double(k) / Double(K) * (Double((s1 + 1) * (s1 + 1)) - Double(s0 * s0)) + Double(s0 * s0)).squareRoot()
            return Int((r - 1).rounded(.up)) + 1
        case .improved(let s0, let s1):
            let Kp = Swift.max(1, Int(Double(K) / (log2(Double(s1 / s0)).rounded(.down) + 1)))
            let doublings = Swift.min(k / Kp, 62)
            return Swift.min(s0 << doublings, s1) + 1
        }
    }
}

/// The distance d(x, y) between a consistency output and its target, per sample (summed over coordinates).
public enum ConsistencyDistance: Sendable, Hashable {
    /// ‖x − y‖².
    case squaredL2
    /// √(‖x − y‖² + c²) − c (iCT; Song & Dhariwal 2023 use c = 0.00054·√d).
    case pseudoHuber(c: Double)

    /// Per-sample distances, shape [n]; differentiable.
    public func callAsFunction(_ x: Tensor, _ y: Tensor) -> Tensor {
        let s = (x - y).square().flattened(from: 1).sum(axis: 1)
        switch self {
        case .squaredL2: return s
        case .pseudoHuber(let c): return (s + Float(c * c)).sqrt() - Float(c)
        }
    }
}

/// Which adjacent pair (σ_n, σ_{n+1}) a sample trains on.
public enum ConsistencyLevelSampling: Sendable, Hashable {
    /// n uniform on 1…N − 1.
    case uniform
    /// iCT's discretised lognormal: p(n) ∝ erf((ln σ_{n+1} − P_mean)/(√2·P_std)) − erf((ln σ_n − P_mean)/(√2·P_std)).
    case lognormal(mean: Double, std: Double)

    /// Probabilities of the N − 1 pairs of ascending `levels`.
    public func probabilities(_ levels: [Double]) -> [Double] {
        let pairs = levels.count - 1
        switch self {
        case .uniform: return Array(repeating: 1 / Double(pairs), count: pairs)
        case .lognormal(let m, let s):
            let cdf = levels.map { erf((log($0) - m) / (2.0.squareRoot() * s)) }
            let mass = (0..<pairs).map { cdf[$0 + 1] - cdf[$0] }
            let total = mass.reduce(0, +)
            return mass.map { $0 / total }
        }
    }

    /// The pair index (0-based: levels[n], levels[n + 1]) for each uniform draw u ∈ [0, 1).
    public func indices(_ levels: [Double], uniforms: [Float]) -> [Int] {
        var cumulative = probabilities(levels)
        for k in cumulative.indices.dropFirst() { cumulative[k] += cumulative[k - 1] }
        return uniforms.map { u in cumulative.firstIndex { Double(u) < $0 } ?? cumulative.count - 1 }
    }
}

/// One ODE step of a consistency-distillation teacher from σ to σ′ < σ (α = 1 coordinates). Not differentiable.
public enum ConsistencyTeacher {
    /// Euler on dx/dσ = (x − D(x; σ))/σ (= DDIM), one call.
    case euler(any Denoiser)
    /// Heun, two calls (Karras et al. 2022, arXiv 2206.00364, Alg. 1).
    case heun(any Denoiser)
    /// The exact step of a Gaussian mixture's flow (Runge–Kutta to solver tolerance).
    case exact(GaussianMixture)

    public func step(_ x: Tensor, from σ: Double, to σNext: Double) -> Tensor {
        switch self {
        case .euler(let D):
            let d = D.denoise(x, sigma: σ)
            return x * Float(σNext / σ) + d * Float(1 - σNext / σ)
        case .heun(let D):
            let dx = (x - D.denoise(x, sigma: σ)) * Float(1 / σ)
            let e = x + dx * Float(σNext - σ)
            let dx2 = (e - D.denoise(e, sigma: σNext)) * Float(1 / σNext)
            return x + (dx + dx2) * Float(0.5 * (σNext - σ))
        case .exact(let m):
            return m.probabilityFlow(x, from: σ, to: σNext, steps: Swift.max(4, Int((40 * log(σ / σNext)).rounded(.up))))
        }
    }
}

/// The consistency loss (Song et al. 2023, arXiv 2303.01469, Eqs. 7 and 10): for data x₀, noise z and a pair
/// σ_n < σ_{n+1}, λ(σ_n)·d(f_θ(x₀ + σ_{n+1}z, σ_{n+1}), f_θ⁻(x̂_n, σ_n)), where x̂_n is one teacher ODE step from
/// x₀ + σ_{n+1}z to σ_n (distillation) or x₀ + σ_n·z (training: the one-sample estimate of the score, (x₀ − x)/σ²).
public struct ConsistencyObjective {
    public enum Weighting: Sendable, Hashable {
        case uniform
        /// λ(σ_n) = 1/(σ_{n+1} − σ_n) (iCT).
        case inverseGap
    }
    /// nil: consistency training.
    public var teacher: ConsistencyTeacher?
    public var distance: ConsistencyDistance
    public var weighting: Weighting

    public init(teacher: ConsistencyTeacher?, distance: ConsistencyDistance = .squaredL2, weighting: Weighting = .uniform) {
        (self.teacher, self.distance, self.weighting) = (teacher, distance, weighting)
    }

    /// The target point x̂_n for each sample.
    public func targetPoints(x0: Tensor, noise z: Tensor, indices: [Int], levels: [Double]) -> Tensor {
        let lower = indices.map { levels[$0] }, upper = indices.map { levels[$0 + 1] }
        guard let teacher else { return x0 + z * LevelBatch.column(lower, rank: z.rank) }
        let x = x0 + z * LevelBatch.column(upper, rank: z.rank)
        let next = Dictionary(zip(upper, lower), uniquingKeysWith: { a, _ in a })
        return withNoGrad { perLevel(x, upper) { rows, σ in teacher.step(rows, from: σ, to: next[σ]!) } }
    }

    /// Per-sample weighted losses, shape [n]; differentiable through `online` only (the target is evaluated
    /// under no-grad).
    public func loss(_ online: some ConsistencyFunction, target: (Tensor, [Double]) -> Tensor,
                     x0: Tensor, noise z: Tensor, indices: [Int], levels: [Double]) -> Tensor {
        precondition(indices.allSatisfy { $0 >= 0 && $0 + 1 < levels.count }, "pair indices must lie in 0..<\(levels.count - 1)")
        let lower = indices.map { levels[$0] }, upper = indices.map { levels[$0 + 1] }
        let xn = targetPoints(x0: x0, noise: z, indices: indices, levels: levels)
        let y = withNoGrad { target(xn, lower) }.detached()
        let out = online.consistency(x0 + z * LevelBatch.column(upper, rank: z.rank), sigmas: upper)
        let d = distance(out, y)
        switch weighting {
        case .uniform: return d
        case .inverseGap: return d * Tensor(zip(lower, upper).map { Float(1 / ($1 - $0)) })
        }
    }
}
