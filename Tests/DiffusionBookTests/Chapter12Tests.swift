import Diffusion
import DiffusionEngine
import DiffusionLayers
import DiffusionModels
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 12 (book/ch12-text.md): the computed answers recomputed by brute-force enumeration of all 4⁸ sequences (no
/// forward–backward, no library recursion), the claims the text makes about the figures, the chapter's listings,
/// its structure, and its rendered page.
@Suite("Chapter 12: computed answers, claims about the figures, listings, structure, rendered page")
struct Chapter12Tests: ExperimentChecks {
    static let P: [[Double]] = [[0, 0.7, 0.3, 0], [0.2, 0, 0.5, 0.3], [0.6, 0, 0, 0.4], [0.5, 0.1, 0.4, 0]]

    /// Every sequence of length 8 over 4 symbols with its probability under the chain written out here.
    static let sequences: [(x: [Int], p: Double)] = (0..<65536).map { c in
        let x = (0..<8).map { (c >> (2 * $0)) & 3 }
        var p = 0.25
        for i in 1..<8 { p *= P[x[i - 1]][x[i]] }
        return (x, p)
    }

    /// Position marginals by summing the enumerated probabilities.
    static let marginals: [[Double]] = (0..<8).map { i in
        var m = [Double](repeating: 0, count: 4)
        for (x, p) in sequences { m[x[i]] += p }
        return m
    }

    @Test func entropyAndOneStepNumbersByEnumeration() throws {
        let n = try Self.run("ch12-bound", ["n": "200", "steps": "1,4"])
        let h = Self.sequences.reduce(0.0) { $0 - ($1.p > 0 ? $1.p * log($1.p) : 0) }
        #expect(Self.close(n["entropy"], h, rel: 1e-10), "\(n["entropy"]!) vs \(h)")
        let hSum = Self.marginals.reduce(0.0) { acc, m in acc - m.reduce(0.0) { $0 + ($1 > 0 ? $1 * log($1) : 0) } }
        #expect(Self.close(n["marginal_entropy_sum"], hSum, rel: 1e-10))
        // Exercise 12.8: independent tokens from the marginals, impossible with the probability summed over all sequences.
        let p = try Self.run("ch12-parallel", ["n": "50", "steps": "1"])
        let invalid = Self.sequences.reduce(0.0) { acc, s in acc + (s.p == 0 ? (0..<8).reduce(1.0) { $0 * Self.marginals[$1][s.x[$1]] } : 0) }
        #expect(Self.close(p["invalid_one_step_exact"], invalid, rel: 1e-10), "\(p["invalid_one_step_exact"]!) vs \(invalid)")
    }

    // MARK: Claims about the figures

    @Test func forwardFractionsMatchTheClosedForm() throws {
        let n = try Self.run("ch12-forward")
        for t in [25, 50, 75] {
            let a = 1 - Double(t) / 100
            // 4000 sequences × 8 tokens: four binomial standard deviations.
            for (key, p) in [("absorbing", a), ("uniform", a + (1 - a) / 4)] {
                let tol = 4 * (p * (1 - p) / 32000).squareRoot()
                #expect(Self.close(n["\(key)_same_\(t)"], p, abs: tol), "\(key) at t = \(t): \(n["\(key)_same_\(t)"]!) vs \(p)")
                #expect(n["\(key)_same_\(t)_theory"] == p)
            }
        }
    }

    @Test func boundFigureClaims() throws {
        let n = try Self.run("ch12-bound")
        let h = n["entropy"]!, hSum = n["marginal_entropy_sum"]!
        // Exercise 12.5: one step gives the sum of the marginal entropies, for both noises (the same x₀ and the same draws).
        for key in ["absorbing_1", "uniform_1"] {
            #expect(Self.close(n[key], hSum, abs: 4 * n[key + "_se"]!), "\(key) = \(n[key]!) vs \(hSum)")
        }
        // Theorem 12.4 (thm:text-tight): the continuous-time masked bound of the exact denoiser is the entropy.
        #expect(Self.close(n["masked_continuous"], h, abs: 4 * n["masked_continuous_se"]!))
        // Absorbing decreases with T towards the entropy; tighter than uniform at few steps.
        let Ts = [1, 2, 4, 8, 16, 32]
        for (a, b) in zip(Ts, Ts.dropFirst()) { #expect(n["absorbing_\(b)"]! < n["absorbing_\(a)"]! + 2 * n["absorbing_\(b)_se"]!) }
        for T in [2, 4, 8] { #expect(n["absorbing_\(T)"]! < n["uniform_\(T)"]!) }
        #expect(n["absorbing_32"]! > h - 4 * n["absorbing_32_se"]! && n["absorbing_32"]! < h + 0.3)
    }

    @Test func parallelFigureClaims() throws {
        let n = try Self.run("ch12-parallel")
        let exact = n["invalid_one_step_exact"]!
        for key in ["absorbing", "uniform", "confidence"] {
            // One step: every token independent from its marginal; 800 samples, four binomial standard deviations.
            #expect(Self.close(n["\(key)_invalid_1"], exact, abs: 4 * (exact * (1 - exact) / 800).squareRoot()))
        }
        let Ts = [1, 2, 4, 8, 16, 32]
        for (a, b) in zip(Ts, Ts.dropFirst()) { #expect(n["absorbing_invalid_\(b)"]! <= n["absorbing_invalid_\(a)"]!) }
        #expect(n["absorbing_invalid_32"]! < 0.1 && n["uniform_invalid_32"]! < 0.1)
        #expect(n["confidence_invalid_8"]! < 0.01 && n["confidence_invalid_32"]! < 0.01)
        // Confidence ordering lowers −log p well below the entropy; ancestral sampling with many steps does not.
        #expect(n["confidence_nll_32"]! < n["entropy"]! - 0.5 && n["confidence_nll_8"]! < n["entropy"]! - 0.5)
        #expect(Self.close(n["absorbing_nll_32"], n["entropy"]!, abs: 0.15))
        #expect(n["confidence_tv_32"]! > 3 * n["absorbing_tv_32"]!)
    }

    @Test func trainingFigureClaims() throws {
        let n = try Self.run("ch12-train")
        for key in ["masked", "d3pm"] {
            #expect(n["\(key)_loss_last"]! < 0.8 * n["\(key)_loss_first"]!)
            #expect(n["\(key)_tv"]! < 0.5 * n["\(key)_tv_untrained"]! && n["\(key)_invalid"]! < 0.6 * n["\(key)_invalid_untrained"]!)
            // The same times and masks for both bounds: the network is above the exact denoiser, and not far.
            #expect(n["\(key)_bound"]! > n["exact_bound"]! && n["\(key)_bound"]! < n["entropy"]! + 1.5)
        }
        #expect(Self.close(n["exact_bound"], n["entropy"]!, abs: 0.4))
    }

    // MARK: The chapter's listings

    @Test func theChaptersListingsRun() {
        // §12.2.3.
        let process = DiscreteProcess(noise: .absorbing, categories: 4, steps: 8, schedule: .linear)
        let p0 = [0.1, 0.2, 0.3, 0.4, 0.0]
        #expect(process.transitionMatrix(3).count == 5 && process.cumulativeMatrix(3)[0][4] == 3.0 / 8)
        #expect(Self.close(process.marginal(p0, at: 3)[4], 3.0 / 8, rel: 1e-12))
        var g = RandomGenerator(seed: 0)
        let x0 = MarkovChain.example(length: 8).sample(4, seed: 0)
        let xt = process.corrupt(x0, at: [1, 3, 5, 8], generator: &g)
        #expect(xt.select(axis: 0, 3).scalars.allSatisfy { $0 == 4 })
        // §12.5.1: the sampler.
        let exact = ExactMarkovDenoiser(chain: .example(length: 8), noise: .absorbing)
        let sampler = DiscreteProcess(noise: .absorbing, categories: 4, steps: 16, schedule: .linear)
        let x = sampler.sample(exact, count: 50, length: 8, seed: 0)
        #expect(x.shape == [50, 8] && x.scalars.allSatisfy { $0 >= 0 && $0 < 4 })
        // §12.6.1: a few training steps of the listing.
        let chain = MarkovChain.example(length: 8)
        let model = withParameterSeed(0) { TokenTransformer(TokenTransformerConfig(categories: 4, length: 8, hiddenSize: 32, depth: 2)) }
        let losses = trainTokenDenoiser(model, objective: .masked(.linear), steps: 5, seed: 0) { step in
            chain.sample(64, seed: 100, firstSample: 64 * step)
        }
        #expect(losses.count == 5 && losses.allSatisfy(\.isFinite))
        // Exercise 12.13: the left-to-right sampler is exact.
        let u = Tensor.randomUniform([300, 8], seed: 1).scalars
        var out: [Float] = []
        for n in 0..<300 {
            var s = [Int](repeating: 4, count: 8)
            for i in 0..<8 {
                let p = exact.posterior(s, at: 0.5)[i]
                var c = 0.0, pick = 3
                for k in 0..<4 { c += p[k]; if Double(u[n * 8 + i]) < c { pick = k; break } }
                s[i] = pick
            }
            out += s.map(Float.init)
        }
        let samples = Tensor(out, shape: [300, 8])
        #expect(chain.invalidFraction(samples) == 0)
        let f = chain.transitionFrequencies(samples)
        for a in 0..<4 { for b in 0..<4 { #expect(abs(f[a][b] - Self.P[a][b]) < 0.1) } }
        // Exercise 12.10: the uniform-noise variant runs (a few steps).
        let uniform = DiscreteProcess(noise: .uniform, categories: 4, steps: 32)
        let um = withParameterSeed(0) { TokenTransformer(TokenTransformerConfig(categories: 4, masked: false, length: 8, hiddenSize: 32, depth: 2)) }
        trainTokenDenoiser(um, objective: .d3pm(uniform, lambda: 0.01), steps: 3, seed: 0) { chain.sample(64, seed: 100, firstSample: 64 * $0) }
        let ux = DiscreteProcess(noise: .uniform, categories: 4, steps: 4).sample(um, count: 20, length: 8, seed: 5)
        #expect(ux.scalars.allSatisfy { $0 >= 0 && $0 < 4 } && Chapter12.transitionDistance(chain, ux) >= 0)
    }

    // MARK: Structure of the source and the rendered page

    static let style = ChapterStyle(number: "12", file: "ch12-text.md", experiments: Chapter12.experiments, lab: "L12",
                                    programmingNames: ["L12", "ExactMarkovDenoiser", "trainTokenDenoiser", "DiscreteProcess", "TokenTransformer"])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws { try Self.style.checkSource() }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws { try Self.style.checkPage() }
}
