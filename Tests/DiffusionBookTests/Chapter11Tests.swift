import Diffusion
import DiffusionData
import DiffusionEngine
import DiffusionLayers
import DiffusionModels
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 11 (book/ch11-video.md): every computed answer is recomputed here without the library's video code
/// (dense Gaussian elimination, a numerical spectral integral, the Denman–Beavers matrix square root, the closed
/// forms of the text), the claims the text makes about the figures hold for the numbers the library produced, the
/// chapter's listings run, it has the structure BOOK-STYLE.md asks for, and its page renders cleanly.
@Suite("Chapter 11: computed answers, claims about the figures, listings, structure, rendered page")
struct Chapter11Tests: ExperimentChecks {
    // MARK: Independent references (Double)

    static func toeplitz(_ f: Int, _ ρ: Double) -> [[Double]] {
        (0..<f).map { j in (0..<f).map { k in pow(ρ, Double(abs(j - k))) } }
    }

    /// A⁻¹ by Gauss–Jordan elimination with partial pivoting.
    static func inverse(_ A: [[Double]]) -> [[Double]] {
        let n = A.count
        var M = A.enumerated().map { i, row in row + (0..<n).map { $0 == i ? 1.0 : 0 } }
        for c in 0..<n {
            let p = (c..<n).max { abs(M[$0][c]) < abs(M[$1][c]) }!
            M.swapAt(c, p)
            let d = M[c][c]
            M[c] = M[c].map { $0 / d }
            for r in 0..<n where r != c {
                let f = M[r][c]
                if f != 0 { M[r] = zip(M[r], M[c]).map { $0 - f * $1 } }
            }
        }
        return M.map { Array($0[n...]) }
    }

    static func multiply(_ A: [[Double]], _ B: [[Double]]) -> [[Double]] {
        A.map { row in (0..<B[0].count).map { k in zip(row, B).reduce(0.0) { $0 + $1.0 * $1.1[k] } } }
    }

    /// tr(P)/f for P = Σ − Σ(Σ + σ²I)⁻¹Σ.
    static func jointMMSE(_ f: Int, _ ρ: Double, _ σ: Double) -> Double {
        let Σ = toeplitz(f, ρ)
        var M = Σ
        for i in 0..<f { M[i][i] += σ * σ }
        let G = multiply(multiply(Σ, inverse(M)), Σ)
        return (0..<f).reduce(0.0) { $0 + Σ[$1][$1] - G[$1][$1] } / Double(f)
    }

    /// (1/2π)∫ S σ²/(S + σ²) dω with the AR(1) spectrum, by the trapezoid rule on a periodic integrand.
    static func spectralMMSE(_ ρ: Double, _ σ: Double) -> Double {
        let N = 20_000
        var total = 0.0
        for i in 0..<N {
            let ω = -Double.pi + 2 * Double.pi * Double(i) / Double(N)
            let S = (1 - ρ * ρ) / (1 - 2 * ρ * cos(ω) + ρ * ρ)
            total += S * σ * σ / (S + σ * σ)
        }
        return total / Double(N)
    }

    /// tr Σ^½ by the Denman–Beavers iteration Y ← (Y + Z⁻¹)/2, Z ← (Z + Y⁻¹)/2 (Y → Σ^½).
    static func traceSqrt(_ Σ: [[Double]]) -> Double {
        var (Y, Z) = (Σ, Σ.indices.map { i in Σ.indices.map { $0 == i ? 1.0 : 0 } })
        for _ in 0..<60 {
            let (Yi, Zi) = (inverse(Y), inverse(Z))
            (Y, Z) = (zip(Y, Zi).map { zip($0, $1).map { ($0 + $1) / 2 } }, zip(Z, Yi).map { zip($0, $1).map { ($0 + $1) / 2 } })
        }
        return Y.indices.reduce(0.0) { $0 + Y[$1][$1] }
    }

    // MARK: §11.3 — exact errors, the stationary limit, samples, the clip-level Fréchet distance

