import DiffusionEngine
import Foundation
import Testing
@testable import Diffusion

/// `MultivariateGaussian` and `BlockAverage` against closed forms: the two-pixel super-resolution posterior, the
/// one-component diagonal mixture, the joint linear-Gaussian conditioning on (x_σ, y) solved by elimination, and
/// avgPool2d.
@Suite("MultivariateGaussian: Wiener filter, linear-observation posterior, block average")
struct MultivariateGaussianTests {
    /// x = M⁻¹b by Gaussian elimination with partial pivoting (independent of the library's Cholesky).
    static func solve(_ M: [[Double]], _ b: [Double]) -> [Double] {
        var (A, x) = (M, b)
        let n = b.count
        for c in 0..<n {
            let p = (c..<n).max { Swift.abs(A[$0][c]) < Swift.abs(A[$1][c]) }!
            A.swapAt(c, p); x.swapAt(c, p)
            for r in (c + 1)..<n where r < n {
                let f = A[r][c] / A[c][c]
                for k in c..<n { A[r][k] -= f * A[c][k] }
                x[r] -= f * x[c]
            }
        }
        for r in stride(from: n - 1, through: 0, by: -1) {
            var t = x[r]
            for k in (r + 1)..<n where k < n { t -= A[r][k] * x[k] }
            x[r] = t / A[r][r]
        }
        return x
    }

