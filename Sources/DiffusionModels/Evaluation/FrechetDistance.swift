import DiffusionLayers

/// Mean and covariance of a set of feature vectors (in Double).
public struct GaussianStatistics: Sendable {
    public let mean: [Double]
    /// Row-major d×d, unbiased (divided by N − 1).
    public let covariance: [Double]
    public var dimension: Int { mean.count }

    public init(mean: [Double], covariance: [Double]) {
        precondition(covariance.count == mean.count * mean.count, "GaussianStatistics: covariance does not match the mean's dimension")
        (self.mean, self.covariance) = (mean, covariance)
    }

    /// Statistics of features [N, d] (N ≥ 2).
    public init(features: Tensor) {
        precondition(features.rank == 2 && features.shape[0] >= 2, "GaussianStatistics needs features [N ≥ 2, d], got \(features.shape)")
        let (n, d) = (features.shape[0], features.shape[1])
        let x = features.scalars.map(Double.init)
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += x[i * d + j] } }
        for j in 0..<d { mean[j] /= Double(n) }
        var cov = [Double](repeating: 0, count: d * d)
        var row = [Double](repeating: 0, count: d)
        for i in 0..<n {
            for j in 0..<d { row[j] = x[i * d + j] - mean[j] }
            for j in 0..<d { for k in j..<d { cov[j * d + k] += row[j] * row[k] } }
        }
        for j in 0..<d { for k in j..<d { cov[j * d + k] /= Double(n - 1); cov[k * d + j] = cov[j * d + k] } }
        self.init(mean: mean, covariance: cov)
    }
}

/// The Fréchet (2-Wasserstein) distance between Gaussians fitted to two feature sets, as in FID (Heusel et al. 2017):
/// d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½.
/// Square roots come from symmetric eigen-decompositions (negative round-off eigenvalues clamp to 0), so no complex
/// parts arise as with a general matrix square root of Σ₁Σ₂. Returns d² (what FID reports).
public enum FrechetDistance {
    public static func squared(_ a: GaussianStatistics, _ b: GaussianStatistics) -> Double {
        precondition(a.dimension == b.dimension, "Fréchet distance: dimensions \(a.dimension) and \(b.dimension) differ")
        let d = a.dimension
        let meanTerm = zip(a.mean, b.mean).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let traceA = (0..<d).reduce(0) { $0 + a.covariance[$1 * d + $1] }
        let traceB = (0..<d).reduce(0) { $0 + b.covariance[$1 * d + $1] }
        let rootA = SymmetricEigen(a.covariance, size: d).apply { Swift.max($0, 0).squareRoot() }
        let m = multiply(multiply(rootA, b.covariance, d), rootA, d)
        let crossTrace = SymmetricEigen(m, size: d).values.reduce(0) { $0 + Swift.max($1, 0).squareRoot() }
        return Swift.max(0, meanTerm + traceA + traceB - 2 * crossTrace)
    }

    /// d² between feature sets [N₁, d] and [N₂, d].
    public static func squared(_ a: Tensor, _ b: Tensor) -> Double {
        squared(GaussianStatistics(features: a), GaussianStatistics(features: b))
    }

    /// The real-versus-real floor: d² between two disjoint random halves of one feature set, averaged over `repeats`
    /// seeded splits. A model's d² (against real features of the same size as a half) is meaningful only above it.
    public static func floor(_ features: Tensor, repeats: Int = 3, seed: UInt64 = 0) -> Double {
        precondition(features.rank == 2 && features.shape[0] >= 4 && repeats >= 1, "Fréchet floor needs features [N ≥ 4, d] and repeats ≥ 1")
        var g = RandomGenerator(seed: seed)
        let n = features.shape[0], half = n / 2
        var total = 0.0
        for _ in 0..<repeats {
            let order = g.permutation(n)
            total += squared(features.indexSelect(axis: 0, indices: Array(order[..<half])),
                             features.indexSelect(axis: 0, indices: Array(order[half..<(2 * half)])))
        }
        return total / Double(repeats)
    }

    static func multiply(_ x: [Double], _ y: [Double], _ n: Int) -> [Double] {
        var out = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for k in 0..<n {
                let xik = x[i * n + k]
                if xik == 0 { continue }
                for j in 0..<n { out[i * n + j] += xik * y[k * n + j] }
            }
        }
        return out
    }
}
