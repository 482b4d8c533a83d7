import DiffusionEngine
import Foundation

/// How an absorbing-state sampler chooses which masked tokens to reveal at a step.
public enum UnmaskingOrder: String, Sendable, Hashable, Codable, CaseIterable {
    /// Ancestral: each masked token is revealed independently with probability (ᾱ_{t−1} − ᾱ_t)/(1 − ᾱ_t), its value
    /// drawn from p̂_θ(x_0 | x_t) (the exact reverse step of the x_0-parametrised model).
    case ancestral
    /// The expected number of tokens is revealed, those whose drawn value p̂_θ is most confident (MaskGIT; LLaDA's
    /// low-confidence remasking): a heuristic, not the model's reverse process.
    case confidence
}

extension DiscreteProcess {
    /// Uniform draws [B, L] for step `step` (stream 2¹⁶·(step + 1) + draw), offset by the first sample, so sample j's
    /// randomness depends only on (seed, step, draw, j), not on the batch size.
    static func uniforms(_ b: Int, _ l: Int, seed: UInt64, step: Int, draw: Int = 0, firstSample: Int) -> [Float] {
        Tensor.randomUniform([b, l], seed: seed, stream: (UInt64(step) + 1) << 16 + UInt64(draw), offset: firstSample * l).scalars
    }

    /// Ancestral sampling x_T ~ m, x_{t−1} ~ p_θ(x_{t−1} | x_t) for t = T … 1 (T model calls); returns x_0 [count, length].
    /// With absorbing noise, `order: .confidence` reveals tokens by confidence instead (see `UnmaskingOrder`).
    public func sample(_ model: some TokenDenoiser, count b: Int, length l: Int, seed: UInt64, firstSample: Int = 0,
                       order: UnmaskingOrder = .ancestral) -> Tensor {
        precondition(order == .ancestral || noise == .absorbing, "confidence ordering needs absorbing noise")
        precondition(model.categories == categories, "the model predicts \(model.categories) categories, the process has \(categories)")
        var x: [Int]
        if let mask {
            x = [Int](repeating: mask, count: b * l)
        } else {
            let r = Tensor.randomIntegers([b, l], in: 0..<categories, seed: seed, stream: 0, offset: firstSample * l).scalars
            x = r.map { Int($0) }
        }
        withNoGrad {
            for t in stride(from: steps, through: 1, by: -1) {
                let xt = Tensor(x.map { Float($0) }, shape: [b, l])
                let logits = model.logits(xt, Tensor.full([b], Float(Double(t) / Double(steps))))
                let u = Self.uniforms(b, l, seed: seed, step: steps - t, firstSample: firstSample)
                if order == .ancestral {
                    let p = reverseProbabilities(logits: logits, xt: xt, steps: [Int](repeating: t, count: b)).previous.scalars
                    for n in 0..<(b * l) { x[n] = Self.draw(p, row: n, width: states, u[n]) }
                } else {
                    x = revealConfident(x, p0: (logits.softmax(axis: -1)).scalars, b: b, l: l, step: t, u: u)
                }
            }
        }
        return Tensor(x.map { Float($0) }, shape: [b, l])
    }

    /// Inverse-CDF draw from row `row` of a row-major [_, width] table of probabilities.
    static func draw(_ p: [Float], row: Int, width: Int, _ u: Float) -> Int {
        var c: Float = 0, last = 0
        for j in 0..<width {
            let v = p[row * width + j]
            if v > 0 { last = j }
            c += v
            if u < c { return j }
        }
        return last
    }

    /// One confidence step: in each sequence with M masked tokens, round(M·(1 − ᾱ_{t−1})/(1 − ᾱ_t)) stay masked; every
    /// masked token draws a value from p̂, and the most probable draws are revealed.
    func revealConfident(_ x: [Int], p0: [Float], b: Int, l: Int, step t: Int, u: [Float]) -> [Int] {
        var x = x
        let k = categories, stay = (1 - alphaBar[t - 1]) / (1 - alphaBar[t])
        for n in 0..<b {
            let masked = (0..<l).filter { x[n * l + $0] == mask }
            guard !masked.isEmpty else { continue }
            let remain = t == 1 ? 0 : Int((Double(masked.count) * stay).rounded())
            let drawn = masked.map { i in (i, Self.draw(p0, row: n * l + i, width: k, u[n * l + i])) }
            let ranked = drawn.sorted { p0[(n * l + $0.0) * k + $0.1] > p0[(n * l + $1.0) * k + $1.1] || (p0[(n * l + $0.0) * k + $0.1] == p0[(n * l + $1.0) * k + $1.1] && $0.0 < $1.0) }
            for (i, v) in ranked.prefix(masked.count - remain) { x[n * l + i] = v }
        }
        return x
    }
}
