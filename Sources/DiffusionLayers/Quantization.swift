import DiffusionEngine

/// Symmetric per-output-channel weight quantisation to `bits` bits (as in LLM.int8's and GPTQ's weight formats,
/// without outlier handling): each row r of a weight (axis 0, the output channel) gets the scale
/// Δ_r = max_j |w_rj| / q_max with q_max = 2^{bits−1} − 1, the integer code q = round(w/Δ_r) ∈ [−q_max, q_max]
/// (ties away from zero), and the value is replaced by q·Δ_r ("fake" quantisation: stored in Float32, so every layer
/// runs unchanged). The error per weight is at most Δ_r/2.
public struct WeightQuantization: Sendable, Hashable {
    public let bits: Int

    public init(bits: Int) {
        precondition((2...16).contains(bits), "quantisation needs 2…16 bits, got \(bits)")
        self.bits = bits
    }

    public static let int8 = WeightQuantization(bits: 8)
    public static let int4 = WeightQuantization(bits: 4)

    /// The largest integer code, 2^{bits−1} − 1 (127 for int8, 7 for int4).
    public var qMax: Int { (1 << (bits - 1)) - 1 }

    /// Integer codes (as exact Float32 values) and per-row scales of `w` (rank ≥ 1; rows = axis 0).
    public func codes(_ w: Tensor) -> (codes: Tensor, scales: [Float]) {
        precondition(w.rank >= 1 && w.count > 0, "cannot quantise a tensor of shape \(w.shape)")
        let rows = w.shape[0], cols = w.count / rows
        let values = w.scalars
        var q = [Float](repeating: 0, count: w.count)
        var scales = [Float](repeating: 0, count: rows)
        let top = Float(qMax)
        for r in 0..<rows {
            var m: Float = 0
            for j in 0..<cols { m = Swift.max(m, Swift.abs(values[r * cols + j])) }
            let Δ = m / top
            scales[r] = Δ
            guard Δ > 0 else { continue }
            for j in 0..<cols { q[r * cols + j] = Swift.min(top, Swift.max(-top, (values[r * cols + j] / Δ).rounded())) }
        }
        return (Tensor(q, shape: w.shape), scales)
    }

    /// The dequantised tensor q·Δ_r, same shape as `w`.
    public func fakeQuantize(_ w: Tensor) -> Tensor {
        let (q, scales) = codes(w)
        let cols = w.count / w.shape[0]
        let out = q.scalars.enumerated().map { i, c in c * scales[i / cols] }
        return Tensor(out, shape: w.shape)
    }
}

/// What `Module.quantizeWeights` changed.
public struct QuantizationReport: Sendable, Hashable {
    /// Names of the quantised parameters.
    public var parameters: [String] = []
    /// Number of quantised scalars.
    public var count = 0
    /// max |w − Q(w)| over all of them.
    public var maxError: Double = 0
    /// max over weights of |w − Q(w)| / (Δ_r/2) (≤ 1 up to Float32 rounding).
    public var maxErrorOverHalfScale: Double = 0
    /// Root-mean-square error over the quantised scalars.
    public var rmsError: Double = 0
}

extension Module {
    /// Replaces every parameter of rank ≥ 2 (linear and convolution weights, embeddings) by its fake-quantised value,
    /// in place; biases and normalisation parameters (rank 1) stay in Float32, as in the usual weight-only schemes.
    @discardableResult
    public func quantizeWeights(_ q: WeightQuantization) -> QuantizationReport {
        var report = QuantizationReport()
        var squares = 0.0
        for (name, p) in namedParameters() where p.shape.count >= 2 {
            let w = p.value.detached()
            let (codes, scales) = q.codes(w)
            let cols = w.count / w.shape[0]
            let original = w.scalars
            let quantised = codes.scalars.enumerated().map { i, c in c * scales[i / cols] }
            for i in 0..<w.count {
                let e = Double(Swift.abs(original[i] - quantised[i]))
                squares += e * e
                report.maxError = Swift.max(report.maxError, e)
                let half = Double(scales[i / cols]) / 2
                if half > 0 { report.maxErrorOverHalfScale = Swift.max(report.maxErrorOverHalfScale, e / half) }
            }
            p.copy(from: Tensor(quantised, shape: w.shape))
            report.parameters.append(name)
            report.count += w.count
        }
        report.rmsError = report.count > 0 ? (squares / Double(report.count)).squareRoot() : 0
        return report
    }
}
