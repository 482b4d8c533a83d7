import Diffusion
import DiffusionEngine
import Foundation
import Testing
@testable import DiffusionBook

/// Appendix C (book/appendix-c-geometry.md): the quadrature, the heat-flow KL and the Fokker–Planck grid solver
/// against Gaussian closed forms, natural gradient against its Newton form, every number the text quotes checked
/// against an independent computation or the identity it illustrates, the appendix's structure and its page.
@Suite("Appendix C: closed forms, identities behind the figures, structure, rendered page")
struct AppendixCTests: ExperimentChecks {
    static func gauss(_ v: Double) -> GaussianMixture { GaussianMixture(weights: [1], means: [[0]], std: [v.squareRoot()]) }

    // MARK: The library pieces against closed forms

    @Test func heatFlowKLMatchesGaussianClosedForms() {
        // p₀ = N(0, a), q₀ = N(0, b): KL(p_t‖q_t) = ½(α/β − 1 − log(α/β)), I = (α − β)²/(αβ²), α = a + t, β = b + t.
        let (a, b) = (0.3, 1.7)
        for t in [0.0, 0.4, 2.0] {
            let r = AppendixC.heatFlowKL(Self.gauss(a), Self.gauss(b), t: t)
            let (α, β) = (a + t, b + t)
            #expect(Self.close(r.kl, 0.5 * (α / β - 1 - log(α / β)), rel: 1e-8))
            #expect(Self.close(r.relativeFisher, (α - β) * (α - β) / (α * β * β), rel: 1e-8))
        }
        #expect(Self.close(AppendixC.integrate(lo: -10, hi: 10) { exp(-$0 * $0 / 2) / (2 * Double.pi).squareRoot() }, 1, rel: 1e-12))
    }

