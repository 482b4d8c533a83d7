import Diffusion
import DiffusionEngine
import Foundation
import Testing
@testable import DiffusionBook

/// Appendix B (book/appendix-b-bsde.md): the least-squares Monte Carlo solver against closed forms, the mixture's
/// log-density derivatives against the library's score and finite differences, every number the text quotes
/// recomputed by independent Double code or checked against the closed form it claims, the appendix's structure
/// and its rendered page.
@Suite("Appendix B: BSDE solver, computed answers, structure, rendered page")
struct AppendixBTests: ExperimentChecks {
    static func within(_ estimate: Double?, _ truth: Double, se: Double?, k: Double = 4) -> Bool {
        guard let estimate, let se else { return false }
        return Swift.abs(estimate - truth) <= k * se
    }

    /// Brownian increments [step][path] from the same Philox stream the experiments use, summed independently.
    static func increments(paths M: Int, steps N: Int, T: Double, seed: UInt64, stream: UInt64) -> [[Double]] {
        let z = Tensor.randomNormal([N * M], seed: seed, stream: stream).scalars.map(Double.init)
        return (0..<N).map { k in (0..<M).map { (T / Double(N)).squareRoot() * z[k * M + $0] } }
    }

    // MARK: The library pieces

    @Test func logDensityDerivativesMatchTheLibraryAndFiniteDifferences() {
        let m = GaussianMixture.example1D
        for (α, σ) in [(1.0, 0.0), (1.0, 0.7), (0.6, 0.8)] {
            for x in [-2.0, -1.1, 0.3, 0.5, 1.7, 3.0] {
                let d = AppendixB.logDensityDerivatives(m, at: x, alpha: α, sigma: σ)
                if σ > 0 {
                    let lvl = NoiseLevel(alpha: α, sigma: σ)
                    let s = Double(m.score(Tensor([Float(x)], shape: [1, 1]), at: lvl).scalars[0])
                    #expect(Swift.abs(d.score - s) < 1e-4 * Swift.max(1, Swift.abs(s)))
                    #expect(Swift.abs(d.logp - m.logDensity(Tensor([Float(x)], shape: [1, 1]), at: lvl)[0]) < 1e-5)
                }
                let e = 1e-4
                let fd1 = (AppendixB.logDensityDerivatives(m, at: x + e, alpha: α, sigma: σ).logp - AppendixB.logDensityDerivatives(m, at: x - e, alpha: α, sigma: σ).logp) / (2 * e)
                let fd2 = (AppendixB.logDensityDerivatives(m, at: x + e, alpha: α, sigma: σ).score - AppendixB.logDensityDerivatives(m, at: x - e, alpha: α, sigma: σ).score) / (2 * e)
                #expect(Swift.abs(d.score - fd1) < 1e-5 * Swift.max(1, Swift.abs(d.score)))
                #expect(Swift.abs(d.curvature - fd2) < 1e-4 * Swift.max(1, Swift.abs(d.curvature)))
            }
        }
    }

    @Test func closedFormsSolveTheirPDEs() {
        // ∂ₜu + ½∂ₓ²u + a u + b ∂ₓu = 0 and ∂ₜu + ½∂ₓ²u + ½(∂ₓu)² = 0, by central differences.
        let (a, b, c, T, e) = (0.7, -0.4, 0.3, 1.0, 1e-4)
        for (t, x) in [(0.1, -0.8), (0.5, 0.3), (0.9, 1.4)] {
            let u = { (t: Double, x: Double) in AppendixB.linearSolution(t: t, x: x, a: a, b: b, T: T).u }
            let ut = (u(t + e, x) - u(t - e, x)) / (2 * e), ux = (u(t, x + e) - u(t, x - e)) / (2 * e)
            let uxx = (u(t, x + e) - 2 * u(t, x) + u(t, x - e)) / (e * e)
            #expect(Swift.abs(ut + 0.5 * uxx + a * u(t, x) + b * ux) < 1e-4)
            #expect(Swift.abs(ux - AppendixB.linearSolution(t: t, x: x, a: a, b: b, T: T).ux) < 1e-6)
            let q = { (t: Double, x: Double) in AppendixB.quadraticSolution(t: t, x: x, c: c, T: T).u }
            let qt = (q(t + e, x) - q(t - e, x)) / (2 * e), qx = (q(t, x + e) - q(t, x - e)) / (2 * e)
            let qxx = (q(t, x + e) - 2 * q(t, x) + q(t, x - e)) / (e * e)
            #expect(Swift.abs(qt + 0.5 * qxx + 0.5 * qx * qx) < 1e-4)
        }
        #expect(AppendixB.linearSolution(t: 1, x: 1.3, a: a, b: b, T: 1).u == 1.3 * 1.3)
    }

