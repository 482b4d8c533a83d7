import DiffusionEngine

extension Metrics {
    /// Improved precision and recall (Kynkäänniemi et al. 2019, arXiv 1904.06991). Each sample set stands for the
    /// union of balls around its points, the radius of a point's ball being the distance to its k-th nearest
    /// neighbour within the same set. Precision is the fraction of generated points inside the real set's union
    /// (are the samples plausible?), recall the fraction of real points inside the generated set's union (is all of
    /// the data covered?). Rows are samples, the rest flattened; O(n·m·d) in Double.
    public static func precisionRecall(real: Tensor, generated: Tensor, k: Int = 3) -> (precision: Double, recall: Double) {
        (coverage(of: generated, by: real, k: k), coverage(of: real, by: generated, k: k))
    }

    /// The fraction of the rows of `query` that lie within the k-nearest-neighbour ball of some row of `support`.
    public static func coverage(of query: Tensor, by support: Tensor, k: Int = 3) -> Double {
        let d = support.rank > 1 ? support.count / support.shape[0] : 1
        precondition((query.rank > 1 ? query.count / query.shape[0] : 1) == d, "samples of different dimension: \(query.shape), \(support.shape)")
        let s = support.scalars.map(Double.init), q = query.scalars.map(Double.init)
        let (n, m) = (s.count / d, q.count / d)
        precondition(k >= 1 && n > k, "coverage needs k ≥ 1 and more than k support points (k = \(k), \(n) points)")
        guard m > 0 else { return 0 }
        return s.withUnsafeBufferPointer { sp in
            q.withUnsafeBufferPointer { qp in
                func distance2(_ a: UnsafeBufferPointer<Double>, _ i: Int, _ b: UnsafeBufferPointer<Double>, _ j: Int) -> Double {
                    var t = 0.0
                    for c in 0..<d { let e = a[i * d + c] - b[j * d + c]; t += e * e }
                    return t
                }
                // Squared radius of every support point: its k-th smallest squared distance to the others.
                var radius2 = [Double](repeating: 0, count: n)
                var best = [Double](repeating: .infinity, count: k)
                for i in 0..<n {
                    for c in 0..<k { best[c] = .infinity }
                    for j in 0..<n where j != i {
                        let t = distance2(sp, i, sp, j)
                        if t < best[k - 1] {
                            var c = k - 1
                            while c > 0 && best[c - 1] > t { best[c] = best[c - 1]; c -= 1 }
                            best[c] = t
                        }
                    }
                    radius2[i] = best[k - 1]
                }
                var inside = 0
                for i in 0..<m {
                    for j in 0..<n where distance2(qp, i, sp, j) <= radius2[j] { inside += 1; break }
                }
                return Double(inside) / Double(m)
            }
        }
    }
}
