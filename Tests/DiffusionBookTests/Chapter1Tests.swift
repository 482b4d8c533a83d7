import Diffusion
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 1 (book/ch01-introduction.md): every computed answer is recomputed here independently of the
/// experiment code, the chapter has the structure BOOK-STYLE.md asks for, and its page renders cleanly.
@Suite("Chapter 1: computed answers, structure, rendered page")
struct Chapter1Tests: ExperimentChecks {
    static let source = Fixtures.realBook.appendingPathComponent("ch01-introduction.md")

    // MARK: Independent reference values (plain Double loops, no library code)

    /// ᾱ_1 … ᾱ_T of the linear schedule β_t = β₁ + (β_T − β₁)(t − 1)/(T − 1).
    static func linearAlphaBars(T: Int = 1000, b1: Double = 1e-4, bT: Double = 0.02) -> [Double] {
        var p = 1.0
        return (1...T).map { t in p *= 1 - (b1 + (bT - b1) * Double(t - 1) / Double(T - 1)); return p }
    }

    /// ᾱ_1 … ᾱ_T of the cosine schedule (Nichol & Dhariwal 2021) with β clipped at 0.999.
    static func cosineAlphaBars(T: Int = 1000, s: Double = 0.008) -> [Double] {
        func f(_ u: Double) -> Double { let c = cos((u + s) / (1 + s) * Double.pi / 2); return c * c }
        var p = 1.0
        return (1...T).map { t in p *= 1 - min(0.999, 1 - f(Double(t) / Double(T)) / f(Double(t - 1) / Double(T))); return p }
    }

    static func lambda(_ ab: Double) -> Double { log(ab) - log1p(-ab) }

    /// p_t of the 1-D example mixture (weights 0.5, 0.3, 0.2; means −1.5, 0.5, 2; stds 0.3, 0.2, 0.4), written out.
    static func mixtureDensity(_ x: Double, alphaBar ab: Double) -> Double {
        let (w, mu, s) = ([0.5, 0.3, 0.2], [-1.5, 0.5, 2.0], [0.3, 0.2, 0.4])
        var total = 0.0
        for k in 0..<3 {
            let v = ab * s[k] * s[k] + (1 - ab)
            let r = x - ab.squareRoot() * mu[k]
            total += w[k] * exp(-r * r / (2 * v)) / (2 * Double.pi * v).squareRoot()
        }
        return total
    }

    static func localMaxima(_ y: [Double]) -> Int {
        var n = 0
        for i in 1..<(y.count - 1) where y[i] > y[i - 1] && y[i] > y[i + 1] { n += 1 }
        return n
    }

    // MARK: Computed answers

