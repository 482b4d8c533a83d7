import Foundation
import Testing
@testable import Diffusion

@Suite("Parametrisations, denoisers and preconditioning")
struct ParametrizationTests {
    static let gm = GaussianMixture.example2D
    static let processes: [any NoiseProcess] = [
        DiscreteVP.linear(), CosineProcess(), SigmoidProcess(), VEProcess(), EDMProcess(), RectifiedFlow(),
        DiscreteVP.linear().rescaledToZeroTerminalSNR(),
    ]

    /// The Bayes-optimal network of a given kind for the mixture: every target is linear in (x₀, ε), so its
    /// conditional mean is the target evaluated at (x̂₀, ε̂).
    static func oracle(_ process: any NoiseProcess, _ kind: Prediction) -> (Tensor, Double) -> Tensor {
        { x, t in
            let level = process.level(t)
            let x̂0 = gm.denoise(x, at: level)
            let ε̂ = Parametrization.epsilon(x0: x̂0, x: x, level: level)
            return Parametrization.target(kind, x0: x̂0, epsilon: ε̂, level: level, rates: process.rates(t))
        }
    }

    static func maxDiff(_ a: Tensor, _ b: Tensor) -> Double {
        zip(a.scalars, b.scalars).map { Double(abs($0 - $1)) }.max()!
    }

    @Test("x̂₀ from each target recovers x₀ on every process", arguments: Prediction.allCases)
    func roundTrip(_ kind: Prediction) {
        let x0 = Tensor.randomNormal([16, 3], seed: 1), ε = Tensor.randomNormal([16, 3], seed: 2)
        for p in Self.processes {
            for t in [0.05, 0.3, 0.7, 0.95] {
                let level = p.level(t), rates = p.rates(t)
                let x = Parametrization.noisy(x0: x0, epsilon: ε, level: level)
                let o = Parametrization.target(kind, x0: x0, epsilon: ε, level: level, rates: rates)
                let back = Parametrization.x0(from: o, kind, x: x, level: level, rates: rates)
                let scale = kind.dividesByAlpha ? level.edmSigma : 1
                #expect(Self.maxDiff(back, x0) < 1e-5 * max(1, scale), "\(kind) on \(p.name) at t = \(t)")
            }
        }
    }

    @Test("v = α·ε − σ·x₀ and the rectified-flow velocity is ε − x₀")
    func definitions() {
        let x0 = Tensor([1, 2]), ε = Tensor([-1, 0.5])
        let level = NoiseLevel(alpha: 0.6, sigma: 0.8)
        #expect(Self.maxDiff(Parametrization.target(.v, x0: x0, epsilon: ε, level: level), Tensor([-1.4, -1.3])) < 1e-6)
        let f = RectifiedFlow()
        let u = Parametrization.target(.velocity, x0: x0, epsilon: ε, level: f.level(0.3), rates: f.rates(0.3))
        #expect(u.scalars == (ε - x0).scalars)
        #expect(abs(level.logSNR - 2 * log(0.75)) < 1e-15 && abs(level.edmSigma - 4.0 / 3) < 1e-15)
    }

    @Test("every (process, prediction) pair wrapped by ModelDenoiser is the same denoiser D(x; σ)")
    func sameDenoiser() throws {
        let x0 = Self.gm.sample(32, seed: 5)
        for p in Self.processes {
            for kind in Prediction.allCases where !(kind.dividesByAlpha && p.hasZeroTerminalSNR) {
                let model = try ModelDenoiser(process: p, prediction: kind, network: Self.oracle(p, kind))
                for σ in [0.05, 0.5, 2, 10] {
                    let t = p.t(edmSigma: σ)
                    guard t > 0 && t < 1 && abs(p.edmSigma(t) / σ - 1) < 1e-6 else { continue }    // inside the process's range
                    let x = x0 + Tensor.randomNormal(x0.shape, seed: 9) * Float(σ)
                    let diff = Self.maxDiff(model.denoise(x, sigma: σ), Self.gm.denoise(x, sigma: σ))
                    #expect(diff < 2e-4 * max(1, σ), "\(kind) on \(p.name) at σ = \(σ): \(diff)")
                }
            }
        }
    }

