import Foundation
import DiffusionEngine

/// Temporal consistency of clips [n, f, …] (the trailing axes are one frame): how much consecutive frames differ
/// ("flicker") and how strongly each element is correlated with itself ℓ frames later. On toy data these stand in
/// for the FVD idea of comparing the distribution of whole clips, not of frames.
public enum TemporalConsistency {
    /// Mean squared difference of consecutive frames per element: Σ‖x⁽ᵏ⁺¹⁾ − x⁽ᵏ⁾‖² / (n·(f − 1)·d).
    /// For a stationary process with per-element variance v and lag-1 correlation r it is 2v(1 − r).
    public static func frameDifference(_ clips: Tensor) -> Double {
        let (n, f, d) = dimensions(clips, minFrames: 2)
        let v = clips.scalars
        var s = 0.0
        for i in 0..<n {
            for k in 0..<(f - 1) {
                for p in 0..<d {
                    let e = Double(v[(i * f + k + 1) * d + p]) - Double(v[(i * f + k) * d + p])
                    s += e * e
                }
            }
        }
        return s / Double(n * (f - 1) * d)
    }

    /// Lag-ℓ temporal correlation: the Pearson correlation of the pairs (x⁽ᵏ⁾_p, x⁽ᵏ⁺ℓ⁾_p) over all clips, frames k and
    /// elements p, each element centred by its own mean over clips and frames. For a stationary AR(1) it is ρ^ℓ.
    public static func correlation(_ clips: Tensor, lag ℓ: Int = 1) -> Double {
        let (n, f, d) = dimensions(clips, minFrames: ℓ + 1)
        precondition(ℓ >= 1, "TemporalConsistency.correlation needs a lag ≥ 1")
        let v = clips.scalars.map(Double.init)
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for k in 0..<f { for p in 0..<d { mean[p] += v[(i * f + k) * d + p] } } }
        for p in 0..<d { mean[p] /= Double(n * f) }
        var (sab, saa, sbb) = (0.0, 0.0, 0.0)
        for i in 0..<n {
            for k in 0..<(f - ℓ) {
                for p in 0..<d {
                    let a = v[(i * f + k) * d + p] - mean[p], b = v[(i * f + k + ℓ) * d + p] - mean[p]
                    sab += a * b; saa += a * a; sbb += b * b
                }
            }
        }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : 0
    }

    static func dimensions(_ clips: Tensor, minFrames: Int) -> (Int, Int, Int) {
        precondition(clips.rank >= 2 && clips.shape[1] >= minFrames && clips.shape[0] >= 1,
                     "TemporalConsistency expects clips [n, f ≥ \(minFrames), …], got \(clips.shape)")
        return (clips.shape[0], clips.shape[1], clips.count / (clips.shape[0] * clips.shape[1]))
    }
}