    @Test func exactErrorsMatchADenseSolveAndASpectralIntegral() throws {
        let n = try Self.run("ch11-exact")
        let (f, ρ) = (16, 0.9)
        for (key, σ) in [("0p1", 0.1), ("0p3", 0.3), ("1", 1.0), ("3", 3.0)] {
            #expect(Self.close(n["mmse_joint_\(key)"], Self.jointMMSE(f, ρ, σ), rel: 1e-9), "σ = \(σ)")
            #expect(Self.close(n["mmse_frame_\(key)"], σ * σ / (1 + σ * σ), rel: 1e-12))
            #expect(Self.close(n["mmse_stationary_\(key)"], Self.spectralMMSE(ρ, σ), rel: 1e-6), "stationary limit at σ = \(σ)")
            // The finite clip is never better than the infinite one, never worse than frame by frame.
            #expect(n["mmse_stationary_\(key)"]! < n["mmse_joint_\(key)"]! && n["mmse_joint_\(key)"]! < n["mmse_frame_\(key)"]!)
        }
        // Exercise 11.5 by hand: 0.19/√0.76.
        #expect(Self.close(n["mmse_stationary_1"], 0.19 / 0.76.squareRoot(), rel: 1e-12))
        // The gain peaks at an intermediate σ (the text's explanation of the curve's shape).
        #expect(n["best_gain"]! > n["gain_0p1"]! && n["best_gain"]! > n["gain_3"]! && n["best_gain_sigma"]! > 0.1 && n["best_gain_sigma"]! < 3)
        // Monte Carlo (2000 clips × 16 frames) within 3 % of the exact errors.
        #expect(Self.close(n["mc_joint_1"], n["mmse_joint_1"]!, rel: 0.03) && Self.close(n["mc_frame_1"], n["mmse_frame_1"]!, rel: 0.03))
        // Samples: the joint denoiser keeps ρ, the frame-by-frame one gives independent frames; flicker ratio ≈ 1/(1 − ρ).
        #expect(Self.close(n["corr1_joint"], ρ, abs: 0.02) && Self.close(n["corr1_data"], ρ, abs: 0.02))
        #expect(abs(n["corr1_frame"]!) < 0.03)
        #expect(Self.close(n["diff_joint"], 0.2, rel: 0.08) && Self.close(n["diff_frame"], 2, rel: 0.05))
        #expect(Self.close(n["flicker_ratio"], 10, rel: 0.1))
        // Exercise 11.12: the clip-level Fréchet distance 2f − 2 tr Σ^½ (Denman–Beavers), the two-frame case by hand.
        let Σ = Self.toeplitz(f, ρ)
        let fd: Double = 2 * Double(f) - 2 * Self.traceSqrt(Σ)
        #expect(Self.close(n["fd_clip"], fd, rel: 1e-8))
        let twoFrames: Double = 4 - 2 * Self.traceSqrt(Self.toeplitz(2, ρ))
        let byHand: Double = 4 - 2 * (1.9.squareRoot() + 0.1.squareRoot())
        #expect(Self.close(twoFrames, byHand, rel: 1e-10))
        #expect(n["eigen_min"]! > 0 && n["eigen_max"]! < (1 + ρ) / (1 - ρ))       // inside the spectrum's range
    }

    // MARK: §11.6 — correlated noise priors

    @Test func noisePriorCorrelationsFollowTheDerivation() throws {
        let n = try Self.run("ch11-noise-prior")
        let ρ = 0.9
        for ℓ in [1, 2, 4, 8] {
            let target = pow(ρ, Double(ℓ))
            #expect(Self.close(n["corr\(ℓ)_frame_progressive"], target, abs: 0.03), "progressive noise, lag \(ℓ)")
            #expect(Self.close(n["corr\(ℓ)_joint_iid"], target, abs: 0.03), "joint denoiser, lag \(ℓ)")
            #expect(Self.close(n["corr\(ℓ)_frame_mixed"], ρ, abs: 0.03), "mixed noise is flat at a²/(1 + a²) = ρ, lag \(ℓ)")
            #expect(abs(n["corr\(ℓ)_frame_iid"]!) < 0.03 && abs(n["corr\(ℓ)_frame_progressive_sde"]!) < 0.03)
        }
        #expect(Self.close(n["mixed_a"], 3, rel: 1e-12))
        #expect(Self.close(n["sde_theory_lag1"], ρ / (2 + 6400), rel: 1e-12))
        // The ODE keeps the variance factor σ_max²/(s² + σ_max²) ≈ 1 (2000 clips × 16 frames).
        #expect(Self.close(n["var_frame_progressive"], 6400.0 / 6401, rel: 0.05))
    }

    // MARK: §11.5, §11.7 — conditioning in time, autoregressive extension, Diffusion Forcing

    @Test func conditionalSamplesMatchTheClosedForms() throws {
        let n = try Self.run("ch11-conditioning")
        let (ρ, m) = (0.9, 15.0)
        for k in [1, 4, 8, 14] {
            let i2v = (1 - pow(ρ, 2 * Double(k))).squareRoot()
            let near: Double = 1 - pow(ρ, 2 * Double(k)), far: Double = 1 - pow(ρ, 2 * (m - Double(k))), whole: Double = 1 - pow(ρ, 2 * m)
            let bridge = (near * far / whole).squareRoot()
            #expect(Self.close(n["i2v_theory_\(k)"], i2v, rel: 1e-9) && Self.close(n["interp_theory_\(k)"], bridge, rel: 1e-9))
            #expect(Self.close(n["i2v_std_\(k)"], i2v, rel: 0.07), "image-to-video frame \(k)")
            #expect(Self.close(n["interp_std_\(k)"], bridge, rel: 0.07), "interpolation frame \(k)")
        }
        #expect(Self.close(n["i2v_theory_last"], (1 - pow(ρ, 30)).squareRoot(), rel: 1e-9))
        let v = 1 - ρ * ρ
        for (key, σ) in [("0p5", 0.5), ("1", 1.0), ("1000", 1000.0)] {
            #expect(Self.close(n["df_var_\(key)"], v * σ * σ / (v + σ * σ), rel: 1e-9), "Diffusion Forcing σ = \(σ)")
        }
        #expect(Self.close(n["ar_boundary_corr"], ρ, abs: 0.04) && Self.close(n["ar_within_corr"], ρ, abs: 0.04))
        #expect(abs(n["indep_boundary_corr"]!) < 0.1)
        #expect(n["long_frames"] == 46)
        // Exercise 11.9 (b): the two-sided bridge with one observation at σ = 1.
        let p = (1 - ρ * ρ) / (1 + ρ * ρ)
        #expect(abs(p / (1 + p) - 0.095) < 0.001)
    }