    @Test("a sampler gives the same samples for every parametrisation of the same model")
    func samplerIndependentOfParametrisation() throws {
        let p = DiscreteVP.linear()
        let σ = Schedule.discrete(steps: 20, process: p, spacing: .trailing)
        let x = NoiseSource(seed: 4).prior([64, 2], sigma: σ[0])
        let direct = Sampling.dpmSolverPP2M(Self.gm, x, sigmas: σ)
        for kind in Prediction.allCases {
            let model = try ModelDenoiser(process: p, prediction: kind, network: Self.oracle(p, kind))
            let out = Sampling.dpmSolverPP2M(model, x, sigmas: σ)
            #expect(rms(out, direct) < 1e-3, "\(kind): \(rms(out, direct))")
        }
    }

    @Test("zero-terminal-SNR with v-prediction samples from pure noise via flow Euler (= DDIM from t = 1)")
    func zeroTerminalSNRSampling() throws {
        let p = DiscreteVP.linear().rescaledToZeroTerminalSNR()
        let model = try ModelDenoiser(process: p, prediction: .v, network: Self.oracle(p, .v))
        let σ = Schedule.discrete(steps: 50, process: p, spacing: .trailing)
        let times = Schedule.flowTimes(fromSigmas: σ)
        #expect(times[0] == 1)
        let n = 400
        let out = Sampling.flowEuler(model, NoiseSource(seed: 8).prior([n, 2]), times: times)
        #expect(out.scalars.allSatisfy { $0.isFinite })
        let ed = Metrics.energyDistance(out, Self.gm.sample(n, seed: 1))
        let floor = Metrics.energyDistance(Self.gm.sample(n, seed: 2), Self.gm.sample(n, seed: 3))
        #expect(ed < 3 * max(floor, 2 * 2.0 / Double(n)), "ED \(ed), floor \(floor)")
    }

    @Test("EDM preconditioning coefficients and the oracle F reproduce the exact denoiser")
    func preconditioning() {
        let edm = EDMPreconditioning()
        let c = edm(0.5)
        #expect(abs(c.c_skip - 0.5) < 1e-15 && abs(c.c_out - 0.5 / 2.0.squareRoot()) < 1e-15)
        #expect(abs(c.c_in - 1 / 0.5 / 2.0.squareRoot()) < 1e-12 && abs(c.c_noise - 0.25 * log(0.5)) < 1e-15)
        #expect(abs(edm.lossWeight(0.5) * c.c_out * c.c_out - 1) < 1e-12)
        let vp = VPPreconditioning(), ve = VEPreconditioning()
        #expect(vp(1).c_skip == 1 && vp(1).c_out == -1 && ve(2).c_out == 2 && abs(ve(2).c_noise) < 1e-15)
        // VP c_noise inverts σ(t) = √(exp(½β_d t² + β_min t) − 1).
        let t = 0.37, σt = (exp(0.5 * 19.9 * t * t + 0.1 * t) - 1).squareRoot()
        #expect(abs(vp(σt).c_noise - 999 * t) < 1e-9)
        check(edm)
        check(vp)
        check(ve)
    }

    /// D = c_skip·x + c_out·F(c_in·x; c_noise) with F the regression target of the exact denoiser is exact.
    func check(_ pre: some Preconditioning) {
        let x0 = Self.gm.sample(32, seed: 6)
        for σ in [0.1, 1, 20] {
            let x = x0 + Tensor.randomNormal(x0.shape, seed: 10) * Float(σ)
            let exact = Self.gm.denoise(x, sigma: σ)
            let F = pre.target(x0: exact, noisy: x, sigma: σ)
            let oracle = PreconditionedDenoiser(pre) { input, cNoise in
                #expect(Self.maxDiff(input, x * Float(pre(σ).c_in)) == 0 && cNoise == pre(σ).c_noise)
                return F
            }
            #expect(Self.maxDiff(oracle.denoise(x, sigma: σ), exact) < 1e-4 * max(1, σ))
        }
    }

    @Test("CountingDenoiser counts calls; ClosureDenoiser forwards")
    func counting() {
        let counted = CountingDenoiser(ClosureDenoiser { x, _ in x * 0.5 })
        let x = Tensor([2, 4], shape: [2, 1])
        #expect(counted.denoise(x, sigma: 1).scalars == [1, 2])
        _ = counted.epsilon(x, at: NoiseLevel(alpha: 1, sigma: 2))
        #expect(counted.calls == 2)
        counted.reset()
        #expect(counted.calls == 0)
    }
}
