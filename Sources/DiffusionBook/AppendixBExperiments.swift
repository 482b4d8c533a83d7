import Diffusion
import DiffusionEngine
import DiffusionPlot
import Foundation

/// The experiments of appendix B (book/appendix-b-bsde.md): a least-squares Monte Carlo solver for BSDEs driven by
/// one Brownian motion, checked against closed forms (a linear driver and the quadratic Cole–Hopf driver); the
/// log-density of a Gaussian mixture along forward paths as an Itô process whose martingale part is the score; the
/// reverse-time log-density BSDE solved by regression, whose Z recovers the score; and the numbers the exercises quote.
///
/// Randomness is the library's counter-based Philox generator (`Tensor.randomNormal(seed:stream:)`); everything after
/// the draw is Double.
public enum AppendixB {
    public static let experiments: [BookExperiment] = [lsmc, logDensity, scoreBSDE, numbers]

    // MARK: A 1-D mixture's log-density and its first two derivatives

    /// log p, (log p)′ (the score) and (log p)″ of a 1-D mixture at level (α, σ), p = Σ w_k N(α μ_k, α² s_k² + σ²).
    public static func logDensityDerivatives(_ m: GaussianMixture, at x: Double, alpha α: Double, sigma σ: Double) -> (logp: Double, score: Double, curvature: Double) {
        precondition(m.dimension == 1, "logDensityDerivatives is for 1-D mixtures")
        let K = m.componentCount
        var top = -Double.infinity
        for k in 0..<K {
            let sd = m.stds[k][0], v = α * α * sd * sd + σ * σ
            let r = x - α * m.means[k][0]
            top = Swift.max(top, log(m.weights[k]) - 0.5 * (r * r / v + log(2 * Double.pi * v)))
        }
        var total = 0.0, d1 = 0.0, d2 = 0.0
        for k in 0..<K {
            let sd = m.stds[k][0], v = α * α * sd * sd + σ * σ
            let r = x - α * m.means[k][0]
            let w = exp(log(m.weights[k]) - 0.5 * (r * r / v + log(2 * Double.pi * v)) - top)
            total += w
            d1 -= w * r / v                      // p′/p pieces
            d2 += w * (r * r / (v * v) - 1 / v)  // p″/p pieces
        }
        let s = d1 / total
        return (top + log(total), s, d2 / total - s * s)
    }

    // MARK: Least-squares Monte Carlo for BSDEs

    /// A regression basis in one variable, evaluated sparsely: at every x only `width` functions are non-zero.
    public struct RegressionBasis: Sendable {
        enum Kind: Sendable { case polynomial(Int), hats(lo: Double, step: Double, nodes: Int) }
        let kind: Kind
        /// The number of basis functions.
        public let count: Int
        /// The number of functions that can be non-zero at one point.
        public let width: Int

        /// 1, x, …, x^degree.
        public static func polynomial(degree: Int) -> RegressionBasis {
            precondition(degree >= 0, "the degree must be ≥ 0")
            return RegressionBasis(kind: .polynomial(degree), count: degree + 1, width: degree + 1)
        }

        /// Piecewise-linear hat functions on equally spaced nodes lo … hi (constant beyond the ends).
        public static func hats(lo: Double, hi: Double, nodes: Int) -> RegressionBasis {
            precondition(nodes >= 2 && hi > lo, "hats need ≥ 2 nodes on a proper interval")
            return RegressionBasis(kind: .hats(lo: lo, step: (hi - lo) / Double(nodes - 1), nodes: nodes), count: nodes, width: 2)
        }

        /// Writes the `width` indices and values of the basis at x.
        @inline(__always)
        func fill(_ x: Double, _ idx: UnsafeMutablePointer<Int>, _ val: UnsafeMutablePointer<Double>) {
            switch kind {
            case .polynomial(let degree):
                var p = 1.0
                for j in 0...degree { idx[j] = j; val[j] = p; p *= x }
            case .hats(let lo, let step, let nodes):
                let u = Swift.min(Swift.max((x - lo) / step, 0), Double(nodes - 1))
                let j = Swift.min(Int(u.rounded(.down)), nodes - 2)
                let f = u - Double(j)
                idx[0] = j; val[0] = 1 - f
                idx[1] = j + 1; val[1] = f
            }
        }

        /// The non-zero (index, value) pairs at x.
        public func evaluate(_ x: Double) -> [(Int, Double)] {
            var idx = [Int](repeating: 0, count: width), val = [Double](repeating: 0, count: width)
            idx.withUnsafeMutableBufferPointer { i in val.withUnsafeMutableBufferPointer { v in fill(x, i.baseAddress!, v.baseAddress!) } }
            return Array(zip(idx, val))
        }

        /// Σ_j c_j φ_j(x).
        public func value(_ c: [Double], at x: Double) -> Double { evaluate(x).reduce(0) { $0 + c[$1.0] * $1.1 } }
    }

    /// A sparse design matrix (`width` non-zeros per row) with its Cholesky-factored Gram matrix, so that several
    /// least-squares fits on the same points cost one factorisation. A tiny ridge makes a degenerate design (all x
    /// equal, as at t = 0) return the fit whose value at that x is the sample mean.
    struct Design {
        let rows: Int, width: Int, count: Int
        var idx: [Int], val: [Double]
        var chol: [Double]

