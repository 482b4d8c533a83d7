import Diffusion
import DiffusionEngine
import DiffusionPlot
import Foundation

/// The experiments of appendix A (book/appendix-a-measure.md): Brownian motion built by Lévy's midpoint
/// refinement and its quadratic variation; conditional expectation as an L² projection; left, midpoint and right
/// Riemann sums of ∫W dW (Itô against Stratonovich); strong and weak errors of Euler–Maruyama and Milstein on
/// geometric Brownian motion; Girsanov reweighting and the path-space KL between two drifts; and the numbers the
/// exercises quote.
///
/// Randomness is the library's counter-based Philox generator: `Tensor.randomNormal(seed:stream:offset:)` gives
/// element e of stream s under a seed, independently of how the draw is split. Everything after the draw is Double.
public enum AppendixA {
    public static let experiments: [BookExperiment] = [levy, projection, ito, eulerMaruyama, girsanov, numbers]

    // MARK: Brownian motion by Lévy's construction

    /// Brownian paths on [0, T] at the 2^L + 1 dyadic times k·T/2^L, by Lévy's midpoint refinement. Level 0 draws
    /// W(T) = √T·Z; level n ≥ 1 fills the midpoint m of every interval [s, u] of the level-(n−1) grid with the
    /// Brownian-bridge value ½(W(s) + W(u)) + √((u − s)/4)·Z. Level n reads Philox stream n, and path p reads its
    /// elements p·2^{n−1} ..< (p + 1)·2^{n−1}; so a path never changes when more paths or more levels are asked for,
    /// and a coarser level is exactly a sub-sample of a finer one.
    public static func levyPaths(paths: Int, levels L: Int, T: Double = 1, seed: UInt64) -> [[Double]] {
        precondition(paths > 0 && (0...20).contains(L) && T > 0, "levyPaths needs paths > 0, 0 ≤ levels ≤ 20, T > 0")
        let size = (1 << L) + 1
        var out = [[Double]](repeating: [Double](repeating: 0, count: size), count: paths)
        let top = Tensor.randomNormal([paths], seed: seed, stream: 0).scalars
        for p in 0..<paths { out[p][size - 1] = T.squareRoot() * Double(top[p]) }
        if L == 0 { return out }
        for n in 1...L {
            let per = 1 << (n - 1)                       // midpoints per path at this level
            let s = 1 << (L - n)                          // half the index spacing of the level-(n−1) grid
            let sd = (T / Double(1 << (n + 1))).squareRoot()
            let z = Tensor.randomNormal([paths * per], seed: seed, stream: UInt64(n)).scalars
            z.withUnsafeBufferPointer { zb in
                for p in 0..<paths {
                    out[p].withUnsafeMutableBufferPointer { w in
                        for j in 0..<per {
                            let left = 2 * j * s
                            w[left + s] = 0.5 * (w[left] + w[left + 2 * s]) + sd * Double(zb[p * per + j])
                        }
                    }
                }
            }
        }
        return out
    }

    /// Σ (ΔW)² and Σ |ΔW| over the level-n grid of a path stored at level L (n ≤ L).
    public static func variations(_ w: [Double], level n: Int, of L: Int) -> (quadratic: Double, total: Double) {
        let s = 1 << (L - n)
        var q = 0.0, v = 0.0
        w.withUnsafeBufferPointer { b in
            for j in 0..<(1 << n) {
                let d = b[(j + 1) * s] - b[j * s]
                q += d * d
                v += Swift.abs(d)
            }
        }
        return (q, v)
    }

    /// Left, midpoint and right Riemann sums of ∫₀ᵀ W dW on the level-n grid of a path stored at level L (n < L).
    public static func riemannSums(_ w: [Double], level n: Int, of L: Int) -> (left: Double, mid: Double, right: Double) {
        precondition(n < L, "the midpoint sum needs the next level")
        let s = 1 << (L - n)
        var l = 0.0, m = 0.0, r = 0.0
        w.withUnsafeBufferPointer { b in
            for j in 0..<(1 << n) {
                let (a, c) = (b[j * s], b[(j + 1) * s])
                let d = c - a
                l += a * d
                m += b[j * s + s / 2] * d
                r += c * d
            }
        }
        return (l, m, r)
    }

    // MARK: Small helpers

