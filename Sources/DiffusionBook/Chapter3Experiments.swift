import Diffusion
import DiffusionEngine
import DiffusionPlot
import Foundation

/// The experiments of chapter 3 (book/ch03-ddpm.md): every figure and every number the chapter quotes.
///
/// Conventions as in chapter 1: DDPM steps t = 1…T, ᾱ_t = `DiscreteVP.alphasCumprod[t − 1]`, ᾱ_0 = 1,
/// α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t), SNR(t) = ᾱ_t/(1 − ᾱ_t). The posterior q(x_{t−1} | x_t, x₀) has mean a_t·x₀ + b_t·x_t
/// and variance β̃_t (`VariationalBound.posteriorCoefficients`, `posteriorVariance`); the reverse model's variance is
/// written κ_t² in the chapter. All schedule arithmetic is in Double.
public enum Chapter3 {
    public static let experiments: [BookExperiment] = [reverseKernel, weights, bound, train]

    // MARK: Shared helpers

    /// DDPM's linear schedule on T steps with β scaled by 1000/T: the same continuous-time process discretised
    /// more coarsely or finely (β₁ = 10⁻⁴·1000/T, β_T = 0.02·1000/T; needs T ≥ 21 so that β_T < 1).
    public static func scaledLinear(steps T: Int) -> DiscreteVP {
        let s = 1000 / Double(T)
        return DiscreteVP.linear(steps: T, betaStart: 1e-4 * s, betaEnd: 0.02 * s)
    }

    /// The index of the mixture component with the largest posterior weight at a clean point (for colouring).
    static func likeliestComponent(_ m: GaussianMixture, _ x: [Float], _ i: Int) -> Int {
        let d = m.dimension
        return (0..<m.componentCount).max { a, b in
            func score(_ k: Int) -> Double {
                (0..<d).reduce(log(m.weights[k])) { acc, j in
                    let z = (Double(x[d * i + j]) - m.means[k][j]) / m.stds[k][j]
                    return acc - 0.5 * z * z - log(m.stds[k][j])
                }
            }
            return score(a) < score(b)
        }!
    }

    /// ∫ f on a uniform grid by the trapezoid rule.
    static func trapezoid(_ f: [Double], _ h: Double) -> Double {
        guard f.count > 1 else { return 0 }
        return h * (f.reduce(0, +) - 0.5 * (f[0] + f[f.count - 1]))
    }

    // MARK: Figure — the true reverse transition against its Gaussian approximations

    /// The exact reverse kernel q(x_s | x_t) of `GaussianMixture.example1D` at a point x_t, for one (t, s) pair,
    /// against the DDPM Gaussian N(a·x̂₀ + b·x_t, β̃) with the exact x̂₀ and the moment-matched Gaussian (variance
    /// β̃ + a²·Var[x₀ | x_t]).
    public struct ReverseKernel {
        public var grid: [Double], truth: [Double], ddpm: [Double], matched: [Double]
        public var meanTruth: Double, varTruth: Double
        public var meanGauss: Double, varDDPM: Double, varMatched: Double
        public var klDDPM: Double, klMatched: Double
        public var modes: Int
    }

