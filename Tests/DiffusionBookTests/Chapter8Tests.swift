import Diffusion
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 8 (book/ch08-sampling.md): every computed answer is recomputed here independently of the experiment code
/// (plain Double loops for the mixture denoiser, the samplers and the Runge–Kutta reference), the claims the text
/// makes about the figures hold for the numbers the library produced, the chapter has the structure BOOK-STYLE.md
/// asks for, and its page renders cleanly.
@Suite("Chapter 8: computed answers, claims about the figures, structure, rendered page")
struct Chapter8Tests: ExperimentChecks {
    static let source = Fixtures.realBook.appendingPathComponent("ch08-sampling.md")

    // MARK: Independent reference implementations (Double, no library code)

    /// A diagonal Gaussian mixture and its exact denoiser E[x₀ | x = x₀ + σε], written out.
    struct Mixture {
        let w: [Double], mu: [[Double]], s: [[Double]]
        var d: Int { mu[0].count }

        func denoise(_ x: [Double], _ σ: Double) -> [Double] {
            let K = w.count
            var logr = [Double](repeating: 0, count: K)
            for k in 0..<K {
                var l = log(w[k])
                for j in 0..<d {
                    let v = s[k][j] * s[k][j] + σ * σ
                    l -= 0.5 * ((x[j] - mu[k][j]) * (x[j] - mu[k][j]) / v + log(v))
                }
                logr[k] = l
            }
            let m = logr.max()!
            let r = logr.map { exp($0 - m) }
            let total = r.reduce(0, +)
            var out = [Double](repeating: 0, count: d)
            for k in 0..<K {
                for j in 0..<d {
                    let v = s[k][j] * s[k][j] + σ * σ
                    out[j] += r[k] / total * (mu[k][j] + s[k][j] * s[k][j] / v * (x[j] - mu[k][j]))
                }
            }
            return out
        }

