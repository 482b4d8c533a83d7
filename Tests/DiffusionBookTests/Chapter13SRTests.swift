import Diffusion
import DiffusionData
import DiffusionEngine
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 13, super-resolution (§13.5) and ControlNet (§13.6): the exact Gaussian case recomputed from the model's
/// definition by Gaussian elimination (not the library's Cholesky), sampling-error bounds from the closed form, the
/// claims the text makes about the digits and the toy ControlNet, and the trainable-parameter count from the
/// architecture.
@Suite("Chapter 13: super-resolution and ControlNet experiments")
struct Chapter13SRTests: ExperimentChecks {
    /// X = M⁻¹B by Gauss–Jordan elimination with partial pivoting.
    static func solve(_ M: [[Double]], _ B: [[Double]]) -> [[Double]] {
        let n = M.count
        var (A, X) = (M, B)
        for c in 0..<n {
            let p = (c..<n).max { Swift.abs(A[$0][c]) < Swift.abs(A[$1][c]) }!
            A.swapAt(c, p); X.swapAt(c, p)
            let inv = 1 / A[c][c]
            A[c] = A[c].map { $0 * inv }; X[c] = X[c].map { $0 * inv }
            for r in 0..<n where r != c && A[r][c] != 0 {
                let f = A[r][c]
                for k in 0..<n { A[r][k] -= f * A[c][k] }
                for k in X[r].indices { X[r][k] -= f * X[c][k] }
            }
        }
        return X
    }

    /// The prior covariance of `Chapter13.smoothImages` written out, and P = Σ − ΣAᵀ(AΣAᵀ)⁻¹AΣ for 2×2 averages.
    static func gaussianCase() -> (Σ: [[Double]], P: [[Double]]) {
        let zero64 = [Double](repeating: 0, count: 64)
        var Σ = [[Double]](repeating: zero64, count: 64)
        for p in 0..<64 {
            for q in 0..<64 {
                let (di, dj) = (Double(p / 8 - q / 8), Double(p % 8 - q % 8))
                let r2: Double = di * di + dj * dj
                Σ[p][q] = 0.45 * 0.45 * Foundation.exp(-r2 / (2 * 1.5 * 1.5)) + (p == q ? 0.0004 : 0)
            }
        }
        // Row r = (I, J) = (r / 4, r % 4) of A averages pixels (2I + a, 2J + b), a, b ∈ {0, 1}.
        func block(_ r: Int) -> [Int] { [0, 1, 8, 9].map { (2 * (r / 4)) * 8 + 2 * (r % 4) + $0 } }
        var AΣ = [[Double]](repeating: zero64, count: 16)
        for r in 0..<16 { for j in 0..<64 { for p in block(r) { AΣ[r][j] += Σ[p][j] / 4 } } }
        var S = [[Double]](repeating: [Double](repeating: 0, count: 16), count: 16)
        for r in 0..<16 { for c in 0..<16 { for p in block(c) { S[r][c] += AΣ[r][p] / 4 } } }
        let X = solve(S, AΣ)                                            // (AΣAᵀ)⁻¹AΣ
        var P = Σ
        for i in 0..<64 { for j in 0..<64 { for l in 0..<16 { P[i][j] -= AΣ[l][i] * X[l][j] } } }
        return (Σ, P)
    }

    static func trace(_ M: [[Double]]) -> Double { var t = 0.0; for i in M.indices { t += M[i][i] }; return t }
    static func traceOfSquare(_ M: [[Double]]) -> Double {
        var t = 0.0
        for i in M.indices { for j in M.indices { t += M[i][j] * M[j][i] } }
        return t
    }

