import Foundation

/// Eigen-decomposition A = V·diag(λ)·Vᵀ of a real symmetric matrix by the cyclic Jacobi method (in Double):
/// rotations zero each off-diagonal entry in turn until the off-diagonal mass is negligible. O(n³) per sweep and
/// quadratically convergent; fine up to a few hundred dimensions.
public struct SymmetricEigen: Sendable {
    public let size: Int
    /// Eigenvalues in ascending order.
    public let values: [Double]
    /// Eigenvectors as the columns of a row-major n×n matrix: vectors[i·n + k] is component i of vector k.
    public let vectors: [Double]
    /// Sweeps used.
    public let sweeps: Int

    /// Decomposes the row-major n×n `matrix` (symmetrised as (A + Aᵀ)/2 first).
    public init(_ matrix: [Double], size n: Int, tolerance: Double = 1e-12, maxSweeps: Int = 60) {
        precondition(matrix.count == n * n, "SymmetricEigen: \(matrix.count) entries for a \(n)×\(n) matrix")
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { a[i * n + j] = 0.5 * (matrix[i * n + j] + matrix[j * n + i]) } }
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        let total = a.reduce(0) { $0 + $1 * $1 }
        var sweep = 0
        a.withUnsafeMutableBufferPointer { a in
            v.withUnsafeMutableBufferPointer { v in
                while sweep < maxSweeps {
                    var off = 0.0
                    for p in 0..<n { for q in (p + 1)..<Swift.max(n, p + 1) { off += 2 * a[p * n + q] * a[p * n + q] } }
                    if off <= tolerance * tolerance * total || off == 0 { break }
                    sweep += 1
                    for p in 0..<n {
                        for q in (p + 1)..<Swift.max(n, p + 1) {
                            let apq = a[p * n + q]
                            if apq == 0 { continue }
                            // Rotation by t = tan φ, the smaller root of t² + 2θt − 1 = 0, which zeroes a[p][q].
                            let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                            let t = (theta >= 0 ? 1.0 : -1.0) / (Swift.abs(theta) + (theta * theta + 1).squareRoot())
                            let c = 1 / (t * t + 1).squareRoot(), s = t * c
                            for k in 0..<n {  // columns p, q of A·J
                                let (x, y) = (a[k * n + p], a[k * n + q])
                                a[k * n + p] = c * x - s * y
                                a[k * n + q] = s * x + c * y
                            }
                            for k in 0..<n {  // rows p, q of Jᵀ·(A·J)
                                let (x, y) = (a[p * n + k], a[q * n + k])
                                a[p * n + k] = c * x - s * y
                                a[q * n + k] = s * x + c * y
                            }
                            a[p * n + q] = 0
                            a[q * n + p] = 0
                            for k in 0..<n {
                                let (x, y) = (v[k * n + p], v[k * n + q])
                                v[k * n + p] = c * x - s * y
                                v[k * n + q] = s * x + c * y
                            }
                        }
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0 * n + $0] < a[$1 * n + $1] }
        size = n
        sweeps = sweep
        values = order.map { a[$0 * n + $0] }
        var sorted = [Double](repeating: 0, count: n * n)
        for (k, src) in order.enumerated() { for i in 0..<n { sorted[i * n + k] = v[i * n + src] } }
        vectors = sorted
    }

    /// V·diag(f(λ))·Vᵀ (row-major), e.g. the square root of a positive semi-definite matrix.
    public func apply(_ f: (Double) -> Double) -> [Double] {
        let n = size, fl = values.map(f)
        var out = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in i..<n {
                var s = 0.0
                for k in 0..<n { s += vectors[i * n + k] * fl[k] * vectors[j * n + k] }
                out[i * n + j] = s
                out[j * n + i] = s
            }
        }
        return out
    }
}
