import Diffusion
import DiffusionEngine
import DiffusionPlot
import Foundation

/// The experiments of appendix C (book/appendix-c-geometry.md): the Fisher metric as the local form of KL and
/// natural against plain gradient descent; the de Bruijn identity and its relative form d/dt KL(p_t‖q_t) =
/// −½·I(p_t|q_t) along the heat flow, by quadrature on exact mixtures; overdamped Langevin dynamics and the
/// Fokker–Planck equation as the gradient flow of the free energy (dissipation = relative Fisher information);
/// and the probability-flow ODE as a transport whose log-Jacobian carries the entropy change.
public enum AppendixC {
    public static let experiments: [BookExperiment] = [fisher, deBruijn, langevin, transport]

    // MARK: Quadrature on a 1-D grid

    /// ∫ g(x) dx on [lo, hi] by the composite trapezoid rule with n intervals (exponentially accurate for the smooth,
    /// Gaussian-tailed integrands used here).
    public static func integrate(lo: Double, hi: Double, n: Int = 2400, _ g: (Double) -> Double) -> Double {
        let h = (hi - lo) / Double(n)
        var s = 0.5 * (g(lo) + g(hi))
        for i in 1..<n { s += g(lo + Double(i) * h) }
        return s * h
    }

    /// log p, score and (log p)″ of a 1-D mixture under the heat flow at time t (α = 1, σ² = t).
    static func heat(_ m: GaussianMixture, _ x: Double, _ t: Double) -> (logp: Double, score: Double, curvature: Double) {
        AppendixB.logDensityDerivatives(m, at: x, alpha: 1, sigma: t.squareRoot())
    }

    /// D_KL(p_t ‖ q_t) and the relative Fisher information I(p_t | q_t) = E_p (∂ log p − ∂ log q)² under the heat flow.
    public static func heatFlowKL(_ p: GaussianMixture, _ q: GaussianMixture, t: Double) -> (kl: Double, relativeFisher: Double) {
        let kl = integrate(lo: -12, hi: 12) { x in let a = heat(p, x, t), b = heat(q, x, t); return exp(a.logp) * (a.logp - b.logp) }
        let fi = integrate(lo: -12, hi: 12) { x in let a = heat(p, x, t), b = heat(q, x, t); return exp(a.logp) * (a.score - b.score) * (a.score - b.score) }
        return (kl, fi)
    }

    /// The comparison mixture of the de Bruijn experiment: two broad bumps.
    public static let comparison = GaussianMixture(weights: [0.5, 0.5], means: [[-1], [1.5]], std: [0.6, 0.6])

    // MARK: Figure — Fisher metric and natural gradient

    /// D_KL(N(m₁, s₁²) ‖ N(m₂, s₂²)).
    static func gaussKL(_ m1: Double, _ s1: Double, _ m2: Double, _ s2: Double) -> Double {
        log(s2 / s1) + (s1 * s1 + (m1 - m2) * (m1 - m2)) / (2 * s2 * s2) - 0.5
    }

    /// Natural and plain gradient descent on D_KL(p ‖ N(μ, s²)) = const − E_p log N(x; μ, s²) for data with mean m and
    /// variance V; parameters (μ, s). Returns the KL to the optimum N(m, V) after each step.
    public static func fitGaussian(mean m: Double, variance V: Double, start: (Double, Double), rate: Double, natural: Bool, steps: Int) -> [(mu: Double, s: Double, excess: Double)] {
        var (μ, s) = start
        var out: [(mu: Double, s: Double, excess: Double)] = []
        func excess() -> Double { gaussKL(m, V.squareRoot(), μ, s) - 0 } // KL(N(m,V) ‖ N(μ,s²)) = excess cross-entropy
        out.append((μ, s, excess()))
        for _ in 0..<steps {
            let gμ = -(m - μ) / (s * s)
            let gs = 1 / s - (V + (m - μ) * (m - μ)) / (s * s * s)
            if natural { μ -= rate * s * s * gμ; s -= rate * s * s / 2 * gs }   // F = diag(1/s², 2/s²)
            else { μ -= rate * gμ; s -= rate * gs }
            s = Swift.max(s, 1e-6)
            out.append((μ, s, excess()))
        }
        return out
    }

