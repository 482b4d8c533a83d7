import Diffusion
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 6 (book/ch06-flow.md): every computed answer is recomputed here independently of the experiment code
/// (plain Double loops for the mixture's posterior, the flow velocity, the samplers, quadrature and energy distances),
/// the theorems the text proves are checked on the numbers the library produced, the chapter has the structure
/// BOOK-STYLE.md asks for, and its page renders cleanly.
@Suite("Chapter 6: computed answers, claims about the figures, structure, rendered page")
struct Chapter6Tests: ExperimentChecks {
    static let source = Fixtures.realBook.appendingPathComponent("ch06-flow.md")

    // The experiments with training runs, computed once for all tests.
    static let trainResult = Result { try run("ch6-train") }
    static let reflowResult = Result { try run("ch6-reflow") }
    static let numbersResult = Result { try run("ch6-numbers") }

    // MARK: Independent reference implementations (Double, no library code)

    /// A diagonal Gaussian mixture with its posterior at x = α·x₀ + σ·ε, written out.
    struct Mixture {
        let w: [Double], mu: [[Double]], s: [[Double]]
        var d: Int { mu[0].count }

        /// (log p(x), E[x₀ | x], tr Cov[x₀ | x]).
        func posterior(_ x: [Double], _ α: Double, _ σ: Double) -> (logp: Double, mean: [Double], trCov: Double) {
            let K = w.count
            var logr = [Double](repeating: 0, count: K), means = [[Double]](repeating: [], count: K), vars = [Double](repeating: 0, count: K)
            for k in 0..<K {
                var l = log(w[k])
                var m = [Double](repeating: 0, count: d)
                for j in 0..<d {
                    let v = α * α * s[k][j] * s[k][j] + σ * σ
                    let r = x[j] - α * mu[k][j]
                    l -= 0.5 * (r * r / v + log(2 * Double.pi * v))
                    m[j] = mu[k][j] + α * s[k][j] * s[k][j] / v * r
                    vars[k] += s[k][j] * s[k][j] * σ * σ / v
                }
                logr[k] = l
                means[k] = m
            }
            let top = logr.max()!
            let total = logr.reduce(0) { $0 + exp($1 - top) }
            let r = logr.map { exp($0 - top) / total }
            var mean = [Double](repeating: 0, count: d)
            for k in 0..<K { for j in 0..<d { mean[j] += r[k] * means[k][j] } }
            var tr = 0.0
            for k in 0..<K {
                var dev = 0.0
                for j in 0..<d { dev += (means[k][j] - mean[j]) * (means[k][j] - mean[j]) }
                tr += r[k] * (vars[k] + dev)
            }
            return (top + log(total), mean, tr)
        }

        func denoise(_ x: [Double], _ t: Double) -> [Double] { posterior(x, 1 - t, t).mean }

        /// u_t(x) = (x − E[x₀ | x_t = x])/t.
        func velocity(_ x: [Double], _ t: Double) -> [Double] { zip(x, denoise(x, t)).map { ($0 - $1) / t } }

        /// Heun on the flow ODE over uniform times 1 → 0 (last step to t = 0 returns the denoised value).
        func heun(_ x: [Double], steps N: Int, from t0: Double = 1) -> [Double] {
            var y = x
            for i in 0..<N {
                let (t, tn) = (t0 * Double(N - i) / Double(N), t0 * Double(N - i - 1) / Double(N))
                if tn == 0 { y = denoise(y, t); break }
                let u = velocity(y, t)
                let e = zip(y, u).map { $0 + (tn - t) * $1 }
                let u2 = velocity(e, tn)
                y = (0..<d).map { y[$0] + 0.5 * (tn - t) * (u[$0] + u2[$0]) }
            }
            return y
        }

        var secondMoment: Double {
            var m = 0.0
            for k in 0..<w.count { for j in 0..<d { m += w[k] * (mu[k][j] * mu[k][j] + s[k][j] * s[k][j]) } }
            return m
        }
        var mean: [Double] { (0..<d).map { j in (0..<w.count).reduce(0) { $0 + w[$1] * mu[$1][j] } } }
    }