    @Test func superResolutionExactCaseMatchesTheClosedForm() throws {
        let v = try Self.run("ch13-sr-gauss")
        let (Σ, P) = Self.gaussianCase()
        let (trΣ, trP, n) = (Self.trace(Σ), Self.trace(P), v["n"]!)
        #expect(Self.close(v["trace_prior"], trΣ, rel: 1e-12) && Self.close(v["trace_posterior"], trP, rel: 1e-8), "tr P \(v["trace_posterior"]!) vs \(trP)")
        #expect(Self.close(v["posterior_share"], trP / trΣ, rel: 1e-8))
        // Sampling noise of a total-variance estimate: √(2 tr(C²)/n) for covariance C (Gaussian data).
        let sdP = (2 * Self.traceOfSquare(P) / n).squareRoot(), sdΣ = (2 * Self.traceOfSquare(Σ) / n).squareRoot()
        #expect(Swift.abs(v["mse_regression"]! - trP) < 4 * sdP, "regression MSE \(v["mse_regression"]!) vs tr P \(trP)")
        #expect(Swift.abs(v["mse_sampled"]! - 2 * trP) < 8 * sdP, "posterior samples: MSE 2 tr P")
        #expect(Swift.abs(v["deficit_regression"]! - trP) < 4 * (sdP + 0.2 * sdΣ), "deficit \(v["deficit_regression"]!) vs \(trP)")
        #expect(Swift.abs(v["deficit_sampled"]!) < 4 * sdΣ && v["deficit_regression"]! > 0.8 * trP)
        #expect(Swift.abs(v["var_truth"]! - trΣ) < 4 * sdΣ)
        // The mean is right for both: the error is the sample mean's own, √(tr Σ/(n·d)) per pixel.
        let meanSD = (trΣ / (n * 64)).squareRoot()
        #expect(v["mean_error_truth"]! < 3 * meanSD && v["mean_error_regression"]! < 3 * meanSD && v["mean_error_sampled"]! < 3 * meanSD)
        // One y: the sampler reproduces P as well as exact draws do, and A x̂ = y.
        #expect(Swift.abs(v["fixed_trace_ratio"]! - 1) < 4 * sdP / trP, "trace ratio \(v["fixed_trace_ratio"]!)")
        #expect(Swift.abs(v["exact_trace_ratio"]! - 1) < 4 * sdP / trP)
        // The excess variance is discretisation error: it shrinks with the number of steps (same noise).
        let ladder = [10, 20, 40, 80, 160].map { v["trace_ratio_\($0)"]! - 1 }
        #expect(zip(ladder, ladder.dropFirst()).allSatisfy { Swift.abs($1) < Swift.abs($0) } && ladder[0] > 0.1 && Swift.abs(ladder[4]) < 0.01, "\(ladder)")
        #expect(v["fixed_frobenius"]! < 1.5 * v["fixed_frobenius_floor"]! && v["fixed_frobenius"]! < 0.15)
        #expect(v["fixed_consistency"]! < 1e-4 && v["consistency_sampled"]! < 1e-4)
    }

    @Test func consistencyProjectionFixesTheObservation() {
        // Whatever the denoiser returns, the projected output averages to y over every 2×2 block.
        let y = Tensor.randomNormal([2, 1, 4, 4], seed: 1)
        let arbitrary = ClosureDenoiser { x, _ in (x * 3).sin() }
        let d = Chapter13.blockAverageConsistent(arbitrary, observed: y).denoise(Tensor.randomNormal([2, 1, 8, 8], seed: 2), sigma: 0.7)
        #expect(zip(d.avgPool2d(kernel: 2).scalars, y.scalars).allSatisfy { Swift.abs($0 - $1) < 1e-5 })
    }

    @Test func superResolutionOfDigitsClaimsHold() throws {
        // The 16×16 digits are the 8×8 originals resampled bilinearly, so their 2×2 averages are a linear function
        // of 64 numbers that (the experiment shows) determine the image: factor 2 is nearly invertible.
        let (d8, d16) = (try Digits.load(size: 8).images, try Digits.load(size: 16).images)
        #expect(d16.shape == [1797, 1, 16, 16] && Chapter8.rms(d8.upsampleBilinear2d(scale: 2), d16) < 1e-5)
        let v = try Self.run("ch13-sr-digits")
        #expect(v["size"] == 16 && v["accuracy_truth"]! > 0.97)
        for f in [2, 4] {
            #expect(v["consistency_nearest_\(f)"]! < 1e-6 && v["detail_nearest_\(f)"]! < 1e-9 && v["consistency_sr_\(f)"]! < 1e-5)
            #expect(v["consistency_bilinear_\(f)"]! > 0.05, "bilinear interpolation does not reproduce the block averages")
        }
        #expect(v["rmse_sr_2"]! < 0.02 && v["accuracy_sr_2"]! > 0.97, "factor 2 is nearly invertible on these digits")
        #expect(v["accuracy_sr_4"]! > v["accuracy_nearest_4"]! + 0.2 && v["accuracy_sr_4"]! > v["accuracy_bilinear_4"]! + 0.5)
        #expect(v["accuracy_sr_second_4"]! > v["accuracy_nearest_4"]! + 0.2 && v["rmse_sr_4"]! < v["rmse_bilinear_4"]!)
        #expect(v["detail_sr_4"]! > 3 * v["detail_bilinear_4"]! && Swift.abs(v["detail_sr_4"]! - v["detail_truth_4"]!) < 0.3 * v["detail_truth_4"]!)
        #expect(v["rms_between_draws_4"]! > 0.1, "two draws for one y differ")
    }

    @Test func controlNetOnToyDataFollowsTheControl() throws {
        let v = try Self.run("ch13-controlnet")
        // Exercise: Z_c (2 → 64), the copied input layer (48 → 64) and blocks (64 → 64), three zero layers (64 → 64).
        let (w, e) = (64, 48)
        let controlIn: Int = 2 * w + w, copyInput: Int = e * w + w, square: Int = w * w + w
        let count: Int = controlIn + copyInput + 2 * square + 3 * square
        #expect(v["params_trainable"] == Double(count))
        #expect(v["init_max_difference"] == 0 && v["base_weight_change"] == 0 && v["loss_first"] == v["loss_first_base"])
        #expect(v["share_base"]! > 0.18 && v["share_base"]! < 0.27 && v["share_controlled"]! > 0.8)
        #expect((0..<4).allSatisfy { v["share_\($0)"]! > 0.6 })
        #expect(v["loss_last"]! < v["loss_first"]!)
    }
}
