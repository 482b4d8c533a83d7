import Foundation
import Testing
@testable import Diffusion

@Suite("Exact Gaussian-mixture answers")
struct GaussianMixtureTests {
    static let mixtures = [GaussianMixture.example1D, GaussianMixture.example2D,
                           GaussianMixture(weights: [1, 2], means: [[0, 1, -1], [1, -1, 0.5]], stds: [[0.3, 0.5, 0.2], [0.4, 0.2, 0.6]])]
    static let levels = [NoiseLevel(alpha: 1, sigma: 0.05), NoiseLevel(alpha: 1, sigma: 1), NoiseLevel(alpha: 0.8, sigma: 0.6),
                         NoiseLevel(alpha: 0.1, sigma: 0.995), NoiseLevel(alpha: 0.5, sigma: 0.5), NoiseLevel(alpha: 1, sigma: 30)]

    @Test("the score is the gradient of log p_t (central differences)")
    func scoreIsGradient() {
        for gm in Self.mixtures {
            let d = gm.dimension
            for level in Self.levels {
                let x = Tensor.randomNormal([8, d], seed: 3) * 1.5
                let s = gm.score(x, at: level).scalars
                let xs = x.scalars
                let h: Float = 1e-2
                for i in 0..<8 {
                    for j in 0..<d {
                        var plus = xs, minus = xs
                        plus[i * d + j] += h
                        minus[i * d + j] -= h
                        let lp = gm.logDensity(Tensor(plus, shape: [8, d]), at: level)[i]
                        let lm = gm.logDensity(Tensor(minus, shape: [8, d]), at: level)[i]
                        let fd = (lp - lm) / Double(plus[i * d + j] - minus[i * d + j])
                        let tolerance = 2e-3 * max(1, abs(fd)) / min(1, pow(level.sigma, 2) + level.alpha * level.alpha * 0.04)
                        #expect(abs(Double(s[i * d + j]) - fd) < tolerance, "d = \(d) \(level): \(s[i * d + j]) vs \(fd)")
                    }
                }
            }
        }
    }

    @Test("Tweedie: the denoiser and the score agree, E[x₀|x] = (x + σ²∇log p)/α")
    func tweedie() {
        for gm in Self.mixtures {
            for level in Self.levels {
                let x = Tensor.randomNormal([16, gm.dimension], seed: 4)
                let viaScore = Parametrization.x0(from: gm.score(x, at: level), .score, x: x, level: level)
                let diff = zip(viaScore.scalars, gm.denoise(x, at: level).scalars).map { abs($0 - $1) }.max()!
                #expect(Double(diff) < 1e-4 * max(1, level.edmSigma * level.edmSigma), "\(level): \(diff)")
            }
        }
    }

    @Test("limits: identity when σ = 0, the data mean when α = 0, a Wiener filter for one component")
    func limits() {
        let gm = GaussianMixture.example2D
        let x = Tensor.randomNormal([10, 2], seed: 5)
        let clean = gm.denoise(x, at: NoiseLevel(alpha: 0.5, sigma: 0)).scalars
        #expect(zip(clean, (x * 2).scalars).allSatisfy { abs($0 - $1) < 1e-5 })
        let mean = (0..<2).map { j in zip(gm.weights, gm.means).map { $0 * $1[j] }.reduce(0, +) }
        let noise = gm.denoise(x, at: NoiseLevel(alpha: 0, sigma: 1)).scalars
        for i in 0..<10 { for j in 0..<2 { #expect(abs(Double(noise[i * 2 + j]) - mean[j]) < 1e-6) } }
        let one = GaussianMixture(weights: [1], means: [[1]], std: [0.5])
        let y = one.denoise(Tensor([2], shape: [1, 1]), at: NoiseLevel(alpha: 0.8, sigma: 0.6)).item
        let expected = 1 + 0.8 * 0.25 / (0.64 * 0.25 + 0.36) * (2 - 0.8)
        #expect(abs(Double(y) - expected) < 1e-6)
    }

    @Test("samples have the mixture's mean and variance; sample j does not depend on n")
    func sampling() {
        let gm = GaussianMixture.example1D
        let x = gm.sample(40_000, seed: 1).scalars.map(Double.init)
        let mean = zip(gm.weights, gm.means).map { $0 * $1[0] }.reduce(0, +)
        let second = (0..<3).map { gm.weights[$0] * (gm.means[$0][0] * gm.means[$0][0] + gm.stds[$0][0] * gm.stds[$0][0]) }.reduce(0, +)
        let m = x.reduce(0, +) / Double(x.count)
        let v = x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count)
        #expect(abs(m - mean) < 0.03 && abs(v - (second - mean * mean)) < 0.05)
        #expect(gm.sample(5, seed: 9).scalars == Array(gm.sample(50, seed: 9).scalars.prefix(5)))
    }

    @Test("energy distance: zero for identical sets, positive and ≈ 2·E‖X − X′‖/n floor for independent sets")
    func energyDistance() {
        let gm = GaussianMixture.example2D
        let a = gm.sample(300, seed: 1)
        #expect(abs(Metrics.energyDistance(a, a)) < 1e-12)
        let floors = (0..<8).map { Metrics.energyDistance(gm.sample(300, seed: 10 + UInt64($0)), gm.sample(300, seed: 30 + UInt64($0))) }
        let meanFloor = floors.reduce(0, +) / 8
        let δ = Metrics.meanDistance(a.scalars.map(Double.init), gm.sample(300, seed: 2).scalars.map(Double.init), 2)
        #expect(floors.allSatisfy { $0 > 0 } && abs(meanFloor / (2 * δ / 300) - 1) < 0.5, "floors \(floors), 2δ/n = \(2 * δ / 300)")
        let shifted = a + 0.5
        #expect(Metrics.energyDistance(shifted, gm.sample(300, seed: 2)) > 10 * meanFloor)
    }
}
