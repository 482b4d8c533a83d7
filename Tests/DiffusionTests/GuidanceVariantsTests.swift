import Foundation
import Testing
@testable import Diffusion

/// Counts every call to a conditional denoiser, with the labels it was called with.
private final class Recorder<Base: ConditionalDenoiser>: ConditionalDenoiser {
    let base: Base
    var calls: [Tensor?] = []
    init(_ base: Base) { self.base = base }
    func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor { calls.append(nil); return base.denoise(x, at: level) }
    func denoise(_ x: Tensor, at level: NoiseLevel, labels: Tensor?) -> Tensor { calls.append(labels); return base.denoise(x, at: level, labels: labels) }
}

@Suite("Scheduled and negative guidance, thresholding, precision and recall")
struct GuidanceVariantsTests {
    static let mixture = GuidanceTests.mixture
    static let labels = Tensor((0..<12).map { Float($0 % 3) })
    static let negatives = Tensor((0..<12).map { Float(($0 + 1) % 3) })
    static var x: Tensor { var r = RandomGenerator(seed: 9); return r.normal([12, 2]) * 1.5 }

    @Test("constant scale with the null reference is classifier-free guidance; w = 1 calls only the conditional model")
    func constantScale() {
        for level in GuidanceTests.levels {
            for w in [0.0, 1, 2.5] {
                let a = ScheduledGuidance(Self.mixture, labels: Self.labels, scale: w).denoise(Self.x, at: level)
                let b = ClassifierFreeGuidance(Self.mixture, labels: Self.labels, scale: w).denoise(Self.x, at: level)
                #expect(rms(a, b) < 1e-6)
            }
        }
        let rec = Recorder(Self.mixture)
        _ = ScheduledGuidance(rec, labels: Self.labels, scale: 1).denoise(Self.x, sigma: 1)
        #expect(rec.calls.count == 1 && rec.calls[0] != nil)
    }

    @Test("a negative condition replaces the null one: D(y⁻) + w(D(y) − D(y⁻))")
    func negativeCondition() {
        let level = NoiseLevel(alpha: 0.6, sigma: 0.8)
        let w = 3.0
        let cy = Self.mixture.denoise(Self.x, at: level, labels: Self.labels)
        let cn = Self.mixture.denoise(Self.x, at: level, labels: Self.negatives)
        let expected = cn + (cy - cn) * Float(w)
        let got = ScheduledGuidance(Self.mixture, labels: Self.labels, negativeLabels: Self.negatives, scale: w).denoise(Self.x, at: level)
        #expect(rms(got, expected) < 1e-6)
        #expect(rms(got, ClassifierFreeGuidance(Self.mixture, labels: Self.labels, scale: w).denoise(Self.x, at: level)) > 0.01)
    }

    @Test("an interval guides only on σ_lo ≤ σ/α ≤ σ_hi (the EDM level) and costs one call elsewhere")
    func interval() {
        let g = ScheduledGuidance.interval(Self.mixture, labels: Self.labels, scale: 4, sigmaLow: 0.5, sigmaHigh: 2)
        let full = ClassifierFreeGuidance(Self.mixture, labels: Self.labels, scale: 4)
        // (α, σ) = (0.6, 0.8) is EDM level 4/3: inside.
        for (level, inside) in [(NoiseLevel(alpha: 1, sigma: 0.1), false), (NoiseLevel(alpha: 0.6, sigma: 0.8), true),
                                (NoiseLevel(alpha: 1, sigma: 1), true), (NoiseLevel(alpha: 1, sigma: 10), false)] {
            let reference = inside ? full.denoise(Self.x, at: level) : Self.mixture.denoise(Self.x, at: level, labels: Self.labels)
            #expect(rms(g.denoise(Self.x, at: level), reference) < 1e-6, "\(level)")
            let rec = Recorder(Self.mixture)
            _ = ScheduledGuidance.interval(rec, labels: Self.labels, scale: 4, sigmaLow: 0.5, sigmaHigh: 2).denoise(Self.x, at: level)
            #expect(rec.calls.count == (inside ? 2 : 1))
        }
    }

    @Test("static thresholding clips to [−1, 1]; dynamic divides by s = max(1, quantile of |x̂₀|) per sample")
    func thresholding() {
        let rows: [[Float]] = [[0.3, -0.9, 1.6, 2.4, -1.2, 0.8, -0.1, 1.1], [0.5, -0.5, 0.2, 0.9, -0.3, 0.1, 0.0, -0.8]]
        let fixed = ClosureDenoiser { _, _ in Tensor(rows.flatMap { $0 }, shape: [2, 8]) }
        let x = Tensor.zeros([2, 8])
        let stat = ThresholdedDenoiser(fixed, percentile: nil).denoise(x, sigma: 1).scalars
        #expect(stat == rows.flatMap { $0.map { min(1, max(-1, $0)) } })
        // p = 0.75 of 8 entries: the 6th smallest |x| (1.2 for the first row; 0.5 → s = 1 for the second).
        let dyn = ThresholdedDenoiser(fixed, percentile: 0.75)
        #expect(dyn.threshold(rows[0][...]) == Double(Float(1.2)) && dyn.threshold(rows[1][...]) == 1)
        let out = dyn.denoise(x, sigma: 1).scalars
        let s = Double(Float(1.2))
        let expected = rows[0].map { Float(min(s, max(-s, Double($0))) / s) } + rows[1]
        for (a, b) in zip(out, expected) { #expect(abs(a - b) < 1e-6) }
        // The cap: s never exceeds `maximum`; p = 1 is the largest entry.
        #expect(ThresholdedDenoiser(fixed, percentile: 1).threshold(rows[0][...]) == Double(Float(2.4)))
        #expect(ThresholdedDenoiser(fixed, percentile: 1, maximum: 1.5).threshold(rows[0][...]) == 1.5)
    }

    @Test("precision and recall: identical sets, disjoint sets, a dropped mode, and a hand-computed 1-D case")
    func precisionRecall() {
        let a = GaussianMixture(weights: [1, 1], means: [[-3, 0], [3, 0]], std: [0.5, 0.5])
        let real = a.sample(400, seed: 1)
        let same = Metrics.precisionRecall(real: real, generated: real, k: 3)
        #expect(same.precision == 1 && same.recall == 1)
        let far = real + 100
        let none = Metrics.precisionRecall(real: real, generated: far, k: 3)
        #expect(none.precision == 0 && none.recall == 0)
        // Generated samples cover only the left mode: precision ≈ 1, recall ≈ the left mode's share.
        let left = GaussianMixture(weights: [1], means: [[-3, 0]], std: [0.5]).sample(400, seed: 2)
        let dropped = Metrics.precisionRecall(real: real, generated: left, k: 3)
        let leftShare = Double(real.scalars.enumerated().filter { $0.offset % 2 == 0 && $0.element < 0 }.count) / 400
        #expect(dropped.precision > 0.9 && abs(dropped.recall - leftShare) < 0.08, "\(dropped), left share \(leftShare)")
        // k = 1 in 1-D: real {0, 1, 3} has radii {1, 1, 2}; generated {0.5, 2.5, 10} has radii {2, 2, 7.5}.
        let r = Tensor([0, 1, 3], shape: [3, 1]), g = Tensor([0.5, 2.5, 10], shape: [3, 1])
        let pr = Metrics.precisionRecall(real: r, generated: g, k: 1)
        #expect(abs(pr.precision - 2.0 / 3) < 1e-12 && pr.recall == 1)
    }
}
