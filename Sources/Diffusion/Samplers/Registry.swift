import DiffusionEngine

/// A sampler as listed by `diffusion sample --list`: its name, order, cost, and a uniform way to run it on an
/// EDM-level list (state in α = 1 coordinates, starting at σ_0·z).
public struct Sampler: Sendable, CustomStringConvertible {
    public let name: String
    /// Convergence order of the deterministic ODE solver (weak order for SDE samplers).
    public let order: Int
    /// Model calls per step away from the last step.
    public let callsPerStep: Int
    public let isStochastic: Bool
    /// One line with the paper it comes from.
    public let summary: String
    let calls: @Sendable (_ steps: Int, _ endsAtZero: Bool) -> Int
    let body: @Sendable (any Denoiser, Tensor, [Double], NoiseSource) -> Tensor

    /// Total model calls for a list of N + 1 levels.
    public func modelCalls(steps N: Int, endsAtZero: Bool = true) -> Int { calls(N, endsAtZero) }

    /// Runs the sampler with its default settings.
    public func callAsFunction(_ model: any Denoiser, _ x: Tensor, sigmas: [Double], noise: NoiseSource) -> Tensor {
        body(model, x, sigmas, noise)
    }

    public var description: String {
        "\(name) (order \(order), \(callsPerStep) call\(callsPerStep == 1 ? "" : "s")/step\(isStochastic ? ", stochastic" : ""))"
    }

    /// The sampler with this name, if any.
    public static func named(_ name: String) -> Sampler? { samplers.first { $0.name == name } }
}

/// Default Langevin settings of the registry entries.
enum RegistryDefaults {
    static let correctorSteps = 1
    static let langevinStepsPerLevel = 20
}