    static let example1D = Mixture(w: [0.5, 0.3, 0.2], mu: [[-1.5], [0.5], [2]], s: [[0.3], [0.2], [0.4]])
    static let example2D: Mixture = {
        let ring = (0..<6).map { k -> [Double] in let a = Double(k) * .pi / 3; return [2 * cos(a), 2 * sin(a)] }
        let w = [0.2, 0.1, 0.15, 0.1, 0.2, 0.1, 0.15]
        return Mixture(w: w.map { $0 / w.reduce(0, +) }, mu: ring + [[0, 0]],
                       s: [[0.2, 0.2], [0.3, 0.3], [0.15, 0.15], [0.25, 0.25], [0.2, 0.2], [0.3, 0.3], [0.6, 0.15]])
    }()

    static func rows(_ t: Tensor) -> [[Double]] {
        let v = t.scalars.map(Double.init), d = t.count / t.shape[0]
        return (0..<t.shape[0]).map { Array(v[($0 * d)..<($0 * d + d)]) }
    }

    /// The energy distance as a V-statistic, written out.
    static func energyDistance(_ a: [[Double]], _ b: [[Double]]) -> Double {
        func mean(_ x: [[Double]], _ y: [[Double]]) -> Double {
            let (xf, yf) = (x.flatMap { $0 }, y.flatMap { $0 })
            let d = x[0].count
            var s = 0.0
            xf.withUnsafeBufferPointer { p in
                yf.withUnsafeBufferPointer { q in
                    for i in 0..<x.count {
                        for k in 0..<y.count {
                            var r = 0.0
                            for j in 0..<d { let v = p[i * d + j] - q[k * d + j]; r += v * v }
                            s += r.squareRoot()
                        }
                    }
                }
            }
            return s / Double(x.count * y.count)
        }
        return 2 * mean(a, b) - mean(a, a) - mean(b, b)
    }

    // MARK: Computed answers

    @Test func flowMatchingFloorKineticEnergyAndConversions() throws {
        let n = try Self.numbersResult.get()
        let m = Self.example1D
        // Exercise 6.5: C = ∫₀¹ mmse(t)/t² dt for example1D, by a 500-point midpoint rule in t and the trapezoid rule in x.
        var C = 0.0
        let T = 500
        for i in 0..<T {
            let t = (Double(i) + 0.5) / Double(T), (α, σ) = (1 - t, t)
            let spread = 9 * (0.16 * α * α + σ * σ).squareRoot()
            let lo = -1.5 * α - spread, hi = 2 * α + spread
            let G = 1200, h = (hi - lo) / Double(G)
            var mmse = 0.0
            for g in 0...G {
                let post = m.posterior([lo + Double(g) * h], α, σ)
                mmse += (g == 0 || g == G ? 0.5 : 1) * exp(post.logp) * post.trCov * h
            }
            C += mmse / (t * t) / Double(T)
        }
        #expect(Self.close(n["cfm_floor_1d"], C, rel: 2e-4), "library \(n["cfm_floor_1d"]!) vs \(C)")
        // The exact model's Monte-Carlo loss agrees with the floor within its standard error.
        #expect(Swift.abs(n["cfm_mc_1d"]! - C) < 4 * n["cfm_mc_se_1d"]!)
        #expect(Self.close(n["conditional_energy_1d"], 1 + m.secondMoment, rel: 1e-12))
        #expect(Self.close(n["conditional_energy_2d"], 2 + Self.example2D.secondMoment, rel: 1e-12))
        // "About two thirds of the regression target is irreducible" (exercise 6.5 c).
        let fraction = n["cfm_mc_2d"]! / n["conditional_energy_2d"]!
        #expect(fraction > 0.6 && fraction < 0.72, "fraction \(fraction)")

        // Exercise 6.9: E‖u_t‖² = E‖ε − x₀‖² − mmse(t)/t²; t = 1 gives d + ‖E x₀‖² exactly.
        let mean = Self.example2D.mean
        #expect(Self.close(n["ke_identity_1"], 2 + mean[0] * mean[0] + mean[1] * mean[1], rel: 1e-9))
        for tag in ["0p25", "0p5", "0p75", "1"] {
            #expect(Self.close(n["ke_mc_\(tag)"], n["ke_identity_\(tag)"]!, rel: 0.03), "t = \(tag)")
        }
        // The table's claim: of the four times, the kinetic energy is smallest at t = 0.75.
        #expect(n["ke_identity_0p75"]! < n["ke_identity_0p5"]! && n["ke_identity_0p75"]! < n["ke_identity_1"]! && n["ke_identity_0p75"]! < n["ke_identity_0p25"]!)

        // Exercise 6.6: score = −(x + (1 − t)u)/t, x̂₀ = x − t·u (single-precision rounding only).
        #expect(n["score_from_velocity_maxdiff"]! < 1e-4 && n["x0_from_velocity_maxdiff"]! < 1e-5)
        // The same identity in Double at a few points, against the score written from the posterior directly.
        for x in [[0.3, -1.2], [2.1, 0.4], [-0.7, 1.9]] {
            let t = 0.4
            let u = Self.example2D.velocity(x, t)
            let post = Self.example2D.posterior(x, 1 - t, t)
            for j in 0..<2 {
                let score = ((1 - t) * post.mean[j] - x[j]) / (t * t)
                #expect(Swift.abs(score + (x[j] + (1 - t) * u[j]) / t) < 1e-12)
            }
        }
    }

