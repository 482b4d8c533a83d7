import Diffusion
import DiffusionEngine
import DiffusionLayers
import DiffusionModels
import DiffusionPlot
import Foundation

/// The experiments of chapter 12 (book/ch12-text.md): discrete diffusion on sequences from `MarkovChain.example`, where
/// the entropy, the token marginals and the optimal denoiser p(x_0 | x_t) (`ExactMarkovDenoiser`) are exact.
public enum Chapter12 {
    public static let experiments: [BookExperiment] = [forward, bound, parallel, train]

    static let symbols = ["a", "b", "c", "d", "[MASK]"]

    /// Σ_i H(x^i) in nats: the bound of a model that reveals every token at once from exact marginals.
    public static func marginalEntropySum(_ chain: MarkovChain) -> Double {
        chain.positionMarginals().reduce(0.0) { acc, p in acc - p.reduce(0.0) { $0 + ($1 > 0 ? $1 * log($1) : 0) } }
    }

    static func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
    static func standardError(_ v: [Double]) -> Double {
        let m = mean(v)
        return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1) / Double(v.count)).squareRoot()
    }

    /// The mean of −log p(x) over samples [n, L] under the chain (∞ if any sample is impossible) and over the valid ones.
    static func sampleNLL(_ chain: MarkovChain, _ x: Tensor) -> (all: Double, valid: Double) {
        let (n, l) = (x.shape[0], x.shape[1])
        let s = x.scalars.map { Int($0) }
        let nll = (0..<n).map { -chain.logProbability(Array(s[($0 * l)..<($0 * l + l)])) }
        let valid = nll.filter(\.isFinite)
        return (mean(nll), valid.isEmpty ? .nan : mean(valid))
    }

    /// Σ_a π̂(a) · TV(P̂[a], P[a]): the distance of the samples' transition frequencies from the chain's, weighted by how
    /// often each symbol is followed by another.
    public static func transitionDistance(_ chain: MarkovChain, _ x: Tensor) -> Double {
        let f = chain.transitionFrequencies(x)
        let (n, l) = (x.shape[0], x.shape[1])
        let s = x.scalars.map { Int($0) }
        var visits = [Double](repeating: 0, count: chain.categories)
        for j in 0..<n { for i in 0..<(l - 1) { visits[s[j * l + i]] += 1 } }
        let total = visits.reduce(0, +)
        return (0..<chain.categories).reduce(0.0) { acc, a in
            acc + visits[a] / total * 0.5 * zip(f[a], chain.transition[a]).reduce(0.0) { $0 + abs($1.0 - $1.1) }
        }
    }

    /// The probability that independent tokens drawn from the chain's position marginals form an impossible sequence
    /// (what one-step sampling with the exact denoiser produces), by a forward recursion over positions.
    public static func independentInvalidProbability(_ chain: MarkovChain) -> Double {
        let p = chain.positionMarginals(), k = chain.categories
        var f = (0..<k).map { chain.initial[$0] > 0 ? p[0][$0] : 0 }
        for i in 1..<chain.length {
            f = (0..<k).map { b in (0..<k).reduce(0.0) { $0 + (chain.transition[$1][b] > 0 ? f[$1] : 0) } * p[i][b] }
        }
        return 1 - f.reduce(0, +)
    }

    /// seed, n, length and the step counts, as the bound and parallel experiments take them.
    static func stepParameters(_ p: ExperimentParameters) throws -> (seed: UInt64, n: Int, length: Int, steps: [Int]) {
        let (seed, n, length) = (UInt64(try p.int("seed", in: 0...1_000_000)), try p.int("n", in: 20...100_000), try p.int("length", in: 2...16))
        let steps = try p.ints("steps")
        guard steps.allSatisfy({ (1...512).contains($0) }) else { throw ExperimentError("steps must lie in 1…512") }
        return (seed, n, length, steps)
    }

    // MARK: Figure — the forward process on token sequences

    static let forward = BookExperiment(
        name: "ch12-forward",
        summary: "Markov-chain sequences (MarkovChain.example) corrupted by absorbing and uniform noise at five times of the linear schedule (DiscreteNoise.corrupt); the fraction of tokens still equal to x₀ against ᾱ_t and ᾱ_t + (1 − ᾱ_t)/K.",
        defaults: ["seed": "0", "rows": "8", "length": "8", "times": "0,0.25,0.5,0.75,1"]
    ) { p in
        let (seed, rows, length) = (UInt64(try p.int("seed", in: 0...1_000_000)), try p.int("rows", in: 1...40), try p.int("length", in: 2...32))
        let times = try p.string("times").split(separator: ",").map { s -> Double in
            guard let v = Double(s), (0...1).contains(v) else { throw ExperimentError("times must be numbers in [0, 1]") }
            return v
        }
        let chain = MarkovChain.example(length: length)
        let x0 = chain.sample(rows, seed: seed)
        let big = chain.sample(4000, seed: seed + 1)
        var panels: [Plot] = []
        var numbers: [String: Double] = ["rows": Double(rows), "length": Double(length), "categories": 4]
        for noise in [DiscreteNoise.absorbing, .uniform] {
            for (k, t) in times.enumerated() {
                var g = RandomGenerator(seed: seed + 7)
                let a = DiscreteSchedule.linear.alpha(t)
                let xt = noise.corrupt(x0, keep: [Double](repeating: a, count: rows), categories: 4, generator: &g).scalars
                // The last column is wider, with room on the right for the legend.
                let last = k == times.count - 1
                var plot = Plot(width: last ? 240 : 150, height: 150, title: "\(noise == .absorbing ? "吸收" : "均匀") t = \(t)",
                                x: Axis(nil, range: -0.7...(Double(length) - 0.3 + (last ? 5.5 : 0))), y: Axis(nil, range: -0.7...(Double(rows) - 0.3)))
                plot.grid = false
                plot.showLegend = last && noise == .absorbing
                let pts = (0..<(rows * length)).map { Point(Double($0 % length), Double(rows - 1 - $0 / length)) }
                plot.scatter(pts, classes: xt.map { Int($0) }, classNames: symbols, radius: 5.5, opacity: 0.9)
                panels.append(plot)
            }
            // The fraction of tokens equal to x₀ over many sequences, against the closed form.
            for t in [0.25, 0.5, 0.75] {
                var g = RandomGenerator(seed: seed + 11)
                let a = DiscreteSchedule.linear.alpha(t)
                let xt = noise.corrupt(big, keep: [Double](repeating: a, count: 4000), categories: 4, generator: &g).scalars
                let same = zip(xt, big.scalars).filter { $0 == $1 }.count
                let key = "\(noise.rawValue)_same_\(Int(t * 100))"
                numbers[key] = Double(same) / Double(xt.count)
                numbers[key + "_theory"] = noise == .absorbing ? a : a + (1 - a) / 4
            }
        }
        return ExperimentResult(svg: Figure(panels, columns: times.count).svg(title: "前向过程：上行吸收（[MASK]）噪声，下行均匀噪声"), numbers: numbers)
    }

    // MARK: Figure — the bound of the exact denoiser against the number of steps

    static let bound = BookExperiment(
        name: "ch12-bound",
        summary: "−ELBO (nats per sequence) of the exact factorised reverse model (ExactMarkovDenoiser) for D3PM absorbing and uniform processes with T steps (DiscreteProcess.negativeELBO, Monte Carlo over x_t), the continuous-time masked bound (MaskedDiffusion.negativeELBO) and the chain's entropy.",
        defaults: ["seed": "0", "n": "400", "steps": "1,2,4,8,16,32", "length": "8"]
    ) { p in
        let (seed, n, length, Ts) = try stepParameters(p)
        guard Ts.contains(1) else { throw ExperimentError("steps must include 1") }
        let chain = MarkovChain.example(length: length)
        let x0 = chain.sample(n, seed: seed)
        let h = chain.entropy, hSum = marginalEntropySum(chain)
        var numbers: [String: Double] = ["entropy": h, "marginal_entropy_sum": hSum, "n": Double(n), "length": Double(length)]
        var curves: [DiscreteNoise: [Double]] = [:]
        for noise in [DiscreteNoise.absorbing, .uniform] {
            let exact = ExactMarkovDenoiser(chain: chain, noise: noise)
            for T in Ts {
                var g = RandomGenerator(seed: seed + 100)
                let b = DiscreteProcess(noise: noise, categories: 4, steps: T).negativeELBO(exact, x0, generator: &g)
                numbers["\(noise.rawValue)_\(T)"] = mean(b)
                numbers["\(noise.rawValue)_\(T)_se"] = standardError(b)
                curves[noise, default: []].append(mean(b))
            }
        }
        var g = RandomGenerator(seed: seed + 200)
        let continuous = MaskedDiffusion.negativeELBO(ExactMarkovDenoiser(chain: chain, noise: .absorbing), x0, draws: 16, generator: &g)
        numbers["masked_continuous"] = mean(continuous)
        numbers["masked_continuous_se"] = standardError(continuous)
        let xs = Ts.map(Double.init)
        let top = max(curves.values.flatMap { $0 }.max()!, hSum) * 1.05
        var plot = Plot(width: 560, height: 330, title: "精确去噪器的负 ELBO（奈特/序列）", x: Axis("步数 T", scale: .log, range: 1...Double(max(Ts.max()!, 2))), y: Axis("负 ELBO", range: (h * 0.9)...top))
        plot.line(x: xs, y: curves[.absorbing]!, colour: 0, label: "D3PM 吸收")
        plot.line(x: xs, y: curves[.uniform]!, colour: 1, style: .dashed, label: "D3PM 均匀")
        plot.line(x: [xs.first!, xs.last!], y: [mean(continuous), mean(continuous)], colour: 2, style: .dotted, width: 2.2, label: "连续时间掩码（MDLM）")
        plot.line(x: [xs.first!, xs.last!], y: [h, h], colour: 3, label: "真实熵 H")
        return ExperimentResult(svg: Figure([plot], columns: 1).svg(), numbers: numbers)
    }

    // MARK: Figure — parallel decoding with the exact denoiser

    static let parallel = BookExperiment(
        name: "ch12-parallel",
        summary: "Samples of the exact denoiser (ExactMarkovDenoiser) with T sampling steps: absorbing ancestral, absorbing by confidence (UnmaskingOrder.confidence) and uniform ancestral (DiscreteProcess.sample); the fraction of impossible sequences and the mean −log p of the valid ones against the entropy.",
        defaults: ["seed": "0", "n": "800", "steps": "1,2,4,8,16,32", "length": "8"]
    ) { p in
        let (seed, n, length, Ts) = try stepParameters(p)
        let chain = MarkovChain.example(length: length)
        var numbers: [String: Double] = ["entropy": chain.entropy, "n": Double(n), "length": Double(length),
                                         "invalid_one_step_exact": independentInvalidProbability(chain)]
        let runs: [(String, DiscreteNoise, UnmaskingOrder, String)] = [
            ("absorbing", .absorbing, .ancestral, "吸收，祖先采样"), ("confidence", .absorbing, .confidence, "吸收，按置信度揭开"),
            ("uniform", .uniform, .ancestral, "均匀，祖先采样"),
        ]
        var invalid = Plot(width: 380, height: 300, title: "不可能序列的比例", x: Axis("采样步数 T", scale: .log, range: Double(Ts.min()!)...Double(max(Ts.max()!, 2 * Ts.min()!))), y: Axis("比例", range: 0...1))
        var nll = Plot(width: 380, height: 300, title: "合法样本的平均 −log p（奈特）", x: Axis("采样步数 T", scale: .log, range: Double(Ts.min()!)...Double(max(Ts.max()!, 2 * Ts.min()!))), y: Axis("−log p"))
        nll.showLegend = false
        for (c, (key, noise, order, label)) in runs.enumerated() {
            let exact = ExactMarkovDenoiser(chain: chain, noise: noise)
            var fractions: [Double] = [], means: [Double] = []
            for T in Ts {
                let x = DiscreteProcess(noise: noise, categories: 4, steps: T).sample(exact, count: n, length: length, seed: seed, order: order)
                let f = chain.invalidFraction(x), m = sampleNLL(chain, x).valid
                numbers["\(key)_invalid_\(T)"] = f
                numbers["\(key)_nll_\(T)"] = m
                numbers["\(key)_tv_\(T)"] = transitionDistance(chain, x)
                fractions.append(f)
                means.append(m)
            }
            let style: LineStyle = c == 0 ? .solid : c == 1 ? .dashed : .dotted
            invalid.line(x: Ts.map(Double.init), y: fractions, colour: c, style: style, label: label)
            nll.line(x: Ts.map(Double.init), y: means, colour: c, style: style, label: label)
        }
        nll.line(x: [Double(Ts.min()!), Double(Ts.max()!)], y: [chain.entropy, chain.entropy], colour: 3, label: "真实熵 H")
        return ExperimentResult(svg: Figure([invalid, nll], columns: 2).svg(title: "用精确去噪器并行解码：步数越少，同时揭开的词越多"), numbers: numbers)
    }

    // MARK: Figure — training a TokenTransformer

    static let train = BookExperiment(
        name: "ch12-train",
        summary: "A TokenTransformer (hidden 32, depth 2) trained on MarkovChain.example with the continuous-time masked loss (MaskedDiffusion.loss) and with D3PM's hybrid loss on an absorbing process (trainTokenDenoiser); loss curves, the masked bound of each trained model against the exact denoiser's, and samples' statistics.",
        defaults: ["seed": "0", "steps": "250", "batch": "48", "length": "8", "sample_steps": "12", "checkpoints": "2"],
        revision: 1
    ) { p in
        let (seed, steps, batch, length) = (UInt64(try p.int("seed", in: 0...1_000_000)), try p.int("steps", in: 10...100_000),
                                            try p.int("batch", in: 4...4096), try p.int("length", in: 2...16))
        let sampleSteps = try p.int("sample_steps", in: 1...1024), checkpointCount = try p.int("checkpoints", in: 1...100)
        let chain = MarkovChain.example(length: length)
        let process = DiscreteProcess(noise: .absorbing, categories: 4, steps: sampleSteps)
        let evalData = chain.sample(400, seed: seed + 9)
        var numbers: [String: Double] = ["entropy": chain.entropy, "steps": Double(steps), "batch": Double(batch), "sample_steps": Double(sampleSteps)]
        var g = RandomGenerator(seed: seed + 3)
        numbers["exact_bound"] = mean(MaskedDiffusion.negativeELBO(ExactMarkovDenoiser(chain: chain, noise: .absorbing), evalData, draws: 4, generator: &g))
        var curves = Plot(width: 380, height: 300, title: "训练损失（奈特/序列，滑动平均）", x: Axis("训练步数"), y: Axis("损失"))
        var bars = Plot(width: 380, height: 300, title: "采样 \(sampleSteps) 步：转移频率的偏差", x: Axis("训练步数"), y: Axis("加权总变差", range: 0...0.6))
        bars.showLegend = false
        for (c, (key, objective)) in [("masked", TokenObjective.masked(.linear)),
                                       ("d3pm", .d3pm(DiscreteProcess(noise: .absorbing, categories: 4, steps: 32), lambda: 0.01))].enumerated() {
            let model = withParameterSeed(seed &+ UInt64(c)) { TokenTransformer(TokenTransformerConfig(categories: 4, length: length, hiddenSize: 32, depth: 2)) }
            var history: [Double] = [], checkpoints: [Point] = []
            let start = process.sample(model, count: 300, length: length, seed: seed + 5)
            checkpoints.append(Point(0, transitionDistance(chain, start)))
            numbers["\(key)_invalid_untrained"] = chain.invalidFraction(start)
            let chunk = max(1, (steps + checkpointCount - 1) / checkpointCount)
            var done = 0, last = start
            while done < steps {
                let m = min(chunk, steps - done)
                let offset = done
                history += trainTokenDenoiser(model, objective: objective, steps: m, seed: seed + UInt64(1000 + done)) { chain.sample(batch, seed: seed + 100, firstSample: batch * (offset + $0)) }
                done += m
                last = process.sample(model, count: 300, length: length, seed: seed + 5)
                checkpoints.append(Point(Double(done), transitionDistance(chain, last)))
            }
            let window = max(1, steps / 20)
            let smooth = (0..<history.count).map { i in mean(Array(history[max(0, i - window + 1)...i])) }
            curves.line(x: (1...history.count).map(Double.init), y: smooth, colour: c, label: key == "masked" ? "连续时间掩码损失" : "D3PM 混合损失")
            bars.line(checkpoints, colour: c)
            var ge = RandomGenerator(seed: seed + 3)
            numbers["\(key)_bound"] = mean(MaskedDiffusion.negativeELBO(model, evalData, draws: 4, generator: &ge))
            numbers["\(key)_loss_first"] = mean(Array(history.prefix(window)))
            numbers["\(key)_loss_last"] = mean(Array(history.suffix(window)))
            numbers["\(key)_invalid"] = chain.invalidFraction(last)
            numbers["\(key)_tv"] = transitionDistance(chain, last)
            numbers["\(key)_tv_untrained"] = checkpoints[0].y
        }
        curves.line(x: [1, Double(steps)], y: [chain.entropy, chain.entropy], colour: 3, style: .dashed, label: "真实熵 H")
        return ExperimentResult(svg: Figure([curves, bars], columns: 2).svg(title: "在马尔可夫链序列上训练 TokenTransformer"), numbers: numbers)
    }
}
