import DiffusionEngine

/// A two-sample metric by name, with its real-vs-real noise floor: the value two independent samples of the same
/// law and the same sizes get. A sample-quality claim is only meaningful relative to that floor.
public enum SampleMetric: String, Sendable, CaseIterable {
    case energy, slicedWasserstein = "sliced-wasserstein", mmd

    public var summary: String {
        switch self {
        case .energy: "energy distance (Székely & Rizzo 2013)"
        case .slicedWasserstein: "sliced 2-Wasserstein distance, 128 directions"
        case .mmd: "MMD² (V-statistic, so its floor is positive) with RBF kernels of bandwidths \(Metrics.defaultBandwidths)"
        }
    }

    public func callAsFunction(_ a: Tensor, _ b: Tensor) -> Double {
        switch self {
        case .energy: Metrics.energyDistance(a, b)
        case .slicedWasserstein: Metrics.slicedWasserstein(a, b)
        case .mmd: Metrics.mmd(a, b, unbiased: false)
        }
    }

    /// The mean over `repeats` pairs of independent size-n samples from `sample(n, seed)` (seeds seed, seed + 1, …).
    public func noiseFloor(n: Int, repeats: Int = 3, seed: UInt64 = 1 << 20, sample: (Int, UInt64) -> Tensor) -> Double {
        Metrics.noiseFloor(n: n, repeats: repeats, seed: seed, sample: sample, metric: self.callAsFunction)
    }
}

extension Metrics {
    /// The real-vs-real floor of any metric: mean of metric(sample(n, s), sample(n, s + 1)) over `repeats` disjoint
    /// seed pairs.
    public static func noiseFloor(n: Int, repeats: Int = 3, seed: UInt64 = 1 << 20, sample: (Int, UInt64) -> Tensor,
                                  metric: (Tensor, Tensor) -> Double) -> Double {
        precondition(n >= 2 && repeats >= 1, "a noise floor needs n ≥ 2 and at least one repeat")
        return (0..<repeats).map { r in metric(sample(n, seed + 2 * UInt64(r)), sample(n, seed + 2 * UInt64(r) + 1)) }.reduce(0, +) / Double(repeats)
    }

    public static func energyDistanceFloor(n: Int, repeats: Int = 3, sample: (Int, UInt64) -> Tensor) -> Double {
        SampleMetric.energy.noiseFloor(n: n, repeats: repeats, sample: sample)
    }

    public static func slicedWassersteinFloor(n: Int, repeats: Int = 3, sample: (Int, UInt64) -> Tensor) -> Double {
        SampleMetric.slicedWasserstein.noiseFloor(n: n, repeats: repeats, sample: sample)
    }

    public static func mmdFloor(n: Int, repeats: Int = 3, sample: (Int, UInt64) -> Tensor) -> Double {
        SampleMetric.mmd.noiseFloor(n: n, repeats: repeats, sample: sample)
    }
}
