import DiffusionEngine
import DiffusionPlot
import Foundation

/// The DDPM linear β schedule (Ho et al. 2020): β_t from β₁ to β_T evenly, ᾱ_t = ∏_{s≤t} (1 − β_s), in Double.
public struct LinearBetaSchedule: Sendable {
    public let betas: [Double]
    public let alphaBars: [Double]

    public init(steps: Int = 1000, betaStart: Double = 1e-4, betaEnd: Double = 0.02) {
        precondition(steps >= 2, "LinearBetaSchedule needs at least 2 steps")
        betas = (0..<steps).map { betaStart + (betaEnd - betaStart) * Double($0) / Double(steps - 1) }
        var prod = 1.0
        alphaBars = betas.map { prod *= 1 - $0; return prod }
    }

    /// ᾱ_t for t = 0…T (ᾱ_0 = 1).
    public func alphaBar(_ t: Int) -> Double { t == 0 ? 1 : alphaBars[t - 1] }

    /// Signal-to-noise ratio ᾱ_t / (1 − ᾱ_t).
    public func snr(_ t: Int) -> Double { alphaBar(t) / (1 - alphaBar(t)) }
}

/// Two interleaved half-moons, standardised, drawn with the engine's counter-based generator.
public enum ToyData {
    public static func twoMoons(count n: Int, noise: Float = 0.06, rng: inout RandomGenerator) -> (points: Tensor, labels: [Int]) {
        let angle = rng.uniform([n], lo: 0, hi: Float.pi).scalars
        let jitter = rng.normal([n, 2], std: noise).scalars
        var xs = [Float](repeating: 0, count: 2 * n)
        var labels = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let upper = i % 2 == 0
            let a = angle[i]
            let (x, y): (Float, Float) = upper ? (Foundation.cos(a), Foundation.sin(a)) : (1 - Foundation.cos(a), 0.5 - Foundation.sin(a))
            // Centre (0.5, 0.25) and scale so each coordinate has roughly unit spread.
            xs[2 * i] = (x - 0.5 + jitter[2 * i]) / 0.87
            xs[2 * i + 1] = (y - 0.25 + jitter[2 * i + 1]) / 0.5
            labels[i] = upper ? 0 : 1
        }
        return (Tensor(xs, shape: [n, 2]), labels)
    }
}

/// Figure: x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε on two moons at several t, with the numbers the text quotes.
enum ForwardNoising {
    static let experiment = BookExperiment(
        name: "forward-noising",
        summary: "The DDPM forward process on a 2-D two-moons data set at several steps t (linear β schedule).",
        defaults: ["seed": "0", "n": "1500", "steps": "0,50,150,300,600,1000", "T": "1000"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 10...100_000)
        let T = try p.int("T", in: 2...100_000)
        let steps = try p.ints("steps")
        guard steps.allSatisfy({ (0...T).contains($0) }) else { throw ExperimentError("steps must lie in 0…\(T), got \(p.string("steps"))") }
        let schedule = LinearBetaSchedule(steps: T)
        var rng = RandomGenerator(seed: UInt64(seed))
        let (x0, labels) = ToyData.twoMoons(count: n, rng: &rng)
        let eps = rng.normal([n, 2])
        var panels: [Plot] = []
        var numbers: [String: Double] = [:]
        for t in steps {
            let ab = schedule.alphaBar(t)
            let xt = x0 * Float(ab.squareRoot()) + eps * Float((1 - ab).squareRoot())
            let v = xt.scalars
            let pts = (0..<n).map { Point(Double(v[2 * $0]), Double(v[2 * $0 + 1])) }
            var plot = Plot(width: 240, height: 240, title: "t = \(t)", x: Axis(range: -3.5...3.5), y: Axis(range: -3.5...3.5))
            plot.scatter(pts, classes: labels, classNames: t == steps.first ? ["上弦月", "下弦月"] : [], radius: 1.4, opacity: 0.7)
            panels.append(plot)
            numbers["alphabar_\(t)"] = ab
            if t > 0 { numbers["snr_\(t)"] = schedule.snr(t) }
            // Empirical spread of x_t: tends to 1 per coordinate as ᾱ_t → 0.
            let mean = v.reduce(0, +) / Float(v.count)
            numbers["std_\(t)"] = Double((v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(v.count)).squareRoot())
        }
        numbers["T"] = Double(T)
        numbers["n"] = Double(n)
        numbers["beta_1"] = schedule.betas[0]
        numbers["beta_T"] = schedule.betas[T - 1]
        numbers["alphabar_T"] = schedule.alphaBar(T)
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "前向加噪过程：双月牙数据在不同步数 t 下的样本"), numbers: numbers)
    }
}

/// Figure: ᾱ_t (linear axis) and SNR(t) (log axis) of the linear schedule, side by side.
enum NoiseScheduleCurves {
    static let experiment = BookExperiment(
        name: "noise-schedule",
        summary: "ᾱ_t, √ᾱ_t, √(1−ᾱ_t) and the signal-to-noise ratio of the DDPM linear β schedule.",
        defaults: ["T": "1000"]
    ) { p in
        let T = try p.int("T", in: 2...100_000)
        let s = LinearBetaSchedule(steps: T)
        let ts = Array(stride(from: 0, through: T, by: max(1, T / 200)))
        let x = ts.map(Double.init)
        var left = Plot(width: 360, height: 260, title: "系数", x: Axis("t", range: 0...Double(T)), y: Axis(range: 0...1))
        left.line(x: x, y: ts.map { s.alphaBar($0) }, label: "ᾱₜ")
        left.line(x: x, y: ts.map { s.alphaBar($0).squareRoot() }, style: .dashed, label: "√ᾱₜ")
        left.line(x: x, y: ts.map { (1 - s.alphaBar($0)).squareRoot() }, style: .dotted, label: "√(1−ᾱₜ)")
        var right = Plot(width: 360, height: 260, title: "信噪比", x: Axis("t", range: 0...Double(T)), y: Axis("SNR", scale: .log))
        right.line(x: Array(x.dropFirst()), y: ts.dropFirst().map { s.snr($0) }, colour: 3, label: "SNR(t)")
        var numbers: [String: Double] = ["snr_1": s.snr(1), "snr_T": s.snr(T)]
        // The step where the SNR first drops below 1 (signal and noise of equal power).
        if let half = (1...T).first(where: { s.snr($0) < 1 }) { numbers["t_snr_below_1"] = Double(half) }
        return ExperimentResult(svg: Figure([left, right], columns: 2).svg(title: "线性 β 调度的系数与信噪比"), numbers: numbers)
    }
}