        /// dx/d(ln σ) = x − D(x; σ), classical Runge–Kutta with `steps` uniform steps in ln σ.
        func flow(_ x: [Double], from a: Double, to b: Double, steps: Int) -> [Double] {
            let h = (log(b) - log(a)) / Double(steps)
            var y = x, u = log(a)
            func f(_ y: [Double], _ u: Double) -> [Double] { zip(y, denoise(y, exp(u))).map { $0 - $1 } }
            func axpy(_ y: [Double], _ c: Double, _ k: [Double]) -> [Double] { zip(y, k).map { $0 + c * $1 } }
            for _ in 0..<steps {
                let k1 = f(y, u), k2 = f(axpy(y, h / 2, k1), u + h / 2), k3 = f(axpy(y, h / 2, k2), u + h / 2), k4 = f(axpy(y, h, k3), u + h)
                for j in 0..<y.count { y[j] += h / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]) }
                u += h
            }
            return y
        }
    }

    static let broad = Mixture(w: [0.5, 0.3, 0.2], mu: [[-1, 0], [1, 0.5], [0.2, 1.5]], s: [[0.5, 0.4], [0.4, 0.6], [0.5, 0.5]])
    static let example1D = Mixture(w: [0.5, 0.3, 0.2], mu: [[-1.5], [0.5], [2]], s: [[0.3], [0.2], [0.4]])

    /// Karras levels written out: (σ_max^{1/ρ} + i/(M−1)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ for i < M.
    static func karras(_ M: Int, _ lo: Double, _ hi: Double, rho: Double = 7) -> [Double] {
        (0..<M).map { i in pow(pow(hi, 1 / rho) + Double(i) / Double(M - 1) * (pow(lo, 1 / rho) - pow(hi, 1 / rho)), rho) }
    }

    /// One deterministic step x_i → x_{i+1} of Euler/DDIM, Heun, DPM-Solver++(2M) and DDIM + UniC-1, per point.
    static func euler(_ m: Mixture, _ x: [Double], _ σ: [Double]) -> [Double] {
        var x = x
        for i in 0..<(σ.count - 1) {
            let D = m.denoise(x, σ[i])
            x = σ[i + 1] == 0 ? D : zip(x, D).map { $1 + σ[i + 1] / σ[i] * ($0 - $1) }
        }
        return x
    }

    static func heun(_ m: Mixture, _ x: [Double], _ σ: [Double]) -> [Double] {
        var x = x
        for i in 0..<(σ.count - 1) {
            let D = m.denoise(x, σ[i])
            if σ[i + 1] == 0 { x = D; continue }
            let d = zip(x, D).map { ($0 - $1) / σ[i] }
            let xe = zip(x, d).map { $0 + (σ[i + 1] - σ[i]) * $1 }
            let D2 = m.denoise(xe, σ[i + 1])
            let d2 = zip(xe, D2).map { ($0 - $1) / σ[i + 1] }
            x = (0..<x.count).map { x[$0] + 0.5 * (σ[i + 1] - σ[i]) * (d[$0] + d2[$0]) }
        }
        return x
    }

    static func dpm2M(_ m: Mixture, _ x: [Double], _ σ: [Double]) -> [Double] {
        var x = x
        var prev: ([Double], Double)?
        for i in 0..<(σ.count - 1) {
            let D = m.denoise(x, σ[i])
            if σ[i + 1] == 0 { x = D; continue }
            let h = log(σ[i] / σ[i + 1])
            var Dt = D
            if let (Dp, hp) = prev { let r = hp / h; Dt = zip(D, Dp).map { (1 + 1 / (2 * r)) * $0 - 1 / (2 * r) * $1 } }
            x = zip(x, Dt).map { σ[i + 1] / σ[i] * $0 + (1 - σ[i + 1] / σ[i]) * $1 }
            prev = (D, h)
        }
        return x
    }

    static func unic1(_ m: Mixture, _ x: [Double], _ σ: [Double]) -> (x: [Double], calls: Int) {
        var x = x, calls = 1
        var D = m.denoise(x, σ[0])
        for i in 0..<(σ.count - 1) {
            let h = log(σ[i] / σ[i + 1]), e = exp(-h)
            let pred = zip(x, D).map { e * $0 + (1 - e) * $1 }
            if i == σ.count - 2 { x = pred; break }
            let Dn = m.denoise(pred, σ[i + 1]); calls += 1
            let φ = (h - 1 + e) / h
            x = (0..<x.count).map { e * x[$0] + (1 - e) * D[$0] + φ * (Dn[$0] - D[$0]) }
            D = Dn
        }
        return (x, calls)
    }

    /// The order figure's setting: 64 starting points 80·z (the library's counter-based noise, seed 3), levels
    /// 80 … 0.02 without the final 0, RMS error against Runge–Kutta.
    static let starts: [[Double]] = {
        let z = NoiseSource(seed: 3).prior([64, 2], sigma: 80).scalars.map(Double.init)
        return (0..<64).map { [z[2 * $0], z[2 * $0 + 1]] }
    }()
    static let reference: [[Double]] = starts.map { broad.flow($0, from: 80, to: 0.02, steps: 400) }

    static func globalError(_ method: (Mixture, [Double], [Double]) -> [Double], steps N: Int) -> Double {
        let σ = karras(N + 1, 0.02, 80)
        var s = 0.0
        for (x, r) in zip(starts, reference) { for (a, b) in zip(method(broad, x, σ), r) { s += (a - b) * (a - b) } }
        return (s / Double(2 * starts.count)).squareRoot()
    }

    static func slope(_ xs: [Double], _ ys: [Double]) -> Double {
        let lx = xs.map { log($0) }, ly = ys.map { log($0) }
        let mx = lx.reduce(0, +) / Double(lx.count), my = ly.reduce(0, +) / Double(ly.count)
        return zip(lx, ly).map { ($0 - mx) * ($1 - my) }.reduce(0, +) / lx.map { ($0 - mx) * ($0 - mx) }.reduce(0, +)
    }

    // MARK: Computed answers

    @Test func globalErrorsAndSlopesMatchIndependentSamplers() throws {
        let n = try Self.run("ch8-order")
        #expect(n["reference_check"]! < 1e-6)
        for (key, method, calls) in [("euler", Self.euler, 1), ("heun", Self.heun, 2), ("dpmpp_2m", Self.dpm2M, 1)] as [(String, (Mixture, [Double], [Double]) -> [Double], Int)] {
            var errors: [Double] = []
            for N in [16, 32, 64] {
                let e = Self.globalError(method, steps: N)
                errors.append(e)
                // Float32 states against Double: agreement far below the error itself.
                #expect(Self.close(n["err_\(key)_\(N)"], e, rel: 0.02), "\(key) N=\(N): experiment \(n["err_\(key)_\(N)"]!), recomputed \(e)")
                #expect(n["nfe_\(key)_\(N)"] == Double(calls * N))
            }
            let s = -Self.slope([16, 32, 64], errors)
            #expect(Self.close(n["slope_\(key)"], s, abs: 0.03), "\(key): slope \(n["slope_\(key)"]!) vs \(s)")
        }
        // The table's claims: slopes near the theoretical orders; LMS approaches 4 from below.
        for (key, order, tol) in [("euler", 1.0, 0.1), ("heun", 2, 0.2), ("dpm2", 2, 0.2), ("dpmpp_2m", 2, 0.25), ("dpmpp_3m", 3, 0.3), ("unipc", 3, 0.3), ("lms", 4, 0.4)] {
            #expect(Swift.abs(n["slope_\(key)"]! - order) <= tol, "\(key): slope \(n["slope_\(key)"]!)")
        }
        #expect(n["slope_lms"]! < 4)
        // Local errors: one order more than the global ones.
        #expect(Swift.abs(n["local_slope_euler"]! - 2) < 0.15)
        #expect(Swift.abs(n["local_slope_heun"]! - 3) < 0.2 && Swift.abs(n["local_slope_dpm2"]! - 3) < 0.2)
        // The caption: at 4 steps the high-order 3M is worse than Euler, 2M and UniPC are best.
        #expect(n["err_dpmpp_3m_4"]! > n["err_euler_4"]! && n["err_heun_4"]! > n["err_euler_4"]!)
        for k in ["euler", "heun", "dpm2", "dpmpp_3m", "lms"] {
            #expect(n["err_dpmpp_2m_4"]! < n["err_\(k)_4"]! && n["err_unipc_4"]! < n["err_\(k)_4"]!)
        }
    }

    @Test func localErrorOfOneEulerStepMatchesAnIndependentStep() throws {
        let n = try Self.run("ch8-order")
        let xa = Self.starts.map { Self.broad.flow($0, from: 80, to: 1, steps: 400) }
        for (h, tag) in [(0.05, "0p05"), (0.2, "0p2")] {
            var s = 0.0
            for x in xa {
                let exact = Self.broad.flow(x, from: 1, to: exp(-h), steps: 100)
                for (a, b) in zip(Self.euler(Self.broad, x, [1, exp(-h)]), exact) { s += (a - b) * (a - b) }
            }
            #expect(Self.close(n["local_euler_\(tag)"], (s / 128).squareRoot(), rel: 0.02))
        }
    }

    @Test func exerciseNumbersMatchAnIndependentComputation() throws {
        let n = try Self.run("ch8-numbers")
        let N = 18
        // Exercise 8.3: counted calls equal the registry's promise; Heun 2N − 1, the midpoint rule 2N.
        for s in Diffusion.samplers { #expect(n["calls_\(s.name.replacingOccurrences(of: "-", with: "_"))"] == n["listed_\(s.name.replacingOccurrences(of: "-", with: "_"))"], "\(s.name)") }
        #expect(n["calls_heun"] == Double(2 * N - 1) && n["calls_dpm2"] == Double(2 * N - 1) && n["calls_flow_midpoint"] == Double(2 * N))
        #expect(n["calls_euler"] == Double(N) && n["calls_dpmpp_2m"] == Double(N) && n["calls_pc"] == Double(2 * N))
        #expect(n["calls_annealed_langevin"] == Double(20 * N + 1))
        for k in ["euler", "ddim", "ddpm", "euler_ancestral", "dpmpp_2m", "dpmpp_3m", "unipc", "lms", "euler_maruyama", "flow_euler"] { #expect(n["calls_\(k)"] == Double(N), "\(k)") }
        for k in ["heun", "heun_churn", "dpm2", "flow_heun"] { #expect(n["calls_\(k)"] == Double(2 * N - 1), "\(k)") }

        // §8.6.2: the three spacings for N = 10, T = 1000, and their levels from an independent ᾱ table.
        var p = 1.0
        let abar = (0..<1000).map { i -> Double in p *= 1 - (1e-4 + (0.02 - 1e-4) * Double(i) / 999); return p }
        func level(_ k: Int) -> Double { ((1 - abar[k]) / abar[k]).squareRoot() }
        let idx = ["uniform": (999, 0), "leading": (900, 0), "trailing": (999, 99)]
        for (name, (first, last)) in idx {
            #expect(n["first_index_\(name)"] == Double(first) && n["last_index_\(name)"] == Double(last), "\(name)")
            #expect(Self.close(n["first_sigma_\(name)"], level(first), rel: 1e-9))
            #expect(Self.close(n["last_sigma_\(name)"], level(last), rel: 1e-9))
            #expect(Self.close(n["first_logsnr_\(name)"], log(abar[first]) - log1p(-abar[first]), rel: 1e-9))
        }
        #expect(n["ztsnr_trailing_first_infinite"] == 1 && n["ztsnr_leading_first_sigma"]!.isFinite)
        // Exercise 8.8 (b): leading and linspace jump from σ ≈ 0.35 to 0.01, a step ratio r ≈ 0.2.
        for (a, b) in [(200, 100), (222, 111)] {
            let r = log(level(a) / level(b)) / log(level(b) / level(0))
            #expect(r > 0.18 && r < 0.25 && Swift.abs(level(b) - 0.36) < 0.03, "r = \(r)")
        }

        // Exercise 8.5: Karras midpoints by formula, the ρ → ∞ limit is the geometric mean.
        for rho in [1.0, 3, 7, 1000] {
            #expect(Self.close(n["karras_mid_rho\(Int(rho))"], Self.karras(11, 0.002, 80, rho: rho)[5], rel: 1e-9))
        }
        #expect(Self.close(n["exponential_mid"], 0.4, rel: 1e-9))
        #expect(Swift.abs(n["karras_mid_rho1000"]! - 0.4) < 0.01)

        // Exercise 8.6: one Gaussian N(0, s²); DDIM's factor is ∏ (s² + σ_iσ_{i+1})/(s² + σ_i²) (with σ_N = 0).
        let s = 0.5
        var levels = Self.karras(10, 0.002, 80)
        levels.append(0)
        var F = 1.0
        for i in 0..<10 { F *= (s * s + levels[i] * levels[i + 1]) / (s * s + levels[i] * levels[i]) }
        #expect(Self.close(n["gauss_ddim"], F, rel: 1e-5))
        #expect(Self.close(n["gauss_exact"], s / (s * s + 6400).squareRoot(), rel: 1e-12))
        #expect(n["gauss_ddim_ratio"]! < 1, "Cauchy–Schwarz: DDIM shrinks")
        let g = Mixture(w: [1], mu: [[0]], s: [[s]])
        #expect(Self.close(n["gauss_heun"], Self.heun(g, [1], levels)[0], rel: 1e-5))
        #expect(Self.close(n["gauss_dpmpp_2m"], Self.dpm2M(g, [1], levels)[0], rel: 1e-5))

        // Remark 8.2 / exercise 8.1: three names, one algorithm (single-precision rounding only).
        #expect(n["ancestral_ddim_maxdiff"]! < 1e-4 * n["ancestral_scale"]! && n["ancestral_euler_maxdiff"]! < 1e-4 * n["ancestral_scale"]!)

        // Exercises 8.10–8.12: Euler, Richardson extrapolation and UniC-1 on the order figure's setting.
        var eul: [Double] = [], rich: [Double] = [], uni: [Double] = []
        for m in [16, 32, 64] {
            let coarse = Self.karras(m + 1, 0.02, 80), fine = Self.karras(2 * m + 1, 0.02, 80)
            var se = 0.0, sr = 0.0, su = 0.0, calls = 0
            for (x, r) in zip(Self.starts, Self.reference) {
                let a = Self.euler(Self.broad, x, coarse), b = Self.euler(Self.broad, x, fine)
                let (u, c) = Self.unic1(Self.broad, x, fine)
                calls = c
                for j in 0..<2 {
                    se += (b[j] - r[j]) * (b[j] - r[j])
                    sr += (2 * b[j] - a[j] - r[j]) * (2 * b[j] - a[j] - r[j])
                    su += (u[j] - r[j]) * (u[j] - r[j])
                }
            }
            eul.append((se / 128).squareRoot()); rich.append((sr / 128).squareRoot()); uni.append((su / 128).squareRoot())
            #expect(n["unic1_calls_\(2 * m)"] == Double(calls) && calls == 2 * m, "UniC-1 costs one call per step")
            #expect(Self.close(n["euler_err_\(2 * m)"], eul.last!, rel: 0.02))
            #expect(Self.close(n["richardson_err_\(2 * m)"], rich.last!, rel: 0.05))
            #expect(Self.close(n["unic1_err_\(2 * m)"], uni.last!, rel: 0.03))
        }
        #expect(Self.close(n["richardson_slope"], -Self.slope([32, 64, 128], rich), abs: 0.05))
        #expect(Self.close(n["unic1_slope"], -Self.slope([32, 64, 128], uni), abs: 0.05))
        #expect(Swift.abs(n["unic1_slope"]! - 2) < 0.2 && Swift.abs(n["richardson_slope"]! - 2) < 0.25)
        // Exercise 8.12 (b): at 96 calls the extrapolated Euler beats Heun and is comparable with 2M.
        let order = try Self.run("ch8-order")
        #expect(n["richardson_err_64"]! < order["err_heun_48"]! && n["richardson_err_64"]! < 2 * order["err_dpmpp_2m_96"]!)
        let heun32 = Self.globalError(Self.heun, steps: 32), euler64 = Self.globalError(Self.euler, steps: 64)
        #expect(Self.close(n["euler_calls_to_match_heun"], 64 * euler64 / heun32, rel: 0.03))
        #expect(n["euler_calls_to_match_heun"]! > 3 * 64, "the answer says Euler needs several times Heun's calls")
    }

    @Test func trajectoryNumbersAndTheCaptionsClaims() throws {
        let n = try Self.run("ch8-trajectories")
        #expect(n["calls_heun"] == 11 && n["calls_ddim"] == 11 && n["calls_dpmpp_2m"] == 11 && n["steps_heun"] == 6)
        #expect(n["calls_heun_large"] == 41)
        // Heun with six steps is the worst; with 41 calls 2M is the best; VP-time Euler beats DDIM at both budgets.
        for k in ["ddim", "euler_vp", "dpmpp_2m"] { #expect(n["median_heun"]! > n["median_\(k)"]!) }
        for k in ["ddim", "euler_vp", "heun"] { #expect(n["median_dpmpp_2m_large"]! < n["median_\(k)_large"]!) }
        #expect(n["median_euler_vp"]! < n["median_ddim"]! && n["median_euler_vp_large"]! < n["median_ddim_large"]!)
        #expect(n["median_dpmpp_2m"]! > n["median_ddim"]!, "the caption says 2M is not more accurate than DDIM at 11 calls")
        // DDIM's endpoint median recomputed in Double from the same starting noise.
        let z = NoiseSource(seed: 2).prior([1000, 1], sigma: 80).scalars.map(Double.init)
        var levels = Self.karras(11, 0.002, 80)
        levels.append(0)
        var d: [Double] = []
        for x in z {
            let exact = Self.example1D.denoise(Self.example1D.flow([x], from: 80, to: 0.002, steps: 150), 0.002)[0]
            d.append(Swift.abs(Self.euler(Self.example1D, [x], levels)[0] - exact))
        }
        d.sort()
        #expect(Self.close(n["median_ddim"], d[500], rel: 0.02), "median \(n["median_ddim"]!) vs \(d[500])")
    }

    @Test func scheduleAndQualityNumbersSupportTheText() throws {
        let s = try Self.run("ch8-schedules")
        // Levels of the continuous schedules by formula.
        #expect(Self.close(s["sigma_first_karras"], 80) && Self.close(s["sigma_last_karras"], 0.002, rel: 1e-9))
        // Lessons of the table: σ-uniform is worst everywhere; 2M breaks on leading and linspace but not trailing;
        // for DDIM, leading and trailing agree; the discrete grids beat Karras and λ-uniform on this data.
        for sampler in ["ddim", "dpmpp_2m", "heun"] {
            for k in ["karras", "exponential", "trailing", "leading", "linspace"] { #expect(s["ed_\(sampler)_uniform_sigma"]! > s["ed_\(sampler)_\(k)"]!) }
        }
        #expect(s["ed_dpmpp_2m_leading"]! > 5 * s["ed_dpmpp_2m_trailing"]! && s["ed_dpmpp_2m_linspace"]! > 5 * s["ed_dpmpp_2m_trailing"]!)
        #expect(s["ed_dpmpp_2m_leading"]! > s["ed_ddim_leading"]!)
        #expect(Self.close(s["ed_ddim_leading"], s["ed_ddim_trailing"]!, rel: 0.2))
        #expect(s["ed_ddim_karras"]! > 2 * s["ed_ddim_trailing"]! && s["ed_ddim_exponential"]! > 2 * s["ed_ddim_trailing"]!)
        #expect(s["ed_dpmpp_2m_trailing"]! < 2 * s["ed_floor"]!)

        let q = try Self.run("ch8-quality")
        let floor = q["ed_floor"]!
        // The floor: 2·E‖X − X′‖/n, here estimated independently from 1500 fresh mixture samples (U-statistic).
        let x = GaussianMixture.example2D.sample(1500, seed: 77).scalars.map(Double.init)
        var sum = 0.0
        for i in 0..<1500 { for j in (i + 1)..<1500 { sum += ((x[2 * i] - x[2 * j]) * (x[2 * i] - x[2 * j]) + (x[2 * i + 1] - x[2 * j + 1]) * (x[2 * i + 1] - x[2 * j + 1])).squareRoot() } }
        #expect(Self.close(floor, 2 * sum / Double(1500 * 1499 / 2) / 1000, rel: 0.05))
        #expect(Self.close(q["ed_exact_ode"], floor, rel: 0.3), "the exact PF-ODE reaches the floor")
        #expect(q["calls_heun_4"] == 5 && q["calls_heun_64"] == 65 && q["calls_ddim_16"] == 16)
        #expect(q["ed_unipc_16"]! < 1.5 * floor && q["ed_dpmpp_2m_32"]! < 1.2 * floor)
        #expect(q["ed_heun_4"]! > 5 * q["ed_ddim_4"]! && q["ed_heun_8"]! > q["ed_ddim_8"]!)
        for b in [4, 8, 16] { #expect(q["ed_ddpm_\(b)"]! > q["ed_ddim_\(b)"]!, "DDPM vs DDIM at \(b)") }
        for b in [8, 16] { #expect(q["ed_heun_churn_\(b)"]! > q["ed_heun_\(b)"]!, "churn vs Heun at \(b)") }
        for k in ["ddim", "heun", "dpmpp_2m", "unipc", "ddpm", "heun_churn"] { #expect(q["ed_\(k)_64"]! < 1.2 * floor, "\(k) at 64 calls") }
    }

    @Test func theChaptersListingsRun() throws {
        // §8.1.3: the exact map used throughout.
        let data = GaussianMixture.example2D
        let start = NoiseSource(seed: 1).prior([16, 2], sigma: 80)
        let xMin = data.probabilityFlow(start, from: 80, to: 0.002, steps: 200)
        let exact = data.denoise(xMin, sigma: 0.002)
        #expect(exact.shape == [16, 2] && exact.scalars.allSatisfy { $0.isFinite && Swift.abs($0) < 4 })
        // §8.5.7: a sampler from the registry.
        let sampler = try #require(Sampler.named("dpmpp-2m"))
        let sigmas = Schedule.karras(steps: 10)
        let x = NoiseSource(seed: 0).prior([100, 2], sigma: sigmas[0])
        let samples = sampler(data, x, sigmas: sigmas, noise: NoiseSource(seed: 0))
        #expect(samples.shape == [100, 2] && sampler.modelCalls(steps: 10) == 10 && sigmas.count == 11 && sigmas.last == 0)
        // §8.2.3 and §8.5.2: DDIM with η = 0 is the first-order exponential integrator x' = (σ'/σ)x + (1 − σ'/σ)D.
        let one = Sampling.ddim(ClosureDenoiser { _, _ in Tensor([0.5, -1], shape: [1, 2]) }, Tensor([2, 3], shape: [1, 2]), sigmas: [4, 1])
        let expected: [Double] = [0.25 * 2 + 0.75 * 0.5, 0.25 * 3 + 0.75 * -1]
        let got = one.scalars.map(Double.init)
        #expect(Swift.abs(got[0] - expected[0]) < 1e-6 && Swift.abs(got[1] - expected[1]) < 1e-6)
        // Exercise 8.11's listing is Chapter8.ddimUniC1: one call per step, no call for the last step.
        let counter = CountingDenoiser(data)
        _ = Chapter8.ddimUniC1(counter, x, sigmas: Chapter8.karrasLevels(8, sigmaMax: 80, sigmaMin: 0.02))
        #expect(counter.calls == 8)
    }

    // MARK: Structure of the source

    static let style = ChapterStyle(number: "8", file: "ch08-sampling.md", experiments: Chapter8.experiments, lab: "L8", programmingNames: ["L8", "Sampling."])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws { try Self.style.checkSource() }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws { try Self.style.checkPage() }
}