    // MARK: §11.4 and §11.8 — the trained network and the attention costs

    @Test func networkExperimentTrainsAndTheCostsMatchTheFormulas() throws {
        let n = try Self.run("ch11-network")
        let (F, T, D) = (16.0, 1024.0, 64.0)
        #expect(Self.close(n["cost_joint"], 2 * F * T * F * T * D, rel: 1e-12))
        #expect(Self.close(n["cost_factorised"], 2 * F * T * D * (F + T), rel: 1e-12))
        #expect(Self.close(n["cost_ratio"], F * T / (F + T), rel: 1e-12))
        for mode in ["factorised", "spatial"] {
            #expect(n["loss_last_\(mode)"]! < 0.8 * n["loss_first_\(mode)"]!, "\(mode) loss decreases")
            #expect(n["heldout_\(mode)"]!.isFinite && n["heldout_\(mode)"]! < 1 && n["loss_first_\(mode)"]! < 2)
        }
        #expect(n["params_factorised"]! > n["params_spatial"]!)
        // §11.8: the frame-by-frame model's samples are uncorrelated in time, the factorised model's clearly are not.
        #expect(abs(n["corr1_spatial"]!) < 0.1 && n["corr1_factorised"]! > n["corr1_spatial"]! + 0.15)
        #expect(n["diff_factorised"]! < n["diff_spatial"]! && n["diff_ratio_factorised"]! > 1)
        #expect(Self.close(n["heldout_factorised"], n["heldout_spatial"]!, rel: 0.1))
    }

    // MARK: The chapter's listings

    @Test func theChaptersListingsRun() throws {
        // §11.1.1.
        let clips = MovingShapesDataset(seed: 0, size: 8, frames: 4).batch(offset: 0, count: 16).videos
        let net = withParameterSeed(0) { VideoDiT(VideoDiTConfig(frames: 4, imageSize: 8, channels: 3)) }
        let process = DiscreteVP.cosine()
        let model = try NetworkModel(net, process: process, output: .epsilon)
        var rng = RandomGenerator(seed: 1)
        let loss = DenoisingLoss(process: process, space: .epsilon)(model, clips, labels: nil, rng: &rng).mean()
        #expect(clips.shape == [16, 4, 3, 8, 8] && loss.item.isFinite)
        // Exercise 11.10 (fewer clips).
        let video = GaussianVideo(frames: 16, frameShape: [4], rho: 0.9)
        let sigmas = Schedule.karras(steps: 16)
        let start = NoiseSource(seed: 0).prior([300, 16, 4], sigma: sigmas[0])
        let joint = Sampling.dpmSolverPP2M(video, start, sigmas: sigmas)
        let frames = Sampling.dpmSolverPP2M(video.independentFrames, start, sigmas: sigmas)
        #expect(TemporalConsistency.correlation(joint) > 0.85 && abs(TemporalConsistency.correlation(frames)) < 0.06)
        // Exercise 11.13: one Diffusion Forcing step with per-frame levels.
        let (Fr, B) = (4, 4)
        let causal = withParameterSeed(0) { VideoDiT(VideoDiTConfig(frames: Fr, causal: true)) }
        let optimizer = Adam(causal.trainableParameters(), lr: 2e-3)
        let x0 = clips.indexSelect(axis: 0, indices: [0, 1, 2, 3])
        let t = rng.uniform([B * Fr]).scalars.map { Double($0) }
        let a = t.map { Float(process.alpha($0)) }, s = t.map { Float(process.sigma($0)) }
        let shape = [B, Fr, 1, 1, 1]
        let eps = rng.normal(x0.shape)
        let x = x0 * Tensor(a, shape: shape) + eps * Tensor(s, shape: shape)
        let out = causal(x, Tensor(t.map { Float(1000 * $0) }), labels: nil)
        let l = (out - eps).square().mean()
        applyUpdate(l, optimizer: optimizer, learningRate: 2e-3, gradClip: 1, ema: nil)
        #expect(out.shape == x0.shape && l.item.isFinite)
    }

    // MARK: Structure of the source and the rendered page

    static let style = ChapterStyle(number: "11", file: "ch11-video.md", experiments: Chapter11.experiments,
                                    programmingNames: ["GaussianVideo", "TemporalConsistency", "VideoDiT", "Sampling.", "Conv2d"])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws { try Self.style.checkSource() }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws { try Self.style.checkPage() }
}
