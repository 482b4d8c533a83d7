import DiffusionModels
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 7 (book/ch07-dit.md): every computed answer is recomputed here independently of the experiment code
/// (closed forms written out again, a second least-squares fit), the claims the text makes about the measured runs
/// hold for the numbers the library produced, and the chapter has the structure BOOK-STYLE.md asks for.
@Suite("Chapter 7: computed answers, claims about the measurements, structure, rendered page")
struct Chapter7Tests: ExperimentChecks {
    // MARK: Independent closed forms

    /// Forward MACs of an adaLN-Zero DiT written term by term (patchify, noise MLP, blocks, final layer).
    static func macs(image i: Double, channels c: Double, out: Double, patch p: Double, width d: Double, depth l: Double) -> Double {
        let n = (i / p) * (i / p)
        let block = 4 * n * d * d + 2 * n * n * d + 8 * n * d * d + 6 * d * d
        return n * d * c * p * p + 256 * d + d * d + l * block + 2 * d * d + n * d * p * p * out
    }

    /// Parameters of a DiT design on 1×8×8 digits with patch 2, width d, depth l, k classes (0: no class table), MLP ratio 4.
    static func params(_ design: String, width d: Int, depth l: Int, classes k: Int) -> Int {
        let lin = { (i: Int, o: Int) in i * o + o }
        let shell = (d * 4 + d) + lin(256, d) + lin(d, d) + (k > 0 ? (k + 1) * d : 0)
        let core = 4 * lin(d, d) + lin(d, 4 * d) + lin(4 * d, d)
        switch design {
        case "adaLNZero": return shell + l * (core + lin(d, 6 * d)) + lin(d, 2 * d) + lin(d, 4)
        case "adaLN": return shell + l * (core + lin(d, 4 * d)) + lin(d, 2 * d) + lin(d, 4)
        case "inContext": return shell + l * (core + 4 * d) + 2 * d + lin(d, 4)
        default: return shell + l * (core + 4 * d + 4 * lin(d, d) + 2 * d) + 2 * d + lin(d, 4)
        }
    }

    // MARK: §7.1 — receptive fields

    @Test func receptiveFieldSupportsAreTheOnesTheTextStates() throws {
        let n = try Self.run("ch7-receptive")
        #expect(n["support_conv"] == 25)       // two 3×3 convolutions: 5×5
        #expect(n["support_mlp"] == 4)         // the own 2×2 patch
        #expect(n["support_full"] == 256)      // every pixel of 16×16
        #expect(n["conv_layers_to_cover"] == 8)
        // The far pixels share the gradient thinly: the mean per pixel inside the own patch is far larger.
        let share = try #require(n["outside_share"]), ratio = try #require(n["inside_outside_ratio"])
        #expect(share > 0 && share < 1)
        #expect(Self.close(ratio, ((1 - share) / 4) / (share / 252), rel: 1e-9) && ratio > 10)
    }

    // MARK: §7.3 — adaLN-Zero at initialisation

