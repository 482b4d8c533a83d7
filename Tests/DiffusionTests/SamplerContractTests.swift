import Foundation
import Testing
@testable import Diffusion

@Suite("Sampler contracts: model calls, reproducibility, equivalences")
struct SamplerContractTests {
    static let gm = GaussianMixture.example2D

    @Test("the registry lists unique names with order and calls per step")
    func registry() {
        #expect(Set(samplers.map(\.name)).count == samplers.count)
        #expect(samplers.count == 17)
        for s in samplers { #expect(s.order >= 1 && s.callsPerStep >= 1 && !s.summary.isEmpty && Sampler.named(s.name)?.name == s.name) }
        #expect(Sampler.named("heun")!.description == "heun (order 2, 2 calls/step)")
    }

    @Test("counted model calls equal the stated calls", arguments: samplers.map(\.name))
    func modelCalls(_ name: String) {
        let sampler = Sampler.named(name)!
        for N in [1, 2, 3, 10, 18] {
            let counted = CountingDenoiser(Self.gm)
            let σ = Schedule.karras(steps: N)
            _ = sampler(counted, NoiseSource(seed: 1).prior([4, 2], sigma: σ[0]), sigmas: σ, noise: NoiseSource(seed: 2))
            #expect(counted.calls == sampler.modelCalls(steps: N), "\(name), \(N) steps: \(counted.calls) calls")
            if N > 1 && name != "annealed-langevin" {
                #expect(sampler.modelCalls(steps: N, endsAtZero: false) == N * sampler.callsPerStep)
            }
        }
        if !name.hasPrefix("flow") {      // a list that stops short of 0 (flow samplers on σ lists need the 0)
            let counted = CountingDenoiser(Self.gm)
            let σ = Array(Schedule.karras(steps: 5).dropLast())
            _ = sampler(counted, NoiseSource(seed: 1).prior([4, 2], sigma: σ[0]), sigmas: σ, noise: NoiseSource(seed: 2))
            #expect(counted.calls == sampler.modelCalls(steps: 4, endsAtZero: false), "\(name) without the final 0")
        }
        #expect(Sampler.named("heun")!.modelCalls(steps: 18) == 35)       // EDM: 18 steps = 35 calls
    }

    @Test("the same seed gives identical samples for batch sizes 1, 7 and 1000", arguments: samplers.map(\.name))
    func batchInvariance(_ name: String) {
        let sampler = Sampler.named(name)!
        let σ = Schedule.karras(steps: 10)
        func draw(_ n: Int, first: Int = 0) -> [Float] {
            let noise = NoiseSource(seed: 42, firstSample: first)
            return sampler(Self.gm, noise.prior([n, 2], sigma: σ[0]), sigmas: σ, noise: noise).scalars
        }
        let big = draw(1000), seven = draw(7), one = draw(1)
        #expect(seven == Array(big.prefix(14)), "\(name): batch 7 differs from batch 1000")
        #expect(one == Array(big.prefix(2)), "\(name): batch 1 differs from batch 1000")
        #expect(draw(7, first: 500) == Array(big[1000..<1014]), "\(name): a chunk at sample 500 differs")
        #expect(big.allSatisfy { $0.isFinite })
    }

    @Test("different seeds give different samples for stochastic samplers")
    func seedsMatter() {
        let σ = Schedule.karras(steps: 10)
        let x = NoiseSource(seed: 1).prior([5, 2], sigma: σ[0])
        for s in samplers where s.isStochastic {
            #expect(s(Self.gm, x, sigmas: σ, noise: NoiseSource(seed: 1)).scalars != s(Self.gm, x, sigmas: σ, noise: NoiseSource(seed: 2)).scalars, "\(s.name)")
        }
    }

    @Test("Euler = DDIM(η = 0) = flow Euler; Euler ancestral = DDPM = DDIM(η = 1) with the same noise")
    func equivalences() {
        let σ = Schedule.karras(steps: 20)
        let noise = NoiseSource(seed: 5)
        let x = noise.prior([200, 2], sigma: σ[0])
        let euler = Sampling.euler(Self.gm, x, sigmas: σ)
        #expect(rms(Sampling.ddim(Self.gm, x, sigmas: σ), euler) < 1e-4)
        #expect(rms(run("flow-euler", Self.gm, x, σ), euler) < 1e-4)
        let ancestral = Sampling.eulerAncestral(Self.gm, x, sigmas: σ, noise: noise)
        #expect(rms(Sampling.ddpm(Self.gm, x, sigmas: σ, noise: noise), ancestral) < 1e-4)
        #expect(rms(Sampling.ddim(Self.gm, x, sigmas: σ, eta: 1, noise: noise), ancestral) < 1e-4)
        #expect(rms(euler, ancestral) > 0.1)
        // One step of any exponential integrator from a single denoised value is DDIM.
        let one = Array(σ.prefix(2))
        let ddim = Sampling.ddim(Self.gm, x, sigmas: one)
        for f in [Sampling.uniPC, Sampling.dpmSolverPP2M, Sampling.dpmSolverPP3M] as [(GaussianMixture, Tensor, [Double]) -> Tensor] {
            #expect(rms(f(Self.gm, x, one), ddim) < 1e-4)
        }
    }

    @Test("samplers land exactly on the denoised value at σ = 0")
    func exactLastStep() {
        let σ = [2.0, 0.5, 0]
        let x = NoiseSource(seed: 3).prior([10, 2], sigma: 2)
        var last: Tensor?
        let spy = ClosureDenoiser { x, level in
            let d = Self.gm.denoise(x, at: level)
            last = d
            return d
        }
        for name in ["euler", "ddim", "ddpm", "heun", "dpm2", "dpmpp-2m", "dpmpp-3m", "unipc", "euler-maruyama", "pc", "flow-euler", "flow-heun", "annealed-langevin"] {
            let out = run(name, spy, x, σ, seed: 4)
            #expect(out.scalars == last!.scalars, "\(name) leaves residual noise")
        }
    }

    @Test("DDIM inversion then DDIM sampling returns the starting noise, with first-order error")
    func ddimInversionRoundTrip() {
        let Ns = [25, 100, 400]
        let errors = Ns.map { N -> Double in
            let σ = Schedule.karras(steps: N, sigmaMin: 0.002, sigmaMax: 20)
            let z = NoiseSource(seed: 6).prior([100, 2], sigma: σ[0])
            let x0 = Sampling.ddim(Self.gm, z, sigmas: σ)
            let counted = CountingDenoiser(Self.gm)
            let back = Sampling.ddimInversion(counted, x0, sigmas: σ)
            #expect(counted.calls == N - 1)
            return rms(back, z) / σ[0]
        }
        let slope = -logLogSlope(Ns.map(Double.init), errors)
        #expect(abs(slope - 1) < 0.3 && errors[2] < 0.02, "relative round-trip errors \(errors), slope \(slope)")
    }

    @Test("churn adds noise only inside [S_tmin, S_tmax] and is off by default")
    func churn() {
        let σ = Schedule.karras(steps: 10)
        let x = NoiseSource(seed: 1).prior([20, 2], sigma: σ[0])
        let plain = Sampling.heun(Self.gm, x, sigmas: σ)
        let outside = Sampling.heun(Self.gm, x, sigmas: σ, churn: Churn(S_churn: 40, S_tmin: 1000, S_tmax: 2000), noise: NoiseSource(seed: 2))
        #expect(plain.scalars == outside.scalars)
        let inside = Sampling.heun(Self.gm, x, sigmas: σ, churn: Churn(S_churn: 40, S_tmin: 0.05, S_tmax: 50), noise: NoiseSource(seed: 2))
        #expect(plain.scalars != inside.scalars)
    }
}