    @Test func leastSquaresBSDEIsExactForAMartingaleWithAnExactBasis() {
        // F = 0, ξ = W_T²: with basis 1, x, x² each regression is exact in expectation; the scheme's Y₀ is the
        // sample mean of ξ up to regression noise, and Z_k(x) ≈ 2x at every step.
        let (M, N, T) = (4000, 8, 1.0)
        let dW = Self.increments(paths: M, steps: N, T: T, seed: 11, stream: 0)
        var w = [[Double]](repeating: [Double](repeating: 0, count: M), count: N + 1)
        for k in 0..<N { for i in 0..<M { w[k + 1][i] = w[k][i] + dW[k][i] } }
        let sol = AppendixB.leastSquaresBSDE(x: w, dW: dW, h: T / Double(N), basis: .polynomial(degree: 2), terminal: { $0 * $0 }) { _, _, _, _ in 0 }
        let xi = w[N].map { $0 * $0 }
        let mean = xi.reduce(0, +) / Double(M)
        let se = (xi.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(M - 1) / Double(M)).squareRoot()
        #expect(Swift.abs(sol.y0 - 1) < 4 * se)
        for k in [N / 2, N - 1] {
            #expect(Swift.abs(sol.zCoefficients[k][1] - 2) < 0.15, "slope of Z_\(k): \(sol.zCoefficients[k])")
            #expect(Swift.abs(sol.zCoefficients[k][2]) < 0.15)
        }
        // At t = 0 every path sits at x = 0: only the value Z_0(0) = 0 is determined.
        #expect(Swift.abs(sol.z[0][0]) < 0.1)
        // Hat functions reproduce any piecewise-linear function of their nodes exactly (partition of unity).
        let hats = AppendixB.RegressionBasis.hats(lo: -2, hi: 2, nodes: 5)
        #expect(hats.value([0, 1, 4, 9, 16], at: 0.5) == 6.5)   // halfway between the nodes 0 (value 4) and 1 (value 9)
        for x in [-3.0, -1.5, 0.2, 1.99, 5.0] {
            let row = hats.evaluate(x)
            #expect(Swift.abs(row.reduce(0) { $0 + $1.1 } - 1) < 1e-12)
            #expect(row.allSatisfy { $0.1 >= 0 })
        }
    }

    // MARK: Figure numbers

    @Test func lsmcNumbersMatchClosedFormsAndAnIndependentMonteCarlo() throws {
        let n = try Self.run("appb-lsmc")
        let (a, b, c) = (1.0, 1.0, 0.25)
        #expect(Self.close(n["y0_exact"], exp(a) * (b * b + 1)) && Self.close(n["q_y0_exact"], -0.5 * log(1 - 2 * c)))
        // The Girsanov-weighted plain Monte Carlo, recomputed from the same draws.
        let dW = Self.increments(paths: 10000, steps: 32, T: 1, seed: 0, stream: 1)
        let payoff = (0..<10000).map { i -> Double in let w = dW.reduce(0) { $0 + $1[i] }; return exp(a + b * w - 0.5 * b * b) * w * w }
        let mean = payoff.reduce(0, +) / 10000
        let se = (payoff.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 9999 / 10000).squareRoot()
        #expect(Self.close(n["mc_mean"], mean, rel: 1e-9) && Self.close(n["mc_floor"], se, rel: 1e-9))
        #expect(Self.within(n["mc_mean"], exp(a) * 2, se: se))
        // The caption's claims: Y₀ converges like 1/N on coarse grids, then sits within the Monte Carlo floor.
        #expect((-1.2 ... -0.6).contains(n["y_slope"]!), "y slope \(n["y_slope"]!)")
        #expect((1.6 ... 2.4).contains(n["y_ratio_last"]!))
        #expect(Self.close(n["y_err_last"], Swift.abs(n["y0_32"]! - n["y0_exact"]!), rel: 1e-12))
        #expect(Swift.abs(n["y0_2"]! - n["y0_exact"]!) > 5 * Swift.abs(n["y0_32"]! - n["y0_exact"]!))
        #expect(Swift.abs(n["y0_32"]! - n["y0_exact"]!) < 3 * se)
        #expect(n["z_rms_32"]! < n["z_rms_2"]! / 4)
        #expect(Swift.abs(n["q_y0_32"]! - n["q_y0_exact"]!) < 0.02)
    }