    public static func reverseKernel(_ m: GaussianMixture, _ p: DiscreteVP, from t: Int, to s: Int, at xt: Double, points: Int = 1201) -> ReverseKernel {
        precondition(0 <= s && s < t && t <= p.T, "need 0 ≤ s < t ≤ T")
        let (abT, abS) = (Chapter1.alphaBar(p, t), Chapter1.alphaBar(p, s))
        let aTS2 = abT / abS                      // α²_{t|s}
        let sTS2 = 1 - aTS2                       // σ²_{t|s}
        let (sT2, sS2) = (1 - abT, 1 - abS)
        // q(x_s | x_t, x₀) = N(a·x₀ + b·x_t, κ²) (chapter 3, the posterior between any two steps).
        let a = abS.squareRoot() * sTS2 / sT2
        let b = aTS2.squareRoot() * sS2 / sT2
        let kappa2 = sTS2 * sS2 / sT2
        let levelT = Chapter1.level(p, t)
        let post = m.posteriorDetails([xt], at: levelT)
        let mean = a * post.mean[0] + b * xt
        let varMatched = kappa2 + a * a * post.traceCovariance
        // Grid: ±7 moment-matched standard deviations around the mean (the true kernel has exactly these moments).
        let half = 7 * varMatched.squareRoot()
        let grid = (0..<points).map { mean - half + 2 * half * Double($0) / Double(points - 1) }
        let h = 2 * half / Double(points - 1)
        // log q(x_s | x_t) = log N(x_t; α_{t|s}·x_s, σ²_{t|s}) + log p_s(x_s) + const.
        let logPs = m.logDensity(Tensor(grid.map(Float.init), shape: [points, 1]), at: Chapter1.level(p, s))
        let logTruth = zip(grid, logPs).map { x, lp -> Double in
            let r = xt - aTS2.squareRoot() * x
            return lp - 0.5 * r * r / sTS2
        }
        let top = logTruth.max()!
        var truth = logTruth.map { exp($0 - top) }
        let z = trapezoid(truth, h)
        truth = truth.map { $0 / z }
        func logGauss(_ v: Double) -> [Double] { grid.map { -0.5 * ($0 - mean) * ($0 - mean) / v - 0.5 * log(2 * .pi * v) } }
        let logZ = top + log(z)
        // KL(q(x_s | x_t) ‖ N(mean, v)) = ∫ q·(log q − log N), with both logs computed directly (no underflow).
        func kl(_ v: Double) -> Double {
            trapezoid(zip(zip(truth, logTruth), logGauss(v)).map { pq, lg in pq.0 > 0 ? pq.0 * (pq.1 - logZ - lg) : 0 }, h)
        }
        let ddpm = logGauss(kappa2).map { exp($0) }, matched = logGauss(varMatched).map { exp($0) }
        let meanTruth = trapezoid(zip(grid, truth).map { $0 * $1 }, h)
        let varTruth = trapezoid(zip(grid, truth).map { ($0 - meanTruth) * ($0 - meanTruth) * $1 }, h)
        return ReverseKernel(grid: grid, truth: truth, ddpm: ddpm, matched: matched, meanTruth: meanTruth, varTruth: varTruth,
                             meanGauss: mean, varDDPM: kappa2, varMatched: varMatched, klDDPM: kl(kappa2), klMatched: kl(varMatched),
                             modes: Chapter1.modeCount(truth))
    }

    static let reverseKernel = BookExperiment(
        name: "ch3-reverse-kernel",
        summary: "The exact reverse transition q(x_s | x_t) of GaussianMixture.example1D (linear schedule) at one x_t for small and large jumps t → s, against DDPM's Gaussian N(a·x̂₀ + b·x_t, β̃) and the moment-matched Gaussian; KL divergences by quadrature.",
        defaults: ["from": "100,300,600", "to": "99,200,100", "xt": "0"]
    ) { p in
        let from = try p.ints("from"), to = try p.ints("to")
        let xt = try p.double("xt")
        guard from.count == to.count, !from.isEmpty else { throw ExperimentError("from and to need the same number of steps") }
        let proc = DiscreteVP.linear()
        guard zip(from, to).allSatisfy({ 0 <= $1 && $1 < $0 && $0 <= proc.T }) else { throw ExperimentError("every pair needs 0 ≤ to < from ≤ \(proc.T)") }
        var panels: [Plot] = []
        var numbers: [String: Double] = ["xt": xt]
        for (i, (t, s)) in zip(from, to).enumerated() {
            let k = reverseKernel(.example1D, proc, from: t, to: s, at: xt)
            let top = Swift.max(k.truth.max()!, k.ddpm.max()!, k.matched.max()!)
            var plot = Plot(width: 250, height: 240, title: "t = \(t) → s = \(s)", x: Axis("xₛ"), y: Axis("密度", range: 0...(top * (i == 0 ? 1.6 : 1.1))))
            plot.showLegend = i == 0
            plot.line(x: k.grid, y: k.truth, colour: 0, width: 2.4, label: "真实")
            plot.line(x: k.grid, y: k.ddpm, colour: 1, style: .dashed, label: "后验方差")
            plot.line(x: k.grid, y: k.matched, colour: 2, style: .dotted, width: 2, label: "矩匹配")
            panels.append(plot)
            let n = i + 1
            numbers["t_\(n)"] = Double(t)
            numbers["s_\(n)"] = Double(s)
            numbers["kl_ddpm_\(n)"] = k.klDDPM
            numbers["kl_matched_\(n)"] = k.klMatched
            numbers["modes_\(n)"] = Double(k.modes)
            numbers["mean_truth_\(n)"] = k.meanTruth
            numbers["mean_gauss_\(n)"] = k.meanGauss
            numbers["var_truth_\(n)"] = k.varTruth
            numbers["var_ddpm_\(n)"] = k.varDDPM
            numbers["var_matched_\(n)"] = k.varMatched
            numbers["std_ratio_\(n)"] = (k.varMatched / k.varDDPM).squareRoot()
        }
        return ExperimentResult(svg: Figure(panels, columns: panels.count).svg(title: "真实的反向转移与它的高斯近似"), numbers: numbers)
    }