    @Test func naturalGradientIsNewtonsSquareRoot() {
        let (m, V) = (-0.2, 2.0)
        let path = AppendixC.fitGaussian(mean: m, variance: V, start: (2.5, 0.5), rate: 1, natural: true, steps: 12)
        #expect(Swift.abs(path[1].mu - m) < 1e-15)
        // After the first step, s ← (s + V/s)/2: Newton's iteration for √V, quadratically convergent.
        for k in 1..<12 { #expect(Self.close(path[k + 1].s, 0.5 * (path[k].s + V / path[k].s), rel: 1e-14)) }
        #expect(Swift.abs(path[12].s - V.squareRoot()) < 1e-12 && path[12].excess < 1e-14)
    }

    @Test func fokkerPlanckGridKeepsTheTargetAndMatchesTheOUClosedForm() {
        let (lo, dx) = (-6.0, 0.05)
        let xs = (0...240).map { lo + Double($0) * dx }
        func normal(_ x: Double, _ m: Double, _ v: Double) -> Double { exp(-(x - m) * (x - m) / (2 * v)) / (2 * Double.pi * v).squareRoot() }
        let p = xs.map { normal($0, 0, 1) }
        let still = AppendixC.fokkerPlanckGrid(target: p, initial: p, dx: dx, dt: 2e-4, snapshots: [500])[0]
        #expect(zip(still, p).allSatisfy { Swift.abs($0 - $1) < 1e-14 })
        // OU from N(2, 0.25) to t = 0.5: ρ_t = N(2e^{−t}, 1 − 0.75e^{−2t}); KL to N(0, 1) against the grid's.
        let rho0 = xs.map { normal($0, 2, 0.25) }
        let r = AppendixC.fokkerPlanckGrid(target: p, initial: rho0, dx: dx, dt: 2e-4, snapshots: [2500])[0]
        var mass = 0.0, kl = 0.0
        for i in xs.indices { mass += r[i] * dx; if r[i] > 1e-300 { kl += r[i] * log(r[i] / p[i]) * dx } }
        let (mt, vt) = (2 * exp(-0.5), 1 - 0.75 * exp(-1.0))
        #expect(Swift.abs(mass - 1) < 1e-9)
        #expect(Swift.abs(kl - 0.5 * (vt + mt * mt - 1 - log(vt))) < 5e-3)
    }

    // MARK: Figure numbers

    @Test func fisherNumbersMatchQuadratureAndClosedForms() throws {
        let n = try Self.run("appc-fisher")
        let m = GaussianMixture.example1D
        #expect(Self.close(n["fisher_location"], m.fisherInformation(at: NoiseLevel(alpha: 1, sigma: 0)), rel: 1e-6))
        #expect(Self.close(n["data_var"], m.totalVariance, rel: 1e-12))
        // Gaussian family: KL(N(0,1) ‖ N(εd₀, e^{2εd₁})) against ½ε²(d₀² + 2d₁²) to third order.
        let dirs: [(Double, Double)] = [(1, 0), (0, 1), (0.7071067811865476, 0.7071067811865476)]
        for (k, d) in dirs.enumerated() {
            let s2 = exp(0.2 * d.1)
            let kl = 0.5 * log(s2) + (1 + 0.01 * d.0 * d.0) / (2 * s2) - 0.5
            #expect(Self.close(n["gauss_kl_dir\(k)"], kl, rel: 1e-12))
            #expect(Swift.abs(n["gauss_kl_dir\(k)"]! / n["gauss_quad_dir\(k)"]! - 1) < 0.15)
        }
        // The third-order term of the location family: ratio − 1 ≈ E[s³] δ / (6J) at δ = 0.1.
        let predicted = n["score_third_moment"]! * 0.1 / (6 * n["fisher_location"]!)
        #expect(Swift.abs((n["ratio_location_01"]! - 1) - predicted) < 0.3 * Swift.abs(predicted) + 2e-3)
        #expect((0.5 ... 1.3).contains(n["ratio_error_slope"]!))
        #expect(n["natural_steps_to_1e10"]! >= 1 && n["natural_steps_to_1e10"]! <= 10)
        #expect(n["plain_final"]! > 1e3 * 1e-10 && n["natural_after_3"]! < n["plain_final"]!)
    }

    @Test func deBruijnIdentitiesHoldOnTheGrid() throws {
        let n = try Self.run("appc-debruijn")
        let m = GaussianMixture.example1D
        #expect(n["kl_identity_max_rel"]! < 1e-3 && n["h_identity_max_rel"]! < 1e-3)
        #expect(Self.close(n["h_0"], m.entropy, rel: 1e-6))
        #expect(Swift.abs((n["kl_0"]! - n["kl_T"]!) / n["int_half_fisher_div"]! - 1) < 5e-3)
        #expect(Swift.abs((n["h_T"]! - n["h_0"]!) / n["int_half_fisher"]! - 1) < 5e-3)
    }

    @Test func langevinDissipationAndParticlesAgree() throws {
        let n = try Self.run("appc-langevin")
        #expect(n["dissipation_max_rel"]! < 0.05)
        #expect(Swift.abs(n["mass_final"]! - 1) < 1e-9)
        #expect(n["kl_final"]! < n["kl_third"]! && n["kl_third"]! < n["kl_0"]!)
        #expect(n["particle_tv"]! < 0.1)
        #expect(Swift.abs(n["particle_mean"]! - n["grid_mean_final"]!) < 0.15)
    }

    @Test func transportCarriesTheEntropyChange() throws {
        let n = try Self.run("appc-transport")
        let m = GaussianMixture.example1D
        #expect(n["pathwise_max_resid"]! < 1e-4)
        #expect(Swift.abs(n["mean_logj"]! - n["dh_quadrature"]!) < 4 * n["mean_logj_se"]!)
        #expect(Self.close(n["h_0"], m.entropy, rel: 1e-12))
        #expect(Swift.abs(n["dh_quadrature"]! / n["half_int_fisher"]! - 1) < 2e-3)
        #expect(n["pushforward_tv"]! < 0.08)
    }

    // MARK: Structure of the source

    static let style = ChapterStyle(number: "C", file: "appendix-c-geometry.md", experiments: AppendixC.experiments,
                                    programmingNames: ["AppendixC."], summary: "## 本附录小结", arxivLeads: 6)

    @Test func appendixHasTheStructureTheStyleGuideAsksFor() throws {
        let text = try Self.style.checkAppendixSource()
        for label in ["@thm:sde-fp", "@thm:sde-pf", "@sec:langevin", "@sec:ot", "@sec:appb-sb"] { #expect(text.contains(label), "no reference to \(label)") }
    }

    @Test func renderedAppendixPageIsComplete() throws {
        try Self.style.checkPage()
    }
}