    @Test func scheduleNumbersMatchAnIndependentComputation() throws {
        let n = try Self.run("ch1-schedules")
        let (lin, cos) = (Self.linearAlphaBars(), Self.cosineAlphaBars())
        for (name, ab) in [("linear", lin), ("cosine", cos)] {
            let abT = ab[999]
            #expect(Self.close(n["alphabar_T_\(name)"], abT), "ᾱ_T \(name)")
            #expect(Self.close(n["logsnr_T_\(name)"], Self.lambda(abT), rel: 1e-10), "λ_T \(name)")
            #expect(Self.close(n["logsnr_1_\(name)"], Self.lambda(ab[0]), rel: 1e-10), "λ_1 \(name)")
            #expect(n["t_zero_\(name)"] == Double(ab.firstIndex { $0 < 0.5 }! + 1), "first λ < 0 \(name)")
            #expect(n["near_noise_\(name)"] == Double(ab.filter { $0 < 1e-3 }.count), "ᾱ < 1e-3 \(name)")
            for d in [3072.0, 196_608.0] {
                #expect(Self.close(n["kl_\(Int(d))_\(name)"], -d / 2 * log1p(-abT), rel: 1e-12), "KL d=\(d) \(name)")
            }
        }
        // Exercise 1.3: Σβ = T(β₁ + β_T)/2 and the two bounds bracket ᾱ_T.
        #expect(Self.close(n["sum_beta_linear"], 1000 * (1e-4 + 0.02) / 2, rel: 1e-12))
        let (lo, hi) = (try #require(n["lower_T_linear"]), try #require(n["upper_T_linear"]))
        #expect(lo < lin[999] && lin[999] < hi)
        #expect(Self.close(hi, exp(-10.05), rel: 1e-12))
        #expect(Self.close(n["upper_rel_gap_linear"], exp(-10.05) / lin[999] - 1, rel: 1e-9))
        // Exercise 1.5: the cosine schedule clips only its last β (f(1) = 0).
        #expect(n["clipped_cosine"] == 1)
        #expect(n["t_zero_linear"]! < n["t_zero_cosine"]! && n["near_noise_linear"]! > 5 * n["near_noise_cosine"]!)
        // Exercise 1.10: the midpoint slope of λ(τ) agrees with −2π/(1 + s) to a few parts in a thousand.
        #expect(Self.close(n["slope_mid_cosine_formula"], -2 * Double.pi / 1.008))
        #expect(Self.close(n["slope_mid_cosine"], -2 * Double.pi / 1.008, rel: 5e-3))
        #expect(Self.close(n["one_minus_f0_cosine"], pow(sin(0.008 / 1.008 * Double.pi / 2), 2), rel: 1e-9))
        // Exercise 1.6 (c) and 1.13.
        let budget = 1 - exp(-0.02 / 196_608)
        #expect(Self.close(n["kl_budget_alphabar"], budget, rel: 1e-9))
        #expect(Self.close(n["kl_budget_ratio_linear"], lin[999] / budget, rel: 1e-9))
        #expect(n["alphabar_T_cosine"]! < budget && n["alphabar_T_linear"]! > budget)
        #expect(Self.close(n["alpha_T_linear"], lin[999].squareRoot()))
        #expect(Self.close(n["w2_bound_3072_linear"], lin[999].squareRoot() * 6144.0.squareRoot(), rel: 1e-12))
        // Exercise 1.14: λ linear from 10 to −20; β₂ and β_T against their asymptotic forms.
        let delta = 30.0 / 1000
        func sig(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        #expect(Self.close(n["loglinear_delta"], delta))
        #expect(Self.close(n["loglinear_beta_1"], sig(-(10 - delta)), rel: 1e-9))
        #expect(Self.close(n["loglinear_beta_2"], exp(-(10 - delta)) * (exp(delta) - 1), rel: 1e-3))
        #expect(Self.close(n["loglinear_beta_T"], 1 - exp(-delta), rel: 1e-6))
    }

    @Test func theLibraryAgreesWithTheChaptersFormulas() throws {
        // What the listings and the text promise about DiscreteVP.
        let lin = DiscreteVP.linear(), cos = DiscreteVP.cosine()
        let (refL, refC) = (Self.linearAlphaBars(), Self.cosineAlphaBars())
        for t in [1, 2, 300, 500, 999, 1000] {
            #expect(Self.close(lin.alphasCumprod[t - 1], refL[t - 1], rel: 1e-13))
            #expect(Self.close(cos.alphasCumprod[t - 1], refC[t - 1], rel: 1e-12))
            // `process.level(t / T)` is the level of step t (up to rounding).
            let a = lin.level(Double(t) / Double(lin.T))
            #expect(Self.close(a.alpha, refL[t - 1].squareRoot(), rel: 1e-12))
            #expect(Self.close(a.logSNR, Self.lambda(refL[t - 1]), rel: 1e-9, abs: 1e-9))
        }
        // Telescoping: before the clipped last step the cosine table is exactly f(t/T)/f(0) (exercise 1.10).
        func f(_ u: Double) -> Double { let c = Foundation.cos((u + 0.008) / 1.008 * Double.pi / 2); return c * c }
        #expect(Self.close(cos.alphasCumprod[499], f(0.5) / f(0), rel: 1e-12))
        // Exercise 1.2 / equation (1.11): sigmoid(λ) = ᾱ.
        let lv = NoiseLevel(alpha: refL[299].squareRoot(), sigma: (1 - refL[299]).squareRoot())
        #expect(Self.close(1 / (1 + exp(-lv.logSNR)), refL[299], rel: 1e-12))
        // The σ = e^{−λ/2} coordinate of equation (1.12).
        #expect(Self.close(lv.edmSigma, exp(-lv.logSNR / 2), rel: 1e-12))
    }

    @Test func unimodalStepMatchesADirectDensityScan() throws {
        let n = try Self.run("ch1-marginals")
        let ab = Self.linearAlphaBars()
        let grid = (0...2400).map { -6 + 12 * Double($0) / 2400 }
        var last = -1
        var modesAt0 = 0
        for t in 0...1000 {
            let a = t == 0 ? 1 : ab[t - 1]
            let m = Self.localMaxima(grid.map { Self.mixtureDensity($0, alphaBar: a) })
            if t == 0 { modesAt0 = m }
            if m > 1 { last = t }
        }
        #expect(n["t_unimodal"] == Double(last + 1))
        #expect(n["modes_data"] == Double(modesAt0) && modesAt0 == 3)
        #expect(Self.close(n["alphabar_unimodal"], ab[last], rel: 1e-12))
        #expect(Self.close(n["edm_sigma_unimodal"], ((1 - ab[last]) / ab[last]).squareRoot(), rel: 1e-12))
        #expect(n["modes_1000"] == 1 && n["modes_0"] == 3)
    }

    @Test func theOtherExperimentsGiveTheNumbersTheTextDescribes() throws {
        let dim = try Self.run("ch1-dimension")
        #expect(Self.close(dim["mean"], 1, abs: 2e-3), "‖ε‖/√d concentrates at 1")
        #expect(Self.close(dim["std"], 1 / 6144.0.squareRoot(), rel: 0.1))
        #expect(dim["min"]! > 0.9 && dim["max"]! < 1.1)

        let den = try Self.run("ch1-denoiser")
        #expect(Self.close(den["data_mean"], -0.2, rel: 1e-12))
        #expect(den["spread_1000"]! < 0.15 && den["spread_10"]! > 5)
        #expect(Self.close(den["at0_1000"], -0.2, abs: 0.05))

        let fwd = try Self.run("ch1-forward-2d")
        let ab = Self.linearAlphaBars()
        #expect(Self.close(fwd["alphabar_linear_300"], ab[299]))
        #expect(Self.close(fwd["alphabar_cosine_300"], Self.cosineAlphaBars()[299]))

        // Exact denoiser + 1000 DDPM steps: samples statistically indistinguishable from the data; 10 steps are worse.
        let rev = try Self.run("ch1-reverse")
        #expect(rev["calls"] == 1000)
        #expect(rev["ed"]! < 3 * rev["ed_floor"]!, "ED \(rev["ed"]!) vs floor \(rev["ed_floor"]!)")
        #expect(rev["ed_prior"]! > 50 * rev["ed"]!)
        let rev10 = try Self.run("ch1-reverse", ["steps": "10"])
        #expect(rev10["ed"]! > rev["ed"]!)
    }

    @Test func theChaptersListingsRun() throws {
        // §1.3.5: one-step forward sampling.
        let process = DiscreteVP.linear()
        let t = 300
        let abar = process.alphasCumprod[t - 1]
        let level = NoiseLevel(alpha: abar.squareRoot(), sigma: (1 - abar).squareRoot())
        #expect(Self.close(level.logSNR, Self.lambda(abar), rel: 1e-12))
        let x0 = GaussianMixture.example2D.sample(2000, seed: 0)
        let eps = Tensor.randomNormal(x0.shape, seed: 1)
        let xt = x0 * Float(level.alpha) + eps * Float(level.sigma)
        #expect(xt.shape == [2000, 2])

        // Exercise 1.9: moments of x_T for 20000 samples.
        let big = GaussianMixture.example2D.sample(20000, seed: 0)
        let abT = process.alphasCumprod[999]
        let xT = big * Float(abT.squareRoot()) + Tensor.randomNormal(big.shape, seed: 1) * Float((1 - abT).squareRoot())
        #expect(xT.mean(axis: 0).scalars.allSatisfy { Swift.abs($0) < 0.03 })
        let centred = xT - xT.mean(axis: 0, keepDims: true)
        #expect((centred * centred).mean(axis: 0).scalars.allSatisfy { Swift.abs($0 - 1) < 0.05 })
        let c = centred.scalars
        let cov01 = stride(from: 0, to: c.count, by: 2).map { Double(c[$0]) * Double(c[$0 + 1]) }.reduce(0, +) / 20000
        #expect(Swift.abs(cov01) < 0.03)

        // §1.6.2 and exercise 1.12: the exact reverse process (fewer samples here).
        let data = GaussianMixture.example2D
        let sigmas = Schedule.discrete(steps: 100, process: DiscreteVP.linear(), spacing: .trailing)
        let noise = NoiseSource(seed: 0)
        let start = noise.prior([300, 2], sigma: sigmas[0])
        let samples = Sampling.ddpm(data, start, sigmas: sigmas, noise: noise)
        #expect(samples.shape == [300, 2])
        #expect(Metrics.energyDistance(samples, data.sample(300, seed: 1)) < 0.1 * Metrics.energyDistance(start, data.sample(300, seed: 1)))
    }

    // MARK: Structure of the source


    static let style = ChapterStyle(number: "1", file: "ch01-introduction.md", experiments: Chapter1.experiments, lab: "L1", programmingNames: ["L1", "Sampling."])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws { try Self.style.checkSource() }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws { try Self.style.checkPage() }
}
