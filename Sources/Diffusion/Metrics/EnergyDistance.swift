import DiffusionEngine

/// Sample-quality metrics that need no network.
public enum Metrics {
    /// The energy distance (Székely & Rizzo 2013) between two samples (rows = samples, the rest flattened):
    /// 2·E‖X − Y‖ − E‖X − X′‖ − E‖Y − Y′‖, as a V-statistic (all pairs, including i = j), so it is non-negative.
    /// Two independent samples of size n from the same law give ≈ E‖X − X′‖/n: compare against that floor at equal
    /// sizes. Computed in Double, O(n·m·d).
    public static func energyDistance(_ a: Tensor, _ b: Tensor) -> Double {
        let d = a.rank > 1 ? a.count / a.shape[0] : 1
        precondition((b.rank > 1 ? b.count / b.shape[0] : 1) == d, "samples of different dimension: \(a.shape), \(b.shape)")
        let x = a.scalars.map(Double.init), y = b.scalars.map(Double.init)
        return 2 * meanDistance(x, y, d) - meanDistance(x, x, d) - meanDistance(y, y, d)
    }

    /// Mean Euclidean distance over all pairs of rows of x and y.
    static func meanDistance(_ x: [Double], _ y: [Double], _ d: Int) -> Double {
        let (n, m) = (x.count / d, y.count / d)
        var total = 0.0
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                for i in 0..<n {
                    var row = 0.0
                    for k in 0..<m {
                        var s = 0.0
                        for j in 0..<d { let t = xp[i * d + j] - yp[k * d + j]; s += t * t }
                        row += s.squareRoot()
                    }
                    total += row
                }
            }
        }
        return total / Double(n * m)
    }
}
