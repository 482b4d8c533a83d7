import Foundation
import DiffusionEngine

/// A Gaussian N(μ, Σ) in d dimensions with a full (possibly singular) covariance, as a `Denoiser`, and its exact
/// posterior under a linear observation y = A·x₀ + τ·η, η ~ N(0, I) (τ = 0: noiseless, e.g. a block-average
/// downsampling). Tensors are [n, …] with d elements per sample; arithmetic is in Double.
///
/// The denoiser is the Wiener filter E[x₀ | x] = μ + K·(x/α − μ) with K = Σ(Σ + (σ/α)²I)⁻¹. The posterior is again
/// Gaussian (the Gaussian conditioning formula): gain G = ΣAᵀ(AΣAᵀ + τ²I)⁻¹, mean μ + G(y − Aμ), covariance
/// Σ − GAΣ. So the posterior's own denoiser is the exact conditional denoiser E[x₀ | x_σ, y].
public struct MultivariateGaussian: Denoiser, Sendable {
    public let mean: [Double]
    public let covariance: [[Double]]

    public init(mean: [Double], covariance: [[Double]]) {
        let d = mean.count
        precondition(d >= 1 && covariance.count == d && covariance.allSatisfy { $0.count == d },
                     "MultivariateGaussian: covariance must be \(d)×\(d) for a mean of \(d) values")
        precondition((0..<d).allSatisfy { i in covariance[i][i] >= 0 && (0..<d).allSatisfy { j in
            Swift.abs(covariance[i][j] - covariance[j][i]) <= 1e-9 * Swift.max(1, Swift.abs(covariance[i][j])) } },
                     "MultivariateGaussian: covariance must be symmetric with a non-negative diagonal")
        (self.mean, self.covariance) = (mean, covariance)
    }

    public var dimension: Int { mean.count }

    /// tr Σ: the expected squared distance of a sample from the mean.
    public var trace: Double { (0..<dimension).reduce(0.0) { $0 + covariance[$1][$1] } }

    /// K = Σ(Σ + s²I)⁻¹ for s = σ/α > 0 (the matrix of the Wiener filter).
    public func gain(_ s: Double) -> [[Double]] {
        precondition(s > 0, "MultivariateGaussian.gain needs σ/α > 0")
        var M = covariance
        for i in 0..<dimension { M[i][i] += s * s }
        let Kt = DenseMatrix.choleskySolve(M, covariance, owner: "MultivariateGaussian")       // M⁻¹Σ = Kᵀ (both symmetric)
        return DenseMatrix.transpose(Kt)
    }

    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        let d = dimension
        precondition(x.rank >= 1 && x.count == x.shape[0] * d, "MultivariateGaussian(d = \(d)) got input of shape \(x.shape)")
        precondition(level.alpha > 0, "MultivariateGaussian.denoise needs α > 0")
        let rows = x.reshaped([x.shape[0], d]) * Float(1 / level.alpha)
        let s = level.sigma / level.alpha
        if s == 0 { return rows.reshaped(x.shape) }
        let K = gain(s)
        let m = Tensor(mean.map(Float.init))
        let Kt = Tensor(DenseMatrix.transpose(K).flatMap { $0.map(Float.init) }, shape: [d, d])
        return ((rows - m).matmul(Kt) + m).reshaped(x.shape)
    }

    /// The gain G = ΣAᵀ(AΣAᵀ + τ²I)⁻¹ (d×k) of the linear observation y = A·x₀ + τ·η: the posterior mean is
    /// μ + G(y − Aμ), affine in y.
    public func observationGain(_ A: [[Double]], noiseStd τ: Double = 0) -> [[Double]] {
        DenseMatrix.transpose(gainTransposed(A, noiseStd: τ).Gt)
    }

    /// Gᵀ = (AΣAᵀ + τ²I)⁻¹AΣ (k×d) and AΣ.
    func gainTransposed(_ A: [[Double]], noiseStd τ: Double) -> (Gt: [[Double]], AΣ: [[Double]]) {
        let (d, k) = (dimension, A.count)
        precondition(k >= 1 && A.allSatisfy { $0.count == d }, "MultivariateGaussian: an observation matrix needs rows of \(d) values")
        precondition(τ >= 0, "the observation noise must be non-negative")
        let AΣ = DenseMatrix.product(A, covariance)                                      // k×d
        var S = DenseMatrix.product(AΣ, DenseMatrix.transpose(A))                               // AΣAᵀ + τ²I, k×k
        for i in 0..<k { S[i][i] += τ * τ }
        return (DenseMatrix.choleskySolve(S, AΣ, owner: "MultivariateGaussian"), AΣ)
    }

    /// The posterior p(x₀ | y) for y = A·x₀ + τ·η (A is k×d, y has k values).
    public func conditioned(on A: [[Double]], y: [Double], noiseStd τ: Double = 0) -> MultivariateGaussian {
        let (d, k) = (dimension, A.count)
        precondition(y.count == k, "MultivariateGaussian.conditioned: \(y.count) observed values for \(k) rows of A")
        let (Gt, AΣ) = gainTransposed(A, noiseStd: τ)
        let residual = (0..<k).map { i in y[i] - (0..<d).reduce(0.0) { $0 + A[i][$1] * mean[$1] } }
        let m = (0..<d).map { j in mean[j] + (0..<k).reduce(0.0) { $0 + Gt[$1][j] * residual[$1] } }
        var P = covariance
        for i in 0..<d { for j in 0..<d { P[i][j] -= (0..<k).reduce(0.0) { $0 + Gt[$1][i] * AΣ[$1][j] } } }
        for i in 0..<d { for j in 0..<i { let s = (P[i][j] + P[j][i]) / 2; (P[i][j], P[j][i]) = (s, s) } }
        return MultivariateGaussian(mean: m, covariance: P)
    }

    /// n samples [n, d], x = μ + L·z with LLᵀ = Σ (a Cholesky factor that tolerates a singular Σ) and z standard
    /// normal from (seed, stream): sample j depends only on them and j.
    public func sample(_ n: Int, seed: UInt64, stream: UInt64 = 0x6A55) -> Tensor {
        let d = dimension
        let L = DenseMatrix.cholesky(covariance, semidefinite: true, owner: "MultivariateGaussian")
        let z = Tensor.randomNormal([n, d], seed: seed, stream: stream)
        let Lt = Tensor(DenseMatrix.transpose(L).flatMap { $0.map(Float.init) }, shape: [d, d])
        return z.matmul(Lt) + Tensor(mean.map(Float.init))
    }
}

/// Linear observations of images [c, h, w] flattened row-major: the 2×2 (f×f) block average, the downsampling of
/// super-resolution, as a matrix.
public enum BlockAverage {
    /// The (c·h/f·w/f) × (c·h·w) matrix of f×f block averages (rows in channel, row, column order).
    public static func matrix(channels c: Int = 1, height h: Int, width w: Int, factor f: Int = 2) -> [[Double]] {
        precondition(c >= 1 && f >= 1 && h % f == 0 && w % f == 0, "BlockAverage: \(h)×\(w) is not divisible into \(f)×\(f) blocks")
        let (H, W) = (h / f, w / f)
        var A: [[Double]] = []
        for ch in 0..<c { for I in 0..<H { for J in 0..<W {
            var row = [Double](repeating: 0, count: c * h * w)
            for a in 0..<f { for b in 0..<f { row[(ch * h + I * f + a) * w + J * f + b] = 1 / Double(f * f) } }
            A.append(row)
        } } }
        return A
    }
}