    static func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }

    /// Sample mean and its standard error.
    static func meanSE(_ v: [Double]) -> (mean: Double, se: Double) {
        let m = mean(v)
        let s2 = v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)
        return (m, (s2 / Double(v.count)).squareRoot())
    }

    static func pair(_ t: (mean: Double, se: Double)) -> (Double?, Double?) { (t.mean, t.se) }

    static func variance(_ v: [Double]) -> Double {
        let m = mean(v)
        return v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)
    }

    static func slope(_ xs: [Double], _ ys: [Double]) -> Double { Chapter8.logLogSlope(xs, ys) }

    /// A density-normalised step line through a (weighted) histogram of `xs` on [lo, hi].
    static func histogram(_ xs: [Double], weights: [Double]? = nil, lo: Double, hi: Double, bins: Int) -> [Point] {
        var counts = [Double](repeating: 0, count: bins)
        let w = (hi - lo) / Double(bins)
        var total = 0.0
        for (i, x) in xs.enumerated() {
            let wt = weights?[i] ?? 1
            total += wt
            let k = Int(((x - lo) / w).rounded(.down))
            if (0..<bins).contains(k) { counts[k] += wt }
        }
        var pts: [Point] = []
        for (k, c) in counts.enumerated() {
            let y = c / (total * w)
            pts.append(Point(lo + Double(k) * w, y))
            pts.append(Point(lo + Double(k + 1) * w, y))
        }
        return pts
    }

    static func gaussianDensity(_ x: Double, mean m: Double, variance v: Double) -> Double {
        exp(-(x - m) * (x - m) / (2 * v)) / (2 * Double.pi * v).squareRoot()
    }

    /// D_KL(N(m₁, v₁) ‖ N(m₂, v₂)) in one dimension.
    public static func gaussianKL(_ m1: Double, _ v1: Double, _ m2: Double, _ v2: Double) -> Double {
        0.5 * (log(v2 / v1) + (v1 + (m1 - m2) * (m1 - m2)) / v2 - 1)
    }

    /// Error bars as short vertical segments.
    static func errorBars(_ plot: inout Plot, _ xs: [Double], _ ys: [Double], _ half: [Double], colour: Int) {
        for i in xs.indices { plot.line([Point(xs[i], ys[i] - half[i]), Point(xs[i], ys[i] + half[i])], colour: colour, width: 1.2) }
    }

    // MARK: Figure — Lévy's construction and quadratic variation

    static let levy = BookExperiment(
        name: "appa-levy",
        summary: "Brownian paths on [0, 1] by Lévy's midpoint refinement (Philox stream n for level n): one path at several levels; running quadratic variation against t; Q_n = Σ(ΔW)² → 1 and V_n = Σ|ΔW| → ∞ over levels; the spread of Q_n across paths against √(2/2ⁿ); and the covariance min(s, t) checked on many coarse paths.",
        defaults: ["seed": "0", "paths": "200", "levels": "14", "check_paths": "20000"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let P = try p.int("paths", in: 5...2000)
        let L = try p.int("levels", in: 8...16)
        let C = try p.int("check_paths", in: 100...200_000)
        let paths = levyPaths(paths: P, levels: L, seed: seed)
        let N = 1 << L
        var numbers: [String: Double] = ["paths": Double(P), "levels": Double(L), "intervals": Double(N), "check_paths": Double(C)]

        // Q_n and V_n for every path and level.
        var Q = [[Double]](repeating: [], count: P), V = Q
        for q in 0..<P {
            for n in 0...L { let r = variations(paths[q], level: n, of: L); Q[q].append(r.quadratic); V[q].append(r.total) }
        }
        let finalQ = Q.map { $0[L] }
        numbers["qv_path0"] = finalQ[0]
        numbers["w1_path0"] = paths[0][N]
        numbers["qv_mean"] = mean(finalQ)
        numbers["qv_sd"] = variance(finalQ).squareRoot()
        numbers["qv_sd_theory"] = (2 / Double(N)).squareRoot()
        numbers["qv_max_dev"] = finalQ.map { Swift.abs($0 - 1) }.max()!
        let levelsFit = Array(4...L)
        let sds = levelsFit.map { n in variance(Q.map { $0[n] }).squareRoot() }
        numbers["qv_sd_slope"] = slope(levelsFit.map { Double(1 << $0) }, sds)
        let tvMeans = (0...L).map { n in mean(V.map { $0[n] }) }
        numbers["tv_mean"] = tvMeans[L]
        numbers["tv_theory"] = (2 * Double(N) / Double.pi).squareRoot()
        numbers["tv_slope"] = slope(levelsFit.map { Double(1 << $0) }, levelsFit.map { tvMeans[$0] })
        // Largest difference quotient |ΔW|/h of path 0 at the finest level (grows like √(2 log N)/√h).
        var dq = 0.0
        for j in 0..<N { dq = Swift.max(dq, Swift.abs(paths[0][j + 1] - paths[0][j]) * Double(N)) }
        numbers["max_quotient_path0"] = dq

        // Covariance check on many two-level paths: Var W(½) = ½, Cov(W(¼), W(¾)) = ¼, Cov(W(¼), W(¾) − W(½)) = 0.
        let check = levyPaths(paths: C, levels: 2, seed: seed + 1)
        let half = check.map { $0[2] }, q1 = check.map { $0[1] }, q3 = check.map { $0[3] }
        let incr = check.map { $0[3] - $0[2] }
        func cov(_ a: [Double], _ b: [Double]) -> Double {
            let (ma, mb) = (mean(a), mean(b))
            return zip(a, b).reduce(0) { $0 + ($1.0 - ma) * ($1.1 - mb) } / Double(a.count - 1)
        }
        numbers["var_half"] = variance(half)
        numbers["cov_quarters"] = cov(q1, q3)
        numbers["cov_increment"] = cov(q1, incr)

        // (a) one path at several levels.
        var a = Plot(width: 320, height: 280, title: "Lévy 构造：逐级加密同一条路径", x: Axis("t", range: 0...1), y: Axis("W(t)"))
        for (k, n) in [1, 3, 5, min(10, L)].enumerated() {
            let s = 1 << (L - n)
            let pts = (0...(1 << n)).map { Point(Double($0 * s) / Double(N), paths[0][$0 * s]) }
            a.line(pts, colour: k, width: n == min(10, L) ? 1.0 : 1.8, label: "第 \(n) 级（\(1 << n) 段）")
        }
        // (b) running quadratic variation of five paths at the finest level (drawn every 16th point).
        var b = Plot(width: 320, height: 280, title: "累积二次变差 Σ(ΔW)² 与 t", x: Axis("t", range: 0...1), y: Axis("累积二次变差", range: 0...1.2))
        let stride = Swift.max(1, N / 1024)
        for q in 0..<5 {
            var run = 0.0, pts = [Point(0, 0)]
            for j in 0..<N {
                let d = paths[q][j + 1] - paths[q][j]
                run += d * d
                if (j + 1) % stride == 0 { pts.append(Point(Double(j + 1) / Double(N), run)) }
            }
            b.line(pts, colour: q, width: 1.2, label: q == 0 ? "5 条路径" : nil)
        }
        b.line([Point(0, 0), Point(1, 1)], colour: 7, style: .dashed, width: 1.6, label: "y = t")
        // (c) Q_n and V_n against the number of intervals.
        let counts = (0...L).map { Double(1 << $0) }
        var c = Plot(width: 320, height: 280, title: "二次变差收敛，全变差发散", x: Axis("区间数 2ⁿ", scale: .log), y: Axis(scale: .log, range: 0.2...400))
        for q in 0..<5 { c.line(x: counts, y: Q[q], colour: 0, width: 1.0, label: q == 0 ? "Qₙ = Σ(ΔW)²（5 条路径）" : nil) }
        c.line(x: counts, y: tvMeans, colour: 1, width: 2, label: "Vₙ = Σ|ΔW| 的均值")
        c.line(x: counts, y: counts.map { (2 * $0 / Double.pi).squareRoot() }, colour: 7, style: .dashed, width: 1.4, label: "√(2·2ⁿ/π)")
        // (d) spread of Q_n across paths.
        var d = Plot(width: 320, height: 280, title: "Qₙ 在 \(P) 条路径上的标准差", x: Axis("区间数 2ⁿ", scale: .log), y: Axis(scale: .log))
        let allSD = (0...L).map { n in variance(Q.map { $0[n] }).squareRoot() }
        d.line(x: counts, y: allSD, colour: 0, width: 2, label: "样本标准差")
        d.line(x: counts, y: counts.map { (2 / $0).squareRoot() }, colour: 7, style: .dashed, width: 1.4, label: "理论值 √(2/2ⁿ)")
        return ExperimentResult(svg: Figure([a, b, c, d], columns: 2).svg(title: "布朗运动的 Lévy 构造与二次变差"), numbers: numbers)
    }

    // MARK: Figure — conditional expectation as a projection

    /// Least-squares coefficients of x on 1, u, …, u^k (normal equations, partial pivoting).
    static func polynomialFit(_ u: [Double], _ x: [Double], degree k: Int) -> [Double] {
        let m = k + 1
        var A = [[Double]](repeating: [Double](repeating: 0, count: m + 1), count: m)
        for (ui, xi) in zip(u, x) {
            var pw = [Double](repeating: 1, count: 2 * m)
            for j in 1..<(2 * m) { pw[j] = pw[j - 1] * ui }
            for r in 0..<m {
                for c in 0..<m { A[r][c] += pw[r + c] }
                A[r][m] += pw[r] * xi
            }
        }
        for col in 0..<m {
            let piv = (col..<m).max { Swift.abs(A[$0][col]) < Swift.abs(A[$1][col]) }!
            A.swapAt(col, piv)
            for r in 0..<m where r != col {
                let f = A[r][col] / A[col][col]
                for c in col...m { A[r][c] -= f * A[col][c] }
            }
        }
        return (0..<m).map { A[$0][m] / A[$0][$0] }
    }

    static func polynomial(_ coef: [Double], _ u: Double) -> Double { coef.reversed().reduce(0) { $0 * u + $1 } }

    static let projection = BookExperiment(
        name: "appa-projection",
        summary: "E[x₀ | y] as the L² projection: GaussianMixture.example1D observed as y = x₀ + σε; the exact denoiser against the best constant, the best affine map and binned means; the mean squared errors of least-squares polynomials of rising degree (nested subspaces) decreasing towards the Bayes error (quadrature); Pythagoras and orthogonality checked on the samples.",
        defaults: ["seed": "0", "n": "20000", "sigma": "0.6", "degree": "9"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let n = try p.int("n", in: 1000...200_000)
        let σ = try p.double("sigma")
        let K = try p.int("degree", in: 1...12)
        guard σ > 0 && σ < 10 else { throw ExperimentError("sigma must lie in (0, 10)") }
        let m = GaussianMixture.example1D
        let level = NoiseLevel(alpha: 1, sigma: σ)
        let x0 = m.sample(n, seed: seed).scalars.map(Double.init)
        let eps = Tensor.randomNormal([n], seed: seed, stream: 7).scalars.map(Double.init)
        let y = zip(x0, eps).map { $0 + σ * $1 }
        let D = m.denoise(Tensor(y.map(Float.init), shape: [n, 1]), at: level).scalars.map(Double.init)
        let mu = zip(m.weights, m.means).reduce(0) { $0 + $1.0 * $1.1[0] }
        let varX = m.totalVariance
        let b = varX / (varX + σ * σ)
        let L = y.map { mu + b * ($0 - mu) }
        func mse(_ f: [Double]) -> Double { zip(f, x0).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(n) }
        var numbers: [String: Double] = ["n": Double(n), "sigma": σ, "data_mean": mu, "data_var": varX, "wiener_gain": b]
        numbers["mse_const"] = mse([Double](repeating: mu, count: n))
        numbers["mse_linear"] = mse(L)
        numbers["mse_cond"] = mse(D)
        numbers["mse_linear_exact"] = varX * σ * σ / (varX + σ * σ)
        numbers["mmse_exact"] = m.minimumMeanSquaredError(at: level)
        // Pythagoras on the samples: E(x₀ − L)² − E(x₀ − D)² against E(D − L)².
        numbers["pythagoras_gap"] = numbers["mse_linear"]! - numbers["mse_cond"]!
        numbers["pythagoras_leg"] = zip(L, D).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(n)
        // Orthogonality: the residual x₀ − D is uncorrelated with every function of y; largest |z| over four tests.
        let tests: [(Double) -> Double] = [{ _ in 1 }, { $0 }, { sin(2 * $0) }, { $0 > 0.5 ? 1 : 0 }]
        var worst = 0.0
        for h in tests {
            let r = zip(x0, D).enumerated().map { ($0.element.0 - $0.element.1) * h(y[$0.offset]) }
            let (mr, se) = meanSE(r)
            worst = Swift.max(worst, Swift.abs(mr) / se)
        }
        numbers["orthogonality_max_z"] = worst
        // Nested projections: polynomials of degree 0 … K in u = y/3 (in-sample least squares).
        let u = y.map { $0 / 3 }
        var polyMSE: [Double] = []
        for k in 0...K {
            let c = polynomialFit(u, x0, degree: k)
            let e = mse(u.map { polynomial(c, $0) })
            polyMSE.append(e)
            numbers["poly_mse_\(k)"] = e
        }

        // (a) pairs (y, x₀), the exact denoiser, the affine projection, the constant and binned means.
        let (lo, hi) = (-3.5, 4.0)
        var a = Plot(width: 360, height: 320, title: "E[x₀ | y]：对 y 的函数做最小二乘", x: Axis("带噪观测 y = x₀ + σε", range: lo...hi), y: Axis("x₀", range: -2.8...3.2))
        a.scatter((0..<1500).map { Point(y[$0], x0[$0]) }, colour: 7, radius: 1.2, opacity: 0.35, label: "样本 (y, x₀)")
        let grid = (0...200).map { lo + Double($0) * (hi - lo) / 200 }
        let Dg = m.denoise(Tensor(grid.map(Float.init), shape: [grid.count, 1]), at: level).scalars.map(Double.init)
        a.line(x: grid, y: Dg, colour: 0, width: 2.4, label: "E[x₀ | y]（精确）")
        a.line(x: grid, y: grid.map { mu + b * ($0 - mu) }, colour: 1, style: .dashed, width: 1.8, label: "最佳仿射函数")
        a.line(x: [lo, hi], y: [mu, mu], colour: 2, style: .dotted, width: 1.8, label: "最佳常数 E x₀")
        let bins = 36
        var sums = [Double](repeating: 0, count: bins), cnt = sums
        for (yi, xi) in zip(y, x0) {
            let k = Int(((yi - lo) / (hi - lo) * Double(bins)).rounded(.down))
            if (0..<bins).contains(k) { sums[k] += xi; cnt[k] += 1 }
        }
        let binPts = (0..<bins).filter { cnt[$0] >= 30 }.map { Point(lo + (Double($0) + 0.5) * (hi - lo) / Double(bins), sums[$0] / cnt[$0]) }
        a.scatter(binPts, colour: 3, radius: 3, opacity: 0.95, label: "分箱平均")
        // (b) errors of nested projections.
        var bp = Plot(width: 360, height: 320, title: "越来越大的子空间上的投影误差", x: Axis("多项式次数 k", range: -0.3...(Double(K) + 0.3)), y: Axis("均方误差 E(x₀ − f(y))²", range: 0...(polyMSE[0] * 1.05)))
        bp.line(x: (0...K).map(Double.init), y: polyMSE, colour: 1, width: 1.8, label: "k 次多项式的最小二乘")
        bp.scatter((0...K).map { Point(Double($0), polyMSE[$0]) }, colour: 1, radius: 3, opacity: 1)
        bp.line(x: [-0.3, Double(K) + 0.3], y: [numbers["mmse_exact"]!, numbers["mmse_exact"]!], colour: 0, style: .dashed, width: 1.6, label: "贝叶斯误差 E tr Cov[x₀ | y]")
        return ExperimentResult(svg: Figure([a, bp], columns: 2).svg(title: "条件期望是 L² 中的正交投影（一维三峰混合，σ = \(σ)）"), numbers: numbers)
    }

    // MARK: Figure — Itô against Stratonovich

    static let ito = BookExperiment(
        name: "appa-ito",
        summary: "Riemann sums of ∫₀¹ W dW on Lévy paths with the integrand at the left end, the midpoint and the right end of each interval: the running integrals against (W_t² − t)/2 and W_t²/2 on one path; the three sums against the number of intervals; and their root-mean-square distance to the limits across paths, with the exact rates.",
        defaults: ["seed": "0", "paths": "200", "levels": "14"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let P = try p.int("paths", in: 5...2000)
        let L = try p.int("levels", in: 8...16)
        let paths = levyPaths(paths: P, levels: L, seed: seed)
        let N = 1 << L
        let levels = Array(1..<L)
        var numbers: [String: Double] = ["paths": Double(P), "levels": Double(L)]
        var sums = [[(left: Double, mid: Double, right: Double)]](repeating: [], count: P)
        for q in 0..<P { for n in levels { sums[q].append(riemannSums(paths[q], level: n, of: L)) } }
        let w1 = paths.map { $0[N] }
        let itoLimit = w1.map { ($0 * $0 - 1) / 2 }, stratLimit = w1.map { $0 * $0 / 2 }
        numbers["w1_path0"] = w1[0]
        numbers["ito_limit_path0"] = itoLimit[0]
        numbers["strat_limit_path0"] = stratLimit[0]
        let last = levels.count - 1
        numbers["left_path0"] = sums[0][last].left
        numbers["mid_path0"] = sums[0][last].mid
        numbers["right_path0"] = sums[0][last].right
        numbers["finest_sum_level"] = Double(levels[last])
        var rmsLeft: [Double] = [], rmsMid: [Double] = [], rmsRight: [Double] = []
        for (i, _) in levels.enumerated() {
            rmsLeft.append((mean((0..<P).map { pow(sums[$0][i].left - itoLimit[$0], 2) })).squareRoot())
            rmsMid.append((mean((0..<P).map { pow(sums[$0][i].mid - stratLimit[$0], 2) })).squareRoot())
            rmsRight.append((mean((0..<P).map { pow(sums[$0][i].right - itoLimit[$0] - 1, 2) })).squareRoot())
        }
        let counts = levels.map { Double(1 << $0) }
        numbers["rms_left"] = rmsLeft[last]
        numbers["rms_left_theory"] = 1 / (2 * counts[last]).squareRoot()
        numbers["rms_mid"] = rmsMid[last]
        numbers["rms_mid_theory"] = 1 / (2 * counts[last].squareRoot())
        numbers["rms_left_slope"] = slope(Array(counts.suffix(8)), Array(rmsLeft.suffix(8)))
        numbers["rms_mid_slope"] = slope(Array(counts.suffix(8)), Array(rmsMid.suffix(8)))
        // Right − left on every partition is exactly the quadratic variation.
        numbers["right_minus_left_path0"] = sums[0][last].right - sums[0][last].left
        numbers["qv_path0_sum_level"] = variations(paths[0], level: levels[last], of: L).quadratic

        // (a) running integrals on path 0 (level L − 1 grid, midpoints from level L).
        let n = L - 1, s = 1 << (L - n)
        var run = (l: 0.0, m: 0.0)
        var pl = [Point(0, 0)], pm = [Point(0, 0)], ci: [Point] = [Point(0, 0)], cs: [Point] = [Point(0, 0)], pw: [Point] = [Point(0, 0)]
        let w = paths[0]
        let every = Swift.max(1, (1 << n) / 1024)
        for j in 0..<(1 << n) {
            let (a0, a1) = (w[j * s], w[(j + 1) * s])
            run.l += a0 * (a1 - a0)
            run.m += w[j * s + s / 2] * (a1 - a0)
            if (j + 1) % every == 0 {
                let t = Double((j + 1) * s) / Double(N)
                pl.append(Point(t, run.l)); pm.append(Point(t, run.m))
                ci.append(Point(t, (a1 * a1 - t) / 2)); cs.append(Point(t, a1 * a1 / 2)); pw.append(Point(t, a1))
            }
        }
        var a = Plot(width: 340, height: 290, title: "同一条路径上的两种积分", x: Axis("t", range: 0...1), y: Axis())
        a.line(pw, colour: 7, width: 0.9, label: "W(t)")
        a.line(pl, colour: 0, width: 2.2, label: "左端点和（Itô）")
        a.line(ci, colour: 0, style: .dashed, width: 1.2, label: "(W² − t)/2")
        a.line(pm, colour: 1, width: 2.2, label: "中点和（Stratonovich）")
        a.line(cs, colour: 1, style: .dashed, width: 1.2, label: "W²/2")
        // (b) the three sums on path 0 against the number of intervals.
        var b = Plot(width: 340, height: 290, title: "三种黎曼和随划分加密", x: Axis("区间数 2ⁿ", scale: .log), y: Axis())
        b.line(x: counts, y: sums[0].map(\.left), colour: 0, width: 1.8, label: "左端点")
        b.line(x: counts, y: sums[0].map(\.mid), colour: 1, width: 1.8, label: "中点")
        b.line(x: counts, y: sums[0].map(\.right), colour: 2, width: 1.8, label: "右端点")
        for (k, v) in [itoLimit[0], stratLimit[0], itoLimit[0] + 1].enumerated() {
            b.line(x: [counts[0], counts[last]], y: [v, v], colour: k, style: .dotted, width: 1.2)
        }
        // (c) root-mean-square distance to the limits across paths.
        var c = Plot(width: 340, height: 290, title: "与极限的均方根距离（\(P) 条路径）", x: Axis("区间数 2ⁿ", scale: .log), y: Axis(scale: .log))
        c.line(x: counts, y: rmsLeft, colour: 0, width: 2, label: "左端点和 − (W² − 1)/2")
        c.line(x: counts, y: rmsMid, colour: 1, width: 2, label: "中点和 − W²/2")
        c.line(x: counts, y: counts.map { 1 / (2 * $0).squareRoot() }, colour: 7, style: .dashed, width: 1.2, label: "1/√(2·2ⁿ)")
        c.line(x: counts, y: counts.map { 1 / (2 * $0.squareRoot()) }, colour: 7, style: .dotted, width: 1.2, label: "1/(2√2ⁿ)")
        return ExperimentResult(svg: Figure([a, b, c], columns: 3).svg(title: "∫W dW：求值点决定极限"), numbers: numbers)
    }

    // MARK: Figure — Euler–Maruyama and Milstein on geometric Brownian motion

    static let eulerMaruyama = BookExperiment(
        name: "appa-em",
        summary: "Geometric Brownian motion dX = μX dt + σX dW, X₀ = 1, on [0, 1]: strong errors E|X_N − X(1)| of Euler–Maruyama and Milstein against the exact solution on the same Brownian path (Monte Carlo), and the exact weak errors of Euler–Maruyama for φ(x) = x and x² from E X_N = (1 + μh)^N and E X_N² = ((1 + μh)² + σ²h)^N, with the Monte Carlo noise floor.",
        defaults: ["seed": "0", "paths": "2000", "mu": "1", "sigma": "0.7", "max_level": "10"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let M = try p.int("paths", in: 100...100_000)
        let (μ, σ) = (try p.double("mu"), try p.double("sigma"))
        let K = try p.int("max_level", in: 4...14)
        guard Swift.abs(μ) < 5 && σ > 0 && σ < 3 else { throw ExperimentError("need |mu| < 5 and 0 < sigma < 3") }
        let fine = 1 << K
        let hFine = 1 / Double(fine)
        let levels = Array(1...K)
        let z = Tensor.randomNormal([M, fine], seed: seed, stream: 0).scalars
        var errEM = [Double](repeating: 0, count: levels.count), errMil = errEM
        var xT = [Double](repeating: 0, count: M)
        var emMean64 = 0.0
        var W = [Double](repeating: 0, count: fine + 1)
        z.withUnsafeBufferPointer { zb in
            for q in 0..<M {
                for j in 0..<fine { W[j + 1] = W[j] + hFine.squareRoot() * Double(zb[q * fine + j]) }
                let exact = exp((μ - 0.5 * σ * σ) + σ * W[fine])
                xT[q] = exact
                for (i, k) in levels.enumerated() {
                    let n = 1 << k, s = fine / n, h = 1 / Double(n)
                    var (e, mil) = (1.0, 1.0)
                    for j in 0..<n {
                        let dW = W[(j + 1) * s] - W[j * s]
                        e += μ * e * h + σ * e * dW
                        mil += μ * mil * h + σ * mil * dW + 0.5 * σ * σ * mil * (dW * dW - h)
                    }
                    errEM[i] += Swift.abs(e - exact)
                    errMil[i] += Swift.abs(mil - exact)
                    if n == 64 { emMean64 += e }
                }
            }
        }
        errEM = errEM.map { $0 / Double(M) }
        errMil = errMil.map { $0 / Double(M) }
        let steps = levels.map { Double(1 << $0) }
        let hs = steps.map { 1 / $0 }
        let weakMean = steps.map { Swift.abs(pow(1 + μ / $0, $0) - exp(μ)) }
        let weakSecond = steps.map { Swift.abs(pow(pow(1 + μ / $0, 2) + σ * σ / $0, $0) - exp(2 * μ + σ * σ)) }
        var numbers: [String: Double] = ["paths": Double(M), "mu": μ, "sigma": σ, "max_steps": Double(fine)]
        for (i, n) in steps.enumerated() {
            numbers["strong_em_\(Int(n))"] = errEM[i]
            numbers["strong_milstein_\(Int(n))"] = errMil[i]
            numbers["weak_mean_\(Int(n))"] = weakMean[i]
            numbers["weak_second_\(Int(n))"] = weakSecond[i]
        }
        let fit = levels.indices.filter { steps[$0] >= 16 }
        numbers["strong_slope_em"] = slope(fit.map { hs[$0] }, fit.map { errEM[$0] })
        numbers["strong_slope_milstein"] = slope(fit.map { hs[$0] }, fit.map { errMil[$0] })
        numbers["weak_slope_mean"] = slope(fit.map { hs[$0] }, fit.map { weakMean[$0] })
        numbers["weak_slope_second"] = slope(fit.map { hs[$0] }, fit.map { weakSecond[$0] })
        numbers["weak_mean_pred_64"] = exp(μ) * μ * μ / (2 * 64)
        let (mT, seT) = meanSE(xT)
        numbers["xT_mean_mc"] = mT
        numbers["xT_mean_se"] = seT
        numbers["xT_mean_exact"] = exp(μ)
        numbers["mc_floor"] = (exp(2 * μ) * (exp(σ * σ) - 1) / Double(M)).squareRoot()
        if K >= 6 { numbers["em_mean_64_mc"] = emMean64 / Double(M) }

        var a = Plot(width: 420, height: 340, title: "几何布朗运动：强误差与弱误差", x: Axis("步长 h", scale: .log), y: Axis("误差", scale: .log))
        a.line(x: hs, y: errEM, colour: 0, width: 2, label: String(format: "EM 强误差（斜率 %.2f）", numbers["strong_slope_em"]!))
        a.line(x: hs, y: errMil, colour: 1, width: 2, label: String(format: "Milstein 强误差（斜率 %.2f）", numbers["strong_slope_milstein"]!))
        a.line(x: hs, y: weakMean, colour: 2, width: 2, label: String(format: "EM 弱误差，φ = x（斜率 %.2f）", numbers["weak_slope_mean"]!))
        a.line(x: hs, y: weakSecond, colour: 3, style: .dashed, width: 2, label: String(format: "EM 弱误差，φ = x²（斜率 %.2f）", numbers["weak_slope_second"]!))
        a.line(x: [hs.last!, hs.first!], y: [numbers["mc_floor"]!, numbers["mc_floor"]!], colour: 7, style: .dotted, width: 1.4, label: "估计 E X 的蒙特卡罗标准误")
        return ExperimentResult(svg: a.svg(), numbers: numbers)
    }

    // MARK: Figure — Girsanov: reweighting paths, and the KL between two drifts

    /// The exact path-space KL between the OU law dX = −θX dt + dW and Brownian motion dX = dW, both from x₀, on [0, t]:
    /// ½θ² ∫₀ᵗ E X_s² ds with E X_s² = x₀²e^{−2θs} + (1 − e^{−2θs})/(2θ).
    public static func ouBrownianKL(theta θ: Double, x0: Double, t: Double) -> Double {
        let e = -expm1(-2 * θ * t)
        return 0.5 * θ * θ * (x0 * x0 * e / (2 * θ) + t / (2 * θ) - e / (4 * θ * θ))
    }

    static let girsanov = BookExperiment(
        name: "appa-girsanov",
        summary: "Two laws on path space: P, the OU process dX = −θX dt + dW, and Q, Brownian motion dX = dW, both from x₀ (Euler–Maruyama chains). Q-paths reweighted by the discrete Girsanov density reproduce P's law of X_T; the Monte Carlo mean of log dP/dQ under P (two estimators) against ½∫E(Δb)² dt, the exact KL of the discrete chains, and the smaller KL of the time-T marginals.",
        defaults: ["seed": "0", "paths": "4000", "steps": "200", "theta": "2", "x0": "1.5", "T": "1"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let M = try p.int("paths", in: 200...100_000)
        let N = try p.int("steps", in: 10...5000)
        let (θ, x0, T) = (try p.double("theta"), try p.double("x0"), try p.double("T"))
        guard θ > 0 && θ < 20 && Swift.abs(x0) < 10 && T > 0 && T <= 5 else { throw ExperimentError("need 0 < theta < 20, |x0| < 10, 0 < T ≤ 5") }
        let h = T / Double(N), sh = h.squareRoot()
        var numbers: [String: Double] = ["paths": Double(M), "steps": Double(N), "theta": θ, "x0": x0, "T": T]

        // Under P: the OU chain; running sums of both estimators of log dP/dQ at every step.
        let zP = Tensor.randomNormal([M, N], seed: seed, stream: 0).scalars
        var quadRun = [Double](repeating: 0, count: N + 1)
        var quadSq = quadRun
        var full = [Double](repeating: 0, count: M), quad = full, xTP = full
        var shownP: [[Point]] = []
        zP.withUnsafeBufferPointer { zb in
            for q in 0..<M {
                var x = x0, lf = 0.0, lq = 0.0
                var path = q < 6 ? [Point(0, x0)] : []
                for k in 0..<N {
                    let dW = sh * Double(zb[q * N + k])
                    let b = -θ * x                       // Δb = b_P − b_Q
                    let dx = b * h + dW
                    lf += b * dx - 0.5 * b * b * h       // log of the ratio of the two Gaussian transition densities
                    lq += 0.5 * b * b * h                // its mean given the past
                    x += dx
                    quadRun[k + 1] += lq
                    quadSq[k + 1] += lq * lq
                    if q < 6 { path.append(Point(Double(k + 1) * h, x)) }
                }
                full[q] = lf; quad[q] = lq; xTP[q] = x
                if q < 6 { shownP.append(path) }
            }
        }
        let (mf, sef) = meanSE(full), (mq, seq) = meanSE(quad)
        numbers["kl_mc_full"] = mf
        numbers["kl_mc_full_se"] = sef
        numbers["kl_mc_quad"] = mq
        numbers["kl_mc_quad_se"] = seq
        numbers["kl_formula"] = ouBrownianKL(theta: θ, x0: x0, t: T)
        // The discrete chains' exact KL: ½θ²h Σ_k E X_k² with the chain's moments m_{k+1} = (1 − θh)m_k, v_{k+1} = (1 − θh)²v_k + h.
        var (mk, vk, kd) = (x0, 0.0, 0.0)
        var kdRun = [0.0]
        for _ in 0..<N {
            kd += 0.5 * θ * θ * h * (mk * mk + vk)
            kdRun.append(kd)
            mk *= 1 - θ * h
            vk = (1 - θ * h) * (1 - θ * h) * vk + h
        }
        numbers["kl_discrete"] = kd
        numbers["p_mean_discrete"] = mk
        numbers["p_var_discrete"] = vk
        let vT = -expm1(-2 * θ * T) / (2 * θ), mT = x0 * exp(-θ * T)
        numbers["p_mean_exact"] = mT
        numbers["p_var_exact"] = vT
        numbers["kl_marginal"] = gaussianKL(mT, vT, x0, T)
        numbers["p_mean_mc"] = mean(xTP)

        // Under Q: Brownian motion from x₀, weights w = dP/dQ of the discrete chains.
        let zQ = Tensor.randomNormal([M, N], seed: seed, stream: 1).scalars
        var logw = [Double](repeating: 0, count: M), xTQ = logw
        var shownQ: [[Point]] = []
        zQ.withUnsafeBufferPointer { zb in
            for q in 0..<M {
                var x = x0, lw = 0.0
                var path = q < 6 ? [Point(0, x0)] : []
                for k in 0..<N {
                    let dW = sh * Double(zb[q * N + k])
                    let b = -θ * x
                    lw += b * dW - 0.5 * b * b * h
                    x += dW
                    if q < 6 { path.append(Point(Double(k + 1) * h, x)) }
                }
                logw[q] = lw; xTQ[q] = x
                if q < 6 { shownQ.append(path) }
            }
        }
        let w = logw.map { exp($0) }
        let (mw, sew) = meanSE(w)
        numbers["weight_mean"] = mw
        numbers["weight_mean_se"] = sew
        let sw = w.reduce(0, +), sw2 = w.reduce(0) { $0 + $1 * $1 }
        numbers["ess_fraction"] = sw * sw / (Double(M) * sw2)
        let rwMean = zip(w, xTQ).reduce(0) { $0 + $1.0 * $1.1 } / sw
        numbers["rw_mean"] = rwMean
        numbers["rw_var"] = zip(w, xTQ).reduce(0) { $0 + $1.0 * ($1.1 - rwMean) * ($1.1 - rwMean) } / sw
        numbers["q_mean"] = mean(xTQ)
        numbers["q_var"] = variance(xTQ)
        // Self-normalised estimate of E_P[X_T] from Q-paths, E_Q[w X_T] without normalising, and its standard error.
        let (mwx, sewx) = meanSE(zip(w, xTQ).map { $0 * $1 })
        numbers["rw_mean_unnormalised"] = mwx
        numbers["rw_mean_unnormalised_se"] = sewx

        // (a) paths under the two laws.
        var a = Plot(width: 320, height: 280, title: "路径空间上的两个测度", x: Axis("t", range: 0...T), y: Axis("X(t)", range: -2.5...4.5))
        a.trajectories(shownQ, colour: 1, label: "Q：布朗运动", endpoints: false)
        a.trajectories(shownP, colour: 0, label: "P：OU 过程", endpoints: false)
        // (b) the law of X_T: Q unweighted, Q reweighted by dP/dQ, and P exactly.
        let (lo, hi) = (-2.5, 4.5)
        var b = Plot(width: 320, height: 280, title: "X(T) 的分布：按 dP/dQ 加权", x: Axis("X(T)", range: lo...hi), y: Axis("密度", range: 0...0.85))
        b.line(histogram(xTQ, lo: lo, hi: hi, bins: 50), colour: 1, width: 1.2, label: "Q 的样本（不加权）")
        b.line(histogram(xTQ, weights: w, lo: lo, hi: hi, bins: 50), colour: 0, width: 1.6, label: "Q 的样本 × dP/dQ")
        let xs = (0...200).map { lo + Double($0) * (hi - lo) / 200 }
        b.line(x: xs, y: xs.map { gaussianDensity($0, mean: mT, variance: vT) }, colour: 7, style: .dashed, width: 2, label: "P 的精确密度")
        // (c) KL over [0, t] as t grows: the formula, the chains' exact value, Monte Carlo, and the marginal KL.
        let ts = (1...N).map { Double($0) * h }
        var c = Plot(width: 320, height: 280, title: "KL(P‖Q) 随时间区间增长", x: Axis("t", range: 0...T), y: Axis("nat"))
        c.line(x: ts, y: ts.map { ouBrownianKL(theta: θ, x0: x0, t: $0) }, colour: 0, width: 2.2, label: "½∫E(Δb)² dt")
        c.line(x: ts, y: Array(kdRun.dropFirst()), colour: 2, style: .dashed, width: 1.6, label: "离散链的精确 KL")
        c.line(x: ts, y: ts.map { t in gaussianKL(x0 * exp(-θ * t), -expm1(-2 * θ * t) / (2 * θ), x0, t) }, colour: 1, width: 2, label: "只看 X(t) 的 KL")
        let marks = Array(Swift.stride(from: N / 8, through: N, by: N / 8))
        let mcMeans = marks.map { quadRun[$0] / Double(M) }
        let mcSE = marks.map { k in ((quadSq[k] / Double(M) - pow(quadRun[k] / Double(M), 2)) / Double(M - 1)).squareRoot() }
        c.scatter(zip(marks, mcMeans).map { Point(Double($0.0) * h, $0.1) }, colour: 3, radius: 2.6, opacity: 1, label: "蒙特卡罗 ±2 标准误")
        errorBars(&c, marks.map { Double($0) * h }, mcMeans, mcSE.map { 2 * $0 }, colour: 3)
        return ExperimentResult(svg: Figure([a, b, c], columns: 3).svg(title: "Girsanov 定理：改变漂移就是给路径重新加权"), numbers: numbers)
    }

    // MARK: Numbers for the exercises

    static let numbers = BookExperiment(
        name: "appa-numbers",
        summary: "Numbers the exercises quote: the KL between two Gaussians by E log dP/dQ (closed form and Monte Carlo, both directions); the exit of a simple random walk from (−a, b) (optional stopping); the variance of the left Riemann sum of ∫W dW (Itô isometry); and the rare event P(W₁ > 3) by plain Monte Carlo and by Girsanov importance sampling on paths with drift c.",
        defaults: ["seed": "0", "n": "20000", "walks": "4000", "a": "3", "b": "5", "isometry_steps": "64", "drift": "3", "is_steps": "50"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let n = try p.int("n", in: 1000...1_000_000)
        let walks = try p.int("walks", in: 100...100_000)
        let (A, B) = (try p.int("a", in: 1...50), try p.int("b", in: 1...50))
        let K = try p.int("isometry_steps", in: 2...4096)
        let c = try p.double("drift")
        let S = try p.int("is_steps", in: 1...1000)
        var numbers: [String: Double] = ["n": Double(n), "walks": Double(walks), "a": Double(A), "b": Double(B), "isometry_steps": Double(K), "drift": c, "is_steps": Double(S)]

        // KL(N(0, 1) ‖ N(1, 4)) and the reverse, as E_P log(p/q).
        let z = Tensor.randomNormal([n], seed: seed, stream: 0).scalars.map(Double.init)
        func logN(_ x: Double, _ m: Double, _ v: Double) -> Double { -0.5 * ((x - m) * (x - m) / v + log(2 * Double.pi * v)) }
        let pq = z.map { logN($0, 0, 1) - logN($0, 1, 4) }
        let qp = z.map { 1 + 2 * $0 }.map { logN($0, 1, 4) - logN($0, 0, 1) }
        (numbers["kl_pq_mc"], numbers["kl_pq_se"]) = pair(meanSE(pq))
        (numbers["kl_qp_mc"], numbers["kl_qp_se"]) = pair(meanSE(qp))
        numbers["kl_pq"] = gaussianKL(0, 1, 1, 4)
        numbers["kl_qp"] = gaussianKL(1, 4, 0, 1)

        // A simple random walk from 0 until it hits −a or b; steps ±1 from Philox stream w (chunks via offset).
        var hitB = [Double](repeating: 0, count: walks), tau = hitB
        let chunk = 256
        for w in 0..<walks {
            var x = 0, t = 0, block = 0
            outer: while true {
                let u = Tensor.randomIntegers([chunk], in: 0..<2, seed: seed + 1, stream: UInt64(w), offset: block * chunk).scalars
                for s in u {
                    x += s > 0.5 ? 1 : -1
                    t += 1
                    if x == B || x == -A { break outer }
                }
                block += 1
            }
            hitB[w] = x == B ? 1 : 0
            tau[w] = Double(t)
        }
        (numbers["exit_b_mc"], numbers["exit_b_se"]) = pair(meanSE(hitB))
        (numbers["exit_time_mc"], numbers["exit_time_se"]) = pair(meanSE(tau))
        numbers["exit_b_exact"] = Double(A) / Double(A + B)
        numbers["exit_time_exact"] = Double(A * B)

        // Itô isometry: the left sum Σ W_{t_k} ΔW_k on K steps of [0, 1] has mean 0 and variance Σ t_k h = (1 − 1/K)/2.
        let zi = Tensor.randomNormal([n, K], seed: seed + 2, stream: 0).scalars
        let hK = 1 / Double(K)
        var left = [Double](repeating: 0, count: n)
        zi.withUnsafeBufferPointer { zb in
            for q in 0..<n {
                var wv = 0.0, s = 0.0
                for k in 0..<K { let d = hK.squareRoot() * Double(zb[q * K + k]); s += wv * d; wv += d }
                left[q] = s
            }
        }
        (numbers["isometry_mean"], numbers["isometry_mean_se"]) = pair(meanSE(left))
        numbers["isometry_var"] = variance(left)
        numbers["isometry_exact"] = 0.5 * (1 - hK)
        // Standard error of the sample variance from the sample fourth central moment.
        let mL = mean(left)
        let m4 = left.reduce(0) { $0 + pow($1 - mL, 4) } / Double(n)
        numbers["isometry_var_se"] = ((m4 - pow(numbers["isometry_var"]!, 2)) / Double(n)).squareRoot()

        // P(W₁ > 3): plain Monte Carlo against importance sampling with paths of drift c (Girsanov weight e^{−cW₁' + c²/2}).
        let exact = 0.5 * erfc(3 / 2.0.squareRoot())
        numbers["rare_exact"] = exact
        let plain = Tensor.randomNormal([n], seed: seed + 3, stream: 0).scalars.map { Double($0) > 3 ? 1.0 : 0.0 }
        (numbers["rare_plain"], numbers["rare_plain_se"]) = pair(meanSE(plain))
        numbers["rare_plain_se_theory"] = (exact * (1 - exact) / Double(n)).squareRoot()
        let zs = Tensor.randomNormal([n, S], seed: seed + 4, stream: 0).scalars
        let hS = 1 / Double(S)
        var est = [Double](repeating: 0, count: n)
        zs.withUnsafeBufferPointer { zb in
            for q in 0..<n {
                var x = 0.0, logw = 0.0
                for k in 0..<S {
                    let dW = hS.squareRoot() * Double(zb[q * S + k])
                    let dx = c * hS + dW                 // a path of dX = c dt + dW
                    logw += -c * dx + 0.5 * c * c * hS   // log dP/dQ for P = Brownian motion, Q = drift c
                    x += dx
                }
                est[q] = x > 3 ? exp(logw) : 0
            }
        }
        (numbers["rare_is"], numbers["rare_is_se"]) = pair(meanSE(est))
        numbers["rare_variance_ratio"] = pow(numbers["rare_plain_se_theory"]! / numbers["rare_is_se"]!, 2)
        return ExperimentResult(numbers: numbers)
    }
}
