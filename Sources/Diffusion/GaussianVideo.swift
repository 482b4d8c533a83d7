import Foundation
import DiffusionEngine

/// A Gaussian "video" whose frames follow a stationary AR(1) process in time: f frames of d pixels,
/// x₀⁽¹⁾ ~ N(0, s²I), x₀⁽ᵏ⁾ = ρ·x₀⁽ᵏ⁻¹⁾ + s·√(1 − ρ²)·u⁽ᵏ⁾ with u⁽ᵏ⁾ ~ N(0, I), pixels independent.
///
/// Every pixel's time series is N(0, Σ) with the f×f Toeplitz covariance Σ_jk = s²·ρ^|j−k|, so the ideal denoiser
/// is linear and exact at every level, also with a different level per frame (x⁽ᵏ⁾ = α_k·x₀⁽ᵏ⁾ + σ_k·ε⁽ᵏ⁾):
/// E[x₀ | x] = W·x per pixel with W = Σ·A·(A·Σ·A + S²)⁻¹, A = diag(α), S = diag(σ), and posterior covariance
/// P = Σ − W·A·Σ. A frame with σ_k = 0 is observed exactly (image-to-video, interpolation). ρ = 0 is the model of
/// independent frames, i.e. the best any frame-by-frame denoiser can do. Tensors are [n, f, …] (the trailing axes
/// hold the d pixels of one frame); arithmetic is in Double.
public struct GaussianVideo: Denoiser, Sendable, Hashable {
    public let frames: Int
    /// The shape of one frame (e.g. [c, h, w]); d is its element count.
    public let frameShape: [Int]
    public let rho: Double
    public let std: Double

    public init(frames: Int, frameShape: [Int] = [1], rho: Double, std: Double = 1) {
        precondition(frames >= 1 && !frameShape.isEmpty && frameShape.allSatisfy { $0 >= 1 }, "GaussianVideo needs f ≥ 1 frames of a non-empty shape")
        precondition(rho > -1 && rho < 1 && std > 0, "GaussianVideo needs −1 < ρ < 1 and s > 0 (ρ = \(rho), s = \(std))")
        (self.frames, self.frameShape, self.rho, self.std) = (frames, frameShape, rho, std)
    }

    /// Pixels per frame.
    public var pixels: Int { frameShape.reduce(1, *) }

    /// The same frames without temporal correlation (ρ = 0): each frame's marginal, the frame-by-frame model.
    public var independentFrames: GaussianVideo { GaussianVideo(frames: frames, frameShape: frameShape, rho: 0, std: std) }

    /// The temporal covariance Σ_jk = s²·ρ^|j−k| of every pixel.
    public var covariance: [[Double]] {
        (0..<frames).map { j in (0..<frames).map { k in std * std * Foundation.pow(rho, Double(Swift.abs(j - k))) } }
    }

    /// n clips [n, f] + frameShape drawn by the AR(1) recursion from standard normals of stream `stream`
    /// (clip j depends only on seed, stream and j).
    public func sample(_ n: Int, seed: UInt64, stream: UInt64 = 0x71DE0) -> Tensor {
        recursion(Tensor.randomNormal([n, frames] + frameShape, seed: seed, stream: stream))
    }

    /// The AR(1) recursion applied to standard normal innovations z [n, f, …]: x⁽¹⁾ = s·z⁽¹⁾,
    /// x⁽ᵏ⁾ = ρ·x⁽ᵏ⁻¹⁾ + s·√(1 − ρ²)·z⁽ᵏ⁾.
    public func recursion(_ z: Tensor) -> Tensor {
        precondition(z.rank >= 2 && z.shape[1] == frames && z.count == z.shape[0] * frames * pixels,
                     "GaussianVideo: expected [n, \(frames)] + \(frameShape), got \(z.shape)")
        let (n, f, d) = (z.shape[0], frames, pixels)
        var v = z.scalars.map(Double.init)
        let c = std * (1 - rho * rho).squareRoot()
        for i in 0..<n {
            for p in 0..<d { v[i * f * d + p] *= std }
            for k in 1..<Swift.max(f, 1) {
                for p in 0..<d {
                    let at = (i * f + k) * d + p
                    v[at] = rho * v[at - d] + c * v[at]
                }
            }
        }
        return Tensor(v.map(Float.init), shape: z.shape)
    }

    /// The f×f filter W with E[x₀ | x] = W·x (per pixel, along time) for per-frame levels.
    public func filter(levels: [NoiseLevel]) -> [[Double]] {
        precondition(levels.count == frames, "GaussianVideo: one level per frame (\(frames)), got \(levels.count)")
        let Σ = covariance, f = frames
        // M = AΣA + S² is symmetric positive definite; Wᵀ = M⁻¹·(AΣ) because Σ and M are symmetric.
        var M = Σ
        for j in 0..<f { for k in 0..<f { M[j][k] *= levels[j].alpha * levels[k].alpha } ; M[j][j] += levels[j].sigma * levels[j].sigma }
        let rhs = (0..<f).map { j in (0..<f).map { k in levels[j].alpha * Σ[j][k] } }
        let Wt = DenseMatrix.choleskySolve(M, rhs, owner: "GaussianVideo")
        return (0..<f).map { j in (0..<f).map { k in Wt[k][j] } }
    }