    // MARK: Figure — the weights the bound and the practical losses put on each step

    static let weights = BookExperiment(
        name: "ch3-weights",
        summary: "Posterior coefficients of the linear schedule; the ε-space weights λ_t of the variational bound against L_simple; the x₀-space weight of every objective (bound, ε, v, x₀, min-SNR-5) along t.",
        defaults: ["T": "1000", "gamma": "5"]
    ) { p in
        let T = try p.int("T", in: 21...100_000)
        let gamma = try p.double("gamma")
        guard gamma > 0 else { throw ExperimentError("gamma must be positive") }
        let proc = DiscreteVP.linear(steps: T)
        let vb = VariationalBound(process: proc)
        let ts = Array(2...T)
        let xs = ts.map(Double.init)
        func snr(_ t: Int) -> Double { let a = vb.alphaBar(t); return a / (1 - a) }
        // ε-space weight of L_{t−1} (β̃ variance): λ_t = w_t/SNR(t) = ½(SNR(t − 1)/SNR(t) − 1).
        let lambda = ts.map { vb.weight($0) / snr($0) }
        let meanLambda = lambda.reduce(0, +) / Double(lambda.count)
        var left = Plot(width: 380, height: 300, title: "ε 空间：下界的权重 λₜ（除以平均值）", x: Axis("步数 t", range: 0...Double(T)), y: Axis("相对权重", scale: .log))
        left.line(x: xs, y: lambda.map { $0 / meanLambda }, colour: 0, label: "变分下界")
        left.line(x: [0, Double(T)], y: [1, 1], colour: 1, style: .dashed, label: "L_simple")
        var right = Plot(width: 380, height: 300, title: "x₀ 空间的隐含权重", x: Axis("步数 t", range: 0...Double(T)), y: Axis("权重", scale: .log))
        let levels = ts.map { Chapter1.level(proc, $0) }
        right.line(x: xs, y: ts.map { Double(T) * vb.weight($0) }, colour: 0, label: "变分下界 T·wₜ")
        right.line(x: xs, y: levels.map { BatchParametrization.x0Factor(.epsilon, level: $0) }, colour: 1, style: .dashed, label: "ε：SNR")
        right.line(x: xs, y: levels.map { BatchParametrization.x0Factor(.v, level: $0) }, colour: 2, style: .dotted, width: 2.2, label: "v：SNR + 1")
        right.line(x: xs, y: levels.map { _ in 1 }, colour: 3, label: "x₀：1")
        let minSNR = LossWeighting.minSNR(gamma: gamma)
        right.line(x: xs, y: levels.map { minSNR.weight(.epsilon, level: $0, rates: nil) * BatchParametrization.x0Factor(.epsilon, level: $0) },
                   colour: 4, style: .dashed, label: "min-SNR-\(Int(gamma))")

        var numbers: [String: Double] = ["T": Double(T), "gamma": gamma]
        for t in [2, 10, 100, 500, T] {
            numbers["beta_\(t)"] = vb.beta(t)
            numbers["beta_tilde_\(t)"] = vb.posteriorVariance(t)
            numbers["ratio_\(t)"] = vb.posteriorVariance(t) / vb.beta(t)
            let (a, b) = vb.posteriorCoefficients(t)
            numbers["a_\(t)"] = a
            numbers["b_\(t)"] = b
            numbers["snr_\(t)"] = snr(t)
            numbers["w_\(t)"] = vb.weight(t)
            numbers["lambda_\(t)"] = vb.weight(t) / snr(t)
        }
        numbers["snr_1"] = snr(1)
        numbers["beta_1"] = vb.beta(1)
        // L_0 with the continuous decoder N(x₀; x̂₀, β₁): in ε space its weight is (1/SNR(1))/(2β₁) = 1/(2(1 − β₁)).
        numbers["lambda_1"] = 1 / (2 * vb.decoderVariance * snr(1))
        numbers["lambda_ratio"] = (vb.weight(2) / snr(2)) / (vb.weight(T) / snr(T))
        numbers["lambda_mean"] = meanLambda
        numbers["lambda_rel_2"] = vb.weight(2) / snr(2) / meanLambda
        numbers["lambda_rel_T"] = vb.weight(T) / snr(T) / meanLambda
        // Where min(SNR, γ) starts to bind (the last step with SNR ≥ γ), and the first step with SNR < 1.
        numbers["t_gamma"] = Double((1...T).last { snr($0) >= gamma } ?? 0)
        numbers["t_snr1"] = Double((1...T).first { snr($0) < 1 } ?? T)
        // The bound's x₀ weight at t = 2 against ε's: how much more the bound stresses the cleanest steps.
        numbers["elbo_x0_weight_2"] = Double(T) * vb.weight(2)
        numbers["elbo_x0_weight_T"] = Double(T) * vb.weight(T)
        return ExperimentResult(svg: Figure([left, right], columns: 2).svg(title: "各时间步在损失中的权重"), numbers: numbers)
    }