    static let fisher = BookExperiment(
        name: "appc-fisher",
        summary: "KL as the local quadratic form of the Fisher metric: D_KL(p ‖ p(· − δ)) for the location family of GaussianMixture.example1D (quadrature) against ½J δ², J = E(∂ log p)²; the Gaussian family in (μ, log s) with metric diag(1/s², 2); and natural against plain gradient descent fitting N(μ, s²) to the mixture (natural steps of size 1 are Newton's square root).",
        defaults: ["start_mu": "2.5", "start_s": "0.5", "rate": "0.01", "steps": "60"], revision: 2
    ) { p in
        let (μ0, s0, rate) = (try p.double("start_mu"), try p.double("start_s"), try p.double("rate"))
        let steps = try p.int("steps", in: 5...10_000)
        guard s0 > 0 && rate > 0 && rate < 1 else { throw ExperimentError("need start_s > 0 and 0 < rate < 1") }
        let m = GaussianMixture.example1D
        var numbers: [String: Double] = [:]
        // Location family: KL(p ‖ p(· − δ)) by quadrature.
        let J = integrate(lo: -8, hi: 8) { x in let a = heat(m, x, 0); return exp(a.logp) * a.score * a.score }
        numbers["fisher_location"] = J
        numbers["score_third_moment"] = integrate(lo: -8, hi: 8) { x in let a = heat(m, x, 0); return exp(a.logp) * a.score * a.score * a.score }
        let deltas = [0.4, 0.2, 0.1, 0.05, 0.025, 0.0125]
        var ratios: [Double] = [], kls: [Double] = []
        for δ in deltas {
            let kl = integrate(lo: -8, hi: 8) { x in let a = heat(m, x, 0); return exp(a.logp) * (a.logp - heat(m, x - δ, 0).logp) }
            kls.append(kl); ratios.append(kl / (0.5 * J * δ * δ))
        }
        numbers["kl_location_01"] = kls[2]
        numbers["quad_location_01"] = 0.5 * J * 0.01
        numbers["ratio_location_01"] = ratios[2]
        numbers["ratio_location_min"] = ratios.last!
        numbers["ratio_error_slope"] = AppendixA.slope(deltas, ratios.map { Swift.abs($0 - 1) })
        // Gaussian family in (μ, log s) at s = 1: metric diag(1, 2); direction (1, 1)/√2.
        let dirs: [(Double, Double)] = [(1, 0), (0, 1), (0.7071067811865476, 0.7071067811865476)]
        for (k, d) in dirs.enumerated() {
            let ε = 0.1
            let kl = gaussKL(0, 1, ε * d.0, exp(ε * d.1))
            numbers["gauss_kl_dir\(k)"] = kl
            numbers["gauss_quad_dir\(k)"] = 0.5 * ε * ε * (d.0 * d.0 + 2 * d.1 * d.1)
        }
        // Natural against plain gradient descent.
        let mean = zip(m.weights, m.means).reduce(0) { $0 + $1.0 * $1.1[0] }
        let V = m.totalVariance
        numbers["data_mean"] = mean; numbers["data_var"] = V
        let plain = fitGaussian(mean: mean, variance: V, start: (μ0, s0), rate: rate, natural: false, steps: steps)
        let nat = fitGaussian(mean: mean, variance: V, start: (μ0, s0), rate: 1, natural: true, steps: 8)
        let natSmall = fitGaussian(mean: mean, variance: V, start: (μ0, s0), rate: rate * 10, natural: true, steps: steps)
        numbers["plain_final"] = plain.last!.excess
        numbers["natural_steps_to_1e10"] = Double(nat.firstIndex { $0.excess < 1e-10 } ?? -1)
        numbers["natural_final"] = nat.last!.excess
        numbers["natural_small_final"] = natSmall.last!.excess
        numbers["natural_after_1"] = nat[1].excess
        numbers["natural_after_3"] = nat[3].excess
        numbers["start_excess"] = plain[0].excess
        numbers["rate"] = rate

        // (a) KL against ½Jδ².
        var pa = Plot(width: 340, height: 300, title: "KL 的局部二次型（位置族）", x: Axis("平移 δ", scale: .log), y: Axis(scale: .log))
        pa.line(x: deltas, y: kls, colour: 0, width: 2, label: "D_KL(p ‖ p(· − δ))")
        let quad: [Double] = deltas.map { (d: Double) -> Double in 0.5 * J * d * d }
        pa.line(x: deltas, y: quad, colour: 7, style: .dashed, width: 1.6, label: "½ J δ²")
        pa.scatter(zip(deltas, kls).map { Point($0, $1) }, colour: 0, radius: 3, opacity: 1)
        // (b) trajectories in (μ, s).
        var pb = Plot(width: 340, height: 300, title: "拟合 N(μ, s²)：参数平面上的轨迹", x: Axis("μ", range: -1...3), y: Axis("s", range: 0...10))
        pb.line(plain.map { Point($0.mu, $0.s) }, colour: 1, width: 1.8, label: "普通梯度（步长 \(rate)）")
        pb.scatter(plain.map { Point($0.mu, $0.s) }, colour: 1, radius: 1.6, opacity: 0.8)
        pb.line(natSmall.map { Point($0.mu, $0.s) }, colour: 2, width: 1.8, label: "自然梯度（步长 \(rate * 10)）")
        pb.line(nat.map { Point($0.mu, $0.s) }, colour: 0, width: 2.2, label: "自然梯度（步长 1）")
        pb.scatter(nat.map { Point($0.mu, $0.s) }, colour: 0, radius: 3, opacity: 1)
        pb.scatter([Point(mean, V.squareRoot())], colour: 7, radius: 5, opacity: 1, label: "最优 (E x, √Var x)")
        // (c) excess KL against iteration.
        var pc = Plot(width: 340, height: 300, title: "超额 KL 与迭代次数", x: Axis("迭代", range: 0...Double(steps)), y: Axis(scale: .log, range: 1e-12...100))
        pc.line(x: plain.indices.map(Double.init), y: plain.map { Swift.max($0.excess, 1e-13) }, colour: 1, width: 2, label: "普通梯度")
        pc.line(x: natSmall.indices.map(Double.init), y: natSmall.map { Swift.max($0.excess, 1e-13) }, colour: 2, width: 2, label: "自然梯度（小步长）")
        pc.line(x: nat.indices.map(Double.init), y: nat.map { Swift.max($0.excess, 1e-13) }, colour: 0, width: 2, label: "自然梯度（步长 1）")
        return ExperimentResult(svg: Figure([pa, pb, pc], columns: 3).svg(title: "Fisher 度量：KL 的局部形状与自然梯度"), numbers: numbers)
    }