    @Test func flowEulerIsDDIMStepByStep() throws {
        let n = try Self.numbersResult.get()
        #expect(n["euler_ddim_maxdiff"]! < 1e-5 * Swift.max(1, n["euler_ddim_scale"]!))
        // Proposition 6.1 in Double: Euler in t and DDIM in σ = t/(1 − t) from the same start agree to rounding.
        let m = Self.example2D
        let times = (0...10).map { 0.95 * Double(10 - $0) / 10 }
        for x0 in [[1.5, -0.3], [-2.2, 2.8], [0.1, 0.05]] {
            var x = x0, y = x0.map { $0 / (1 - times[0]) }
            for i in 0..<10 {
                let (t, tn) = (times[i], times[i + 1])
                let D = m.denoise(x, t)
                x = tn == 0 ? D : (0..<2).map { x[$0] + (tn - t) * (x[$0] - D[$0]) / t }
                let (σ, σn) = (t / (1 - t), tn / (1 - tn))
                let Dy = m.posterior(y, 1, σ).mean
                y = (0..<2).map { σn / σ * y[$0] + (1 - σn / σ) * Dy[$0] }
            }
            for j in 0..<2 { #expect(Swift.abs(x[j] - y[j]) < 1e-12, "\(x) vs \(y)") }
        }
    }

    @Test func likelihoodThroughTheFlowMatchesTheExactDensity() throws {
        let n = try Self.numbersResult.get()
        let xs = Self.rows(GaussianMixture.example2D.sample(8, seed: 70))
        let exact = xs.map { -Self.example2D.posterior($0, 1, 1e-3).logp }
        #expect(Self.close(n["nll_exact_mean"], exact.reduce(0, +) / 8, rel: 1e-9))
        #expect(n["nll_maxdiff"]! < 1e-3 && Swift.abs(n["nll_mean"]! - n["nll_exact_mean"]!) < 1e-3)
        #expect(n["nll_calls"] == 4 * n["nll_steps"]!, "four denoiser calls per Runge–Kutta step")
    }

    @Test func sdeFamilySharesTheFlowsMarginals() throws {
        let n = try Self.numbersResult.get()
        // The floor 2·E‖X − X′‖/N, estimated independently from 1500 fresh samples.
        let x = Self.rows(GaussianMixture.example2D.sample(1500, seed: 123))
        var s = 0.0
        for i in 0..<1500 { for j in (i + 1)..<1500 { s += ((x[i][0] - x[j][0]) * (x[i][0] - x[j][0]) + (x[i][1] - x[j][1]) * (x[i][1] - x[j][1])).squareRoot() } }
        let floor = 2 * s / Double(1500 * 1499 / 2) / n["sde_n"]!
        #expect(Self.close(n["sde_floor"], floor, rel: 0.05))
        for c in ["0", "0p5", "1", "2"] { #expect(n["sde_ed_c\(c)"]! < 2.5 * floor, "c = \(c): \(n["sde_ed_c\(c)"]!) vs floor \(floor)") }
    }

    @Test func oneDimensionalFlowIsTheQuantileMap() throws {
        let n = try Self.run("ch6-crossing")
        let m = Self.example1D
        let z = NoiseSource(seed: 4).prior([30, 1]).scalars.map(Double.init)
        let x0 = GaussianMixture.example1D.sample(30, seed: 5).scalars.map(Double.init)
        // Crossings of the independent straight lines: discordant pairs.
        var discordant = 0
        for i in 0..<30 { for j in (i + 1)..<30 where (z[i] - z[j]) * (x0[i] - x0[j]) < 0 { discordant += 1 } }
        #expect(n["crossings_independent"] == Double(discordant))
        #expect(n["crossings_flow_end"] == 0 && n["flow_times_with_swaps"] == 0 && n["crossings_ot"] == 0)
        // The quantile map F⁻¹(Φ(z)) by an independent bisection, and the flow's end points by Double Heun (800 steps).
        func cdf(_ x: Double) -> Double { (0..<3).reduce(0) { $0 + m.w[$1] * 0.5 * erfc(-(x - m.mu[$1][0]) / (m.s[$1][0] * 2.0.squareRoot())) } }
        var worst = 0.0
        for zi in z {
            let u = 0.5 * erfc(-zi / 2.0.squareRoot())
            var (lo, hi) = (-10.0, 10.0)
            while hi - lo > 1e-13 { let mid = 0.5 * (lo + hi); if cdf(mid) < u { lo = mid } else { hi = mid } }
            worst = Swift.max(worst, Swift.abs(m.heun([zi], steps: 800)[0] - 0.5 * (lo + hi)))
        }
        #expect(worst < 2e-4, "Double Heun vs quantile map: \(worst)")
        #expect(n["flow_vs_ot_max"]! < 1e-3)
        let costInd = zip(z, x0).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 30
        #expect(Self.close(n["cost_independent"], costInd, rel: 1e-6))
        #expect(n["cost_flow"]! < n["cost_independent"]!, "rectification lowers the transport cost")
    }

    @Test func minibatchOptimalTransportNumbers() throws {
        let n = try Self.run("ch6-ot")
        // The assignment solver is exact: brute force over all 7! permutations of a small batch.
        let xs = Self.rows(GaussianMixture.example2D.sample(7, seed: 42)), es = Self.rows(Tensor.randomNormal([7, 2], seed: 43))
        func cost(_ p: [Int]) -> Double {
            var total = 0.0
            for i in 0..<7 {
                let (dx, dy) = (xs[i][0] - es[p[i]][0], xs[i][1] - es[p[i]][1])
                total += dx * dx + dy * dy
            }
            return total
        }
        var best = Double.infinity
        func permute(_ prefix: [Int], _ rest: [Int]) {
            if rest.isEmpty { best = Swift.min(best, cost(prefix)); return }
            for (i, r) in rest.enumerated() { var rr = rest; rr.remove(at: i); permute(prefix + [r], rr) }
        }
        permute([], Array(0..<7))
        let π = Assignment.solve(Assignment.squaredDistances(GaussianMixture.example2D.sample(7, seed: 42), Tensor.randomNormal([7, 2], seed: 43)))
        #expect(Swift.abs(cost(π) - best) < 1e-9)

        // The shown batch: theorem 6.6 — no improving swap, no close encounter — checked on the library's coupling.
        let x0 = GaussianMixture.example2D.sample(64, seed: 1), eps = NoiseSource(seed: 2).prior([64, 2])
        let a = Self.rows(x0), bInd = Self.rows(eps), bOT = Self.rows(FlowMatching(coupling: .minibatchOT).couple(x0, eps))
        func dot(_ p: [Double], _ q: [Double]) -> Double { p[0] * q[0] + p[1] * q[1] }
        func diff(_ p: [Double], _ q: [Double]) -> [Double] { [p[0] - q[0], p[1] - q[1]] }
        var swaps = 0, closeInd = 0, closeOT = 0
        for i in 0..<64 {
            for j in (i + 1)..<64 {
                if dot(diff(a[i], a[j]), diff(bOT[i], bOT[j])) < 0 { swaps += 1 }
                // Minimum over a grid of 401 times of the distance between the two straight paths (a grid can only miss
                // encounters, never invent them).
                for (b, counter) in [(bInd, 0), (bOT, 1)] {
                    let p = diff(a[i], a[j]), q = diff(b[i], b[j])
                    let ends = Swift.min(dot(p, p), dot(q, q))
                    var closest = Double.infinity
                    for k in 0...400 {
                        let t = Double(k) / 400, r0 = (1 - t) * p[0] + t * q[0], r1 = (1 - t) * p[1] + t * q[1]
                        closest = Swift.min(closest, r0 * r0 + r1 * r1)
                    }
                    if closest < 0.25 * ends { if counter == 0 { closeInd += 1 } else { closeOT += 1 } }
                }
            }
        }
        #expect(swaps == 0 && n["shown_swaps_ot"] == 0 && closeOT == 0 && n["shown_close_ot"] == 0)
        #expect(closeInd <= Int(n["shown_close_independent"]!) && Double(closeInd) >= n["shown_close_independent"]! - 5, "grid \(closeInd) vs closed form \(n["shown_close_independent"]!)")
        #expect(n["shown_close_independent"]! > 100 && n["shown_crossings_independent"]! > 10 * n["shown_crossings_ot"]!)
        #expect(Self.close(n["shown_cost_ot"], zip(a, bOT).map { dot(diff($0, $1), diff($0, $1)) }.reduce(0, +) / 64, rel: 1e-5))

        // Costs against the batch size: B = 1 is the independent coupling (d + E‖x₀‖² in expectation), then decreasing.
        #expect(Self.close(n["cost_independent_expected"], 2 + Self.example2D.secondMoment, rel: 1e-12))
        #expect(Swift.abs(n["cost_b1"]! - n["cost_independent_expected"]!) < 0.3)
        let Bs = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        for (b, c) in zip(Bs, Bs.dropFirst()) { #expect(n["cost_b\(c)"]! < n["cost_b\(b)"]!, "cost at B = \(c) vs \(b)") }
        // Exercise 6.15: the marginal of the noise is untouched (same multiset per batch), its conditional is not.
        #expect(n["assigned_mean_x"] == n["noise_mean_x"])
        #expect(n["k0_noise_mean_x"]! > 0.8 && Swift.abs(n["k0_noise_mean_x_independent"]!) < 0.2)
    }

    @Test func trainedFlowsSupportTheText() throws {
        let n = try Self.trainResult.get()
        let floor = n["ed_floor"]!
        // Exercise 6.3: one Euler step of the exact field lands on the mean.
        #expect(n["one_step_spread_exact"]! < 1e-5)
        #expect(Self.close(n["mean_x"], Self.example2D.mean[0], rel: 1e-12) && Self.close(n["mean_y"], Self.example2D.mean[1], rel: 1e-12))
        // Figure 6.5 and exercise 6.11: OT needs far fewer steps; the independent model needs about 16.
        #expect(n["ed_flow_ot_1"]! < 0.05 * n["ed_flow_1"]!)
        #expect(n["ed_flow_ot_2"]! < 1.5 * floor && n["ed_flow_ot_4"]! < 1.2 * floor)
        #expect(n["ed_flow_8"]! > 2 * floor && n["ed_flow_16"]! < 2 * floor)
        #expect(n["ed_flow_1"]! < n["ed_exact_1"]!, "the text: the trained model's one step is better than the exact field's, by its error")
        #expect(n["straightness_flow_ot"]! < 0.05 * n["straightness_flow"]! && Swift.abs(n["straightness_flow"]! - n["straightness_exact"]!) < 0.3 * n["straightness_exact"]!)
        #expect(n["loss_last_flow_ot"]! < 0.1 * n["loss_last_flow"]!)
        let numbers = try Self.numbersResult.get()
        #expect(Swift.abs(n["loss_last_flow"]! - numbers["cfm_mc_2d"]!) < 0.3, "the independent model's loss sits at the floor")
        // Exercise 6.11: Heun helps the curved flow, hardly the straight one.
        #expect(n["ed_heun_flow_4"]! < n["ed_flow_8"]!)
        #expect(Swift.abs(n["ed_heun_flow_ot_2"]! - n["ed_flow_ot_4"]!) < 0.5 * n["ed_flow_ot_4"]!)

        // The exact field's numbers recomputed in Double: Euler energy distance and straightness.
        let m = Self.example2D
        let z = Self.rows(NoiseSource(seed: 5).prior([1000, 2]))
        let data = Self.rows(GaussianMixture.example2D.sample(1000, seed: 9))
        let euler4 = z.map { x0 -> [Double] in
            var x = x0
            for i in 0..<4 {
                let (t, tn) = (Double(4 - i) / 4, Double(3 - i) / 4)
                let D = m.denoise(x, t)
                x = tn == 0 ? D : (0..<2).map { x[$0] + (tn - t) * (x[$0] - D[$0]) / t }
            }
            return x
        }
        #expect(Self.close(n["ed_exact_4"], Self.energyDistance(euler4, data), rel: 2e-3))
        // Straightness on the 32-point grid, along trajectories computed with 256 Heun steps.
        var s = 0.0
        for x in z.prefix(256) {
            var states: [[Double]] = [x]
            var y = x
            for i in 0..<32 {
                let (t, tn) = (Double(32 - i) / 32, Double(31 - i) / 32)
                for k in 0..<8 {
                    let (a, b) = (t + (tn - t) * Double(k) / 8, t + (tn - t) * Double(k + 1) / 8)
                    if b == 0 { y = m.denoise(y, a); break }
                    let u = m.velocity(y, a), e = zip(y, u).map { $0 + (b - a) * $1 }, u2 = m.velocity(e, b)
                    y = (0..<2).map { y[$0] + 0.5 * (b - a) * (u[$0] + u2[$0]) }
                }
                states.append(y)
            }
            let chord = zip(x, states[32]).map { $0 - $1 }
            for i in 0..<32 {
                let u = m.velocity(states[i], Double(32 - i) / 32)
                s += zip(u, chord).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 32
            }
        }
        #expect(Self.close(n["straightness_exact"], s / 256, rel: 0.05), "experiment \(n["straightness_exact"]!) vs \(s / 256)")
    }

    @Test func reflowStraightensAndRectificationLowersConvexCosts() throws {
        let n = try Self.reflowResult.get()
        let train = try Self.trainResult.get()
        #expect(n["straightness_2"]! < 0.05 * n["straightness_1"]!)
        #expect(Self.close(n["straightness_1"], train["straightness_exact"]!, rel: 1e-12), "the same exact flow in both experiments")
        for N in [1, 2, 4, 8] { #expect(n["ed_1flow_\(N)"] == train["ed_exact_\(N)"]) }
        #expect(n["ed_2flow_1"]! < 0.02 * n["ed_1flow_1"]! && n["ed_2flow_2"]! < 1.5 * n["ed_floor"]!)
        #expect(n["pair_solver_error"]! < 2e-3 && n["coupling_gap"]! < 0.3)
        // Theorem 6.4 for two convex costs, with the exact flow computed here in Double (Heun, 64 steps).
        let m = Self.example2D
        let z = Self.rows(NoiseSource(seed: 21).prior([512, 2]))
        let x0 = Self.rows(GaussianMixture.example2D.sample(512, seed: 77)), e = Self.rows(Tensor.randomNormal([512, 2], seed: 78))
        var (sqFlow, normFlow, sqInd, normInd) = (0.0, 0.0, 0.0, 0.0)
        for i in 0..<512 {
            let end = m.heun(z[i], steps: 64)
            let d2 = zip(z[i], end).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            let i2 = zip(e[i], x0[i]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            sqFlow += d2 / 512; normFlow += d2.squareRoot() / 512; sqInd += i2 / 512; normInd += i2.squareRoot() / 512
        }
        #expect(sqFlow < 0.2 * sqInd && normFlow < 0.5 * normInd)
        // The experiment's pair cost over its 4096 pairs agrees with this 512-pair estimate to Monte-Carlo accuracy.
        #expect(Swift.abs(n["pair_cost"]! - sqFlow) < 0.1 && n["pair_cost"]! < n["cost_independent_expected"]!)
    }

    @Test func theChaptersListingsRun() throws {
        // §6.3.4: a flow-matching model through ToyTrainer (a few steps suffice to check the call shapes).
        var config = TrainingConfig()
        config.data = "gmm-2d"
        config.objective = "flow"
        config.steps = 3
        let trainer = try ToyTrainer(config)
        trainer.train()
        let model = trainer.samplingModel()
        let z = NoiseSource(seed: 0).prior([16, 2])
        let x = withNoGrad { Sampling.flowEuler(model, z, times: Schedule.flowTimes(steps: 8)) }
        #expect(x.shape == [16, 2] && x.scalars.allSatisfy(\.isFinite))
        // ε-prediction on the flow process is rejected with the zero-terminal-SNR message.
        config.prediction = "epsilon"
        #expect(throws: ConfigError.self) { try config.validate() }
        // The velocity ↔ x̂₀ conversion of §6.7.2 with the process rates.
        let xs = Tensor([0.5, -1, 2, 0.25], shape: [2, 2]), o = Tensor([1, 2, -1, 0.5], shape: [2, 2])
        let x0 = Parametrization.x0(from: o, .velocity, x: xs, level: NoiseLevel(alpha: 0.7, sigma: 0.3), rates: RectifiedFlow().rates(0.3))
        for (a, (b, c)) in zip(x0.scalars, zip(xs.scalars, o.scalars)) { #expect(Swift.abs(Double(a) - (Double(b) - 0.3 * Double(c))) < 1e-6) }
    }

    // MARK: Structure of the source

    static let style = ChapterStyle(number: "6", file: "ch06-flow.md", experiments: Chapter6.experiments, programmingNames: ["Sampling.", "ToyTrainer"])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws { try Self.style.checkSource() }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws { try Self.style.checkPage() }
}
