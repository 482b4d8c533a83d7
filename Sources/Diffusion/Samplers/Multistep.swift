import Foundation
import DiffusionEngine

/// I_k(h) = ∫₀ʰ τᵏ e^{τ−h} dτ = k!·Σ_{m≥0} (−1)ᵐ h^{m+k+1}/(m+k+1)! (= k!·h^{k+1}·φ_{k+1}(−h)), the weights of
/// exponential integrators in λ = −log σ. Closed forms for large h; the series for small h, where they cancel.
func exponentialMoment(_ k: Int, _ h: Double) -> Double {
    if h > 0.5 {
        switch k {
        case 0: return -expm1(-h)
        case 1: return h + expm1(-h)
        case 2: return h * h - 2 * h - 2 * expm1(-h)
        default: break
        }
    }
    var factorial = 1.0
    for j in stride(from: 2, through: k, by: 1) { factorial *= Double(j) }
    var term = 1.0                                   // h^{k+1}/(k+1)! after the first loop
    for j in 1...(k + 1) { term *= h / Double(j) }
    var sum = 0.0
    for m in 0..<60 {
        sum += term
        term *= -h / Double(m + k + 2)
        if Swift.abs(term) < 1e-18 * Swift.abs(sum) { break }
    }
    return factorial * sum
}

extension Sampling {
    /// DPM-Solver++(2M) (Lu et al. 2022, arXiv 2211.01095, Algorithm 2): the exponential integrator in
    /// λ = −log σ, x_next = (σ_next/σ)·x − expm1(−h)·D̃, with D̃ = (1 + 1/(2r))·D_i − 1/(2r)·D_{i−1}, r = h_{i−1}/h_i.
    /// The first step and the step to σ = 0 are first order. Order 2, one call per step.
    public static func dpmSolverPP2M(_ model: some Denoiser, _ x: Tensor, sigmas: [Double]) -> Tensor {
        check(sigmas, "dpmSolverPP2M")
        var x = x
        var previous: (denoised: Tensor, h: Double)?
        for i in 0..<(sigmas.count - 1) {
            let (σ, σNext) = (sigmas[i], sigmas[i + 1])
            let denoised = model.denoise(x, sigma: σ)
            if σNext == 0 { x = denoised; continue }
            let h = log(σ / σNext)
            var D = denoised
            if let (old, hLast) = previous {
                let r = hLast / h
                D = denoised * Float(1 + 1 / (2 * r)) - old * Float(1 / (2 * r))
            }
            x = x * Float(σNext / σ) - D * Float(expm1(-h))
            previous = (denoised, h)
        }
        return x
    }

    /// DPM-Solver++(3M), third-order multistep (Lu et al. 2022, arXiv 2211.01095, §4 and App. B): the exact
    /// integral x_next = e^{−h}·x + ∫₀ʰ e^{τ−h} p(τ) dτ of the quadratic p through the last three denoised values in
    /// λ = −log σ (Newton form), using the moments of `exponentialMoment`. Starts with orders 1 and 2; the step to
    /// σ = 0 is first order. Order 3, one call per step.
    public static func dpmSolverPP3M(_ model: some Denoiser, _ x: Tensor, sigmas: [Double]) -> Tensor {
        check(sigmas, "dpmSolverPP3M")
        var x = x
        var history: [(denoised: Tensor, h: Double)] = []   // most recent first: (D_{i−1}, λ_i − λ_{i−1}), …
        for i in 0..<(sigmas.count - 1) {
            let (σ, σNext) = (sigmas[i], sigmas[i + 1])
            let D0 = model.denoise(x, sigma: σ)
            if σNext == 0 { x = D0; continue }
            let h = log(σ / σNext)
            x = x * Float(exp(-h)) + D0 * Float(exponentialMoment(0, h))
            if let (D1, h1) = history.first {
                let f01 = (D0 - D1) * Float(1 / h1)                           // p'(0) to first order
                x = x + f01 * Float(exponentialMoment(1, h))
                if history.count > 1 {
                    let (D2, h2) = history[1]
                    let f12 = (D1 - D2) * Float(1 / h2)
                    let f012 = (f01 - f12) * Float(1 / (h1 + h2))            // p(τ) ∋ f012·τ(τ + h1)
                    x = x + f012 * Float(exponentialMoment(2, h) + h1 * exponentialMoment(1, h))
                }
            }
            history.insert((D0, h), at: 0)
            if history.count > 2 { history.removeLast() }
        }
        return x
    }

