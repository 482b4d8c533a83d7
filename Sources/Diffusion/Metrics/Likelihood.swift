import Foundation
import DiffusionEngine

/// A denoiser that knows the divergence ∇·D of its own output in closed form.
public protocol DivergenceProviding {
    func denoiserDivergence(_ x: Tensor, at level: NoiseLevel) -> [Double]
}

extension GaussianMixture: DivergenceProviding {}

/// Exact log-likelihoods through the probability-flow ODE (Chen et al. 2018, arXiv 1806.07366, instantaneous
/// change of variables; Song et al. 2021, arXiv 2011.13456, App. D.2).
///
/// In α = 1 coordinates and s = ln σ the flow is dx/ds = x − D(x; σ), and d log p_σ(x(s))/ds = −∇·(x − D) =
/// −(d − ∇·D). Integrating from the data at σ_min up to σ_max,
///   log p_{σ_min}(x₀) = log N(x(σ_max); 0, σ_max²·I) + ∫ (d − ∇·D(x(s); e^s)) ds,
/// by classical Runge–Kutta with uniform steps in s; the state is Float32, the log-density accumulates in Double.
/// With the data's mean m and per-dimension variance v the prior is the moment-matched N(m, (σ_max² + v)·I);
/// without them N(0, σ_max²·I), whose error grows like ‖m‖·‖x(σ_max)‖/σ_max² ≈ ‖m‖/(σ_max·std) nats. σ_min > 0
/// smooths the data slightly; both errors vanish as σ_max → ∞, σ_min → 0.
public enum Likelihood {
    /// How ∇·D is computed.
    public enum Divergence: Sendable, Hashable {
        /// The closed form of a `DivergenceProviding` denoiser if it is one, else `exact` up to d = 8 and one fixed
        /// Hutchinson probe beyond.
        case automatic
        /// d reverse-mode passes per evaluation (autograd): exact, for low dimension. The denoiser must be
        /// differentiable in x (built from engine ops, like `NetworkModel`); gradients also reach its parameters.
        case exact
        /// Hutchinson's estimator E[vᵀ(∂D/∂x)v] with `probes` Rademacher vectors held fixed along the path
        /// (Grathwohl et al. 2019, arXiv 1810.01367): unbiased, one reverse pass per probe.
        case hutchinson(probes: Int, seed: UInt64)
    }

    /// −log p(x₀) in nats for every row of x0 (rows = samples, the rest flattened to d values).
    public static func negativeLogLikelihood(_ model: some Denoiser, _ x0: Tensor, sigmaMin: Double = 1e-3, sigmaMax: Double = 80,
                                             steps: Int = 200, divergence: Divergence = .automatic,
                                             dataMean: [Double]? = nil, dataVariance: Double = 0) -> [Double] {
        precondition(0 < sigmaMin && sigmaMin < sigmaMax && steps >= 1, "need 0 < σ_min < σ_max and steps ≥ 1")
        let n = x0.shape[0], d = x0.count / n
        precondition(dataMean == nil || dataMean!.count == d, "dataMean needs \(d) values")
        let mean = dataMean ?? [Double](repeating: 0, count: d), priorVariance = sigmaMax * sigmaMax + dataVariance
        let (s0, s1) = (log(sigmaMin), log(sigmaMax))
        let h = (s1 - s0) / Double(steps)
        // (dx/ds, d(Δ log p)/ds) at (x, s).
        func field(_ x: Tensor, _ s: Double) -> (Tensor, [Double]) {
            let level = NoiseLevel(alpha: 1, sigma: exp(s))
            let (D, div) = denoiseWithDivergence(model, x, level, divergence)
            return (x - D, div.map { Double(d) - $0 })
        }
        var x = x0.detached()
        var delta = [Double](repeating: 0, count: n)
        var s = s0
        for _ in 0..<steps {
            let (k1, l1) = field(x, s)
            let (k2, l2) = field(x + k1 * Float(h / 2), s + h / 2)
            let (k3, l3) = field(x + k2 * Float(h / 2), s + h / 2)
            let (k4, l4) = field(x + k3 * Float(h), s + h)
            x = x + (k1 + k2 * 2 + k3 * 2 + k4) * Float(h / 6)
            for i in 0..<n { delta[i] += h / 6 * (l1[i] + 2 * l2[i] + 2 * l3[i] + l4[i]) }
            s += h
        }
        let xs = x.scalars
        return (0..<n).map { i in
            var r2 = 0.0
            for j in 0..<d { let v = Double(xs[i * d + j]) - mean[j]; r2 += v * v }
            let logPrior = -0.5 * r2 / priorVariance - 0.5 * Double(d) * log(2 * .pi * priorVariance)
            return -(logPrior + delta[i])
        }
    }

    /// Bits per dimension of a per-sample NLL in nats.
    public static func bitsPerDimension(_ nll: Double, dimension d: Int) -> Double { nll / (Double(d) * log(2)) }

    /// D(x) and ∇·D(x) per sample.
    static func denoiseWithDivergence(_ model: some Denoiser, _ x: Tensor, _ level: NoiseLevel, _ how: Divergence) -> (Tensor, [Double]) {
        let n = x.shape[0], d = x.count / n
        switch how {
        case .automatic:
            if let exact = model as? any DivergenceProviding {
                return (withNoGrad { model.denoise(x, at: level) }, exact.denoiserDivergence(x, at: level))
            }
            return denoiseWithDivergence(model, x, level, d <= 8 ? .exact : .hutchinson(probes: 1, seed: 0))
        case .exact:
            var div = [Double](repeating: 0, count: n)
            var D = x
            for j in 0..<d {
                let grad = inputGradient(model, x, level) { out in out.reshaped([n, d]).select(axis: 1, j).sum() }
                D = grad.output
                let g = grad.gradient.reshaped([n, d]).select(axis: 1, j).scalars
                for i in 0..<n { div[i] += Double(g[i]) }
            }
            return (D, div)
        case let .hutchinson(probes, seed):
            precondition(probes >= 1, "Hutchinson needs at least one probe")
            var div = [Double](repeating: 0, count: n)
            var D = x
            for k in 0..<probes {
                let v = (Tensor.randomUniform(x.shape, seed: seed, stream: 0x4875_0000 + UInt64(k)) .< 0.5) * 2 - 1
                let grad = inputGradient(model, x, level) { out in (out * v).sum() }
                D = grad.output
                let vJv = (grad.gradient * v).reshaped([n, d]).sum(axis: 1).scalars
                for i in 0..<n { div[i] += Double(vJv[i]) / Double(probes) }
            }
            return (D, div)
        }
    }

    /// The denoiser's output at x and ∂f(output)/∂x by one reverse pass.
    static func inputGradient(_ model: some Denoiser, _ x: Tensor, _ level: NoiseLevel, _ f: (Tensor) -> Tensor) -> (output: Tensor, gradient: Tensor) {
        GradMode.$isEnabled.withValue(true) {
            let leaf = x.detached().requiringGrad()
            let out = model.denoise(leaf, at: level)
            precondition(out.requiresGrad, "the exact divergence needs a denoiser built from differentiable engine ops; use a DivergenceProviding model or Hutchinson")
            f(out).backward()
            return (out.detached(), leaf.grad ?? Tensor.zeros(like: x))
        }
    }
}
