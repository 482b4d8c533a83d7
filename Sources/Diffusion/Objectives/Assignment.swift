import DiffusionEngine

/// The linear assignment problem: a permutation π minimising Σ_i cost[i][π(i)] for a square cost matrix.
///
/// The Hungarian method with row/column potentials and shortest augmenting paths (Kuhn 1955; Munkres 1957; the
/// O(n³) form of Jonker & Volgenant 1987). Exact, in Double. Used for minibatch optimal-transport couplings.
public enum Assignment {
    /// π with π[i] the column assigned to row i.
    public static func solve(_ cost: [[Double]]) -> [Int] {
        let n = cost.count
        precondition(cost.allSatisfy { $0.count == n }, "assignment needs a square cost matrix")
        if n == 0 { return [] }
        // 1-based arrays as in the classical formulation; column 0 is a virtual start.
        var u = [Double](repeating: 0, count: n + 1), v = u
        var match = [Int](repeating: 0, count: n + 1)        // match[j] = row assigned to column j
        var way = [Int](repeating: 0, count: n + 1)
        for i in 1...n {
            match[0] = i
            var j0 = 0
            var minv = [Double](repeating: .infinity, count: n + 1)
            var used = [Bool](repeating: false, count: n + 1)
            repeat {
                used[j0] = true
                let i0 = match[j0]
                var delta = Double.infinity, j1 = 0
                for j in 1...n where !used[j] {
                    let cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j] { minv[j] = cur; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...n {
                    if used[j] { u[match[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while match[j0] != 0
            repeat {
                let j1 = way[j0]
                match[j0] = match[j1]
                j0 = j1
            } while j0 != 0
        }
        var π = [Int](repeating: 0, count: n)
        for j in 1...n { π[match[j] - 1] = j - 1 }
        return π
    }

    /// Total cost of an assignment.
    public static func cost(_ cost: [[Double]], _ π: [Int]) -> Double {
        π.enumerated().reduce(0) { $0 + cost[$1.offset][$1.element] }
    }

    /// Squared Euclidean costs between the rows of a and b (rows = samples, the rest flattened).
    public static func squaredDistances(_ a: Tensor, _ b: Tensor) -> [[Double]] {
        let (n, m) = (a.shape[0], b.shape[0])
        let d = a.count / Swift.max(n, 1)
        let x = a.scalars.map(Double.init), y = b.scalars.map(Double.init)
        return (0..<n).map { i in
            (0..<m).map { k in
                var s = 0.0
                for j in 0..<d { let t = x[i * d + j] - y[k * d + j]; s += t * t }
                return s
            }
        }
    }
}
