import Foundation
import Testing
@testable import Diffusion

/// Acceptance (a): with the exact mixture denoiser in place of a network, every sampler's samples are within 3× the
/// real-vs-real energy-distance floor of the true mixture. Both sides are averaged over 3 independent runs of
/// n = 500 (the floor of a V-statistic scales like 2·E‖X − X′‖/n and fluctuates, so sizes must match).
@Suite("Samplers reproduce the exact mixture")
struct SamplerQualityTests {
    static let gm = GaussianMixture.example2D
    static let (n, runs) = (500, 3)

    /// Real-vs-real floor at size n, averaged over `runs` independent pairs.
    static let floor: Double = (0..<runs).map { r in
        Metrics.energyDistance(gm.sample(n, seed: 1000 + UInt64(r)), gm.sample(n, seed: 2000 + UInt64(r)))
    }.reduce(0, +) / Double(runs)

    /// Noise levels for each sampler at a sensible step count.
    static func sigmas(_ name: String) -> [Double] {
        switch name {
        case "euler", "ddim", "flow-euler", "heun-churn": Schedule.karras(steps: 50)
        case "euler-ancestral", "euler-maruyama", "pc": Schedule.karras(steps: 200)     // first order and noisy
        case "ddpm": Schedule.discrete(steps: 200, process: DiscreteVP.linear(), spacing: .trailing)
        case "annealed-langevin": Schedule.exponential(steps: 20, sigmaMin: 0.01, sigmaMax: 20)
        default: Schedule.karras(steps: 25)       // second and higher order
        }
    }

    @Test("energy distance to the true mixture ≤ 3 × the real-vs-real floor", arguments: samplers.map(\.name))
    func matchesMixture(_ name: String) {
        let sampler = Sampler.named(name)!
        let σ = Self.sigmas(name)
        var total = 0.0
        for r in 0..<Self.runs {
            let noise = NoiseSource(seed: 77 + UInt64(r))
            let out = sampler(Self.gm, noise.prior([Self.n, 2], sigma: σ[0]), sigmas: σ, noise: noise)
            total += Metrics.energyDistance(out, Self.gm.sample(Self.n, seed: 3000 + UInt64(r)))
        }
        let ed = total / Double(Self.runs)
        print("quality \(name): \(σ.count - 1) steps, \(sampler.modelCalls(steps: σ.count - 1)) calls, ED \(String(format: "%.4f", ed)) = \(String(format: "%.2f", ed / Self.floor))× floor \(String(format: "%.4f", Self.floor))")
        #expect(ed <= 3 * Self.floor, "\(name): energy distance \(ed) vs floor \(Self.floor)")
    }

    @Test("too few Euler steps are detected: the test has power")
    func detectsBadSampler() {
        let σ = Schedule.karras(steps: 3)
        var total = 0.0
        for r in 0..<Self.runs {
            let noise = NoiseSource(seed: 77 + UInt64(r))
            let out = Sampling.euler(Self.gm, noise.prior([Self.n, 2], sigma: σ[0]), sigmas: σ)
            total += Metrics.energyDistance(out, Self.gm.sample(Self.n, seed: 3000 + UInt64(r)))
        }
        #expect(total / Double(Self.runs) > 3 * Self.floor)
    }
}
