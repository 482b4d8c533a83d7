import Foundation
import DiffusionEngine

/// A mixture of Gaussians with diagonal covariances, x₀ ~ Σ_k w_k·N(μ_k, diag(s_k²)), in any dimension d —
/// the data set on which every diffusion quantity has a closed form.
///
/// At a level x = α·x₀ + σ·ε the marginal is again a mixture, p(x) = Σ_k w_k·N(x; α·μ_k, diag(α²s_k² + σ²)), so
/// the score ∇ log p(x) and the ideal denoiser E[x₀ | x] (a responsibility-weighted Wiener filter,
/// E[x₀ | x, k] = μ_k + α·s_k²/(α²s_k² + σ²)·(x − α·μ_k)) are exact at every (α, σ), including α = 0 and σ = 0.
/// All arithmetic is in Double.
public struct GaussianMixture: Denoiser, Sendable, Hashable {
    public let weights: [Double]
    public let means: [[Double]]
    /// Per-dimension standard deviations of each component.
    public let stds: [[Double]]

    public init(weights: [Double], means: [[Double]], stds: [[Double]]) {
        precondition(!weights.isEmpty && weights.count == means.count && weights.count == stds.count, "one weight, mean and std per component")
        let d = means[0].count
        precondition(d > 0 && means.allSatisfy { $0.count == d } && stds.allSatisfy { $0.count == d }, "means and stds must all have dimension \(d)")
        precondition(weights.allSatisfy { $0 > 0 } && stds.allSatisfy { $0.allSatisfy { $0 > 0 } }, "weights and stds must be positive")
        let total = weights.reduce(0, +)
        self.weights = weights.map { $0 / total }
        self.means = means
        self.stds = stds
    }

    /// Isotropic components: std s_k in every dimension.
    public init(weights: [Double], means: [[Double]], std: [Double]) {
        self.init(weights: weights, means: means, stds: zip(means, std).map { m, s in Array(repeating: s, count: m.count) })
    }

    public var dimension: Int { means[0].count }
    public var componentCount: Int { weights.count }

    /// Three unequal 1-D bumps: weights 0.5, 0.3, 0.2 at −1.5, 0.5, 2 with stds 0.3, 0.2, 0.4.
    public static let example1D = GaussianMixture(weights: [0.5, 0.3, 0.2], means: [[-1.5], [0.5], [2]], std: [0.3, 0.2, 0.4])

    /// Six 2-D components of different sizes and weights around a ring of radius 2, plus an elongated one.
    public static let example2D: GaussianMixture = {
        let ring = (0..<6).map { k -> [Double] in let a = Double(k) * .pi / 3; return [2 * cos(a), 2 * sin(a)] }
        return GaussianMixture(weights: [0.2, 0.1, 0.15, 0.1, 0.2, 0.1, 0.15],
                               means: ring + [[0, 0]],
                               stds: [[0.2, 0.2], [0.3, 0.3], [0.15, 0.15], [0.25, 0.25], [0.2, 0.2], [0.3, 0.3], [0.6, 0.15]])
    }()

    /// n samples as an [n, d] tensor; component choice and noise come from the counter-based generator
    /// (two streams from `stream`), so sample j depends only on (seed, stream, j).
    public func sample(_ n: Int, seed: UInt64, stream: UInt64 = 1 << 40) -> Tensor {
        sampleWithComponents(n, seed: seed, stream: stream).samples
    }

    /// `sample`, also returning the component each sample was drawn from.
    public func sampleWithComponents(_ n: Int, seed: UInt64, stream: UInt64 = 1 << 40) -> (samples: Tensor, components: [Int]) {
        let d = dimension
        let u = Tensor.randomUniform([n], seed: seed, stream: stream).scalars
        let z = Tensor.randomNormal([n, d], seed: seed, stream: stream + 1).scalars
        var out = [Float](repeating: 0, count: n * d)
        var components = [Int](repeating: 0, count: n)
        var cumulative = weights
        for k in 1..<cumulative.count { cumulative[k] += cumulative[k - 1] }
        for i in 0..<n {
            let k = cumulative.firstIndex { Double(u[i]) < $0 } ?? componentCount - 1
            components[i] = k
            for j in 0..<d { out[i * d + j] = Float(means[k][j] + stds[k][j] * Double(z[i * d + j])) }
        }
        return (Tensor(out, shape: [n, d]), components)
    }

