import DiffusionEngine

/// Classifier-free guidance in its general form, D̃ = D(x; y⁻) + w(σ)·(D(x; y) − D(x; y⁻)):
/// - the reference y⁻ is the null condition (`negativeLabels: nil`, plain CFG) or a negative condition, which steers
///   samples away from y⁻ (a "negative prompt"; Liu et al. 2022, arXiv 2206.01714, write negation this way);
/// - the scale w may depend on the EDM level σ = σ_t/α_t of the request, e.g. guidance only on an interval of
///   levels (Kynkäänniemi et al. 2024, arXiv 2404.07724).
/// Where w(σ) = 1 only the conditional model is called (one call instead of two).
public struct ScheduledGuidance<Base: ConditionalDenoiser>: Denoiser {
    public let base: Base
    public let labels: Tensor
    public let negativeLabels: Tensor?
    /// w as a function of the EDM level σ.
    public let scale: @Sendable (Double) -> Double

    public init(_ base: Base, labels: Tensor, negativeLabels: Tensor? = nil, scale: @escaping @Sendable (Double) -> Double) {
        precondition(negativeLabels == nil || negativeLabels!.shape == labels.shape, "one negative label per label")
        (self.base, self.labels, self.negativeLabels, self.scale) = (base, labels, negativeLabels, scale)
    }

    /// A constant scale w.
    public init(_ base: Base, labels: Tensor, negativeLabels: Tensor? = nil, scale w: Double) {
        precondition(w.isFinite, "guidance needs a finite scale")
        self.init(base, labels: labels, negativeLabels: negativeLabels, scale: { _ in w })
    }

    /// Scale w on the levels σ_lo ≤ σ ≤ σ_hi and 1 (the plain conditional model) elsewhere.
    public static func interval(_ base: Base, labels: Tensor, negativeLabels: Tensor? = nil, scale w: Double,
                                sigmaLow: Double, sigmaHigh: Double) -> ScheduledGuidance {
        precondition(w.isFinite && 0 <= sigmaLow && sigmaLow <= sigmaHigh, "an interval needs a finite scale and 0 ≤ σ_lo ≤ σ_hi")
        return ScheduledGuidance(base, labels: labels, negativeLabels: negativeLabels) { σ in sigmaLow <= σ && σ <= sigmaHigh ? w : 1 }
    }

    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        let w = scale(level.edmSigma)
        precondition(w.isFinite, "guidance scale w(\(level.edmSigma)) = \(w) is not finite")
        let conditional = base.denoise(x, at: level, labels: labels)
        if w == 1 { return conditional }
        let reference = base.denoise(x, at: level, labels: negativeLabels)
        return reference + (conditional - reference) * Float(w)
    }
}

/// Thresholding of the denoised prediction x̂₀ for data known to lie in [−1, 1] (pixels), applied at every call so
/// the sampler's next step uses the thresholded x̂₀ (Saharia et al. 2022, arXiv 2205.11487, §2.3).
/// - static (`percentile: nil`): clip x̂₀ to [−1, 1];
/// - dynamic: per sample, s = max(1, the `percentile` quantile of |x̂₀| over its entries), capped at `maximum`;
///   x̂₀ is clipped to [−s, s] and divided by s, so saturated entries are pushed inwards instead of piling up at ±1.
/// Meaningless for latents or any data without a known range.
public struct ThresholdedDenoiser<Base: Denoiser>: Denoiser {
    public let base: Base
    public let percentile: Double?
    public let maximum: Double

    public init(_ base: Base, percentile: Double? = 0.995, maximum: Double = .infinity) {
        precondition(percentile.map { (0...1).contains($0) } ?? true, "the percentile must lie in [0, 1]")
        precondition(maximum >= 1, "the largest threshold must be at least 1")
        (self.base, self.percentile, self.maximum) = (base, percentile, maximum)
    }

    /// The threshold s ≥ 1 of one sample's entries (the nearest-rank quantile of |x|).
    public func threshold(_ row: ArraySlice<Float>) -> Double {
        guard let p = percentile, !row.isEmpty else { return 1 }
        let sorted = row.map { Swift.abs(Double($0)) }.sorted()
        let rank = Swift.min(sorted.count - 1, Swift.max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))
        return Swift.min(maximum, Swift.max(1, sorted[rank]))
    }

    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        let d = base.denoise(x, at: level)
        let n = d.shape[0], per = d.count / n
        var v = d.scalars
        for i in 0..<n {
            let s = threshold(v[(i * per)..<((i + 1) * per)])
            for j in (i * per)..<((i + 1) * per) { v[j] = Float(Swift.min(s, Swift.max(-s, Double(v[j]))) / s) }
        }
        return Tensor(v, shape: d.shape)
    }
}
