import CKernels

extension Tensor {
    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        let t = Tensor(uninitialized: shape)
        dl_fill(t.count, t.pointer, value)
        return t
    }
    public static func zeros(_ shape: [Int]) -> Tensor { full(shape, 0) }
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }
    public static func zeros(like t: Tensor) -> Tensor { full(t.shape, 0) }
    public static func ones(like t: Tensor) -> Tensor { full(t.shape, 1) }

    /// start, start+step, … below `end` (like `torch.arange`).
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0, "arange step must not be zero")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor((0..<n).map { start + Float($0) * step })
    }

    /// `count` evenly spaced values from `start` to `end` inclusive, computed in Double.
    public static func linspace(_ start: Float, _ end: Float, count: Int) -> Tensor {
        precondition(count >= 0, "linspace count must be non-negative, got \(count)")
        if count == 1 { return Tensor([start]) }
        let (a, b) = (Double(start), Double(end))
        return Tensor((0..<count).map { i in
            i == count - 1 ? end : Float(a + (b - a) * Double(i) / Double(count - 1))
        })
    }

    /// The n×n identity.
    public static func eye(_ n: Int) -> Tensor {
        let t = zeros([n, n])
        for i in 0..<n { t.pointer[i * n + i] = 1 }
        return t
    }
}