    @Test func zeroInitialisationReachesParametersInTheDerivedOrder() throws {
        let n = try Self.run("ch7-zero")
        #expect(n["identity_adaLNZero"] == 0)
        for design in ["adaLN", "inContext", "crossAttention"] { #expect(n["identity_\(design)"]! > 0.05, "\(design)") }
        #expect(n["gate_closed_form_max_diff"]! < 1e-4 && n["gate_grad_norm"]! > 0.01)
        #expect(n["block_other_grad_norm"] == 0)
        let reached: [Int: Set<String>] = [
            1: ["finalLinear"],
            2: ["finalLinear", "finalModulation", "gate", "patch"],
            3: Set(Chapter7.gradientGroups),
        ]
        for step in 1...3 {
            for g in Chapter7.gradientGroups {
                let v = try #require(n["grad_\(g)_\(step)"])
                if reached[step]!.contains(g) { #expect(v > 0, "\(g) at step \(step)") } else { #expect(v == 0, "\(g) at step \(step): \(v)") }
            }
        }
        #expect(n["params"] == Double(Self.params("adaLNZero", width: 32, depth: 2, classes: 10)))
    }

    // MARK: §7.4 — compute

    @Test func computeTableMatchesAnIndependentClosedFormAndTheLibraryCount() throws {
        let n = try Self.run("ch7-compute")
        let family: [(String, Double, Double)] = [("S", 12, 384), ("B", 12, 768), ("L", 24, 1024), ("XL", 28, 1152)]
        for (name, l, d) in family {
            for p in [2.0, 4, 8] {
                let g = Self.macs(image: 32, channels: 4, out: 8, patch: p, width: d, depth: l) / 1e9
                #expect(Self.close(n["gflops_\(name)_\(Int(p))"], g, rel: 1e-12), "\(name)/\(Int(p))")
                #expect(Self.close(n["counted_\(name)_\(Int(p))"], g, rel: 1e-12), "counted \(name)/\(Int(p))")
            }
        }
        // DiT-XL/2: the paper's 118.6 "Gflops" are multiply–accumulates.
        #expect(abs(n["gflops_XL_2"]! - 118.6) < 0.05)
        // Parameters in millions, summed by hand: blocks 18D² + 15D each, patch, noise MLP, 1001-row table, final layer.
        #expect(Self.close(n["params_S_2"], 32.865056, rel: 1e-12) && Self.close(n["params_XL_2"], 674.83472, rel: 1e-12))
        // Cross-attention overhead for XL/2 (N = 256, D = 1152, K = 2, 28 blocks), written out.
        let (nn, d, k, l) = (256.0, 1152.0, 2.0, 28.0)
        let base = Self.macs(image: 32, channels: 4, out: 8, patch: 2, width: d, depth: l)
        // The token designs have no regression layers (6D² per block, 2D² in the final layer).
        let cross = base - l * 6 * d * d - 2 * d * d + l * (2 * nn * d * d + 2 * k * d * d + 2 * nn * k * d)
        #expect(Self.close(n["overhead_pct_crossAttention_xl2"], 100 * (cross / base - 1), rel: 1e-9))
        #expect(n["overhead_pct_crossAttention_xl2"]! > 14 && n["overhead_pct_crossAttention_xl2"]! < 17)
        let m = nn + k
        let inContext = base - l * (12 * nn * d * d + 2 * nn * nn * d + 6 * d * d) + l * (12 * m * d * d + 2 * m * m * d) - 2 * d * d
        #expect(Self.close(n["overhead_pct_inContext_xl2"], 100 * (inContext / base - 1), rel: 1e-9))
        #expect(Self.close(n["saving_pct_adaLN_xl2"], 100 * l * 2 * d * d / base, rel: 1e-9))
        #expect(Self.close(n["share_xl2"], 256 / (6 * 1152 + 256.0)))
        #expect(Self.close(n["cross_block_share_xl2"], 2 / (12 + 2 * 256 / 1152.0)))
    }

    // MARK: §7.3 — the four designs trained on digits

    @Test func conditioningDesignsHaveTheStatedParametersCostsAndRanking() throws {
        let n = try Self.run("ch7-conditioning")
        for design in ["adaLNZero", "adaLN", "inContext", "crossAttention"] {
            #expect(n["params_\(design)"] == Double(Self.params(design, width: 32, depth: 2, classes: 10)), "\(design)")
        }
        // The hand sums of exercise 7.3.
        #expect(n["params_adaLNZero"] == 49860 && n["params_adaLN"] == 45636 && n["params_inContext"] == 35396 && n["params_crossAttention"] == 43972)
        // MACs with N = 16, D = 32, L = 2, K = 2, written out.
        let (t, d, l, k) = (16.0, 32.0, 2.0, 2.0)
        let base = Self.macs(image: 8, channels: 1, out: 1, patch: 2, width: d, depth: l)
        #expect(Self.close(n["macs_adaLNZero"], base))
        let cross = base - l * 6 * d * d - 2 * d * d + l * (2 * t * d * d + 2 * k * d * d + 2 * t * k * d)
        #expect(Self.close(n["macs_ratio_crossAttention"], cross / base, rel: 1e-12))
        let m = t + k
        let inContext = base - l * (12 * t * d * d + 2 * t * t * d + 6 * d * d) + l * (12 * m * d * d + 2 * m * m * d) - 2 * d * d
        #expect(Self.close(n["macs_ratio_inContext"], inContext / base, rel: 1e-12))
        // The text's claims: both adaLN designs below both token designs at every evaluation; the label gaps tiny.
        #expect(n["evaluations"] == 8 && n["ada_minus_token_max"]! < 0)
        for design in ["adaLN", "adaLNZero"] {
            #expect(n["heldout_\(design)"]! < min(n["heldout_inContext"]!, n["heldout_crossAttention"]!))
        }
        for design in ["adaLNZero", "adaLN", "inContext", "crossAttention"] {
            #expect(abs(n["label_gap_max_\(design)"]!) < 0.002 && Self.close(n["shuffled_\(design)"], n["heldout_\(design)"]! + n["label_gap_\(design)"]!))
        }
        #expect(abs(n["heldout_adaLN"]! - n["heldout_adaLNZero"]!) < 0.01)
    }

    // MARK: §7.5 — scaling

    @Test func powerLawFitIsRecomputedFromTheMeasuredPoints() throws {
        let n = try Self.run("ch7-scaling")
        let runs = [(16, 1), (16, 3), (32, 1), (32, 3), (64, 1), (64, 3)]
        // Training compute = 3 · MACs · batch · steps, MACs from the independent closed form (no classes: K unused).
        for (k, (d, l)) in runs.enumerated() {
            let macs = Self.macs(image: 8, channels: 1, out: 1, patch: 2, width: Double(d), depth: Double(l))
            #expect(Self.close(n["macs_\(d)_\(l)"], macs))
            #expect(Self.close(n["final_compute_\(k)"], 3 * macs * 32 * 160))
            #expect(n["params_\(d)_\(l)"] == Double(Self.params("adaLNZero", width: d, depth: l, classes: 0)))
        }
        // A second least-squares fit: solve the 2×2 normal equations directly.
        let pts = (0..<6).map { (log(n["final_compute_\($0)"]!), log(n["final_loss_\($0)"]!)) }
        let (s1, sx, sy) = (6.0, pts.reduce(0) { $0 + $1.0 }, pts.reduce(0) { $0 + $1.1 })
        let (sxx, sxy, syy) = (pts.reduce(0) { $0 + $1.0 * $1.0 }, pts.reduce(0) { $0 + $1.0 * $1.1 }, pts.reduce(0) { $0 + $1.1 * $1.1 })
        let det = s1 * sxx - sx * sx
        let slope = (s1 * sxy - sx * sy) / det, intercept = (sxx * sy - sx * sxy) / det
        let r2 = pow(s1 * sxy - sx * sy, 2) / ((s1 * sxx - sx * sx) * (s1 * syy - sy * sy))
        #expect(Self.close(n["fit_exponent"], -slope, rel: 1e-9) && Self.close(n["fit_r2"], r2, rel: 1e-9))
        #expect(Self.close(n["fit_factor_per_decade"], pow(10, slope), rel: 1e-9))
        #expect(Self.close(n["fit_extrapolated_1000x"], exp(intercept + slope * log(1000 * n["compute_max"]!)), rel: 1e-9))
        // The text's claims: more compute lowers the final loss; the frontier fit is worse and steeper.
        #expect(n["fit_exponent"]! > 0 && n["fit_r2"]! > 0.8)
        #expect(n["frontier_r2"]! < n["fit_r2"]! && n["frontier_exponent"]! > 2 * n["fit_exponent"]!)
        // At about 10¹⁰ MACs the wide shallow model (64, 1) is below the narrow deep one (32, 3) at its end.
        let c32 = n["final_compute_3"]!
        let wide = (0..<8).filter { n["curve_compute_64_1_\($0)"]! <= c32 }.map { n["curve_loss_64_1_\($0)"]! }
        #expect(!wide.isEmpty && wide.min()! < n["final_32_3"]!)
    }

    // MARK: §7.6 — U-Net against DiT

    @Test func unetAndDiTComparisonHasTheStatedShape() throws {
        let n = try Self.run("ch7-unet")
        #expect(n["params_dit"] == 188_596 && n["params_unet"] == 176_849)
        #expect(Self.close(n["macs_dit"], Self.macs(image: 8, channels: 1, out: 1, patch: 2, width: 48, depth: 4)))
        #expect(n["heldout_unet"]! < n["heldout_dit"]!)
        for level in [100, 200, 350] { #expect(n["level_ratio_\(level)"]! > 1, "U-Net better at n = \(level)") }
        for level in [10, 30, 500, 700, 900] { #expect(n["level_ratio_\(level)"]! < 1, "DiT better at n = \(level)") }
        for level in [10, 30, 100, 200, 350, 500, 700, 900] {
            #expect(Self.close(n["level_ratio_\(level)"], n["level_dit_\(level)"]! / n["level_unet_\(level)"]!))
        }
        #expect(n["macs_unet"]! > 2 * n["macs_dit"]!)
    }

    // MARK: Structure and page

    static let style = ChapterStyle(number: "7", file: "ch07-dit.md", experiments: Chapter7.experiments, lab: "L7",
                                    programmingNames: ["L7", "DiTConfig", "ImageTrainer", "DiTVariant"])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws { try Self.style.checkSource() }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws {
        try Self.style.checkPage()
        let page = Fixtures.page(try Fixtures.real(), "ch07.html")
        #expect(SiteChecker.sections(page, open: "<figure class=\"figure\"", close: "</figure>").count == 5)
    }
}
