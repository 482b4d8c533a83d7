import Foundation
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

    /// The floor's exact expectation where the V-statistic allows one: for two independent size-n samples of one law,
    /// E[energy] = 2·E‖X − X′‖/n and E[MMD²_V] = 2·(k(x, x) − E k(X, X′))/n. The expectations E‖X − X′‖ and
    /// E k(X, X′) are U-statistics over `points` draws (seed `seed`), far less noisy than averaging the heavy-tailed
    /// real-vs-real values themselves. nil for the sliced Wasserstein distance.
    public func expectedFloor(n: Int, points: Int = 4000, seed: UInt64 = 1 << 21, sample: (Int, UInt64) -> Tensor) -> Double? {
        precondition(n >= 1 && points >= 2, "need n ≥ 1 and at least two points")
        switch self {
        case .energy: return 2 * Metrics.meanPairwise(sample(points, seed)) { $0.squareRoot() } / Double(n)
        case .mmd:
            let scales = Metrics.defaultBandwidths.map { -1 / (2 * $0 * $0) }
            let k = Metrics.meanPairwise(sample(points, seed)) { d2 in scales.reduce(0) { $0 + Foundation.exp($1 * d2) } }
            return 2 * (Double(scales.count) - k) / Double(n)
        case .slicedWasserstein: return nil
        }
    }

    /// `expectedFloor` where it exists, else `noiseFloor` over `repeats` pairs.
    public func floor(n: Int, repeats: Int = 8, sample: (Int, UInt64) -> Tensor) -> Double {
        expectedFloor(n: n, sample: sample) ?? noiseFloor(n: n, repeats: repeats, sample: sample)
    }
}

extension Metrics {
    /// The mean of f(‖x_i − x_j‖²) over all pairs i ≠ j of rows (a U-statistic), in Double.
    public static func meanPairwise(_ x: Tensor, _ f: (Double) -> Double) -> Double {
        let n = x.shape[0], d = x.count / Swift.max(n, 1)
        precondition(n >= 2, "need at least two rows")
        let v = x.scalars.map(Double.init)
        var total = 0.0
        v.withUnsafeBufferPointer { p in
            for i in 0..<n {
                for j in (i + 1)..<n {
                    var s = 0.0
                    for k in 0..<d { let t = p[i * d + k] - p[j * d + k]; s += t * t }
                    total += f(s)
                }
            }
        }
        return total / Double(n * (n - 1) / 2)
    }

    /// The exact expected real-vs-real energy distance at size n: 2·E‖X − X′‖/n.
    public static func expectedEnergyDistanceFloor(n: Int, sample: (Int, UInt64) -> Tensor) -> Double {
        SampleMetric.energy.expectedFloor(n: n, sample: sample)!
    }

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