    /// For one point x at level (α, σ): log p(x), E[x₀ | x] and ∇ log p(x).
    func posterior(_ x: UnsafeBufferPointer<Double>, alpha α: Double, sigma σ: Double,
                   mean: UnsafeMutableBufferPointer<Double>?, score: UnsafeMutableBufferPointer<Double>?) -> Double {
        let K = componentCount, d = dimension
        var logp = [Double](repeating: 0, count: K)
        for k in 0..<K {
            var s = log(weights[k])
            for j in 0..<d {
                let v = α * α * stds[k][j] * stds[k][j] + σ * σ
                let r = x[j] - α * means[k][j]
                s -= 0.5 * (r * r / v + log(2 * .pi * v))
            }
            logp[k] = s
        }
        let m = logp.max()!
        var total = 0.0
        for k in 0..<K { logp[k] = exp(logp[k] - m); total += logp[k] }
        if let mean { for j in 0..<d { mean[j] = 0 } }
        if let score { for j in 0..<d { score[j] = 0 } }
        for k in 0..<K {
            let w = logp[k] / total
            for j in 0..<d {
                let s2 = stds[k][j] * stds[k][j]
                let v = α * α * s2 + σ * σ
                let r = x[j] - α * means[k][j]
                mean?[j] += w * (means[k][j] + α * s2 / v * r)
                score?[j] -= w * r / v
            }
        }
        return m + log(total)
    }

    /// Applies `posterior` to every row of x (leading axis = samples, the rest flattened to d values).
    func mapRows(_ x: Tensor, _ level: NoiseLevel, wantScore: Bool) -> Tensor {
        mapRows(x, levels: { _ in level }, wantScore: wantScore)
    }

    /// `mapRows` with its own level for every row.
    func mapRows(_ x: Tensor, levels: (Int) -> NoiseLevel, wantScore: Bool) -> Tensor {
        let d = dimension
        precondition(x.count % d == 0 && (x.rank == 1 ? d == 1 : x.count / x.shape[0] == d), "samples of shape \(x.shape) do not have dimension \(d)")
        let n = x.count / d
        let xs = x.scalars.map(Double.init)
        var out = [Float](repeating: 0, count: x.count)
        var row = [Double](repeating: 0, count: d)
        xs.withUnsafeBufferPointer { xp in
            row.withUnsafeMutableBufferPointer { rp in
                for i in 0..<n {
                    let xi = UnsafeBufferPointer(rebasing: xp[(i * d)..<(i * d + d)])
                    let level = levels(i)
                    _ = posterior(xi, alpha: level.alpha, sigma: level.sigma, mean: wantScore ? nil : rp, score: wantScore ? rp : nil)
                    for j in 0..<d { out[i * d + j] = Float(rp[j]) }
                }
            }
        }
        return Tensor(out, shape: x.shape)
    }

    /// The exact denoiser E[x₀ | x] at (α, σ).
    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor { mapRows(x, level, wantScore: false) }

    /// The exact score ∇ log p(x) at (α, σ) (needs σ > 0 or α > 0).
    public func score(_ x: Tensor, at level: NoiseLevel) -> Tensor { mapRows(x, level, wantScore: true) }

    /// log p(x) per sample at (α, σ).
    public func logDensity(_ x: Tensor, at level: NoiseLevel) -> [Double] {
        let d = dimension, xs = x.scalars.map(Double.init)
        return xs.withUnsafeBufferPointer { xp in
            (0..<(x.count / d)).map { i in
                posterior(UnsafeBufferPointer(rebasing: xp[(i * d)..<(i * d + d)]), alpha: level.alpha, sigma: level.sigma, mean: nil, score: nil)
            }
        }
    }

    /// A converged solution of the probability-flow ODE dx/d(ln σ) = x − D(x; σ) (α = 1) from σ_from to σ_to > 0,
    /// by classical Runge–Kutta with `steps` uniform steps in ln σ, in Double. The reference for convergence tests.
    public func probabilityFlow(_ x: Tensor, from σFrom: Double, to σTo: Double, steps: Int = 2000) -> Tensor {
        precondition(σFrom > 0 && σTo > 0 && steps > 0, "probabilityFlow needs positive levels")
        let d = dimension, n = x.count / d
        let h = (log(σTo) - log(σFrom)) / Double(steps)
        var xs = x.scalars.map(Double.init)
        var k1 = [Double](repeating: 0, count: d), k2 = k1, k3 = k1, k4 = k1, tmp = k1, D = k1
        func f(_ y: [Double], _ s: Double, _ out: inout [Double]) {
            y.withUnsafeBufferPointer { yp in
                D.withUnsafeMutableBufferPointer { dp in _ = posterior(yp, alpha: 1, sigma: exp(s), mean: dp, score: nil) }
            }
            for j in 0..<d { out[j] = y[j] - D[j] }
        }
        for i in 0..<n {
            var y = Array(xs[(i * d)..<(i * d + d)])
            var s = log(σFrom)
            for _ in 0..<steps {
                f(y, s, &k1)
                for j in 0..<d { tmp[j] = y[j] + 0.5 * h * k1[j] }
                f(tmp, s + 0.5 * h, &k2)
                for j in 0..<d { tmp[j] = y[j] + 0.5 * h * k2[j] }
                f(tmp, s + 0.5 * h, &k3)
                for j in 0..<d { tmp[j] = y[j] + h * k3[j] }
                f(tmp, s + h, &k4)
                for j in 0..<d { y[j] += h / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]) }
                s += h
            }
            for j in 0..<d { xs[i * d + j] = y[j] }
        }
        return Tensor(xs.map(Float.init), shape: x.shape)
    }
}