    /// The posterior covariance P = Σ − W·A·Σ of one pixel's time series given x at per-frame levels.
    public func posteriorCovariance(levels: [NoiseLevel]) -> [[Double]] {
        let W = filter(levels: levels), Σ = covariance, f = frames
        var P = Σ
        for j in 0..<f {
            for k in 0..<f {
                var s = 0.0
                for i in 0..<f { s += W[j][i] * levels[i].alpha * Σ[i][k] }
                P[j][k] -= s
            }
        }
        return P
    }

    /// The minimum mean squared error per element, E‖x₀ − E[x₀ | x]‖²/(f·d) = tr(P)/f.
    public func minimumMeanSquaredError(levels: [NoiseLevel]) -> Double {
        let P = posteriorCovariance(levels: levels)
        return (0..<frames).reduce(0.0) { $0 + P[$1][$1] } / Double(frames)
    }

    public func minimumMeanSquaredError(at level: NoiseLevel) -> Double {
        minimumMeanSquaredError(levels: Array(repeating: level, count: frames))
    }

    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor { denoise(x, levels: Array(repeating: level, count: frames)) }

    /// E[x₀ | x] for x [n, f, …] whose frame k is at `levels[k]`.
    public func denoise(_ x: Tensor, levels: [NoiseLevel]) -> Tensor { apply(filter(levels: levels), to: x) }

    /// y⁽ʲ⁾ = Σ_k W_jk·x⁽ᵏ⁾ for every clip and pixel of x [n, f, …].
    public func apply(_ W: [[Double]], to x: Tensor) -> Tensor {
        precondition(x.rank >= 2 && x.shape[1] == frames && x.count == x.shape[0] * frames * pixels,
                     "GaussianVideo: expected [n, \(frames)] + \(frameShape), got \(x.shape)")
        let (n, f, d) = (x.shape[0], frames, pixels)
        let v = x.scalars.map(Double.init)
        var out = [Float](repeating: 0, count: v.count)
        for i in 0..<n {
            for j in 0..<f {
                for p in 0..<d {
                    var s = 0.0
                    for k in 0..<f { s += W[j][k] * v[(i * f + k) * d + p] }
                    out[(i * f + j) * d + p] = Float(s)
                }
            }
        }
        return Tensor(out, shape: x.shape)
    }
}

/// Noise correlated across the frames of a clip, "Preserve Your Own Correlation" (Ge et al. 2023, arXiv 2305.10474),
/// each frame still marginally N(0, I). Tensors are [n, f, …].
public enum VideoNoise {
    /// Mixed noise: ε⁽ᵏ⁾ = √(a²/(1 + a²))·ε_shared + √(1/(1 + a²))·ε_ind⁽ᵏ⁾, so every pair of frames has correlation
    /// a²/(1 + a²). Draws from `seed` (streams `stream`, `stream` + 1).
    public static func mixed(_ shape: [Int], a: Double, seed: UInt64, stream: UInt64 = 0xC0DE) -> Tensor {
        precondition(shape.count >= 2 && a >= 0, "VideoNoise.mixed needs [n, f, …] and a ≥ 0")
        let shared = Tensor.randomNormal([shape[0], 1] + shape.dropFirst(2), seed: seed, stream: stream)
        let own = Tensor.randomNormal(shape, seed: seed, stream: stream + 1)
        return shared * Float((a * a / (1 + a * a)).squareRoot()) + own * Float((1 / (1 + a * a)).squareRoot())
    }

    /// Progressive noise: ε⁽¹⁾ = z⁽¹⁾, ε⁽ᵏ⁾ = r·ε⁽ᵏ⁻¹⁾ + √(1 − r²)·z⁽ᵏ⁾ — an AR(1) process with lag-ℓ correlation r^ℓ.
    /// (The paper writes the coefficient as a/√(1 + a²); here r = a/√(1 + a²) directly.)
    public static func progressive(_ shape: [Int], r: Double, seed: UInt64, stream: UInt64 = 0xC0DE) -> Tensor {
        precondition(shape.count >= 2 && r > -1 && r < 1, "VideoNoise.progressive needs [n, f, …] and −1 < r < 1")
        let model = GaussianVideo(frames: shape[1], frameShape: Array(shape.dropFirst(2)).isEmpty ? [1] : Array(shape.dropFirst(2)), rho: r)
        return model.recursion(Tensor.randomNormal(shape, seed: seed, stream: stream)).reshaped(shape)
    }
}
