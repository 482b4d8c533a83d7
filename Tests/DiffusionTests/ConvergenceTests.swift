import Foundation
import Testing
@testable import Diffusion

/// Convergence order on the exact probability-flow ODE of a Gaussian mixture: deterministic samplers from fixed
/// starting noise at σ = 80 down to σ = 0.02 (no final jump to 0, which is a fixed-size step), compared with a
/// Runge–Kutta solution with 2000 steps in Double. The slope of log error against log N is the order.
@Suite("Convergence order on the exact probability-flow ODE")
struct ConvergenceTests {
    /// Three broad, overlapping 2-D components: non-Gaussian, but no trajectory sits on a knife edge between modes,
    /// so errors reach the asymptotic regime at modest step counts.
    static let mixture = GaussianMixture(weights: [0.5, 0.3, 0.2], means: [[-1, 0], [1, 0.5], [0.2, 1.5]],
                                         stds: [[0.5, 0.4], [0.4, 0.6], [0.5, 0.5]])
    static let (σMax, σMin) = (80.0, 0.02)
    static let start = NoiseSource(seed: 3).prior([64, 2], sigma: σMax)
    static let reference = mixture.probabilityFlow(start, from: σMax, to: σMin, steps: 2000)

    /// Karras levels σ_max … σ_min for N steps (no trailing 0).
    static func levels(_ N: Int) -> [Double] { Array(Schedule.karras(steps: N + 1, sigmaMin: σMin, sigmaMax: σMax).dropLast()) }

    static func error(_ name: String, steps N: Int) -> Double {
        let σ = levels(N)
        let out: Tensor
        switch name {
        case "flow-euler", "flow-midpoint", "flow-heun":      // same ODE in rectified-flow time t = σ/(1 + σ)
            let times = Schedule.flowTimes(fromSigmas: σ)
            let x = start * Float(1 / (1 + σ[0]))
            let y = name == "flow-euler" ? Sampling.flowEuler(mixture, x, times: times)
                : name == "flow-midpoint" ? Sampling.flowMidpoint(mixture, x, times: times) : Sampling.flowHeun(mixture, x, times: times)
            out = y * Float(1 + σ[σ.count - 1])
        default:
            out = run(name, mixture, start, σ)
        }
        return rms(out, reference)
    }

    /// (sampler, step counts in the asymptotic regime, expected slope, tolerance).
    static let cases: [(String, [Int], Double, Double)] = [
        ("euler", [16, 32, 64], 1, 0.3), ("ddim", [16, 32, 64], 1, 0.3), ("flow-euler", [16, 32, 64], 1, 0.3),
        ("heun", [16, 32, 64], 2, 0.3), ("dpm2", [16, 32, 64], 2, 0.3), ("dpmpp-2m", [16, 32, 64], 2, 0.3),
        ("flow-midpoint", [16, 32, 64], 2, 0.3), ("flow-heun", [16, 32, 64], 2, 0.3),
        ("dpmpp-3m", [32, 48, 64, 96], 3, 0.3), ("unipc", [32, 48, 64, 96], 3, 0.3),
        // LMS-4 starts with orders 1–3, so its slope approaches 4 from below (≈ 3.8 here).
        ("lms", [64, 96, 128], 4, 0.4),
    ]

    @Test("the reference solution is converged far below the sampler errors")
    func referenceIsConverged() {
        let coarse = Self.mixture.probabilityFlow(Self.start, from: Self.σMax, to: Self.σMin, steps: 500)
        #expect(rms(coarse, Self.reference) < 1e-5)
    }

    @Test("log-log slope of error against steps equals the order", arguments: cases.map(\.0))
    func slope(_ name: String) {
        let (_, Ns, expected, tolerance) = Self.cases.first { $0.0 == name }!
        let errors = Ns.map { Self.error(name, steps: $0) }
        let slope = -logLogSlope(Ns.map(Double.init), errors)
        print("order \(name): slope \(String(format: "%.2f", slope)) over N = \(Ns), errors \(errors.map { String(format: "%.1e", $0) })")
        #expect(abs(slope - expected) <= tolerance, "\(name): slope \(slope), expected \(expected) ± \(tolerance); errors \(errors)")
        #expect(errors.last! > 2e-6, "errors must stay above the Float32 floor to measure an order")
    }

    @Test("exponential-integrator moments match quadrature for small and large steps")
    func exponentialMoments() {
        for h in [1e-4, 0.01, 0.3, 0.5, 0.7, 2.0, 8.0] {
            for k in 0...2 {
                // Composite Simpson on 2000 intervals.
                let n = 2000
                var s = 0.0
                for i in 0...n {
                    let τ = h * Double(i) / Double(n)
                    let w: Double = i == 0 || i == n ? 1 : (i % 2 == 1 ? 4 : 2)
                    s += w * pow(τ, Double(k)) * exp(τ - h)
                }
                let quad = s * h / Double(n) / 3
                let exact = exponentialMoment(k, h)
                #expect(abs(exact - quad) <= 1e-9 * max(1, abs(quad)) + 1e-12 * pow(h, Double(k + 1)), "I_\(k)(\(h)) = \(exact), quadrature \(quad)")
            }
        }
    }
}