    // MARK: Figure — the variational bound of the exact model, term by term, for three reverse variances

    /// The expected bound terms of the exact model of a mixture on a process, for the reverse variances β̃, β and
    /// the optimum κ*² = β̃ + a_t²·mmse/d (decoder variance β₁ for the first two, mmse₁/d for the optimum).
    public struct BoundTerms {
        public var prior: Double
        /// Index t − 1 holds E L_{t−1} (t = 1 is the decoder term L_0).
        public var posterior: [Double], beta: [Double], optimal: [Double]
        public var optimalVariance: [Double]
        public var mmse: [Double]
        public var total: (posterior: Double, beta: Double, optimal: Double) {
            (posterior.reduce(prior, +), beta.reduce(prior, +), optimal.reduce(prior, +))
        }
    }

    public static func boundTerms(_ m: GaussianMixture, _ p: DiscreteVP) -> BoundTerms {
        let vbP = VariationalBound(process: p, reverseVariance: .posterior)
        let vbB = VariationalBound(process: p, reverseVariance: .beta)
        let d = Double(m.dimension), T = p.T
        let mmse = (1...T).map { m.minimumMeanSquaredError(at: p.level(Double($0) / Double(T))) }
        // L_T = KL(q(x_T | x₀) ‖ N(0, I)) averaged over the data: ½(ᾱ_T·E‖x₀‖² − d·ᾱ_T − d·log(1 − ᾱ_T)).
        let abT = vbP.alphaBar(T)
        let prior = 0.5 * (abT * m.secondMoment - d * abT - d * log1p(-abT))
        var post = [Double](), beta = [Double](), opt = [Double](), optVar = [Double]()
        for t in 1...T {
            let M = mmse[t - 1]
            if t == 1 {
                let s2 = vbP.decoderVariance
                let l0 = 0.5 * d * log(2 * .pi * s2) + M / (2 * s2)
                post.append(l0); beta.append(l0)
                let best = M / d                                   // the decoder variance that minimises E L_0
                opt.append(0.5 * d * log(2 * .pi * best) + 0.5 * d)
                optVar.append(best)
                continue
            }
            post.append(d * vbP.varianceMismatch(t) + vbP.weight(t) * M)
            beta.append(d * vbB.varianceMismatch(t) + vbB.weight(t) * M)
            let a = vbP.posteriorCoefficients(t).c0
            let bt = vbP.posteriorVariance(t)
            let k2 = bt + a * a * M / d
            let r = bt / k2
            opt.append(0.5 * d * (r - 1 - log(r)) + a * a * M / (2 * k2))
            optVar.append(k2)
        }
        return BoundTerms(prior: prior, posterior: post, beta: beta, optimal: opt, optimalVariance: optVar, mmse: mmse)
    }

