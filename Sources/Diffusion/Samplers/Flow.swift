import DiffusionEngine

/// Samplers for the rectified-flow ODE dx/dt = v(x, t), x_t = (1 − t)·x₀ + t·ε (Liu et al. 2022, arXiv 2209.03003;
/// Lipman et al. 2022, arXiv 2210.02747), over a descending list of times `[t_0 ≤ 1, …, 0]` (`Schedule.flowTimes`).
/// The velocity comes from any denoiser: v = (x − x̂₀)/t with x̂₀ = D(x; α = 1 − t, σ = t), so t_0 = 1 (pure noise,
/// x = z) is allowed for denoisers that accept α = 0 — v-, x₀- or velocity-prediction models, zero-terminal-SNR
/// processes, exact mixtures. Flow Euler is DDIM in these coordinates.
extension Sampling {
    static func checkTimes(_ times: [Double], _ who: String) {
        precondition(times.count >= 2 && times[0] <= 1 && times.allSatisfy { $0 >= 0 }, "\(who): times must lie in [0, 1], at least two")
        for i in 1..<times.count { precondition(times[i] < times[i - 1], "\(who): times must be strictly descending (\(times[i - 1]), \(times[i]))") }
    }

    /// The flow velocity at time t > 0 and the denoised value it came from.
    static func flowVelocity(_ model: some Denoiser, _ x: Tensor, _ t: Double) -> (v: Tensor, denoised: Tensor) {
        let denoised = model.denoise(x, at: NoiseLevel(alpha: 1 - t, sigma: t))
        return ((x - denoised) * Float(1 / t), denoised)
    }

    /// Euler: x ← x + (t_next − t)·v. One call per step.
    public static func flowEuler(_ model: some Denoiser, _ x: Tensor, times: [Double]) -> Tensor {
        checkTimes(times, "flowEuler")
        var x = x
        for i in 0..<(times.count - 1) {
            let (v, denoised) = flowVelocity(model, x, times[i])
            x = times[i + 1] == 0 ? denoised : x + v * Float(times[i + 1] - times[i])
        }
        return x
    }

    /// Explicit midpoint: the velocity at t + Δ/2 after a half Euler step carries the whole step. Order 2,
    /// two calls per step (the midpoint is never at t = 0).
    public static func flowMidpoint(_ model: some Denoiser, _ x: Tensor, times: [Double]) -> Tensor {
        checkTimes(times, "flowMidpoint")
        var x = x
        for i in 0..<(times.count - 1) {
            let Δ = times[i + 1] - times[i]
            let (v, _) = flowVelocity(model, x, times[i])
            let (vMid, _) = flowVelocity(model, x + v * Float(Δ / 2), times[i] + Δ / 2)
            x = x + vMid * Float(Δ)
        }
        return x
    }

    /// Heun (trapezoidal predictor–corrector); the last step to t = 0 stays Euler. Order 2, 2N − 1 calls.
    public static func flowHeun(_ model: some Denoiser, _ x: Tensor, times: [Double]) -> Tensor {
        checkTimes(times, "flowHeun")
        var x = x
        for i in 0..<(times.count - 1) {
            let (t, tNext) = (times[i], times[i + 1])
            let (v, denoised) = flowVelocity(model, x, t)
            if tNext == 0 { x = denoised; continue }
            let euler = x + v * Float(tNext - t)
            let (v2, _) = flowVelocity(model, euler, tNext)
            x = x + (v + v2) * Float(0.5 * (tNext - t))
        }
        return x
    }

    /// Runs a flow sampler on an EDM-level list: converts x (α = 1 coordinates at σ_0) to flow coordinates at
    /// t_0 = σ_0/(1 + σ_0), and back at the end (t = 0 coordinates coincide).
    static func inFlowCoordinates(_ x: Tensor, sigmas: [Double], _ run: (Tensor, [Double]) -> Tensor) -> Tensor {
        check(sigmas, "flow sampler")
        precondition(sigmas.last == 0, "flow samplers on σ lists need the list to end at 0")
        return run(x * Float(1 / (1 + sigmas[0])), Schedule.flowTimes(fromSigmas: sigmas))
    }

    /// DDIM inversion (Song et al. 2021, arXiv 2010.02502, §4.3; Dhariwal & Nichol 2021): deterministic Euler steps
    /// up the same descending list, from clean x₀ to σ_0, x ← x̂₀ + σ_up·ε̂ with x̂₀, ε̂ taken at the current level.
    /// The clean sample stands in for the sample at the smallest positive level (the usual approximation, since
    /// ε̂ is undefined at σ = 0), so N steps cost N − 1 calls.
    public static func ddimInversion(_ model: some Denoiser, _ x0: Tensor, sigmas: [Double]) -> Tensor {
        check(sigmas, "ddimInversion")
        let up = Array(sigmas.reversed().drop { $0 == 0 })    // ascending, positive
        var x = x0
        for i in 0..<(up.count - 1) {
            let x̂0 = model.denoise(x, sigma: up[i])
            x = x̂0 + (x - x̂0) * Float(up[i + 1] / up[i])
        }
        return x
    }
}