        init(rows: Int, width: Int, count: Int, idx: [Int], val: [Double]) {
            (self.rows, self.width, self.count, self.idx, self.val) = (rows, width, count, idx, val)
            let B = count
            var G = [Double](repeating: 0, count: B * B)
            idx.withUnsafeBufferPointer { ip in
                val.withUnsafeBufferPointer { vp in
                    G.withUnsafeMutableBufferPointer { g in
                        for r in 0..<rows {
                            let o = r * width
                            for a in 0..<width {
                                let (ia, va) = (ip[o + a], vp[o + a])
                                for b in 0..<width { g[ia * B + ip[o + b]] += va * vp[o + b] }
                            }
                        }
                    }
                }
            }
            var trace = 0.0
            for a in 0..<B { trace += G[a * B + a] }
            for a in 0..<B { G[a * B + a] += 1e-10 * trace / Double(B) + 1e-300 }
            // Cholesky G = L Lᵀ (lower triangle stored in place).
            G.withUnsafeMutableBufferPointer { g in
                for j in 0..<B {
                    var d = g[j * B + j]
                    for k in 0..<j { d -= g[j * B + k] * g[j * B + k] }
                    let l = Swift.max(d, 1e-300).squareRoot()
                    g[j * B + j] = l
                    for i in (j + 1)..<Swift.max(j + 1, B) {
                        var s = g[i * B + j]
                        for k in 0..<j { s -= g[i * B + k] * g[j * B + k] }
                        g[i * B + j] = s / l
                    }
                }
            }
            chol = G
        }

        init(_ xs: [Double], basis: RegressionBasis) {
            let (M, w) = (xs.count, basis.width)
            var idx = [Int](repeating: 0, count: M * w), val = [Double](repeating: 0, count: M * w)
            idx.withUnsafeMutableBufferPointer { ip in
                val.withUnsafeMutableBufferPointer { vp in
                    for r in 0..<M { basis.fill(xs[r], ip.baseAddress! + r * w, vp.baseAddress! + r * w) }
                }
            }
            self.init(rows: M, width: w, count: basis.count, idx: idx, val: val)
        }

        /// Coefficients of the least-squares fit of y.
        func fit(_ y: [Double]) -> [Double] {
            let B = count
            var c = [Double](repeating: 0, count: B)
            idx.withUnsafeBufferPointer { ip in
                val.withUnsafeBufferPointer { vp in
                    y.withUnsafeBufferPointer { yp in
                        c.withUnsafeMutableBufferPointer { cp in
                            for r in 0..<rows { let o = r * width; for a in 0..<width { cp[ip[o + a]] += vp[o + a] * yp[r] } }
                        }
                    }
                }
            }
            chol.withUnsafeBufferPointer { g in
                for i in 0..<B { var s = c[i]; for k in 0..<i { s -= g[i * B + k] * c[k] }; c[i] = s / g[i * B + i] }
                for i in stride(from: B - 1, through: 0, by: -1) { var s = c[i]; for k in (i + 1)..<Swift.max(i + 1, B) { s -= g[k * B + i] * c[k] }; c[i] = s / g[i * B + i] }
            }
            return c
        }