    @Test func logDensityNumbersAgreeWithQuadratureAndItosFormula() throws {
        let n = try Self.run("appb-logdensity")
        let m = GaussianMixture.example1D
        #expect((-0.75 ... -0.4).contains(n["ito_slope"]!), "slope \(n["ito_slope"]!)")
        #expect(n["chain_rms_512"]! > 5 * n["ito_rms_512"]!)
        // E[ℓ″ + ½ℓ′²] = −½ J(p_t) (integration by parts), both by quadrature.
        #expect(Self.close(n["drift_mean_half"], -0.5 * n["fisher_half"]!, rel: 1e-6))
        #expect(Self.close(n["fisher_half"], m.fisherInformation(at: NoiseLevel(alpha: 1, sigma: 0.5.squareRoot())), rel: 1e-12))
        #expect(Self.close(n["neg_entropy_0"], -m.entropy, rel: 1e-12))
        for j in 0..<4 { #expect(Self.within(n["mean_logp_\(j)"], n["neg_entropy_\(j)"]!, se: n["mean_logp_se_\(j)"]), "time index \(j)") }
        // The chain rule misses the Itô term ½∫ℓ″ dt, whose mean is −½∫₀¹ J(p_t) dt (Simpson on quadrature values).
        var simpson = 0.0
        for i in 0...100 {
            let t = Double(i) / 100
            let J = m.fisherInformation(at: NoiseLevel(alpha: 1, sigma: t.squareRoot()))
            let w: Double = (i == 0 || i == 100) ? 1 : (i % 2 == 1 ? 4 : 2)
            simpson += w * J
        }
        simpson /= 300
        #expect(Swift.abs(n["chain_mean_512"]! / (-0.5 * simpson) - 1) < 0.1, "\(n["chain_mean_512"]!) against \(-0.5 * simpson)")
    }

    @Test func scoreBSDERecoversTheScore() throws {
        let n = try Self.run("appb-score")
        #expect(n["z_relerr_mid"]! < 0.12 && n["z_relerr_median"]! < 0.1, "Z errors \(n["z_relerr_mid"]!) \(n["z_relerr_median"]!)")
        #expect(n["z_relerr_end"]! > n["z_relerr_mid"]!, "the caption says the error grows near the data")
        #expect(n["d_relerr_median"]! < 0.15 && n["d_relerr_mid"]! < 0.15)
    }

    // MARK: Numbers of the exercises

    @Test func exerciseNumbersMatchTheirClosedForms() throws {
        let n = try Self.run("appb-numbers")
        let M = 5000
        let fine = Self.increments(paths: M, steps: 64, T: 1, seed: 0, stream: 5)
        for N in [4, 8, 16] {
            #expect(Self.close(n["shoot_floor_\(N)"], 2 / Double(N)))
            // The fitted loss is the in-sample minimum, so it cannot exceed the loss at the theoretical optimum
            // (θ₀ = 1, Z_k = 2x), which is the sample mean of (Σ(ΔW)² − 1)² — computed here independently.
            let f = 64 / N
            var atOptimum = 0.0
            for i in 0..<M {
                var r = 0.0
                for k in 0..<N { var d = 0.0; for j in 0..<f { d += fine[k * f + j][i] }; r += d * d - 1 / Double(N) }
                atOptimum += r * r
            }
            atOptimum /= Double(M)
            #expect(n["shoot_loss_\(N)"]! <= atOptimum * (1 + 1e-9))
            #expect(Swift.abs(atOptimum / (2 / Double(N)) - 1) < 0.1 && n["shoot_loss_\(N)"]! > 0.8 * 2 / Double(N))
            #expect(Swift.abs(n["shoot_y0_\(N)"]! - 1) < 0.05)
        }
        #expect(Swift.abs(n["shoot_slope_mid_16"]! - 2) < 0.1)
        #expect(Self.close(n["call_exact"], exp(-0.5) / (2 * Double.pi).squareRoot()))
        #expect(Swift.abs(n["call_y0"]! - n["call_exact"]!) < 0.03)
        #expect(n["z_rms_plain"]! > 3 * n["z_rms_centred"]!)
        #expect(Self.close(n["y0_exact"], 2 * exp(1.0)))
    }

    // MARK: Structure of the source

    static let style = ChapterStyle(number: "B", file: "appendix-b-bsde.md", experiments: AppendixB.experiments,
                                    programmingNames: ["AppendixB."], summary: "## 本附录小结", arxivLeads: 6)

    @Test func appendixHasTheStructureTheStyleGuideAsksFor() throws {
        let text = try Self.style.checkAppendixSource()
        // Appendix A and chapter 5 are referred to, not repeated.
        for label in ["@thm:appa-projection", "@thm:appa-girsanov", "@thm:appa-kolmogorov", "@thm:sde-fp", "@thm:sde-reverse"] {
            #expect(text.contains(label), "no reference to \(label)")
        }
    }

    @Test func renderedAppendixPageIsComplete() throws {
        try Self.style.checkPage()
    }
}
