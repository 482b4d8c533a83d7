import Foundation

/// Step schedules: explicit, strictly descending lists of EDM noise levels σ (= σ_t/α_t) that end exactly at 0.
///
/// A schedule is chosen independently of the sampler (as in k-diffusion): every sampler takes a list
/// `[σ_0 > σ_1 > … > σ_N = 0]` and takes N steps. Levels are computed in Double and never repeat, so index
/// look-ups and img2img truncation stay well defined, and the last step always lands on clean data.
public enum Schedule {
    /// Karras et al. 2022 (arXiv 2206.00364, Eq. 5): σ_i = (σ_max^{1/ρ} + i/(N−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ,
    /// then 0.
    public static func karras(steps N: Int, sigmaMin: Double = 0.002, sigmaMax: Double = 80, rho: Double = 7) -> [Double] {
        checkRange(N, sigmaMin, sigmaMax)
        if N == 1 { return [sigmaMax, 0] }
        let (a, b) = (pow(sigmaMax, 1 / rho), pow(sigmaMin, 1 / rho))
        var σ = (0..<N).map { pow(a + Double($0) / Double(N - 1) * (b - a), rho) }
        (σ[0], σ[N - 1]) = (sigmaMax, sigmaMin)
        return σ + [0]
    }

    /// Uniform in log σ from σ_max to σ_min, then 0 (k-diffusion's `get_sigmas_exponential`). Since
    /// λ = −2 log σ, this is also uniform in log-SNR (the spacing of DPM-Solver, Lu et al. 2022, arXiv 2206.00927).
    public static func exponential(steps N: Int, sigmaMin: Double, sigmaMax: Double) -> [Double] {
        checkRange(N, sigmaMin, sigmaMax)
        if N == 1 { return [sigmaMax, 0] }
        let (a, b) = (log(sigmaMax), log(sigmaMin))
        var σ = (0..<N).map { exp(a + Double($0) / Double(N - 1) * (b - a)) }
        (σ[0], σ[N - 1]) = (sigmaMax, sigmaMin)
        return σ + [0]
    }

    /// Uniform in log-SNR λ between the process's λ(tMax) and λ(tMin), then 0.
    public static func logSNRUniform(steps N: Int, process: some NoiseProcess, tMin: Double = 1e-3, tMax: Double = 1) -> [Double] {
        let (lo, hi) = (process.edmSigma(tMin), process.edmSigma(tMax))
        precondition(hi.isFinite, "λ(tMax) = −∞ (zero terminal SNR); pick tMax < 1 for a σ-space schedule")
        return exponential(steps: N, sigmaMin: lo, sigmaMax: hi)
    }

    /// Uniform in continuous time t from tMax down to tMin, mapped to σ = σ_t/α_t, then 0. If tMin is itself clean
    /// (σ = 0, e.g. t = 0 of a flow), the N + 1 uniform times include it; otherwise N times and a final 0.
    public static func uniformTime(steps N: Int, process: some NoiseProcess, tMin: Double = 1e-3, tMax: Double = 1) -> [Double] {
        precondition(N >= 1 && 0 <= tMin && tMin < tMax && tMax <= 1, "uniformTime needs N ≥ 1 and 0 ≤ tMin < tMax ≤ 1")
        let cleanEnd = process.edmSigma(tMin) == 0
        let points = cleanEnd ? N + 1 : N
        let ts = points == 1 ? [tMax] : (0..<points).map { tMax + Double($0) / Double(points - 1) * (tMin - tMax) }
        let σ = ts.map { process.edmSigma($0) }
        return cleanEnd ? σ : σ + [0]
    }

    /// How N inference steps are placed on T discrete training steps (the three conventions of diffusers,
    /// compared in Lin et al. 2023, arXiv 2305.08891, Table 2).
    public enum Spacing: String, Sendable, CaseIterable {
        /// Evenly spaced from T−1 down to 0, rounded (the "linspace" convention).
        case uniform
        /// 0, k, 2k, … with k = T/N (integer division), plus `offset` (DDIM's original; misses the last step).
        case leading
        /// T−1, T−1−T/N, …: always includes the last training step (recommended by Lin et al.).
        case trailing
    }