        /// The fitted values c·φ(x_r) of every row.
        func predict(_ c: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: rows)
            idx.withUnsafeBufferPointer { ip in
                val.withUnsafeBufferPointer { vp in
                    out.withUnsafeMutableBufferPointer { op in
                        for r in 0..<rows { let o = r * width; var s = 0.0; for a in 0..<width { s += c[ip[o + a]] * vp[o + a] }; op[r] = s }
                    }
                }
            }
            return out
        }
    }

    /// The result of `leastSquaresBSDE`: Y and Z at every path and grid time, and the regression coefficients
    /// (so Y_k and Z_k can be evaluated as functions of x).
    public struct BSDESolution: Sendable {
        public var y: [[Double]]            // [time][path], time 0 … N
        public var z: [[Double]]            // [time][path], time 0 … N − 1
        public var yCoefficients: [[Double]]
        public var zCoefficients: [[Double]]
        public var y0: Double { y[0].reduce(0, +) / Double(y[0].count) }
    }

    /// The explicit backward Euler scheme for dY = −F(t, X, Y, Z) dt + Z dW, Y_N = ξ(X_N), with conditional
    /// expectations replaced by least-squares regression on a basis of X_k (Gobet–Lemor–Warin):
    /// Z_k = E[(Y_{k+1} − E[Y_{k+1} | X_k]) ΔW_k | X_k] / h and Y_k = E[Y_{k+1} + h·F(t_k, X_k, Y_{k+1}, Z_k) | X_k].
    /// `x[k][i]` is path i of the forward process at t_k = k·h; `dW[k][i]` the increment on [t_k, t_{k+1}].
    /// Subtracting the regressed mean before regressing Y·ΔW (`centred`) leaves the expectation unchanged and
    /// removes most of its variance.
    public static func leastSquaresBSDE(x: [[Double]], dW: [[Double]], h: Double, basis: RegressionBasis, centred: Bool = true,
                                        terminal: (Double) -> Double,
                                        driver: (_ t: Double, _ x: Double, _ y: Double, _ z: Double) -> Double) -> BSDESolution {
        let N = dW.count, M = x[0].count
        precondition(x.count == N + 1 && dW.allSatisfy { $0.count == M } && h > 0, "leastSquaresBSDE: x needs N + 1 rows, dW N rows of equal length")
        var y = [[Double]](repeating: [], count: N + 1), z = [[Double]](repeating: [], count: N)
        var yc = [[Double]](repeating: [], count: N), zc = yc
        y[N] = x[N].map(terminal)
        for k in stride(from: N - 1, through: 0, by: -1) {
            let design = Design(x[k], basis: basis)
            let next = y[k + 1], inc = dW[k], xk = x[k]
            let mean = centred ? design.predict(design.fit(next)) : [Double](repeating: 0, count: M)
            var weighted = [Double](repeating: 0, count: M)
            for i in 0..<M { weighted[i] = (next[i] - mean[i]) * inc[i] / h }
            let cz = design.fit(weighted)
            let zk = design.predict(cz)
            let t = Double(k) * h
            var target = [Double](repeating: 0, count: M)
            for i in 0..<M { target[i] = next[i] + h * driver(t, xk[i], next[i], zk[i]) }
            let cy = design.fit(target)
            y[k] = design.predict(cy)
            z[k] = zk
            yc[k] = cy
            zc[k] = cz
        }
        return BSDESolution(y: y, z: z, yCoefficients: yc, zCoefficients: zc)
    }

    /// M Brownian paths on N_max steps of [0, T] (Philox stream `stream`), returned as increments [step][path].
    static func brownianIncrements(paths M: Int, steps N: Int, T: Double, seed: UInt64, stream: UInt64) -> [[Double]] {
        let z = Tensor.randomNormal([N * M], seed: seed, stream: stream).scalars
        let s = (T / Double(N)).squareRoot()
        var out: [[Double]] = []
        for k in 0..<N { out.append((0..<M).map { (i: Int) -> Double in s * Double(z[k * M + i]) }) }
        return out
    }

    /// Coarsens increments by summing groups of `factor` consecutive steps, and builds the path W from 0.
    static func coarsen(_ dW: [[Double]], factor: Int) -> (w: [[Double]], dW: [[Double]]) {
        let M = dW[0].count, N = dW.count / factor
        var inc = [[Double]](repeating: [Double](repeating: 0, count: M), count: N)
        var w = [[Double]](repeating: [Double](repeating: 0, count: M), count: N + 1)
        for k in 0..<N {
            for j in 0..<factor { for i in 0..<M { inc[k][i] += dW[k * factor + j][i] } }
            for i in 0..<M { w[k + 1][i] = w[k][i] + inc[k][i] }
        }
        return (w, inc)
    }

    /// u(t, x) and ∂ₓu for the linear BSDE dY = −(aY + bZ)dt + Z dW, Y_T = W_T²: u = e^{aτ}((x + bτ)² + τ), τ = T − t.
    public static func linearSolution(t: Double, x: Double, a: Double, b: Double, T: Double) -> (u: Double, ux: Double) {
        let τ = T - t, e = exp(a * τ)
        return (e * ((x + b * τ) * (x + b * τ) + τ), 2 * e * (x + b * τ))
    }

    /// u(t, x) and ∂ₓu for the quadratic BSDE dY = −½Z² dt + Z dW, Y_T = c·W_T² (Cole–Hopf, needs 2c(T − t) < 1).
    public static func quadraticSolution(t: Double, x: Double, c: Double, T: Double) -> (u: Double, ux: Double) {
        let D = 1 - 2 * c * (T - t)
        precondition(D > 0, "the Cole–Hopf solution needs 2c(T − t) < 1")
        return (-0.5 * log(D) + c * x * x / D, 2 * c * x / D)
    }

    static func rms(_ v: [Double]) -> Double {
        var s = 0.0
        for e in v { s += e * e }
        return (s / Double(v.count)).squareRoot()
    }

    /// lo, lo + step, …, n + 1 points.
    static func grid(_ lo: Double, _ step: Double, _ n: Int) -> [Double] {
        var out: [Double] = []
        for i in 0...n { out.append(lo + Double(i) * step) }
        return out
    }

    // MARK: Figure — least-squares Monte Carlo against closed forms

    static let lsmc = BookExperiment(
        name: "appb-lsmc",
        summary: "Least-squares Monte Carlo (explicit backward Euler, basis 1, x, x²) for the linear BSDE dY = −(aY + bZ)dt + Z dW, Y_T = W_T², and the quadratic Cole–Hopf BSDE dY = −½Z² dt + Z dW, Y_T = cW_T², on one set of Brownian paths coarsened to N = 2 … 32 steps: Y and Z along paths against the closed forms, and the errors of Y₀ and Z against N with the Monte Carlo floor.",
        defaults: ["seed": "0", "paths": "10000", "a": "1", "b": "1", "c": "0.25", "max_steps": "32"], revision: 2
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let M = try p.int("paths", in: 500...200_000)
        let (a, b, c) = (try p.double("a"), try p.double("b"), try p.double("c"))
        let Nmax = try p.int("max_steps", in: 8...512)
        guard Nmax & (Nmax - 1) == 0 else { throw ExperimentError("max_steps must be a power of two") }
        guard Swift.abs(a) <= 3 && Swift.abs(b) <= 3 && c >= 0 && c < 0.45 else { throw ExperimentError("need |a|, |b| ≤ 3 and 0 ≤ c < 0.45") }
        let T = 1.0
        let fine = brownianIncrements(paths: M, steps: Nmax, T: T, seed: seed, stream: 1)
        let basis = RegressionBasis.polynomial(degree: 2)
        var numbers: [String: Double] = ["paths": Double(M), "a": a, "b": b, "c": c]
        numbers["y0_exact"] = linearSolution(t: 0, x: 0, a: a, b: b, T: T).u
        numbers["q_y0_exact"] = quadraticSolution(t: 0, x: 0, c: c, T: T).u
        var Ns: [Double] = [], yErr: [Double] = [], zErr: [Double] = [], qErr: [Double] = []
        var shown: BSDESolution? = nil, shownW: [[Double]] = []
        var N = 2
        while N <= Nmax {
            let (w, dW) = coarsen(fine, factor: Nmax / N)
            let h = T / Double(N)
            let lin = leastSquaresBSDE(x: w, dW: dW, h: h, basis: basis, terminal: { $0 * $0 }) { _, _, y, z in a * y + b * z }
            let quad = leastSquaresBSDE(x: w, dW: dW, h: h, basis: basis, terminal: { c * $0 * $0 }) { _, _, _, z in 0.5 * z * z }
            var zDev: [Double] = []
            for k in 0..<N { for i in stride(from: 0, to: M, by: 10) { zDev.append(lin.z[k][i] - linearSolution(t: Double(k) * h, x: w[k][i], a: a, b: b, T: T).ux) } }
            Ns.append(Double(N))
            yErr.append(Swift.abs(lin.y0 - numbers["y0_exact"]!))
            zErr.append(rms(zDev))
            qErr.append(Swift.abs(quad.y0 - numbers["q_y0_exact"]!))
            numbers["y0_\(N)"] = lin.y0
            numbers["q_y0_\(N)"] = quad.y0
            numbers["z_rms_\(N)"] = zDev.isEmpty ? 0 : rms(zDev)
            if N == 32 || (N == Nmax && Nmax < 32) { shown = lin; shownW = w }
            N *= 2
        }
        // The Monte Carlo floor: the standard error of a plain average of the discounted payoff, E[Γ_T ξ] (see the text).
        var wT = [Double](repeating: 0, count: M)
        for row in fine { for i in 0..<M { wT[i] += row[i] } }
        let payoff: [Double] = wT.map { (w: Double) -> Double in
            let weight: Double = exp(a * T + b * w - 0.5 * b * b * T)
            return weight * w * w
        }
        let (pm, pse) = AppendixA.meanSE(payoff)
        numbers["mc_mean"] = pm
        numbers["mc_floor"] = pse
        let coarse = Array(0..<Swift.min(4, Ns.count))
        numbers["y_slope"] = AppendixA.slope(Ns, yErr)
        numbers["y_err_last"] = yErr.last!
        numbers["y_ratio_last"] = yErr[yErr.count - 2] / yErr.last!
        numbers["z_slope"] = AppendixA.slope(coarse.map { Ns[$0] }, coarse.map { zErr[$0] })

        // (a) Y along five paths (N = 32) against u(t, W_t).
        let sol = shown!, Nshow = sol.z.count, hs = T / Double(Nshow)
        var pa = Plot(width: 340, height: 300, title: "LSMC 的 Yₜ 与精确的 u(t, Wₜ)（N = \(Nshow)）", x: Axis("t", range: 0...1), y: Axis("Y"))
        for q in 0..<5 {
            let i = q * 37
            let ts = grid(0, hs, Nshow)
            var ys: [Double] = [], us: [Double] = []
            for k in 0...Nshow { ys.append(sol.y[k][i]); us.append(linearSolution(t: ts[k], x: shownW[k][i], a: a, b: b, T: T).u) }
            pa.line(x: ts, y: ys, colour: q, width: 1.6, label: q == 0 ? "LSMC（5 条路径）" : nil)
            pa.line(x: ts, y: us, colour: 7, style: .dashed, width: 1.2, label: q == 0 ? "u(t, Wₜ) 闭式" : nil)
        }
        // (b) Z_k(x) regressed at three times against ∂ₓu.
        var pb = Plot(width: 340, height: 300, title: "Zₖ(x) 的回归与 ∂ₓu(t, x)", x: Axis("x", range: -2.5...2.5), y: Axis("Z"))
        let xs = grid(-2.5, 0.1, 50)
        for (q, k) in [1, Nshow / 2, Nshow - 1].enumerated() {   // at k = 0 every path sits at x = 0: Z₀ is known only there
            let t = Double(k) * hs
            pb.line(x: xs, y: xs.map { basis.value(sol.zCoefficients[k], at: $0) }, colour: q, width: 2, label: String(format: "t = %.2f", t))
            pb.line(x: xs, y: xs.map { linearSolution(t: t, x: $0, a: a, b: b, T: T).ux }, colour: 7, style: .dashed, width: 1.2, label: q == 0 ? "∂ₓu 闭式" : nil)
        }
        // (c) errors against N.
        var pc = Plot(width: 340, height: 300, title: "误差与步数 N", x: Axis("时间步数 N", scale: .log), y: Axis(scale: .log))
        pc.line(x: Ns, y: yErr, colour: 0, width: 2, label: "|Y₀ − u(0,0)|（线性）")
        pc.line(x: Ns, y: zErr, colour: 1, width: 2, label: "Z 的均方根误差（线性）")
        pc.line(x: Ns, y: qErr, colour: 2, width: 2, label: "|Y₀ − u(0,0)|（二次）")
        let guide: [Double] = Ns.map { (n: Double) -> Double in yErr[0] * 2 / n }
        pc.line(x: Ns, y: guide, colour: 7, style: .dashed, width: 1.2, label: "∝ 1/N")
        pc.line(x: [Ns.first!, Ns.last!], y: [pse, pse], colour: 7, style: .dotted, width: 1.4, label: "蒙特卡罗标准误")
        return ExperimentResult(svg: Figure([pa, pb, pc], columns: 3).svg(title: "最小二乘蒙特卡罗解 BSDE：与闭式解比较"), numbers: numbers)
    }

    // MARK: Figure — log p_t along forward paths is an Itô process whose martingale part is the score

    static let logDensity = BookExperiment(
        name: "appb-logdensity",
        summary: "Heat flow x_t = x₀ + W_t (f = 0, g = 1) from GaussianMixture.example1D: Y_t = log p_t(x_t) along exact paths; the pathwise residual of Itô's formula dY = (∂ₓ²ℓ + ½(∂ₓℓ)²)dt + ∂ₓℓ dW against the number of steps, and of the ordinary chain rule (no Itô term); E Y_t against −H(p_t) by quadrature.",
        defaults: ["seed": "0", "paths": "1000", "T": "1", "max_steps": "512"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let M = try p.int("paths", in: 100...50_000)
        let T = try p.double("T")
        let Nmax = try p.int("max_steps", in: 64...8192)
        guard Nmax & (Nmax - 1) == 0 else { throw ExperimentError("max_steps must be a power of two") }
        guard T > 0 && T <= 4 else { throw ExperimentError("T must lie in (0, 4]") }
        let m = GaussianMixture.example1D
        let x0 = m.sample(M, seed: seed).scalars.map(Double.init)
        let fine = brownianIncrements(paths: M, steps: Nmax, T: T, seed: seed, stream: 2)
        func ell(_ x: Double, _ t: Double) -> (logp: Double, score: Double, curvature: Double) {
            logDensityDerivatives(m, at: x, alpha: 1, sigma: t.squareRoot())
        }
        // Paths on the finest grid; ℓ, ℓ′, ℓ″ at every node (t = 0 is the data density itself, σ = 0).
        var x = [[Double]](repeating: x0, count: Nmax + 1)
        for k in 0..<Nmax { for i in 0..<M { x[k + 1][i] = x[k][i] + fine[k][i] } }
        let hFine = T / Double(Nmax)
        var L = [[(logp: Double, score: Double, curvature: Double)]](repeating: [], count: Nmax + 1)
        for k in 0...Nmax { let t = Double(k) * hFine; L[k] = x[k].map { ell($0, t) } }
        var numbers: [String: Double] = ["paths": Double(M), "T": T]
        var Ns: [Double] = [], itoRes: [Double] = [], chainRes: [Double] = []
        var N = 16
        while N <= Nmax {
            let f = Nmax / N, h = T / Double(N)
            var ri: [Double] = [], rc: [Double] = []
            for i in 0..<M {
                var drift = 0.0, mart = 0.0, itoTerm = 0.0
                for k in 0..<N {
                    let l = L[k * f][i]
                    let dw = x[(k + 1) * f][i] - x[k * f][i]
                    drift += (l.curvature + 0.5 * l.score * l.score) * h
                    itoTerm += 0.5 * l.curvature * h
                    mart += l.score * dw
                }
                let dy = L[Nmax][i].logp - L[0][i].logp
                ri.append(dy - drift - mart)
                rc.append(dy - (drift - itoTerm) - mart)
            }
            Ns.append(Double(N)); itoRes.append(rms(ri)); chainRes.append(rms(rc))
            numbers["ito_rms_\(N)"] = rms(ri)
            numbers["chain_rms_\(N)"] = rms(rc)
            numbers["chain_mean_\(N)"] = AppendixA.mean(rc)
            N *= 2
        }
        let fineIdx = Ns.indices.filter { Ns[$0] >= 64 }
        numbers["ito_slope"] = AppendixA.slope(fineIdx.map { Ns[$0] }, fineIdx.map { itoRes[$0] })
        // Means: E log p_t(x_t) = −H(p_t) at a few times, by quadrature, and d/dt of it = ½ E(ℓ′)² (Fisher/2).
        let times = [0.0, 0.25, 0.5, 1.0].filter { $0 <= T }
        for (j, t) in times.enumerated() {
            let k = Int((t / hFine).rounded())
            numbers["mean_logp_\(j)"] = AppendixA.mean(L[k].map(\.logp))
            numbers["mean_logp_se_\(j)"] = AppendixA.meanSE(L[k].map(\.logp)).se
            let level = NoiseLevel(alpha: 1, sigma: t.squareRoot())
            numbers["neg_entropy_\(j)"] = t == 0 ? -m.entropy : m.expectation(at: level) { _, post in post.logDensity }
            numbers["time_\(j)"] = t
        }
        // Expected drift of Y: E[ℓ″ + ½ℓ′²] = −½ E ℓ′² = −½ J(p_t) (integration by parts), checked at t = 0.5.
        let lvl = NoiseLevel(alpha: 1, sigma: (0.5 * T).squareRoot())
        numbers["fisher_half"] = m.fisherInformation(at: lvl)
        numbers["drift_mean_half"] = m.expectation(at: lvl) { xv, _ in let l = ell(xv[0], 0.5 * T); return l.curvature + 0.5 * l.score * l.score }

        // (a) Y_t along six paths.
        var pa = Plot(width: 340, height: 300, title: "Yₜ = log pₜ(xₜ) 沿前向路径", x: Axis("t", range: 0...T), y: Axis("log pₜ(xₜ)"))
        let stride = Swift.max(1, Nmax / 256)
        for q in 0..<6 {
            let ks = Array(Swift.stride(from: 0, through: Nmax, by: stride))
            pa.line(x: ks.map { Double($0) * hFine }, y: ks.map { L[$0][q].logp }, colour: q, width: 1.3, label: q == 0 ? "6 条路径" : nil)
        }
        let tt = grid(0, T / 40, 40)
        var negH: [Double] = []
        for t in tt {
            if t == 0 { negH.append(-m.entropy); continue }
            negH.append(m.expectation(at: NoiseLevel(alpha: 1, sigma: t.squareRoot())) { _, post in post.logDensity })
        }
        pa.line(x: tt, y: negH, colour: 7, style: .dashed, width: 2, label: "E log pₜ = −H(pₜ)")
        // (b) residuals against N.
        var pb = Plot(width: 340, height: 300, title: "伊藤公式的路径残差", x: Axis("时间步数 N", scale: .log), y: Axis("残差的均方根", scale: .log))
        pb.line(x: Ns, y: itoRes, colour: 0, width: 2, label: "伊藤公式")
        pb.line(x: Ns, y: chainRes, colour: 1, width: 2, label: "普通链式法则（无 ½∂ₓ²ℓ）")
        let guide: [Double] = Ns.map { (n: Double) -> Double in itoRes[0] * (Ns[0] / n).squareRoot() }
        pb.line(x: Ns, y: guide, colour: 7, style: .dashed, width: 1.2, label: "∝ N^(−1/2)")
        // (c) Z = score at one time across x: the integrand of the martingale part, with the drift.
        var pc = Plot(width: 340, height: 300, title: "t = \(String(format: "%.2f", 0.5 * T)) 时的 Z 与漂移", x: Axis("x", range: -4...4.5), y: Axis(range: -6...4))
        let xs = grid(-4, 0.05, 170)
        pc.line(x: xs, y: xs.map { ell($0, 0.5 * T).score }, colour: 0, width: 2, label: "Z = ∂ₓ log pₜ（分数）")
        var driftCurve: [Double] = []
        for xv in xs { let l = ell(xv, 0.5 * T); driftCurve.append(l.curvature + 0.5 * l.score * l.score) }
        pc.line(x: xs, y: driftCurve, colour: 1, width: 2, label: "漂移 ∂ₓ²ℓ + ½(∂ₓℓ)²")
        pc.line(x: xs, y: xs.map { exp(ell($0, 0.5 * T).logp) * 5 }, colour: 7, style: .dotted, width: 1.4, label: "5·pₜ(x)")
        return ExperimentResult(svg: Figure([pa, pb, pc], columns: 3).svg(title: "对数密度沿前向过程：一个鞅部分是分数的伊藤过程"), numbers: numbers)
    }

    // MARK: Figure — the coefficients of the reverse-time log-density BSDE, identified by regression

    static let scoreBSDE = BookExperiment(
        name: "appb-score",
        summary: "Heat flow from GaussianMixture.example1D to time T: reverse paths X̄ by Euler–Maruyama with the exact score from X̄₀ ~ p_T, and Y_k = log p_{T−s_k}(X̄_k) along them; at every step the BSDE's two coefficients are identified by least-squares regression on hat functions of X̄_k — Z_k = E[(Y_{k+1} − E_k Y_{k+1}) ΔW̄_k | X̄_k]/h and the drift E[(Y_{k+1} − Y_k − Z_k ΔW̄_k)/h | X̄_k] — and compared with the exact score and ½·score² (the driver of eq. appb-logp-bsde).",
        defaults: ["seed": "0", "paths": "20000", "steps": "32", "T": "1", "nodes": "41"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let M = try p.int("paths", in: 1000...200_000)
        let N = try p.int("steps", in: 4...1024)
        let T = try p.double("T")
        let nodes = try p.int("nodes", in: 5...400)
        guard T > 0 && T <= 4 else { throw ExperimentError("T must lie in (0, 4]") }
        let m = GaussianMixture.example1D
        let h = T / Double(N)
        func ell(_ x: Double, _ t: Double) -> (logp: Double, score: Double, curvature: Double) {
            logDensityDerivatives(m, at: x, alpha: 1, sigma: t.squareRoot())
        }
        // X̄₀ ~ p_T exactly: x₀ + √T ε; then Euler–Maruyama for dX̄ = ∂ₓ log p_{T−s}(X̄) ds + dW̄.
        let start = m.sample(M, seed: seed).scalars.map(Double.init)
        let eps = Tensor.randomNormal([M], seed: seed, stream: 3).scalars.map(Double.init)
        let dW = brownianIncrements(paths: M, steps: N, T: T, seed: seed, stream: 4)
        var xb = [[Double]](repeating: [], count: N + 1)
        xb[0] = (0..<M).map { (i: Int) -> Double in start[i] + T.squareRoot() * eps[i] }
        var L = [[(logp: Double, score: Double, curvature: Double)]](repeating: [], count: N + 1)
        for k in 0...N {
            let t = T - Double(k) * h
            L[k] = xb[k].map { ell($0, t) }
            if k < N { xb[k + 1] = (0..<M).map { (i: Int) -> Double in xb[k][i] + h * L[k][i].score + dW[k][i] } }
        }
        let basis = RegressionBasis.hats(lo: -6, hi: 6, nodes: nodes)
        var zErr: [Double] = [], dErr: [Double] = [], fTimes: [Double] = []
        var zCoef: [[Double]] = [], dCoef: [[Double]] = []
        for k in 0..<N {
            let t = T - Double(k) * h
            let design = Design(xb[k], basis: basis)
            let next = L[k + 1].map(\.logp), now = L[k].map(\.logp)
            let mean = design.predict(design.fit(next))
            var weighted = [Double](repeating: 0, count: M)
            for i in 0..<M { weighted[i] = (next[i] - mean[i]) * dW[k][i] / h }
            let cz = design.fit(weighted)
            let z = design.predict(cz)
            var increments = [Double](repeating: 0, count: M)
            for i in 0..<M { increments[i] = (next[i] - now[i] - z[i] * dW[k][i]) / h }
            let cd = design.fit(increments)
            let d = design.predict(cd)
            // Relative RMS errors over the central region |x − E x| < 2.5, where the paths are dense.
            var ez = 0.0, sz = 0.0, ed = 0.0, sd = 0.0
            for i in 0..<M where Swift.abs(xb[k][i] + 0.2) < 2.5 {
                let s = L[k][i].score
                ez += (z[i] - s) * (z[i] - s); sz += s * s
                ed += (d[i] - 0.5 * s * s) * (d[i] - 0.5 * s * s); sd += 0.25 * s * s * s * s
            }
            zErr.append((ez / sz).squareRoot()); dErr.append((ed / sd).squareRoot()); fTimes.append(t)
            zCoef.append(cz); dCoef.append(cd)
        }
        var numbers: [String: Double] = ["paths": Double(M), "steps": Double(N), "T": T, "nodes": Double(nodes)]
        let mid = N / 2
        numbers["t_mid"] = fTimes[mid]
        numbers["z_relerr_start"] = zErr[0]
        numbers["z_relerr_mid"] = zErr[mid]
        numbers["z_relerr_end"] = zErr[N - 1]
        numbers["z_relerr_median"] = zErr.sorted()[N / 2]
        numbers["d_relerr_mid"] = dErr[mid]
        numbers["d_relerr_median"] = dErr.sorted()[N / 2]

        // (a) Z_k(x) against the exact score at three forward times.
        var pa = Plot(width: 340, height: 300, title: "回归得到的 Z 与精确分数", x: Axis("x", range: -3.5...3.5), y: Axis("Z", range: -8...8))
        let xs = grid(-3.5, 0.05, 140)
        for (q, k) in [0, mid, N - 2].enumerated() {
            let t = fTimes[k]
            pa.line(x: xs, y: xs.map { basis.value(zCoef[k], at: $0) }, colour: q, width: 2, label: String(format: "回归 Z，t = %.2f", t))
            pa.line(x: xs, y: xs.map { ell($0, t).score }, colour: 7, style: .dashed, width: 1.2, label: q == 0 ? "∂ₓ log pₜ 精确" : nil)
        }
        // (b) the drift against ½ score² at the middle time.
        var pb = Plot(width: 340, height: 300, title: String(format: "漂移与 ½Z²（t = %.2f）", fTimes[mid]), x: Axis("x", range: -3.5...3.5), y: Axis("漂移"))
        pb.line(x: xs, y: xs.map { basis.value(dCoef[mid], at: $0) }, colour: 0, width: 2, label: "回归的漂移")
        var halfSq: [Double] = []
        for xv in xs { let sc = ell(xv, fTimes[mid]).score; halfSq.append(0.5 * sc * sc) }
        pb.line(x: xs, y: halfSq, colour: 7, style: .dashed, width: 1.4, label: "½(∂ₓ log pₜ)²")
        // (c) relative errors against t.
        var pc = Plot(width: 340, height: 300, title: "相对均方根误差（中心区域）", x: Axis("前向时间 t = T − s", range: 0...T), y: Axis(scale: .log, range: 0.01...1))
        pc.line(x: fTimes, y: zErr, colour: 0, width: 2, label: "Z 与分数")
        pc.line(x: fTimes, y: dErr, colour: 1, width: 2, label: "漂移与 ½Z²")
        return ExperimentResult(svg: Figure([pa, pb, pc], columns: 3).svg(title: "沿逆时过程的对数密度：回归识别出 BSDE 的两个系数"), numbers: numbers)
    }

    // MARK: Forward shooting (the deep BSDE method with affine features in place of a network)

    /// Minimises E|Y₀ + Σ_k Z_k(W_{t_k}) ΔW_k − ξ|² over Y₀ and affine Z_k(x) = θ_{k,0} + θ_{k,1}x (driver 0): the
    /// deep BSDE loss of E, Han & Jentzen with the network replaced by fixed features, so the minimiser is a linear
    /// least-squares solution. Returns Y₀, the θ's and the attained loss.
    public static func forwardShooting(w: [[Double]], dW: [[Double]], terminal: (Double) -> Double) -> (y0: Double, theta: [[Double]], loss: Double) {
        let N = dW.count, M = w[0].count
        let width = 2 * N + 1
        var idx = [Int](repeating: 0, count: M * width), val = [Double](repeating: 0, count: M * width)
        for i in 0..<M {
            let o = i * width
            idx[o] = 0; val[o] = 1
            for k in 0..<N {
                idx[o + 1 + 2 * k] = 1 + 2 * k; val[o + 1 + 2 * k] = dW[k][i]
                idx[o + 2 + 2 * k] = 2 + 2 * k; val[o + 2 + 2 * k] = w[k][i] * dW[k][i]
            }
        }
        let design = Design(rows: M, width: width, count: width, idx: idx, val: val)
        let xi = w[N].map(terminal)
        let c = design.fit(xi)
        let fitted = design.predict(c)
        var loss = 0.0
        for i in 0..<M { let e = fitted[i] - xi[i]; loss += e * e }
        loss /= Double(M)
        var theta: [[Double]] = []
        for k in 0..<N { theta.append([c[1 + 2 * k], c[2 + 2 * k]]) }
        return (c[0], theta, loss)
    }

    // MARK: Numbers of the exercises

    static let numbers = BookExperiment(
        name: "appb-numbers",
        summary: "Numbers the exercises quote: the deep-BSDE (forward shooting) loss floor 2T²/N for ξ = W_T² with affine Z_k; the Girsanov-weighted Monte Carlo value of a linear BSDE; and the Z error of least-squares Monte Carlo with and without centring Y_{k+1} before regressing Y_{k+1}ΔW_k.",
        defaults: ["seed": "0", "paths": "5000"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let M = try p.int("paths", in: 500...100_000)
        let T = 1.0
        var numbers: [String: Double] = ["paths": Double(M)]
        let fine = brownianIncrements(paths: M, steps: 64, T: T, seed: seed, stream: 5)
        for N in [4, 8, 16] {
            let (w, dW) = coarsen(fine, factor: 64 / N)
            let r = forwardShooting(w: w, dW: dW, terminal: { $0 * $0 })
            numbers["shoot_y0_\(N)"] = r.y0
            numbers["shoot_loss_\(N)"] = r.loss
            numbers["shoot_floor_\(N)"] = 2 * T * T / Double(N)
            numbers["shoot_slope_mid_\(N)"] = r.theta[N / 2][1]
        }
        // Linear BSDE a = −0.5 (discounting), b = 0, ξ = max(W_T, 0): Y₀ = e^{−0.5} E max(W_T, 0) = e^{−0.5}/√(2π).
        let (w, dW) = coarsen(fine, factor: 1)
        let sol = leastSquaresBSDE(x: w, dW: dW, h: T / 64, basis: .polynomial(degree: 4), terminal: { Swift.max($0, 0) }) { _, _, y, _ in -0.5 * y }
        numbers["call_y0"] = sol.y0
        numbers["call_exact"] = exp(-0.5) / (2 * Double.pi).squareRoot()
        // Centring: Z error of the linear BSDE (a = b = 1, ξ = W_T²) with N = 64, with and without it.
        for (name, flag) in [("centred", true), ("plain", false)] {
            let s = leastSquaresBSDE(x: w, dW: dW, h: T / 64, basis: .polynomial(degree: 2), centred: flag, terminal: { $0 * $0 }) { _, _, y, z in y + z }
            var dev: [Double] = []
            for k in 0..<64 { for i in Swift.stride(from: 0, to: M, by: 5) { dev.append(s.z[k][i] - linearSolution(t: Double(k) / 64, x: w[k][i], a: 1, b: 1, T: T).ux) } }
            numbers["z_rms_\(name)"] = rms(dev)
            numbers["y0_\(name)"] = s.y0
        }
        numbers["y0_exact"] = linearSolution(t: 0, x: 0, a: 1, b: 1, T: T).u
        return ExperimentResult(numbers: numbers)
    }
}
