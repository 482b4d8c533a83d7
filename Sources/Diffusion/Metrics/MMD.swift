import Foundation
import DiffusionEngine

extension Metrics {
    /// Default RBF bandwidths for data of unit scale.
    public static let defaultBandwidths: [Double] = [0.05, 0.1, 0.2, 0.5, 1, 2]

    /// The squared maximum mean discrepancy (Gretton et al. 2012, JMLR 13) with the kernel
    /// k(x, y) = Σ_h exp(−‖x − y‖²/(2h²)), a sum of RBF kernels so that no single bandwidth has to fit every scale.
    /// Unbiased (U-statistic, diagonal terms left out; may be slightly negative) or biased (V-statistic, ≥ 0).
    /// In Double, O(n·m·d) per bandwidth.
    public static func mmd(_ a: Tensor, _ b: Tensor, bandwidths: [Double] = defaultBandwidths, unbiased: Bool = true) -> Double {
        let d = a.rank > 1 ? a.count / a.shape[0] : 1
        precondition((b.rank > 1 ? b.count / b.shape[0] : 1) == d, "samples of different dimension: \(a.shape), \(b.shape)")
        precondition(!bandwidths.isEmpty && bandwidths.allSatisfy { $0 > 0 }, "bandwidths must be positive")
        let x = a.scalars.map(Double.init), y = b.scalars.map(Double.init)
        let (n, m) = (x.count / d, y.count / d)
        precondition(!unbiased || (n >= 2 && m >= 2), "the unbiased MMD needs at least two samples on each side")
        let scales = bandwidths.map { -1 / (2 * $0 * $0) }
        func kernelSum(_ p: [Double], _ q: [Double], skipDiagonal: Bool) -> Double {
            let (np, nq) = (p.count / d, q.count / d)
            var total = 0.0
            for i in 0..<np {
                for k in 0..<nq where !(skipDiagonal && i == k) {
                    var s = 0.0
                    for j in 0..<d { let t = p[i * d + j] - q[k * d + j]; s += t * t }
                    for c in scales { total += exp(c * s) }
                }
            }
            return total
        }
        let xx = kernelSum(x, x, skipDiagonal: unbiased) / Double(unbiased ? n * (n - 1) : n * n)
        let yy = kernelSum(y, y, skipDiagonal: unbiased) / Double(unbiased ? m * (m - 1) : m * m)
        return xx + yy - 2 * kernelSum(x, y, skipDiagonal: false) / Double(n * m)
    }
}