    // MARK: Figure — de Bruijn and its relative form

    static let deBruijn = BookExperiment(
        name: "appc-debruijn",
        summary: "Heat flow of GaussianMixture.example1D (p) and a two-bump mixture (q): D_KL(p_t ‖ q_t), its time derivative by central differences against −½ I(p_t | q_t), and dH(p_t)/dt against ½ J(p_t), all by quadrature on exact mixtures; the Fisher divergence integrated over t reproduces the KL at t = 0 (minus the KL left at T).",
        defaults: ["T": "4", "points": "31"]
    ) { p in
        let T = try p.double("T")
        let K = try p.int("points", in: 5...401)
        guard K % 2 == 1 else { throw ExperimentError("points must be odd (Simpson's rule)") }
        guard T > 0 && T <= 50 else { throw ExperimentError("T must lie in (0, 50]") }
        let (P, Q) = (GaussianMixture.example1D, comparison)
        // Times on a grid in √t (denser near 0, where things change fast).
        var times: [Double] = []
        for i in 0..<K { let u = Double(i) / Double(K - 1); times.append(T * u * u) }
        var kl: [Double] = [], rf: [Double] = [], dkl: [Double] = [], H: [Double] = [], J: [Double] = [], dH: [Double] = []
        let e = 1e-4
        func entropy(_ t: Double) -> Double { -integrate(lo: -12, hi: 12) { x in let a = heat(P, x, t); return exp(a.logp) * a.logp } }
        for t in times {
            let r = heatFlowKL(P, Q, t: t)
            kl.append(r.kl); rf.append(r.relativeFisher)
            let lo = Swift.max(t - e, 0), hi = t + e
            dkl.append((heatFlowKL(P, Q, t: hi).kl - heatFlowKL(P, Q, t: lo).kl) / (hi - lo))
            H.append(entropy(t))
            J.append(integrate(lo: -12, hi: 12) { x in let a = heat(P, x, t); return exp(a.logp) * a.score * a.score })
            dH.append((entropy(hi) - entropy(lo)) / (hi - lo))
        }
        var numbers: [String: Double] = ["T": T]
        var worstKL = 0.0, worstH = 0.0
        for i in 1..<K {   // skip t = 0 where the difference is one-sided
            worstKL = Swift.max(worstKL, Swift.abs(dkl[i] + 0.5 * rf[i]) / (0.5 * rf[i]))
            worstH = Swift.max(worstH, Swift.abs(dH[i] - 0.5 * J[i]) / (0.5 * J[i]))
        }
        numbers["kl_identity_max_rel"] = worstKL
        numbers["h_identity_max_rel"] = worstH
        numbers["kl_0"] = kl[0]; numbers["kl_T"] = kl[K - 1]
        numbers["fisher_div_0"] = rf[0]
        numbers["h_0"] = H[0]; numbers["h_T"] = H[K - 1]
        numbers["j_0"] = J[0]
        // ∫₀ᵀ ½ I dt and ∫₀ᵀ ½ J dt by Simpson's rule in u = √(t/T) (t = T u², dt = 2T u du; K − 1 is even).
        var intI = 0.0, intJ = 0.0
        let du = 1 / Double(K - 1)
        for i in 0..<K {
            let u = Double(i) * du
            let w: Double = (i == 0 || i == K - 1) ? 1 : (i % 2 == 1 ? 4 : 2)
            intI += w * 0.5 * rf[i] * 2 * T * u; intJ += w * 0.5 * J[i] * 2 * T * u
        }
        intI *= du / 3; intJ *= du / 3
        numbers["int_half_fisher_div"] = intI
        numbers["int_half_fisher"] = intJ
        let mid = K / 2
        numbers["t_mid"] = times[mid]; numbers["dkl_mid"] = dkl[mid]; numbers["half_rf_mid"] = 0.5 * rf[mid]

        var pa = Plot(width: 340, height: 300, title: "两条热流之间的 KL", x: Axis("t", range: 0...T), y: Axis(scale: .log))
        pa.line(x: times, y: kl, colour: 0, width: 2, label: "D_KL(pₜ ‖ qₜ)")
        pa.line(x: times, y: rf.map { 0.5 * $0 }, colour: 1, width: 2, label: "½ I(pₜ | qₜ)")
        var pb = Plot(width: 340, height: 300, title: "d/dt KL 与 −½ I", x: Axis("t", range: 0...T), y: Axis(scale: .log))
        pb.line(x: times, y: dkl.map { -$0 }, colour: 0, width: 2, label: "−d/dt D_KL（差分）")
        pb.scatter(zip(times, rf).map { Point($0, 0.5 * $1) }, colour: 1, radius: 2.6, opacity: 1, label: "½ I(pₜ | qₜ)（求积）")
        var pc = Plot(width: 340, height: 300, title: "de Bruijn：dH/dt 与 ½ J", x: Axis("t", range: 0...T), y: Axis(scale: .log))
        pc.line(x: times, y: dH, colour: 0, width: 2, label: "d/dt H(pₜ)（差分）")
        pc.scatter(zip(times, J).map { Point($0, 0.5 * $1) }, colour: 1, radius: 2.6, opacity: 1, label: "½ J(pₜ)（求积）")
        return ExperimentResult(svg: Figure([pa, pb, pc], columns: 3).svg(title: "热流上的 de Bruijn 恒等式：熵与 KL 的变化率都是 Fisher 量的一半"), numbers: numbers)
    }