    /// Descending training indices n ∈ 0..<T for N steps; distinct for every 1 ≤ N ≤ T.
    public static func timesteps(steps N: Int, trainingSteps T: Int, spacing: Spacing, offset: Int = 0) -> [Int] {
        precondition(1 <= N && N <= T, "need 1 ≤ steps ≤ T (got \(N) steps for T = \(T)): more steps than training levels would repeat a level")
        switch spacing {
        case .uniform:
            if N == 1 { return [T - 1] }
            return (0..<N).map { Int((Double(T - 1) * Double(N - 1 - $0) / Double(N - 1)).rounded()) }
        case .leading:
            let k = T / N
            return (0..<N).reversed().map { Swift.min(T - 1, $0 * k + offset) }
        case .trailing:
            return (0..<N).map { Int((Double(T) - Double($0) * Double(T) / Double(N)).rounded()) - 1 }
        }
    }

    /// EDM noise levels of a discrete process at N spaced training indices, then 0. The first level is +∞ for a
    /// zero-terminal-SNR table with trailing spacing; σ-space samplers need a finite start, so sample such a
    /// process from t = 1 with the flow samplers (`Sampling.flowEuler` is DDIM there).
    public static func discrete(steps N: Int, process: some NoiseProcess, spacing: Spacing, offset: Int = 0) -> [Double] {
        guard let T = process.discreteSteps, let table = process.discreteSigmas else {
            preconditionFailure("Schedule.discrete needs a discrete-time process; '\(process.name)' is continuous")
        }
        return timesteps(steps: N, trainingSteps: T, spacing: spacing, offset: offset).map { table[$0] } + [0]
    }

    /// Flow times t from 1 (pure noise) to 0, uniform, optionally shifted toward noise by
    /// t' = s·t/(1 + (s − 1)·t) (Esser et al. 2024, arXiv 2403.03206, "shift").
    public static func flowTimes(steps N: Int, shift: Double = 1, tMax: Double = 1) -> [Double] {
        precondition(N >= 1 && shift > 0 && 0 < tMax && tMax <= 1, "flowTimes needs N ≥ 1, shift > 0, 0 < tMax ≤ 1")
        return (0...N).map { i in
            if i == N { return 0 }
            let t = tMax * Double(N - i) / Double(N)
            return shift * t / (1 + (shift - 1) * t)
        }
    }

    /// Flow time t with the same log-SNR as EDM level σ: x/α = x₀ + σε ⇔ (1 − t)x₀ + tε with t = σ/(1 + σ).
    public static func flowTimes(fromSigmas sigmas: [Double]) -> [Double] {
        sigmas.map { $0.isInfinite ? 1 : $0 / (1 + $0) }
    }

    /// EDM levels σ = t/(1 − t) of flow times (+∞ at t = 1).
    public static func sigmas(fromFlowTimes times: [Double]) -> [Double] {
        times.map { $0 >= 1 ? .infinity : $0 / (1 - $0) }
    }

    /// Checks that a list is strictly descending, non-negative and (except perhaps the first entry) finite.
    public static func validate(_ sigmas: [Double], allowInfiniteStart: Bool = false) throws(DiffusionError) {
        guard sigmas.count >= 2 else { throw .invalidNoiseLevels("need at least two levels, got \(sigmas)") }
        for (i, σ) in sigmas.enumerated() {
            if σ.isNaN || σ < 0 { throw .invalidNoiseLevels("level \(i) is \(σ)") }
            if σ.isInfinite && !(i == 0 && allowInfiniteStart) {
                throw .invalidNoiseLevels("level \(i) is infinite; σ-space samplers need a finite σ_max (start zero-terminal-SNR processes with the flow samplers)")
            }
        }
        for i in 1..<sigmas.count where !(sigmas[i] < sigmas[i - 1]) {
            throw .invalidNoiseLevels("levels \(i - 1) and \(i) (\(sigmas[i - 1]), \(sigmas[i])) are not strictly descending")
        }
    }

    static func checkRange(_ N: Int, _ lo: Double, _ hi: Double) {
        precondition(N >= 1, "a schedule needs at least one step")
        precondition(lo > 0 && lo < hi && hi.isFinite, "need 0 < σ_min < σ_max < ∞ (got \(lo), \(hi))")
    }

}
