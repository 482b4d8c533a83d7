import Foundation
import Testing
@testable import Diffusion

@Suite("Guidance on a labelled mixture with exact conditional denoisers")
struct GuidanceTests {
    /// Three classes: two of them mixtures of two bumps, one a single elongated bump.
    static let mixture = LabelledMixture(classWeights: [0.5, 0.3, 0.2], classes: [
        GaussianMixture(weights: [0.6, 0.4], means: [[-1.5, 0], [-0.5, 1]], std: [0.3, 0.4]),
        GaussianMixture(weights: [0.5, 0.5], means: [[1, 1], [1.5, -0.5]], std: [0.25, 0.35]),
        GaussianMixture(weights: [1], means: [[0, -1.5]], stds: [[0.8, 0.2]]),
    ])
    static let levels = [NoiseLevel(alpha: 1, sigma: 0.1), NoiseLevel(alpha: 1, sigma: 1), NoiseLevel(alpha: 0.6, sigma: 0.8),
                         NoiseLevel(alpha: 1, sigma: 10)]
    static let labels = Tensor((0..<12).map { Float($0 % 3) })
    static var x: Tensor { var r = RandomGenerator(seed: 4); return r.normal([12, 2]) * 1.5 }

    @Test("CFG with scale 1 is the conditional denoiser (with or without rescale); scale 0 the unconditional")
    func cfgLimits() {
        for level in Self.levels {
            let conditional = Self.mixture.denoise(Self.x, at: level, labels: Self.labels)
            for φ in [0.0, 0.7] {
                let g = ClassifierFreeGuidance(Self.mixture, labels: Self.labels, scale: 1, rescale: φ)
                #expect(rms(g.denoise(Self.x, at: level), conditional) < 1e-6)
            }
            let u = ClassifierFreeGuidance(Self.mixture, labels: Self.labels, scale: 0)
            #expect(rms(u.denoise(Self.x, at: level), Self.mixture.marginal.denoise(Self.x, at: level)) < 1e-6)
        }
    }

    @Test("CFG extrapolates linearly; rescale φ = 1 matches the conditional per-sample std")
    func cfgRescale() {
        let level = NoiseLevel(alpha: 1, sigma: 1)
        let c = Self.mixture.denoise(Self.x, at: level, labels: Self.labels), u = Self.mixture.marginal.denoise(Self.x, at: level)
        let g3 = ClassifierFreeGuidance(Self.mixture, labels: Self.labels, scale: 3).denoise(Self.x, at: level)
        #expect(rms(g3, u + (c - u) * 3) < 1e-6)
        let r = ClassifierFreeGuidance(Self.mixture, labels: Self.labels, scale: 3, rescale: 1).denoise(Self.x, at: level)
        func std(_ t: Tensor, _ i: Int) -> Double {
            let (a, b) = (Double(t[i, 0]), Double(t[i, 1])); return abs(a - b) / 2
        }
        for i in 0..<12 { #expect(abs(std(r, i) - std(c, i)) < 1e-5) }
    }

    @Test("the exact classifier p(y | x_t) is a distribution and equals the ratio of class densities")
    func classifier() {
        for level in Self.levels {
            let logp = Self.mixture.classLogProbabilities(Self.x, at: level)
            for i in 0..<12 {
                let probs = (0..<3).map { exp(Double(logp[i, $0])) }
                #expect(abs(probs.reduce(0, +) - 1) < 1e-5)
                let row = Self.x.slice(axis: 0, i, i + 1)
                let joint = (0..<3).map { Self.mixture.classWeights[$0] * exp(Self.mixture.classes[$0].logDensity(row, at: level)[0]) }
                let total = joint.reduce(0, +)
                for y in 0..<3 { #expect(abs(probs[y] - joint[y] / total) < 1e-4) }
            }
        }
    }

    @Test("classifier guidance with the exact classifier and scale 1 is the exact conditional denoiser (autograd gradient)")
    func classifierGuidance() {
        for level in Self.levels {
            let guided = ClassifierGuidance(Self.mixture.marginal, classifier: Self.mixture, labels: Self.labels, scale: 1)
            let exact = Self.mixture.denoise(Self.x, at: level, labels: Self.labels)
            let err = rms(guided.denoise(Self.x, at: level), exact)
            #expect(err < 2e-4 * max(1, level.edmSigma * level.edmSigma), "\(level): \(err)")
        }
    }

    @Test("guided denoisers work with every sampler: samples of class y land on class y's modes")
    func samplersWithGuidance() {
        let labels = Tensor(Array(repeating: Float(2), count: 200))
        let guided = ClassifierFreeGuidance(Self.mixture, labels: labels, scale: 1)
        let target = Self.mixture.classes[2].sample(200, seed: 8)
        let floor = Metrics.energyDistance(Self.mixture.classes[2].sample(200, seed: 9), target)
        for sampler in samplers where !["annealed-langevin", "pc", "euler-maruyama", "euler-ancestral", "ddpm"].contains(sampler.name) {
            let σ = Schedule.karras(steps: 20)
            let noise = NoiseSource(seed: 1)
            let out = sampler(guided, noise.prior([200, 2], sigma: σ[0]), sigmas: σ, noise: noise)
            #expect(Metrics.energyDistance(out, target) < 4 * floor, "\(sampler.name)")
        }
    }
}