    // MARK: Figure — Langevin dynamics and the Fokker–Planck equation as a gradient flow

    /// The Fokker–Planck equation of overdamped Langevin dynamics dX = ∇log p dt + √2 dW, ∂ρ/∂t = ∂ₓ(p ∂ₓ(ρ/p)),
    /// on a uniform grid by explicit finite volumes with the flux −√(p_i p_{i+1})·(ρ_{i+1}/p_{i+1} − ρ_i/p_i)/Δx
    /// (zero for ρ ∝ p, so the target is an exact fixed point) and no flux through the ends. Returns ρ at the
    /// requested step counts.
    public static func fokkerPlanckGrid(target p: [Double], initial: [Double], dx: Double, dt: Double, snapshots: [Int]) -> [[Double]] {
        let n = p.count
        precondition(initial.count == n && n >= 3 && dt > 0, "fokkerPlanckGrid: grids must match")
        let ph = (0..<(n - 1)).map { (p[$0] * p[$0 + 1]).squareRoot() }
        var ρ = initial, out: [[Double]] = []
        var flux = [Double](repeating: 0, count: n - 1)
        let last = snapshots.max() ?? 0
        var want = Set(snapshots)
        if want.contains(0) { out.append(ρ); want.remove(0) }
        if last == 0 { return out }
        for step in 1...last {
            for i in 0..<(n - 1) { flux[i] = -ph[i] * (ρ[i + 1] / p[i + 1] - ρ[i] / p[i]) / dx }
            for i in 0..<n {
                let left = i > 0 ? flux[i - 1] : 0, right = i < n - 1 ? flux[i] : 0
                ρ[i] -= dt * (right - left) / dx
            }
            if want.contains(step) { out.append(ρ) }
        }
        return out
    }

