import Foundation
import DiffusionEngine

/// Posterior quantities of a mixture at one point x of a level (α, σ): log p(x), E[x₀ | x], ∇ log p(x) and
/// tr Cov[x₀ | x].
public struct MixturePosterior: Sendable {
    public var logDensity: Double
    public var mean: [Double]
    public var score: [Double]
    /// tr Cov[x₀ | x] = Σ_k r_k·(tr V_k + ‖m_k − m‖²), the law of total variance (no cancellation).
    public var traceCovariance: Double
}

extension GaussianMixture {
    /// All posterior quantities at one point.
    public func posteriorDetails(_ x: [Double], at level: NoiseLevel) -> MixturePosterior {
        let (K, d, α, σ) = (componentCount, dimension, level.alpha, level.sigma)
        var logr = [Double](repeating: 0, count: K)
        var m = [[Double]](repeating: [Double](repeating: 0, count: d), count: K)
        var trV = [Double](repeating: 0, count: K)
        for k in 0..<K {
            var s = log(weights[k])
            for j in 0..<d {
                let s2 = stds[k][j] * stds[k][j]
                let v = α * α * s2 + σ * σ
                let r = x[j] - α * means[k][j]
                s -= 0.5 * (r * r / v + log(2 * .pi * v))
                m[k][j] = means[k][j] + α * s2 / v * r
                trV[k] += s2 * σ * σ / v
            }
            logr[k] = s
        }
        let top = logr.max()!
        let total = logr.reduce(0) { $0 + exp($1 - top) }
        let logp = top + log(total)
        let r = logr.map { exp($0 - logp) }
        var mean = [Double](repeating: 0, count: d), score = mean
        for k in 0..<K {
            for j in 0..<d {
                mean[j] += r[k] * m[k][j]
                let v = α * α * stds[k][j] * stds[k][j] + σ * σ
                score[j] -= r[k] * (x[j] - α * means[k][j]) / v
            }
        }
        var trCov = 0.0
        for k in 0..<K {
            var dev = 0.0
            for j in 0..<d { let e = m[k][j] - mean[j]; dev += e * e }
            trCov += r[k] * (trV[k] + dev)
        }
        return MixturePosterior(logDensity: logp, mean: mean, score: score, traceCovariance: trCov)
    }

    /// The divergence ∇·D of the exact denoiser D(x) = E[x₀ | x] for every row of x: (α/σ²)·tr Cov[x₀ | x]
    /// (second-order Tweedie). Needs σ > 0.
    public func denoiserDivergence(_ x: Tensor, at level: NoiseLevel) -> [Double] {
        precondition(level.sigma > 0, "the denoiser's divergence needs σ > 0")
        let d = dimension, xs = x.scalars.map(Double.init)
        return (0..<(x.count / d)).map { i in
            level.alpha / (level.sigma * level.sigma) * posteriorDetails(Array(xs[(i * d)..<(i * d + d)]), at: level).traceCovariance
        }
    }

    /// E_{x ~ p_level}[g(x)] by the trapezoid rule on a grid of spacing (narrowest component std)/6 that covers
    /// every component ± 12 stds: exponentially accurate for these smooth, Gaussian-tailed integrands. d ≤ 2.
    public func expectation(at level: NoiseLevel, _ g: ([Double], MixturePosterior) -> Double) -> Double {
        let d = dimension
        precondition(d <= 2, "quadrature is implemented for d ≤ 2 (got d = \(d))")
        var lo = [Double](repeating: .infinity, count: d), hi = [Double](repeating: -.infinity, count: d)
        var h = Double.infinity
        for k in 0..<componentCount {
            for j in 0..<d {
                let v = (level.alpha * level.alpha * stds[k][j] * stds[k][j] + level.sigma * level.sigma).squareRoot()
                lo[j] = Swift.min(lo[j], level.alpha * means[k][j] - 12 * v)
                hi[j] = Swift.max(hi[j], level.alpha * means[k][j] + 12 * v)
                h = Swift.min(h, v / 6)
            }
        }
        let cap = d == 1 ? 20_000 : 700
        let counts = (0..<d).map { Swift.min(cap, Int(((hi[$0] - lo[$0]) / h).rounded(.up)) + 1) }
        let steps = (0..<d).map { (hi[$0] - lo[$0]) / Double(counts[$0] - 1) }
        var total = 0.0
        var x = [Double](repeating: 0, count: d)
        let outer = d == 2 ? counts[1] : 1
        for b in 0..<outer {
            if d == 2 { x[1] = lo[1] + Double(b) * steps[1] }
            for a in 0..<counts[0] {
                x[0] = lo[0] + Double(a) * steps[0]
                let post = posteriorDetails(x, at: level)
                total += exp(post.logDensity) * g(x, post)
            }
        }
        return total * steps.reduce(1, *)
    }

    /// The Bayes error E‖x₀ − E[x₀ | x]‖² = E tr Cov[x₀ | x] at a level (quadrature, d ≤ 2): the irreducible part of
    /// every x₀-space denoising loss.
    public func minimumMeanSquaredError(at level: NoiseLevel) -> Double {
        if level.sigma == 0 { return 0 }
        if level.alpha == 0 { return totalVariance }
        return expectation(at: level) { _, post in post.traceCovariance }
    }

    /// The Fisher information E‖∇ log p(x)‖² at a level (quadrature, d ≤ 2).
    public func fisherInformation(at level: NoiseLevel) -> Double {
        expectation(at: level) { _, post in post.score.reduce(0) { $0 + $1 * $1 } }
    }

    /// E‖x₀ − E x₀‖², summed over dimensions.
    public var totalVariance: Double {
        var total = 0.0
        for j in 0..<dimension {
            var mean = 0.0
            for k in 0..<componentCount { mean += weights[k] * means[k][j] }
            for k in 0..<componentCount {
                let dev = means[k][j] - mean
                total += weights[k] * (stds[k][j] * stds[k][j] + dev * dev)
            }
        }
        return total
    }

    /// E‖x₀‖², summed over dimensions.
    public var secondMoment: Double {
        var total = 0.0
        for k in 0..<componentCount {
            for j in 0..<dimension { total += weights[k] * (means[k][j] * means[k][j] + stds[k][j] * stds[k][j]) }
        }
        return total
    }

    /// −E log p(x₀) (the differential entropy in nats) by quadrature, d ≤ 2.
    public var entropy: Double {
        expectation(at: NoiseLevel(alpha: 1, sigma: 0)) { _, post in -post.logDensity }
    }
}