    /// UniPC with the B(h) = e^{h} − 1 ("bh2") variant and a second-order predictor (Zhao et al. 2023,
    /// arXiv 2302.04867, Algorithms 1–3 in the data-prediction form). UniP-2 predicts like DPM-Solver++(2M); UniC
    /// then corrects each new sample with the model value computed there, which the next step reuses, so the
    /// corrector costs no call and raises the order to 3 (Theorem 3.1; measured slope ≈ 3). The step to σ = 0 is
    /// first order.
    public static func uniPC(_ model: some Denoiser, _ x: Tensor, sigmas: [Double]) -> Tensor {
        check(sigmas, "uniPC")
        var x = x
        var D: [Tensor] = []                       // denoised values, most recent last
        var last: (x: Tensor, i: Int)?              // the sample the previous predictor started from
        let λ = sigmas.map { -log($0) }
        for i in 0..<(sigmas.count - 1) {
            let Di = model.denoise(x, sigma: sigmas[i])
            if let (xPrev, j) = last {              // UniC: correct x_i using D_i
                let m0 = D[D.count - 1], h = λ[i] - λ[j]
                let B = expm1(-h)
                var xc = xPrev * Float(sigmas[i] / sigmas[j]) - m0 * Float(B)
                if D.count >= 2 {
                    let rk = (λ[j - 1] - λ[j]) / h
                    let D1 = (D[D.count - 2] - m0) * Float(1 / rk)
                    let (ρ0, ρ1) = uniCoefficients(h: h, rk: rk)
                    xc = xc - (D1 * Float(ρ0) + (Di - m0) * Float(ρ1)) * Float(B)
                } else {
                    xc = xc - (Di - m0) * Float(0.5 * B)
                }
                x = xc
            }
            D.append(Di)
            if D.count > 2 { D.removeFirst() }
            let σNext = sigmas[i + 1]
            if σNext == 0 { x = Di; continue }
            let h = λ[i + 1] - λ[i], B = expm1(-h)  // UniP: predict x_{i+1}
            var xp = x * Float(σNext / sigmas[i]) - Di * Float(B)
            if D.count >= 2 {
                let rk = (λ[i - 1] - λ[i]) / h
                xp = xp - (D[0] - Di) * Float(0.5 * B / rk)
            }
            last = (x, i)
            x = xp
        }
        return x
    }

    /// UniC-2 weights: solve [[1, 1], [r, 1]]·ρ = b with b_k = k!·φ_k(−h)/B(h) as in the reference algorithm.
    static func uniCoefficients(h: Double, rk: Double) -> (Double, Double) {
        let hh = -h, B = expm1(hh)
        var phi = expm1(hh) / hh - 1
        let b1 = phi / B
        phi = phi / hh - 0.5
        let b2 = phi * 2 / B
        let ρ0 = (b1 - b2) / (1 - rk)
        return (ρ0, b1 - ρ0)
    }

    /// Linear multistep in σ (k-diffusion's `sample_lms`): x_next = x + Σ_j c_j·d_{i−j}, where c_j = ∫ L_j(σ) dσ over
    /// [σ_i, σ_{i+1}] is the integral of the Lagrange basis polynomial through the last `order` levels, computed by
    /// 4-point Gauss–Legendre quadrature (exact for these degree ≤ 3 polynomials). Order ≤ 4, one call per step.
    public static func lms(_ model: some Denoiser, _ x: Tensor, sigmas: [Double], order: Int = 4) -> Tensor {
        check(sigmas, "lms")
        precondition((1...4).contains(order), "LMS order must be 1…4")
        var x = x
        var ds: [Tensor] = []                      // most recent first
        for i in 0..<(sigmas.count - 1) {
            let denoised = model.denoise(x, sigma: sigmas[i])
            ds.insert(derivative(x, denoised, sigmas[i]), at: 0)
            if ds.count > order { ds.removeLast() }
            let nodes = (0..<ds.count).map { sigmas[i - $0] }
            for (j, d) in ds.enumerated() {
                x = x + d * Float(lagrangeIntegral(nodes, j, from: sigmas[i], to: sigmas[i + 1]))
            }
        }
        return x
    }

    /// ∫_a^b L_j(s) ds for the Lagrange basis polynomial L_j on `nodes`, by Gauss–Legendre quadrature.
    static func lagrangeIntegral(_ nodes: [Double], _ j: Int, from a: Double, to b: Double) -> Double {
        let gx = [-0.861136311594052575, -0.339981043584856265, 0.339981043584856265, 0.861136311594052575]
        let gw = [0.347854845137453857, 0.652145154862546143, 0.652145154862546143, 0.347854845137453857]
        var sum = 0.0
        for (u, w) in zip(gx, gw) {
            let s = 0.5 * (a + b) + 0.5 * (b - a) * u
            var L = 1.0
            for (k, node) in nodes.enumerated() where k != j { L *= (s - node) / (nodes[j] - node) }
            sum += w * L
        }
        return 0.5 * (b - a) * sum
    }
}
