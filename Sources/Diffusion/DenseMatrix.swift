/// Small dense linear algebra on `[[Double]]` (row-major) for the closed-form Gaussian references: a few dozen
/// dimensions at most, so plain loops in Double.
enum DenseMatrix {
    /// L lower triangular with LLᵀ = M for a symmetric positive (semi)definite M. Strict (`semidefinite` false): every
    /// pivot must be positive, else the precondition names `owner`. Semidefinite: a pivot below 1e-10·max diag(M)
    /// (zero up to rounding) gives a zero column; a clearly negative one fails.
    static func cholesky(_ M: [[Double]], semidefinite: Bool = false, owner: String) -> [[Double]] {
        let n = M.count
        let tol = semidefinite ? 1e-10 * Swift.max(M.indices.map { M[$0][$0] }.max() ?? 0, Double.leastNormalMagnitude) : 0
        var L = Array(repeating: Array(repeating: 0.0, count: n), count: n)
        for j in 0..<n {
            var s = M[j][j]
            for k in 0..<j { s -= L[j][k] * L[j][k] }
            if semidefinite {
                precondition(s > -1e-6 * Swift.max(1, M[j][j]), "\(owner): the covariance is not positive semidefinite")
                guard s > tol else { continue }
            } else {
                precondition(s > 0, "\(owner): the matrix is not positive definite")
            }
            L[j][j] = s.squareRoot()
            for i in (j + 1)..<Swift.max(n, j + 1) {
                var t = M[i][j]
                for k in 0..<j { t -= L[i][k] * L[j][k] }
                L[i][j] = t / L[j][j]
            }
        }
        return L
    }

    /// X = M⁻¹·B for a symmetric positive definite M (Cholesky M = LLᵀ, then two triangular solves per column of B).
    static func choleskySolve(_ M: [[Double]], _ B: [[Double]], owner: String) -> [[Double]] {
        let n = M.count
        let L = cholesky(M, owner: owner)
        let m = B[0].count
        var X = B
        for c in 0..<m {
            for i in 0..<n {          // L·y = b
                var t = X[i][c]
                for k in 0..<i { t -= L[i][k] * X[k][c] }
                X[i][c] = t / L[i][i]
            }
            for i in stride(from: n - 1, through: 0, by: -1) {      // Lᵀ·x = y
                var t = X[i][c]
                for k in (i + 1)..<Swift.max(n, i + 1) { t -= L[k][i] * X[k][c] }
                X[i][c] = t / L[i][i]
            }
        }
        return X
    }

    static func transpose(_ M: [[Double]]) -> [[Double]] {
        guard let c = M.first?.count else { return [] }
        return (0..<c).map { j in M.map { $0[j] } }
    }

    static func product(_ A: [[Double]], _ B: [[Double]]) -> [[Double]] {
        let (m, k, n) = (A.count, B.count, B.first?.count ?? 0)
        return (0..<m).map { i in (0..<n).map { j in (0..<k).reduce(0.0) { $0 + A[i][$1] * B[$1][j] } } }
    }
}