    static let bound = BookExperiment(
        name: "ch3-vlb",
        summary: "The variational bound of the exact model of GaussianMixture.example1D, term by term (VariationalBound, minimumMeanSquaredError), with reverse variance β̃, β or the optimum, for T = 1000 and coarser discretisations of the same linear schedule; against the data's entropy.",
        defaults: ["steps": "25,50,100,200,1000"],
        revision: 1
    ) { p in
        let Ts = try p.ints("steps")
        guard Ts.allSatisfy({ (21...5000).contains($0) }), Ts.contains(1000) else { throw ExperimentError("steps must lie in 21…5000 and include 1000") }
        let m = GaussianMixture.example1D
        let entropy = m.entropy
        var numbers: [String: Double] = ["entropy": entropy, "second_moment": m.secondMoment, "variance": m.totalVariance]
        var gaps: [(T: Int, post: Double, beta: Double, opt: Double)] = []
        var fine: BoundTerms?
        for T in Ts.sorted() {
            let proc = scaledLinear(steps: T)
            let b = boundTerms(m, proc)
            let tot = b.total
            numbers["bound_post_\(T)"] = tot.posterior
            numbers["bound_beta_\(T)"] = tot.beta
            numbers["bound_opt_\(T)"] = tot.optimal
            numbers["gap_post_\(T)"] = tot.posterior - entropy
            numbers["gap_beta_\(T)"] = tot.beta - entropy
            numbers["gap_opt_\(T)"] = tot.optimal - entropy
            numbers["prior_\(T)"] = b.prior
            numbers["decoder_post_\(T)"] = b.posterior[0]
            numbers["decoder_opt_\(T)"] = b.optimal[0]
            numbers["middle_post_\(T)"] = b.posterior.dropFirst().reduce(0, +)
            numbers["middle_beta_\(T)"] = b.beta.dropFirst().reduce(0, +)
            numbers["middle_opt_\(T)"] = b.optimal.dropFirst().reduce(0, +)
            gaps.append((T, tot.posterior - entropy, tot.beta - entropy, tot.optimal - entropy))
            if T == 1000 { fine = b }
        }
        let b = fine!
        let T = 1000
        // The smallest possible values of the three practical losses on the same data (linear schedule, T = 1000).
        let lin = DiscreteVP.linear()
        numbers["min_eps"] = DenoisingLoss.ddpm(lin).irreducibleLoss(for: m)!
        numbers["min_x0"] = DenoisingLoss(process: lin, space: .sample).irreducibleLoss(for: m)!
        numbers["min_v"] = DenoisingLoss(process: lin, space: .v).irreducibleLoss(for: m)!
        // How much of the β̃-versus-β difference of the bound sits in its first ten terms L_1 … L_10.
        let diffs = (2...T).map { b.posterior[$0 - 1] - b.beta[$0 - 1] }
        numbers["share_first10"] = diffs.prefix(10).reduce(0, +) / diffs.reduce(0, +)
        numbers["share_first10_pct"] = 100 * numbers["share_first10"]!
        // Gaussian data N(0.5, 0.8²): the true reverse transitions are Gaussian with exactly the optimal variance, so
        // the bound with κ*² exceeds the entropy only by D_KL(q(x_T) ‖ N(0, 1)) (exercise).
        let g = GaussianMixture(weights: [1], means: [[0.5]], std: [0.8])
        numbers["gauss_entropy"] = g.entropy
        for T in Ts.sorted() {
            let proc = scaledLinear(steps: T)
            numbers["gauss_gap_opt_\(T)"] = boundTerms(g, proc).total.optimal - numbers["gauss_entropy"]!
            let abT = proc.alphasCumprod[T - 1]
            let (mT, vT) = (abT.squareRoot() * 0.5, abT * 0.64 + 1 - abT)
            numbers["gauss_prior_kl_\(T)"] = 0.5 * (vT + mT * mT - 1 - log(vT))
        }
        let proc = scaledLinear(steps: T)
        let vb = VariationalBound(process: proc)
        // Where the optimal variance leaves the interval [β̃_t, β_t] (data variance ≈ 2 > 1).
        let above = (2...T).filter { b.optimalVariance[$0 - 1] > vb.beta($0) }
        numbers["opt_above_beta_count"] = Double(above.count)
        numbers["opt_above_beta_first"] = Double(above.first ?? 0)
        for t in [2, 10, 100, 500, 1000] {
            numbers["kappa2_opt_\(t)"] = b.optimalVariance[t - 1]
            numbers["mmse_\(t)"] = b.mmse[t - 1]
            numbers["term_post_\(t)"] = b.posterior[t - 1]
            numbers["term_beta_\(t)"] = b.beta[t - 1]
            numbers["term_opt_\(t)"] = b.optimal[t - 1]
        }
        let ts = Array(2...T)
        // Left: how much each fixed choice loses against the optimum, step by step (≥ 0 by optimality; values at
        // rounding level are dropped so the log axis shows only real differences).
        var left = Plot(width: 380, height: 300, title: "每一项比最优方差多出的 nat（T = 1000）", x: Axis("步数 t（对数轴）", scale: .log, range: 2...Double(T)), y: Axis("nat", scale: .log))
        func excess(_ terms: [Double]) -> [Point] {
            ts.map { t in
                let e = terms[t - 1] - b.optimal[t - 1]
                return Point(Double(t), e > 1e-12 ? e : .nan)
            }
        }
        left.line(excess(b.posterior), colour: 0, label: "κ² = β̃ₜ")
        left.line(excess(b.beta), colour: 1, style: .dashed, label: "κ² = βₜ")
        var right = Plot(width: 380, height: 300, title: "下界与熵之差（nat）", x: Axis("总步数 T", scale: .log), y: Axis("nat", scale: .log))
        right.line(x: gaps.map { Double($0.T) }, y: gaps.map(\.post), colour: 0, label: "κ² = β̃ₜ")
        right.line(x: gaps.map { Double($0.T) }, y: gaps.map(\.beta), colour: 1, style: .dashed, label: "κ² = βₜ")
        right.line(x: gaps.map { Double($0.T) }, y: gaps.map(\.opt), colour: 2, style: .dotted, width: 2.2, label: "最优 κ*²")
        return ExperimentResult(svg: Figure([left, right], columns: 2).svg(title: "精确去噪器的变分下界：逐项与随步数的变化"), numbers: numbers)
    }