    static let langevin = BookExperiment(
        name: "appc-langevin",
        summary: "Overdamped Langevin dynamics towards p = GaussianMixture.example1D smoothed at σ: particles by Euler–Maruyama with the exact score, and the Fokker–Planck equation on a grid (finite volumes that keep p exactly stationary) from N(3, 0.3²): densities at several times, D_KL(ρ_t ‖ p) decreasing, and its rate against the relative Fisher information I(ρ_t | p) — the dissipation of the free energy along its Wasserstein gradient flow.",
        defaults: ["seed": "0", "particles": "2000", "sigma": "0.3", "T": "1.5"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let M = try p.int("particles", in: 100...100_000)
        let σ = try p.double("sigma"), T = try p.double("T")
        guard σ >= 0.1 && σ <= 2 && T > 0 && T <= 10 else { throw ExperimentError("need 0.1 ≤ sigma ≤ 2 and 0 < T ≤ 10") }
        let m = GaussianMixture.example1D
        let (lo, hi, dx) = (-4.5, 5.0, 0.025)
        let n = Int(((hi - lo) / dx).rounded()) + 1
        let xs = AppendixB.grid(lo, dx, n - 1)
        let target = xs.map { exp(AppendixB.logDensityDerivatives(m, at: $0, alpha: 1, sigma: σ).logp) }
        let z0 = target.reduce(0, +) * dx
        let pGrid = target.map { $0 / z0 }                       // normalised on the grid
        let (m0, s0) = (3.0, 0.3)
        var rho0: [Double] = []
        for xv in xs { let d = xv - m0; rho0.append(exp(-d * d / (2 * s0 * s0))) }
        let z1 = rho0.reduce(0, +) * dx
        rho0 = rho0.map { $0 / z1 }
        let dt = 1e-4
        let every = 250                                           // snapshot every 0.025
        let total = Int((T / dt).rounded())
        let snapSteps = Array(stride(from: 0, through: total, by: every))
        let snaps = fokkerPlanckGrid(target: pGrid, initial: rho0, dx: dx, dt: dt, snapshots: snapSteps)
        func kl(_ r: [Double]) -> Double { var s = 0.0; for i in 0..<n where r[i] > 1e-300 { s += r[i] * log(r[i] / pGrid[i]) }; return s * dx }
        func relFisher(_ r: [Double]) -> Double {
            var s = 0.0
            for i in 0..<(n - 1) {
                let g = (log(r[i + 1] / pGrid[i + 1]) - log(r[i] / pGrid[i])) / dx
                s += 0.5 * (r[i] + r[i + 1]) * g * g
            }
            return s * dx
        }
        let times = snapSteps.map { Double($0) * dt }
        let KL = snaps.map(kl), I = snaps.map(relFisher)
        var numbers: [String: Double] = ["sigma": σ, "T": T, "particles": Double(M)]
        var worst = 0.0
        for k in 1..<(snaps.count - 1) {
            let d = (KL[k + 1] - KL[k - 1]) / (times[k + 1] - times[k - 1])
            worst = Swift.max(worst, Swift.abs(d + I[k]) / I[k])
        }
        numbers["dissipation_max_rel"] = worst
        numbers["kl_0"] = KL[0]
        numbers["kl_final"] = KL.last!
        let k05 = snapSteps.firstIndex { $0 * 2 >= total / 3 * 2 } ?? snaps.count / 3
        numbers["kl_third"] = KL[k05]; numbers["time_third"] = times[k05]
        numbers["mass_final"] = snaps.last!.reduce(0, +) * dx
        numbers["fisher_rel_0"] = I[0]
        // Particles: Euler–Maruyama with the exact score, step 0.005.
        let h = 0.005, steps = Int((T / h).rounded())
        var x: [Double] = Tensor.randomNormal([M], seed: seed, stream: 1).scalars.map { (z: Float) -> Double in m0 + s0 * Double(z) }
        let noise = Tensor.randomNormal([steps * M], seed: seed, stream: 2).scalars
        for k in 0..<steps {
            for i in 0..<M {
                let s = AppendixB.logDensityDerivatives(m, at: x[i], alpha: 1, sigma: σ).score
                x[i] += h * s + (2 * h).squareRoot() * Double(noise[k * M + i])
            }
        }
        // Particle histogram against the grid solution at T: total-variation distance on 40 bins.
        let bins = 40, bw = (hi - lo) / Double(bins)
        var hist = [Double](repeating: 0, count: bins)
        for v in x { let b = Int(((v - lo) / bw).rounded(.down)); if (0..<bins).contains(b) { hist[b] += 1 / (Double(M) * bw) } }
        var tv = 0.0
        for b in 0..<bins {
            var gridMass = 0.0
            for i in 0..<n where xs[i] >= lo + Double(b) * bw && xs[i] < lo + Double(b + 1) * bw { gridMass += snaps.last![i] * dx }
            tv += Swift.abs(hist[b] * bw - gridMass)
        }
        numbers["particle_tv"] = 0.5 * tv
        numbers["particle_mean"] = AppendixA.mean(x)
        var tm = 0.0, gm = 0.0
        for i in 0..<n { tm += xs[i] * pGrid[i]; gm += xs[i] * snaps.last![i] }
        numbers["target_mean"] = tm * dx
        numbers["grid_mean_final"] = gm * dx

        var pa = Plot(width: 340, height: 300, title: "ρₜ 从 N(3, 0.3²) 流向 p", x: Axis("x", range: lo...hi), y: Axis("密度", range: 0...1.4))
        for (q, tt) in [0.0, 0.05, 0.2, 0.5, T].enumerated() {
            let k = Swift.min(snaps.count - 1, Int((tt / (Double(every) * dt)).rounded()))
            pa.line(x: xs, y: snaps[k], colour: q, width: 1.6, label: String(format: "t = %.2f", times[k]))
        }
        pa.line(x: xs, y: pGrid, colour: 7, style: .dashed, width: 1.8, label: "目标 p")
        pa.line(AppendixA.histogram(x, lo: lo, hi: hi, bins: bins), colour: 5, style: .dotted, width: 1.4, label: "粒子直方图，t = \(T)")
        var pb = Plot(width: 340, height: 300, title: "自由能下降：D_KL(ρₜ ‖ p)", x: Axis("t", range: 0...T), y: Axis(scale: .log))
        pb.line(x: times, y: KL, colour: 0, width: 2, label: "D_KL(ρₜ ‖ p)")
        pb.line(x: times, y: I, colour: 1, width: 2, label: "I(ρₜ | p)")
        var pc = Plot(width: 340, height: 300, title: "耗散等式 d/dt KL = −I", x: Axis("t", range: 0...T), y: Axis(scale: .log))
        var dK: [Double] = []
        for k in 1..<(snaps.count - 1) { dK.append(-(KL[k + 1] - KL[k - 1]) / (times[k + 1] - times[k - 1])) }
        pc.line(x: Array(times[1..<(snaps.count - 1)]), y: dK, colour: 0, width: 2, label: "−d/dt KL（差分）")
        pc.scatter(Swift.stride(from: 1, to: snaps.count - 1, by: 3).map { Point(times[$0], I[$0]) }, colour: 1, radius: 2.6, opacity: 1, label: "I(ρₜ | p)")
        return ExperimentResult(svg: Figure([pa, pb, pc], columns: 3).svg(title: "朗之万动力学：Fokker–Planck 方程是自由能的梯度流"), numbers: numbers)
    }

    // MARK: Figure — the probability-flow ODE as a transport, and the entropy it carries

    static let transport = BookExperiment(
        name: "appc-transport",
        summary: "The probability-flow ODE of the heat flow (f = 0, g = 1) from GaussianMixture.example1D over [0, 1]: particles and their log-Jacobians integrated together by RK4 (in u = √t), the pathwise change of variables log p_t(x_t) = log p₀(x₀) − log J_t, the entropy change H(p_t) − H(p₀) from quadrature, from the mean log-Jacobian and from ½∫J dt (de Bruijn), and the pushed-forward histogram against p₁.",
        defaults: ["seed": "0", "particles": "2000", "steps": "100", "T": "1"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let M = try p.int("particles", in: 100...100_000)
        let N = try p.int("steps", in: 10...10_000)
        let T = try p.double("T")
        guard T > 0 && T <= 10 else { throw ExperimentError("T must lie in (0, 10]") }
        let m = GaussianMixture.example1D
        // State (x, log J) with d/du = 2u·(v, ∂ₓv), v = −½ ∂ₓ log p_t, t = u², u ∈ [0, √T].
        func rhs(_ x: Double, _ u: Double) -> (Double, Double) {
            let d = heat(m, x, u * u)
            return (2 * u * (-0.5 * d.score), 2 * u * (-0.5 * d.curvature))
        }
        let uT = T.squareRoot(), du = uT / Double(N)
        var x = m.sample(M, seed: seed).scalars.map(Double.init)
        let x0 = x
        var logJ = [Double](repeating: 0, count: M)
        let checkpoints = [N / 4, N / 2, 3 * N / 4, N]
        var meanLogJ: [Double] = [0], cTimes: [Double] = [0], resid: [Double] = []
        let show = 40
        var paths = (0..<show).map { [Point(0, x[$0])] }
        for k in 0..<N {
            let u = Double(k) * du
            for i in 0..<M {
                let (a1, b1) = rhs(x[i], u)
                let (a2, b2) = rhs(x[i] + 0.5 * du * a1, u + 0.5 * du)
                let (a3, b3) = rhs(x[i] + 0.5 * du * a2, u + 0.5 * du)
                let (a4, b4) = rhs(x[i] + du * a3, u + du)
                x[i] += du / 6 * (a1 + 2 * a2 + 2 * a3 + a4)
                logJ[i] += du / 6 * (b1 + 2 * b2 + 2 * b3 + b4)
            }
            let t = (u + du) * (u + du)
            for q in 0..<show where (k + 1) % Swift.max(1, N / 50) == 0 { paths[q].append(Point(t, x[q])) }
            if checkpoints.contains(k + 1) {
                meanLogJ.append(AppendixA.mean(logJ)); cTimes.append(t)
                var worst = 0.0
                for i in 0..<M { worst = Swift.max(worst, Swift.abs(heat(m, x[i], t).logp - (heat(m, x0[i], 0).logp - logJ[i]))) }
                resid.append(worst)
            }
        }
        var numbers: [String: Double] = ["particles": Double(M), "steps": Double(N), "T": T]
        numbers["pathwise_max_resid"] = resid.max()!
        let (mj, mjse) = AppendixA.meanSE(logJ)
        numbers["mean_logj"] = mj; numbers["mean_logj_se"] = mjse
        let H0 = m.entropy
        let HT = -m.expectation(at: NoiseLevel(alpha: 1, sigma: uT)) { _, post in post.logDensity }
        numbers["h_0"] = H0; numbers["h_T"] = HT; numbers["dh_quadrature"] = HT - H0
        // ½∫₀ᵀ J(p_t) dt, Simpson in u (dt = 2u du).
        var simpson = 0.0
        let K = 200
        for i in 0...K {
            let u = uT * Double(i) / Double(K)
            let J = m.fisherInformation(at: NoiseLevel(alpha: 1, sigma: u))
            let w: Double = (i == 0 || i == K) ? 1 : (i % 2 == 1 ? 4 : 2)
            simpson += w * J * u
        }
        numbers["half_int_fisher"] = simpson * uT / Double(K) / 3
        // Pushforward against p_T: total variation on 40 bins.
        let (lo, hi, bins) = (-5.0, 5.5, 42)
        let bw = (hi - lo) / Double(bins)
        var tv = 0.0
        for b in 0..<bins {
            let a = lo + Double(b) * bw
            let frac = Double(x.filter { $0 >= a && $0 < a + bw }.count) / Double(M)
            let mass = integrate(lo: a, hi: a + bw, n: 40) { exp(heat(m, $0, T).logp) }
            tv += Swift.abs(frac - mass)
        }
        numbers["pushforward_tv"] = 0.5 * tv

        var pa = Plot(width: 340, height: 300, title: "概率流 ODE 的轨迹（热流）", x: Axis("t", range: 0...T), y: Axis("x", range: -3.5...4))
        pa.trajectories(paths, colour: 0, label: "\(show) 条轨迹", endpoints: false)
        var pb = Plot(width: 340, height: 300, title: "熵的变化 H(pₜ) − H(p₀)", x: Axis("t", range: 0...T), y: Axis())
        let tt = AppendixB.grid(0, T / 40, 40)
        var dHcurve: [Double] = []
        for t in tt {
            if t == 0 { dHcurve.append(0); continue }
            let negH = m.expectation(at: NoiseLevel(alpha: 1, sigma: t.squareRoot())) { _, post in post.logDensity }
            dHcurve.append(-negH - H0)
        }
        pb.line(x: tt, y: dHcurve, colour: 0, width: 2, label: "求积：H(pₜ) − H(p₀)")
        pb.scatter(zip(cTimes, meanLogJ).map { Point($0, $1) }, colour: 1, radius: 3.5, opacity: 1, label: "粒子：E log Jₜ")
        var pc = Plot(width: 340, height: 300, title: "推前分布与 p_T", x: Axis("x", range: lo...hi), y: Axis("密度"))
        pc.line(AppendixA.histogram(x, lo: lo, hi: hi, bins: bins), colour: 1, width: 1.6, label: "ODE 推前的直方图")
        let grid = AppendixB.grid(lo, 0.05, 210)
        pc.line(x: grid, y: grid.map { exp(heat(m, $0, T).logp) }, colour: 7, style: .dashed, width: 1.8, label: "p_T（精确）")
        pc.line(x: grid, y: grid.map { exp(heat(m, $0, 0).logp) }, colour: 0, style: .dotted, width: 1.2, label: "p₀")
        return ExperimentResult(svg: Figure([pa, pb, pc], columns: 3).svg(title: "概率流 ODE 是一个搬运：对数雅可比记录了熵的变化"), numbers: numbers)
    }
}
