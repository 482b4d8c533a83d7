import Foundation
import Testing
@testable import Diffusion

@Suite("Noise processes")
struct NoiseProcessTests {
    static let variancePreserving: [any NoiseProcess] = [
        DiscreteVP.linear(), DiscreteVP.cosine(), CosineProcess(), SigmoidProcess(),
        ZeroTerminalSNR(CosineProcess()), DiscreteVP.linear().rescaledToZeroTerminalSNR(),
    ]
    static let all: [any NoiseProcess] = variancePreserving + [VEProcess(), EDMProcess(), RectifiedFlow()]

    @Test("variance-preserving processes keep α² + σ² = 1 and start clean")
    func variancePreservingIdentity() {
        for p in Self.variancePreserving {
            #expect(p.alpha(0) == 1 && p.sigma(0) == 0, "\(p.name) at t = 0")
            for t in stride(from: 0.0, through: 1.0, by: 0.01) {
                let (a, s) = (p.alpha(t), p.sigma(t))
                #expect(abs(a * a + s * s - 1) < 1e-12, "\(p.name) at t = \(t)")
            }
        }
    }

    @Test("log-SNR decreases in t and t(λ(t)) = t")
    func logSNRInverse() {
        for p in Self.all {
            var previous = Double.infinity
            for t in stride(from: 0.01, through: 0.99, by: 0.0098) {
                let λ = p.logSNR(t)
                #expect(λ < previous, "\(p.name): λ not decreasing at t = \(t)")
                previous = λ
                #expect(abs(p.t(logSNR: λ) - t) < 1e-7, "\(p.name): t(λ(\(t))) = \(p.t(logSNR: λ))")
                #expect(abs(p.t(edmSigma: p.edmSigma(t)) - t) < 1e-7, "\(p.name): t(σ(\(t)))")
            }
        }
    }

    @Test("DDPM linear table: β from 1e-4 to 0.02 over 1000 steps, ᾱ by cumulative product")
    func ddpmTable() {
        let p = DiscreteVP.linear()
        #expect(p.T == 1000 && p.discreteSteps == 1000)
        #expect(abs(p.alphasCumprod[0] - (1 - 1e-4)) < 1e-15)
        #expect(abs(p.alphasCumprod[999] - 4.0358e-5) < 1e-8)          // ∏(1 − β_k), a known value
        #expect(abs(p.alpha(1) - p.alphasCumprod[999].squareRoot()) < 1e-15)
        #expect(abs(p.alpha(0.5) - p.alphasCumprod[499].squareRoot()) < 1e-15)   // grid time (n + 1)/T
        #expect(abs(p.index(0.5) - 499) < 1e-9)
        #expect(!p.hasZeroTerminalSNR)
        let cosine = DiscreteVP.cosine()
        #expect(cosine.alphasCumprod.last! > 0 && cosine.alphasCumprod.last! < 1e-4)
    }

    @Test("continuous cosine matches the iDDPM formula")
    func cosineFormula() {
        let p = CosineProcess()
        func f(_ t: Double) -> Double { pow(cos((t + 0.008) / 1.008 * .pi / 2), 2) }
        for t in [0.1, 0.5, 0.9] { #expect(abs(p.alpha(t) * p.alpha(t) - f(t) / f(0)) < 1e-12) }
    }

    @Test("zero-terminal-SNR rescaling reaches α = 0 at t = 1 and keeps the first step")
    func zeroTerminalSNR() {
        let base = DiscreteVP.linear()
        let z = base.rescaledToZeroTerminalSNR()
        #expect(z.alphasCumprod.last! == 0)
        #expect(abs(z.alphasCumprod[0] - base.alphasCumprod[0]) < 1e-15)
        #expect(z.hasZeroTerminalSNR && z.logSNR(1) == -.infinity)
        let c = ZeroTerminalSNR(CosineProcess())
        #expect(c.alpha(1) == 0 && c.alpha(0) == 1 && c.hasZeroTerminalSNR)
        #expect(RectifiedFlow().hasZeroTerminalSNR)
    }

    @Test("ε- and score-prediction are rejected at zero terminal SNR with a clear error")
    func epsilonRejected() throws {
        let identity: (Tensor, Double) -> Tensor = { x, _ in x }
        for process in [DiscreteVP.linear().rescaledToZeroTerminalSNR() as any NoiseProcess, ZeroTerminalSNR(SigmoidProcess()), RectifiedFlow()] {
            for kind in [Prediction.epsilon, .score] {
                #expect(throws: DiffusionError.predictionUndefinedAtZeroTerminalSNR(prediction: kind.rawValue, process: process.name)) {
                    _ = try ModelDenoiser(process: process, prediction: kind, network: identity)
                }
            }
            for kind in [Prediction.v, .sample, .velocity] {
                #expect(throws: Never.self) { _ = try ModelDenoiser(process: process, prediction: kind, network: identity) }
            }
        }
        #expect(throws: Never.self) { _ = try ModelDenoiser(process: DiscreteVP.linear(), prediction: .epsilon, network: identity) }
        let message = DiffusionError.predictionUndefinedAtZeroTerminalSNR(prediction: "epsilon", process: "vp-linear-ztsnr").description
        #expect(message.contains("divides by zero") && message.contains("2305.08891") && message.contains("v-"))
    }

    @Test("rectified flow, VE and EDM closed forms")
    func closedForms() {
        let f = RectifiedFlow()
        #expect(f.alpha(0.25) == 0.75 && f.sigma(0.25) == 0.25 && f.rates(0.3) == NoiseRates(dAlpha: -1, dSigma: 1))
        #expect(abs(f.edmSigma(0.5) - 1) < 1e-15)
        let ve = VEProcess(sigmaMin: 0.01, sigmaMax: 50)
        #expect(abs(ve.sigma(0) - 0.01) < 1e-15 && abs(ve.sigma(1) - 50) < 1e-12 && ve.alpha(0.3) == 1)
        let edm = EDMProcess()
        #expect(abs(edm.sigma(0) - 0.002) < 1e-15 && abs(edm.sigma(1) - 80) < 1e-12)
        for p in [ve as any NoiseProcess, edm, f, CosineProcess()] {      // analytic rates vs differences
            let t = 0.4, h = 1e-6
            let r = p.rates(t)
            #expect(abs(r.dSigma - (p.sigma(t + h) - p.sigma(t - h)) / (2 * h)) < 1e-5 * max(1, abs(r.dSigma)), "\(p.name)")
        }
    }
}
