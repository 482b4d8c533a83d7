import Foundation
import Testing
@testable import Diffusion

/// The AR(1) Gaussian video against a direct dense solve, its sampler against its covariance, the noise priors and
/// the temporal-consistency metric against their closed forms.
@Suite("GaussianVideo, VideoNoise, TemporalConsistency")
struct GaussianVideoTests {
    /// x = Bᵀ·A⁻¹·y written out: Gaussian elimination with partial pivoting on a dense (f·d)×(f·d) system.
    static func solve(_ A: [[Double]], _ b: [Double]) -> [Double] {
        var M = A, v = b
        let n = b.count
        for c in 0..<n {
            let p = (c..<n).max { Swift.abs(M[$0][c]) < Swift.abs(M[$1][c]) }!
            M.swapAt(c, p); v.swapAt(c, p)
            for r in (c + 1)..<n where M[r][c] != 0 {
                let f = M[r][c] / M[c][c]
                for k in c..<n { M[r][k] -= f * M[c][k] }
                v[r] -= f * v[c]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = v[r]
            for k in (r + 1)..<n { s -= M[r][k] * x[k] }
            x[r] = s / M[r][r]
        }
        return x
    }

    static func meanSquare(_ x: Tensor) -> Double {
        var s = 0.0
        for v in x.scalars { s += Double(v) * Double(v) }
        return s / Double(x.count)
    }

    @Test func exactDenoiserEqualsADirectLinearSolveOnTheWholeClip() {
        // f = 5 frames of d = 3 pixels; the full covariance is Σ ⊗ I over all 15 values, per-frame levels differ.
        let (f, d, ρ, s) = (5, 3, 0.8, 1.3)
        let model = GaussianVideo(frames: f, frameShape: [d], rho: ρ, std: s)
        let levels = [NoiseLevel(alpha: 0.9, sigma: 0.4), NoiseLevel(alpha: 1, sigma: 0), NoiseLevel(alpha: 0.5, sigma: 1.2),
                      NoiseLevel(alpha: 0.2, sigma: 2), NoiseLevel(alpha: 1, sigma: 0.7)]
        let x = Tensor.randomNormal([2, f, d], seed: 9)
        let got = model.denoise(x, levels: levels).scalars
        let N = f * d
        func cov0(_ i: Int, _ j: Int) -> Double { i % d == j % d ? s * s * pow(ρ, Double(Swift.abs(i / d - j / d))) : 0 }
        var C = Array(repeating: Array(repeating: 0.0, count: N), count: N)
        for i in 0..<N { for j in 0..<N { C[i][j] = levels[i / d].alpha * cov0(i, j) * levels[j / d].alpha + (i == j ? pow(levels[i / d].sigma, 2) : 0) } }
        for clip in 0..<2 {
            let xc = (0..<N).map { Double(x.scalars[clip * N + $0]) }
            let z = Self.solve(C, xc)                                            // Cov(x)⁻¹·x
            for i in 0..<N {
                let expected = (0..<N).reduce(0.0) { $0 + cov0(i, $1) * levels[$1 / d].alpha * z[$1] }   // Cov(x₀, x)·z
                #expect(Swift.abs(Double(got[clip * N + i]) - expected) < 1e-5, "clip \(clip) element \(i)")
            }
        }
        // An exactly observed frame is returned unchanged.
        for i in 0..<2 { for p in 0..<d { #expect(Swift.abs(got[i * N + d + p] - x.scalars[i * N + d + p]) < 1e-5) } }
    }

    @Test func posteriorCovarianceAndMMSEMatchClosedForms() {
        // One frame: the scalar Wiener filter; ρ = 0: every frame on its own.
        let one = GaussianVideo(frames: 1, rho: 0.5, std: 2)
        let level = NoiseLevel(alpha: 0.6, sigma: 0.8)
        #expect(Swift.abs(one.minimumMeanSquaredError(at: level) - 4 * 0.64 / (0.36 * 4 + 0.64)) < 1e-12)
        let indep = GaussianVideo(frames: 6, rho: 0.9, std: 2).independentFrames
        #expect(Swift.abs(indep.minimumMeanSquaredError(at: level) - one.minimumMeanSquaredError(at: level)) < 1e-12)
        // Two frames, the first observed: the second's posterior variance is s²(1 − ρ²).
        let two = GaussianVideo(frames: 2, rho: 0.7, std: 1.5)
        let P = two.posteriorCovariance(levels: [NoiseLevel(alpha: 1, sigma: 0), NoiseLevel(alpha: 0, sigma: 1)])
        #expect(Swift.abs(P[0][0]) < 1e-12 && Swift.abs(P[1][1] - 2.25 * (1 - 0.49)) < 1e-12)
        // Joint denoising is never worse than frame by frame.
        let video = GaussianVideo(frames: 8, rho: 0.9)
        for σ in [0.1, 0.5, 1, 3] {
            let l = NoiseLevel(alpha: 1, sigma: σ)
            #expect(video.minimumMeanSquaredError(at: l) < video.independentFrames.minimumMeanSquaredError(at: l))
        }
    }

    @Test func samplesHaveTheAR1CovarianceAndTheMetricsMeasureIt() {
        let model = GaussianVideo(frames: 6, frameShape: [4, 4], rho: 0.8, std: 1.5)
        let x = model.sample(4000, seed: 1)
        #expect(x.shape == [4000, 6, 4, 4])
        // Lag-ℓ correlation ρ^ℓ and frame difference 2s²(1 − ρ) (Monte-Carlo tolerance for 64 000 pairs per lag).
        for lag in 1...3 { #expect(Swift.abs(TemporalConsistency.correlation(x, lag: lag) - pow(0.8, Double(lag))) < 0.01) }
        #expect(Swift.abs(TemporalConsistency.frameDifference(x) / (2 * 2.25 * 0.2) - 1) < 0.02)
        #expect(Swift.abs(Self.meanSquare(x) - 2.25) < 0.03)
        // Independent frames: correlation ≈ 0, difference ≈ 2s².
        let y = model.independentFrames.sample(4000, seed: 2)
        #expect(Swift.abs(TemporalConsistency.correlation(y)) < 0.01)
        // The metric by hand on one tiny clip: frames 0, 1, 3 of one element.
        let tiny = Tensor([0, 1, 3], shape: [1, 3, 1])
        #expect(Swift.abs(TemporalConsistency.frameDifference(tiny) - 2.5) < 1e-12)
        let mean = 4.0 / 3
        let (a, b) = ([0 - mean, 1 - mean], [1 - mean, 3 - mean])
        let r = (a[0] * b[0] + a[1] * b[1]) / ((a[0] * a[0] + a[1] * a[1]) * (b[0] * b[0] + b[1] * b[1])).squareRoot()
        #expect(Swift.abs(TemporalConsistency.correlation(tiny) - r) < 1e-12)
    }

    @Test func correlatedNoiseHasUnitMarginalsAndThePromisedCorrelations() {
        let shape = [3000, 5, 8]
        let p = VideoNoise.progressive(shape, r: 0.6, seed: 3)
        let m = VideoNoise.mixed(shape, a: 1.5, seed: 4)
        for (noise, lag1, lag3) in [(p, 0.6, 0.216), (m, 2.25 / 3.25, 2.25 / 3.25)] {
            #expect(Swift.abs(Self.meanSquare(noise) - 1) < 0.02)
            #expect(Swift.abs(TemporalConsistency.correlation(noise) - lag1) < 0.015)
            #expect(Swift.abs(TemporalConsistency.correlation(noise, lag: 3) - lag3) < 0.015)
        }
    }

    @Test func theExactDenoiserDrivesTheSamplersToTheRightCorrelation() {
        // PF-ODE sampling with the joint denoiser reproduces ρ; with the frame-by-frame denoiser frames decorrelate.
        let model = GaussianVideo(frames: 6, frameShape: [4], rho: 0.85)
        let sigmas = Schedule.karras(steps: 24, sigmaMin: 0.002, sigmaMax: 80)
        let start = NoiseSource(seed: 5).prior([1500, 6, 4], sigma: sigmas[0])
        let joint = Sampling.heun(model, start, sigmas: sigmas)
        let frames = Sampling.heun(model.independentFrames, start, sigmas: sigmas)
        #expect(Swift.abs(TemporalConsistency.correlation(joint) - 0.85) < 0.02)
        #expect(Swift.abs(TemporalConsistency.correlation(frames)) < 0.03)
    }
}