    @Test func twoPixelSuperResolutionPosteriorIsTheLineThroughYY() {
        // x₀ ~ N(0, s²I₂), y = (x₁ + x₂)/2: x₀ | y = (y + d/2, y − d/2), d ~ N(0, 2s²).
        let s = 0.7, y = 0.4
        let g = MultivariateGaussian(mean: [0, 0], covariance: [[s * s, 0], [0, s * s]])
        let post = g.conditioned(on: [[0.5, 0.5]], y: [y])
        #expect(post.mean.allSatisfy { Swift.abs($0 - y) < 1e-12 })
        let v = s * s / 2
        for (i, j, want) in [(0, 0, v), (1, 1, v), (0, 1, -v), (1, 0, -v)] { #expect(Swift.abs(post.covariance[i][j] - want) < 1e-12) }
        #expect(Swift.abs(post.trace - s * s) < 1e-12)
        // Samples of the singular posterior satisfy the observation exactly and spread along (1, −1).
        let x = post.sample(4000, seed: 3).scalars.map(Double.init)
        var (maxResidual, sq) = (0.0, 0.0)
        for i in 0..<4000 {
            maxResidual = Swift.max(maxResidual, Swift.abs((x[2 * i] + x[2 * i + 1]) / 2 - y))
            sq += (x[2 * i] - x[2 * i + 1]) * (x[2 * i] - x[2 * i + 1])
        }
        #expect(maxResidual < 1e-5)
        #expect(Swift.abs(sq / 4000 - 2 * s * s) < 4 * 2 * s * s * (2.0 / 4000).squareRoot(), "Var(d) \(sq / 4000) vs \(2 * s * s)")
    }

    @Test func diagonalCaseIsTheOneComponentMixture() {
        let g = MultivariateGaussian(mean: [0.5, -1, 2], covariance: [[0.3 * 0.3, 0, 0], [0, 1, 0], [0, 0, 0.04]])
        let m = GaussianMixture(weights: [1], means: [[0.5, -1, 2]], stds: [[0.3, 1, 0.2]])
        let x = Tensor.randomNormal([5, 3], seed: 1) * 2
        for level in [NoiseLevel(alpha: 1, sigma: 0.1), NoiseLevel(alpha: 0.8, sigma: 0.6), NoiseLevel(alpha: 1, sigma: 7)] {
            let a = g.denoise(x, at: level).scalars, b = m.denoise(x, at: level).scalars
            #expect(zip(a, b).allSatisfy { Swift.abs($0 - $1) < 1e-5 * Swift.max(1, Swift.abs($1)) }, "\(level)")
        }
    }

    @Test func posteriorDenoiserIsTheJointConditionalDenoiser() {
        // Correlated 4-D prior, two noisy linear observations; E[x₀ | x_σ, y] from the stacked observation
        // z = [x_σ; y] = Hx₀ + noise, H = [I; A], R = diag(σ²I, τ²I): μ + ΣHᵀ(HΣHᵀ + R)⁻¹(z − Hμ).
        let d = 4
        var Σ = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for i in 0..<d { for j in 0..<d { let u = Double((i - j) * (i - j)); Σ[i][j] = Foundation.exp(-u / 3) + (i == j ? 0.1 : 0) } }
        let μ: [Double] = [0.3, -0.2, 0.1, 0.5]
        let A: [[Double]] = [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]]
        let (y, τ, σ): ([Double], Double, Double) = ([0.8, -0.4], 0.05, 0.6)
        let post = MultivariateGaussian(mean: μ, covariance: Σ).conditioned(on: A, y: y, noiseStd: τ)
        let xσ: [Double] = [0.9, 0.1, -0.7, 0.2]
        let got: [Double] = post.denoise(Tensor(xσ.map(Float.init), shape: [1, d]), sigma: σ).scalars.map(Double.init)
        var H: [[Double]] = []
        for i in 0..<d { var row = [Double](repeating: 0, count: d); row[i] = 1; H.append(row) }
        H += A
        let m = d + 2
        let z: [Double] = xσ + y
        var HΣ = [[Double]](repeating: [Double](repeating: 0, count: d), count: m)
        for i in 0..<m { for j in 0..<d { for l in 0..<d { HΣ[i][j] += H[i][l] * Σ[l][j] } } }
        var S = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
        for i in 0..<m { for j in 0..<m { for l in 0..<d { S[i][j] += HΣ[i][l] * H[j][l] } } }
        for i in 0..<m { S[i][i] += i < d ? σ * σ : τ * τ }
        var r = [Double](repeating: 0, count: m)
        for i in 0..<m { r[i] = z[i]; for l in 0..<d { r[i] -= H[i][l] * μ[l] } }
        let w = Self.solve(S, r)
        var want = μ
        for j in 0..<d { for i in 0..<m { want[j] += HΣ[i][j] * w[i] } }
        #expect(zip(got, want).allSatisfy { Swift.abs($0 - $1) < 1e-5 }, "\(got) vs \(want)")
        // The posterior covariance is Σ − ΣAᵀ(AΣAᵀ + τ²I)⁻¹AΣ: check one column by elimination.
        let AΣ: [[Double]] = Array(HΣ[d...])
        var T = [[Double]](repeating: [0, 0], count: 2)
        for i in 0..<2 { for j in 0..<2 { for l in 0..<d { T[i][j] += AΣ[i][l] * A[j][l] } } }
        for i in 0..<2 { T[i][i] += τ * τ }
        let c = Self.solve(T, AΣ.map { $0[2] })
        for i in 0..<d {
            let expected: Double = Σ[i][2] - AΣ[0][i] * c[0] - AΣ[1][i] * c[1]
            #expect(Swift.abs(post.covariance[i][2] - expected) < 1e-12)
        }
    }

    @Test func blockAverageMatrixIsAvgPool() {
        let x = Tensor.randomNormal([3, 2, 4, 6], seed: 2)
        let A = BlockAverage.matrix(channels: 2, height: 4, width: 6, factor: 2)
        #expect(A.count == 12 && A[0].count == 48)
        let At = Tensor(DenseMatrix.transpose(A).flatMap { $0.map(Float.init) }, shape: [48, 12])
        let viaMatrix = x.reshaped([3, 48]).matmul(At).scalars, viaPool = x.avgPool2d(kernel: 2).scalars
        #expect(zip(viaMatrix, viaPool).allSatisfy { Swift.abs($0 - $1) < 1e-6 })
    }
}