    // MARK: Figure — a DDPM trained on 2-D toy data with ToyTrainer

    static let train = BookExperiment(
        name: "ch3-train",
        summary: "A ToyMLP trained with DDPM's L_simple (ToyTrainer, objective ddpm, linear schedule) on gmm-2d: the loss against the Bayes-optimal ε-model's, and ancestral samples (Sampling.ddpm, trailing steps) of the trained model and of the exact denoiser against the data, with energy distances and their floor.",
        defaults: ["seed": "0", "steps": "1500", "batch": "256", "width": "128", "lr": "0.006", "n": "2000", "sample_steps": "100"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let steps = try p.int("steps", in: 1...100_000)
        let batch = try p.int("batch", in: 2...65_536)
        let width = try p.int("width", in: 1...1024)
        let lr = try p.double("lr")
        let n = try p.int("n", in: 10...20_000)
        let sampleSteps = try p.int("sample_steps", in: 1...1000)
        var config = TrainingConfig()
        config.data = "gmm-2d"
        config.objective = "ddpm"
        config.steps = steps
        config.batchSize = batch
        config.width = width
        config.learningRate = lr
        config.seed = UInt64(seed)
        let trainer: ToyTrainer
        do { trainer = try ToyTrainer(config) } catch { throw ExperimentError("\(error)") }
        var losses: [Double] = []
        trainer.train(onStep: { _, loss in losses.append(loss) })
        let model = trainer.samplingModel()
        let mixture = GaussianMixture.example2D

        // The Bayes-optimal ε-model's expected L_simple, by Monte Carlo with the same objective.
        var rng = RandomGenerator(seed: UInt64(seed) &+ 77)
        let floorSamples = mixture.sample(20_000, seed: UInt64(seed) &+ 78)
        let exactLosses = config.lossObjective(ExactMixtureModel(mixture, prediction: .epsilon), floorSamples, rng: &rng).scalars.map(Double.init)
        let floorMean = exactLosses.reduce(0, +) / Double(exactLosses.count)
        let floorSE = (exactLosses.map { ($0 - floorMean) * ($0 - floorMean) }.reduce(0, +) / Double(exactLosses.count - 1) / Double(exactLosses.count)).squareRoot()

        // Ancestral sampling (Sampling.ddpm) of the trained model and of the exact denoiser: the same N trailing levels
        // of the training schedule (the first is step T), the same starting point and the same noise.
        let sigmas = Schedule.discrete(steps: sampleSteps, process: DiscreteVP.linear(), spacing: .trailing)
        let noise = NoiseSource(seed: UInt64(seed) &+ 5)
        let start = noise.prior([n, 2], sigma: sigmas[0])
        let generated = withNoGrad { Sampling.ddpm(model, start, sigmas: sigmas, noise: noise) }
        let exact = Sampling.ddpm(mixture, start, sigmas: sigmas, noise: noise)
        let data = mixture.sample(n, seed: UInt64(seed) &+ 9)
        let edModel = Metrics.energyDistance(generated, data)
        let edExact = Metrics.energyDistance(exact, data)
        let edFloor = Metrics.expectedEnergyDistanceFloor(n: n) { k, s in mixture.sample(k, seed: s) }

        // Loss curve: a running mean over 25 steps.
        let window = Swift.min(25, losses.count)
        var smooth: [Point] = []
        for i in (window - 1)..<losses.count {
            smooth.append(Point(Double(i + 1), losses[(i + 1 - window)...i].reduce(0, +) / Double(window)))
        }
        let yMax = Swift.max(1.0, (smooth.map(\.y).max() ?? 1) * 1.05)
        var curve = Plot(width: 320, height: 280, title: "L_simple（\(window) 步滑动平均）", x: Axis("训练步", range: 0...Double(steps)), y: Axis("损失", range: 0...yMax))
        curve.line(smooth, colour: 0, label: "训练损失")
        curve.line(x: [0, Double(steps)], y: [floorMean, floorMean], colour: 1, style: .dashed, label: "精确模型的损失")
        func cloud(_ title: String, _ x: Tensor) -> Plot {
            let v = x.scalars
            var pl = Plot(width: 320, height: 280, title: title, x: Axis(range: -3.5...3.5), y: Axis(range: -3.5...3.5), equalAspect: true)
            pl.showLegend = false
            pl.scatter((0..<n).map { Point(Double(v[2 * $0]), Double(v[2 * $0 + 1])) },
                       classes: (0..<n).map { likeliestComponent(mixture, v, $0) }, radius: 1.1, opacity: 0.55)
            return pl
        }
        let panels = [curve, cloud("训练出的模型", generated), cloud("精确去噪器", exact), cloud("真实数据", data)]
        let head = losses.prefix(25), tail = losses.suffix(100)
        let numbers: [String: Double] = [
            "steps": Double(steps), "batch": Double(batch), "width": Double(width), "lr": lr, "n": Double(n),
            "sample_steps": Double(sampleSteps),
            "loss_first": head.reduce(0, +) / Double(head.count),
            "loss_last": tail.reduce(0, +) / Double(tail.count),
            "loss_floor": floorMean, "loss_floor_se": floorSE,
            "ed_model": edModel, "ed_exact": edExact, "ed_floor": edFloor,
            "ed_ratio_model": edModel / edFloor, "ed_ratio_exact": edExact / edFloor,
            "ed_prior": Metrics.energyDistance(noise.prior([n, 2], sigma: 1), data),
        ]
        return ExperimentResult(svg: Figure(panels, columns: 2).svg(title: "在二维混合数据上训练 DDPM"), numbers: numbers)
    }
}
