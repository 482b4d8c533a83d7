/// Shape arithmetic shared by every op: strides, broadcasting, axis normalisation.
public enum Shape {
    /// Row-major strides for a contiguous tensor.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = s
            s *= shape[d]
        }
        return strides
    }

    public static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// NumPy broadcasting of two shapes; a mismatch names both shapes.
    public static func broadcast(_ a: [Int], _ b: [Int], _ what: String = "broadcast") -> [Int] {
        let n = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            guard da == db || da == 1 || db == 1 else {
                preconditionFailure("\(what): shapes \(a) and \(b) cannot be broadcast together (dimension \(i): \(da) vs \(db))")
            }
            out[i] = da == 1 ? db : da
        }
        return out
    }

    /// Normalises a possibly negative axis against a rank.
    public static func axis(_ axis: Int, rank: Int, _ what: String = "axis") -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < Swift.max(rank, 1), "\(what) \(axis) is out of range for a tensor of rank \(rank)")
        return a
    }

    /// Merges adjacent dimensions that are contiguous in every operand, so kernels loop over fewer axes.
    /// Size-1 dimensions are dropped; the result has rank ≥ 1.
    static func coalesce(_ shape: [Int], _ strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
        var outShape: [Int] = []
        var outStrides = strides.map { _ in [Int]() }
        for d in shape.indices where shape[d] != 1 {
            if !outShape.isEmpty, strides.indices.allSatisfy({ outStrides[$0].last! == strides[$0][d] * shape[d] }) {
                outShape[outShape.count - 1] *= shape[d]
                for k in strides.indices { outStrides[k][outStrides[k].count - 1] = strides[k][d] }
            } else {
                outShape.append(shape[d])
                for k in strides.indices { outStrides[k].append(strides[k][d]) }
            }
        }
        if outShape.isEmpty { return ([1], strides.map { _ in [1] }) }
        return (outShape, outStrides)
    }
}