/// Every sampler, with default settings, for listings and `Sampler.named`.
public let samplers: [Sampler] = {
    let perStep: @Sendable (Int, Bool) -> Int = { n, _ in n }
    let secondOrder: @Sendable (Int, Bool) -> Int = { n, zero in zero ? 2 * n - 1 : 2 * n }
    return [
        Sampler(name: "euler", order: 1, callsPerStep: 1, isStochastic: false,
                summary: "Euler on the probability-flow ODE (Karras et al. 2022, arXiv 2206.00364)",
                calls: perStep) { m, x, s, _ in Sampling.euler(m, x, sigmas: s) },
        Sampler(name: "euler-ancestral", order: 1, callsPerStep: 1, isStochastic: true,
                summary: "Euler step to σ_down plus fresh noise σ_up (k-diffusion)",
                calls: perStep) { m, x, s, n in Sampling.eulerAncestral(m, x, sigmas: s, noise: n) },
        Sampler(name: "ddim", order: 1, callsPerStep: 1, isStochastic: false,
                summary: "DDIM, η = 0 (Song et al. 2021, arXiv 2010.02502)",
                calls: perStep) { m, x, s, _ in Sampling.ddim(m, x, sigmas: s) },
        Sampler(name: "ddpm", order: 1, callsPerStep: 1, isStochastic: true,
                summary: "DDPM ancestral: posterior q(x_s|x_t, x̂₀) (Ho et al. 2020, arXiv 2006.11239)",
                calls: perStep) { m, x, s, n in Sampling.ddpm(m, x, sigmas: s, noise: n) },
        Sampler(name: "heun", order: 2, callsPerStep: 2, isStochastic: false,
                summary: "Heun, last step Euler (Karras et al. 2022, Algorithm 1)",
                calls: secondOrder) { m, x, s, _ in Sampling.heun(m, x, sigmas: s) },
        Sampler(name: "heun-churn", order: 2, callsPerStep: 2, isStochastic: true,
                summary: "Heun with EDM churn S_churn = 40, S_tmin = 0.05, S_tmax = 50, S_noise = 1.003 (Algorithm 2)",
                calls: secondOrder) { m, x, s, n in
                    Sampling.heun(m, x, sigmas: s, churn: Churn(S_churn: 40, S_tmin: 0.05, S_tmax: 50, S_noise: 1.003), noise: n)
                },
        Sampler(name: "dpm2", order: 2, callsPerStep: 2, isStochastic: false,
                summary: "DPM-Solver-2, midpoint in log σ (Lu et al. 2022, arXiv 2206.00927)",
                calls: secondOrder) { m, x, s, _ in Sampling.dpm2(m, x, sigmas: s) },
        Sampler(name: "dpmpp-2m", order: 2, callsPerStep: 1, isStochastic: false,
                summary: "DPM-Solver++(2M) multistep (Lu et al. 2022, arXiv 2211.01095)",
                calls: perStep) { m, x, s, _ in Sampling.dpmSolverPP2M(m, x, sigmas: s) },
        Sampler(name: "dpmpp-3m", order: 3, callsPerStep: 1, isStochastic: false,
                summary: "DPM-Solver++(3M), third-order multistep (Lu et al. 2022, arXiv 2211.01095)",
                calls: perStep) { m, x, s, _ in Sampling.dpmSolverPP3M(m, x, sigmas: s) },
        Sampler(name: "unipc", order: 3, callsPerStep: 1, isStochastic: false,
                summary: "UniPC bh2: UniP-2 predictor + UniC corrector, order 3 (Zhao et al. 2023, arXiv 2302.04867)",
                calls: perStep) { m, x, s, _ in Sampling.uniPC(m, x, sigmas: s) },
        Sampler(name: "lms", order: 4, callsPerStep: 1, isStochastic: false,
                summary: "Linear multistep in σ, order 4 (k-diffusion)",
                calls: perStep) { m, x, s, _ in Sampling.lms(m, x, sigmas: s) },
        Sampler(name: "euler-maruyama", order: 1, callsPerStep: 1, isStochastic: true,
                summary: "Euler–Maruyama on the reverse SDE (Song et al. 2021, arXiv 2011.13456)",
                calls: perStep) { m, x, s, n in Sampling.eulerMaruyama(m, x, sigmas: s, noise: n) },
        Sampler(name: "pc", order: 1, callsPerStep: 1 + RegistryDefaults.correctorSteps, isStochastic: true,
                summary: "Predictor–corrector, Langevin corrector, snr 0.16 (Song et al. 2021, arXiv 2011.13456)",
                calls: { n, _ in n * (1 + RegistryDefaults.correctorSteps) }) { m, x, s, n in
                    Sampling.predictorCorrector(m, x, sigmas: s, noise: n, correctorSteps: RegistryDefaults.correctorSteps)
                },
        Sampler(name: "annealed-langevin", order: 1, callsPerStep: RegistryDefaults.langevinStepsPerLevel, isStochastic: true,
                summary: "Annealed Langevin dynamics + denoising step (Song & Ermon 2019, arXiv 1907.05600)",
                calls: { n, zero in zero ? n * RegistryDefaults.langevinStepsPerLevel + 1 : (n + 1) * RegistryDefaults.langevinStepsPerLevel }) { m, x, s, n in
                    Sampling.annealedLangevin(m, x, sigmas: s, noise: n, stepsPerLevel: RegistryDefaults.langevinStepsPerLevel)
                },
        Sampler(name: "flow-euler", order: 1, callsPerStep: 1, isStochastic: false,
                summary: "Euler in rectified-flow time t = σ/(1 + σ) (Liu et al. 2022, arXiv 2209.03003)",
                calls: perStep) { m, x, s, _ in Sampling.inFlowCoordinates(x, sigmas: s) { Sampling.flowEuler(m, $0, times: $1) } },
        Sampler(name: "flow-midpoint", order: 2, callsPerStep: 2, isStochastic: false,
                summary: "Explicit midpoint in rectified-flow time",
                calls: { n, _ in 2 * n }) { m, x, s, _ in Sampling.inFlowCoordinates(x, sigmas: s) { Sampling.flowMidpoint(m, $0, times: $1) } },
        Sampler(name: "flow-heun", order: 2, callsPerStep: 2, isStochastic: false,
                summary: "Heun in rectified-flow time, last step Euler",
                calls: secondOrder) { m, x, s, _ in Sampling.inFlowCoordinates(x, sigmas: s) { Sampling.flowHeun(m, $0, times: $1) } },
    ]
}()
