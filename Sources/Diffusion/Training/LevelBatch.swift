import DiffusionEngine

/// Per-sample noise levels of a training batch: sample i is x_i = α_i·x₀_i + σ_i·ε_i.
///
/// `time` is the process time each level was drawn at (what a network is usually conditioned on); `dAlpha`,
/// `dSigma` are the process rates there, needed to convert flow-velocity outputs.
public struct LevelBatch: Sendable, Hashable {
    public var alpha: [Double]
    public var sigma: [Double]
    public var time: [Double]?
    public var dAlpha: [Double]?
    public var dSigma: [Double]?

    public init(alpha: [Double], sigma: [Double], time: [Double]? = nil, dAlpha: [Double]? = nil, dSigma: [Double]? = nil) {
        precondition(alpha.count == sigma.count && [time, dAlpha, dSigma].allSatisfy { $0 == nil || $0!.count == alpha.count },
                     "a level batch needs one α, σ (and time, rates) per sample")
        (self.alpha, self.sigma, self.time, self.dAlpha, self.dSigma) = (alpha, sigma, time, dAlpha, dSigma)
    }

    /// The levels of `process` at the given times, with its rates.
    public init(process: some NoiseProcess, times: [Double]) {
        let rates = times.map { process.rates($0) }
        self.init(alpha: times.map { process.alpha($0) }, sigma: times.map { process.sigma($0) }, time: times,
                  dAlpha: rates.map(\.dAlpha), dSigma: rates.map(\.dSigma))
    }

    /// The same level for n samples.
    public init(_ level: NoiseLevel, count n: Int, time: Double? = nil, rates: NoiseRates? = nil) {
        self.init(alpha: Array(repeating: level.alpha, count: n), sigma: Array(repeating: level.sigma, count: n),
                  time: time.map { Array(repeating: $0, count: n) },
                  dAlpha: rates.map { Array(repeating: $0.dAlpha, count: n) }, dSigma: rates.map { Array(repeating: $0.dSigma, count: n) })
    }

    public var count: Int { alpha.count }
    public subscript(i: Int) -> NoiseLevel { NoiseLevel(alpha: alpha[i], sigma: sigma[i]) }

    /// Per-sample values as a tensor of shape [n, 1, …, 1] that broadcasts against a batch of rank `rank`.
    public static func column(_ values: [Double], rank: Int) -> Tensor {
        Tensor(values.map(Float.init), shape: [values.count] + Array(repeating: 1, count: Swift.max(0, rank - 1)))
    }

    func column(_ values: [Double], like x: Tensor) -> Tensor { Self.column(values, rank: x.rank) }

    /// The noisy batch α·x₀ + σ·ε.
    public func noisy(x0: Tensor, epsilon ε: Tensor) -> Tensor {
        x0 * column(alpha, like: x0) + ε * column(sigma, like: x0)
    }

    /// Signal-to-noise ratios α²/σ².
    public var snr: [Double] { zip(alpha, sigma).map { $0 * $0 / ($1 * $1) } }

    func rates(_ i: Int) -> NoiseRates? {
        guard let a = dAlpha, let s = dSigma else { return nil }
        return NoiseRates(dAlpha: a[i], dSigma: s[i])
    }
}

/// The parametrisation conversions of `Parametrization`, with a different level for every sample. Differentiable.
public enum BatchParametrization {
    /// x̂₀ from an output of kind `kind` (see the table at `Prediction`).
    public static func x0(from o: Tensor, _ kind: Prediction, x: Tensor, levels L: LevelBatch) -> Tensor {
        let a = L.column(L.alpha, like: x), s = L.column(L.sigma, like: x)
        switch kind {
        case .sample:
            return o
        case .epsilon:
            precondition(L.alpha.allSatisfy { $0 > 0 }, "ε-prediction needs α > 0 (zero terminal SNR?)")
            return (x - o * s) / a
        case .v:
            return (x * a - o * s) * L.column(zip(L.alpha, L.sigma).map { 1 / ($0 * $0 + $1 * $1) }, like: x)
        case .score:
            precondition(L.alpha.allSatisfy { $0 > 0 }, "score prediction needs α > 0 (zero terminal SNR?)")
            return (x + o * L.column(L.sigma.map { $0 * $0 }, like: x)) / a
        case .velocity:
            guard let da = L.dAlpha, let ds = L.dSigma else { preconditionFailure("velocity prediction needs the process rates") }
            let det = (0..<L.count).map { ds[$0] * L.alpha[$0] - L.sigma[$0] * da[$0] }
            precondition(det.allSatisfy { $0 != 0 }, "velocity prediction is not invertible where σ̇α − σα̇ = 0")
            return (x * L.column(ds, like: x) - o * s) * L.column(det.map { 1 / $0 }, like: x)
        }
    }

    /// The prediction of kind `kind` implied by x̂₀ at input x (ε̂, v̂, ŝ and the velocity need σ > 0).
    public static func prediction(_ kind: Prediction, x0: Tensor, x: Tensor, levels L: LevelBatch) -> Tensor {
        if kind == .sample { return x0 }
        precondition(L.sigma.allSatisfy { $0 > 0 }, "\(kind.rawValue) is undefined at σ = 0")
        let a = L.column(L.alpha, like: x), s = L.column(L.sigma, like: x)
        let ε = (x - x0 * a) / s
        switch kind {
        case .sample: return x0
        case .epsilon: return ε
        case .v: return ε * a - x0 * s
        case .score: return (x0 * a - x) / L.column(L.sigma.map { $0 * $0 }, like: x)
        case .velocity:
            guard let da = L.dAlpha, let ds = L.dSigma else { preconditionFailure("velocity needs the process rates") }
            return x0 * L.column(da, like: x) + ε * L.column(ds, like: x)
        }
    }

    /// Converts an output of kind `from` into kind `to` (the identity when they agree).
    public static func convert(_ o: Tensor, from: Prediction, to: Prediction, x: Tensor, levels: LevelBatch) -> Tensor {
        from == to ? o : prediction(to, x0: x0(from: o, from, x: x, levels: levels), x: x, levels: levels)
    }

    /// The training target of kind `kind` for clean x₀ and noise ε.
    public static func target(_ kind: Prediction, x0: Tensor, epsilon ε: Tensor, levels L: LevelBatch) -> Tensor {
        let a = L.column(L.alpha, like: x0), s = L.column(L.sigma, like: x0)
        switch kind {
        case .sample: return x0
        case .epsilon: return ε
        case .v: return ε * a - x0 * s
        case .score: return ε * L.column(L.sigma.map { -1 / $0 }, like: x0)
        case .velocity:
            guard let da = L.dAlpha, let ds = L.dSigma else { preconditionFailure("velocity targets need the process rates") }
            return x0 * L.column(da, like: x0) + ε * L.column(ds, like: x0)
        }
    }

    /// ‖k̂ − k‖² / ‖x̂₀ − x₀‖² for prediction kind k at one level: every squared error is a weighted x₀ error
    /// (Kingma & Gao 2023, arXiv 2303.00848): 1 (x₀), α²/σ² (ε), ((α² + σ²)/σ)² (v), α²/σ⁴ (score),
    /// ((α̇σ − σ̇α)/σ)² (velocity).
    public static func x0Factor(_ kind: Prediction, level: NoiseLevel, rates: NoiseRates? = nil) -> Double {
        let (α, σ) = (level.alpha, level.sigma)
        switch kind {
        case .sample: return 1
        case .epsilon: return α * α / (σ * σ)
        case .v: let r = (α * α + σ * σ) / σ; return r * r
        case .score: return α * α / (σ * σ * σ * σ)
        case .velocity:
            guard let r = rates else { preconditionFailure("the velocity factor needs the process rates") }
            let f = (r.dAlpha * σ - r.dSigma * α) / σ
            return f * f
        }
    }
}

extension Tensor {
    /// ‖row‖² of every sample: the sum of squares over all axes but the first, shape [n].
    public func squaredNormPerSample() -> Tensor {
        let sq = square()
        return rank <= 1 ? sq : sq.reshaped([shape[0], -1]).sum(axis: 1)
    }
}
