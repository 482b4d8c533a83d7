import CKernels

extension Op {
    static let sum = Op("sum"), max = Op("max"), min = Op("min"), softmax = Op("softmax"), logSoftmax = Op("logSoftmax")
    static let cumsum = Op("cumsum"), cumprod = Op("cumprod")
    static let reductionOps: [Op] = [.sum, .max, .min, .softmax, .logSoftmax, .cumsum, .cumprod, .groupNorm]
}

extension Tensor {
    /// Splits the shape around `axis` into (outer, n, inner) for the axis kernels.
    func axisSplit(_ a: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }

    func reducedShape(_ a: Int, keepDims: Bool) -> [Int] {
        var s = shape
        if keepDims { s[a] = 1 } else { s.remove(at: a) }
        return s
    }

    /// Sum of all elements (rank-0 result).
    public func sum() -> Tensor {
        let x = detached().contiguous()
        let out = Tensor(scalar: Float(dl_sum_all(x.count, x.pointer)))
        let s = shape
        return Tensor.record(.sum, out, [self]) { g in [g.reshaped([]).expanded(to: s)] }
    }

    /// Sum along one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        let x = detached().contiguous()
        let (o, n, i) = axisSplit(a)
        let out = Tensor(uninitialized: reducedShape(a, keepDims: keepDims))
        dl_reduce(Int32(DL_RSUM.rawValue), o, n, i, x.pointer, out.pointer)
        let s = shape, kept = reducedShape(a, keepDims: true)
        return Tensor.record(.sum, out, [self]) { g in [g.reshaped(kept).expanded(to: s)] }
    }

    /// Sum along several axes.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let sorted = Set(axes.map { Shape.axis($0, rank: rank) }).sorted(by: >)
        var r = self
        for a in sorted { r = r.sum(axis: a, keepDims: true) }
        return keepDims ? r : r.reshaped(shape.enumerated().filter { !sorted.contains($0.offset) }.map(\.element))
    }

    public func mean() -> Tensor { count == 0 ? Tensor(scalar: .nan) : sum() / Float(count) }
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { sum(axis: axis, keepDims: keepDims) / Float(size(axis)) }
    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        let n = Set(axes.map { Shape.axis($0, rank: rank) }).reduce(1) { $0 * shape[$1] }
        return sum(axes: axes, keepDims: keepDims) / Float(n)
    }

    /// Variance along an axis; `correction` 1 gives the unbiased estimate (PyTorch's default), 0 the population one.
    public func variance(axis: Int, keepDims: Bool = false, correction: Int = 1) -> Tensor {
        let d = self - mean(axis: axis, keepDims: true)
        return d.square().sum(axis: axis, keepDims: keepDims) / Float(size(axis) - correction)
    }

    /// Variance over several axes (e.g. the group axes of GroupNorm).
    public func variance(axes: [Int], keepDims: Bool = false, correction: Int = 0) -> Tensor {
        let n = Set(axes.map { Shape.axis($0, rank: rank) }).reduce(1) { $0 * shape[$1] }
        let d = self - mean(axes: axes, keepDims: true)
        return d.square().sum(axes: axes, keepDims: keepDims) / Float(n - correction)
    }

    func extremum(axis: Int, keepDims: Bool, min: Bool) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        precondition(shape[a] > 0, "\(min ? "min" : "max") over an empty axis of shape \(shape)")
        let x = detached().contiguous()
        let (o, n, i) = axisSplit(a)
        let kept = reducedShape(a, keepDims: true)
        let out = Tensor(uninitialized: reducedShape(a, keepDims: keepDims))
        dl_reduce(Int32((min ? DL_RMIN : DL_RMAX).rawValue), o, n, i, x.pointer, out.pointer)
        let outKept = out.reshaped(kept)
        return Tensor.record(min ? .min : .max, out, [self]) { g in
            // Ties share the gradient equally.
            let mask = x .== outKept
            return [g.reshaped(kept) * mask / mask.sum(axis: a, keepDims: true)]
        }
    }

    public func max(axis: Int, keepDims: Bool = false) -> Tensor { extremum(axis: axis, keepDims: keepDims, min: false) }
    public func min(axis: Int, keepDims: Bool = false) -> Tensor { extremum(axis: axis, keepDims: keepDims, min: true) }
    public func max() -> Tensor { reshaped([-1]).max(axis: 0) }
    public func min() -> Tensor { reshaped([-1]).min(axis: 0) }

    /// Index of the largest value along `axis` (first on ties), as Float; records nothing.
    public func argmax(axis: Int, keepDims: Bool = false) -> Tensor { argExtremum(axis, keepDims, min: false) }
    public func argmin(axis: Int, keepDims: Bool = false) -> Tensor { argExtremum(axis, keepDims, min: true) }

    func argExtremum(_ axis: Int, _ keepDims: Bool, min: Bool) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        precondition(shape[a] > 0, "argmax over an empty axis of shape \(shape)")
        let x = detached().contiguous()
        let (o, n, i) = axisSplit(a)
        let out = Tensor(uninitialized: reducedShape(a, keepDims: keepDims))
        dl_argreduce(min ? 1 : 0, o, n, i, x.pointer, out.pointer)
        return out
    }

    /// log Σ exp along an axis, computed stably.
    public func logsumexp(axis: Int, keepDims: Bool = false) -> Tensor {
        let m = detached().max(axis: axis, keepDims: true)
        let r = (self - m).exp().sum(axis: axis, keepDims: true).log() + m
        return keepDims ? r : r.squeezed(Shape.axis(axis, rank: rank))
    }

    func softmaxKernel(axis: Int, log: Bool) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        let x = detached().contiguous()
        let (o, n, i) = axisSplit(a)
        let out = Tensor(uninitialized: shape)
        dl_softmax(log ? 1 : 0, o, n, i, x.pointer, out.pointer)
        let y = out.detached()
        return Tensor.record(log ? .logSoftmax : .softmax, out, [self]) { g in
            let gc = g.contiguous()
            let gx = Tensor(uninitialized: gc.shape)
            dl_softmax_backward(log ? 1 : 0, o, n, i, y.pointer, gc.pointer, gx.pointer)
            return [gx]
        }
    }

    public func softmax(axis: Int = -1) -> Tensor { softmaxKernel(axis: axis, log: false) }
    public func logSoftmax(axis: Int = -1) -> Tensor { softmaxKernel(axis: axis, log: true) }

    /// Inclusive cumulative sum along an axis.
    public func cumsum(axis: Int) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        let x = detached().contiguous()
        let (o, n, i) = axisSplit(a)
        let out = Tensor(uninitialized: shape)
        dl_scan(0, 0, o, n, i, x.pointer, out.pointer)
        return Tensor.record(.cumsum, out, [self]) { g in
            let gc = g.contiguous()
            let gx = Tensor(uninitialized: gc.shape)
            dl_scan(0, 1, o, n, i, gc.pointer, gx.pointer)
            return [gx]
        }
    }

    /// Inclusive cumulative product along an axis. Its gradient divides by x, so it needs x ≠ 0.
    public func cumprod(axis: Int) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        let x = detached().contiguous()
        let (o, n, i) = axisSplit(a)
        let out = Tensor(uninitialized: shape)
        dl_scan(1, 0, o, n, i, x.pointer, out.pointer)
        let y = out.detached()
        return Tensor.record(.cumprod, out, [self]) { g in
            // ∂L/∂x_k = Σ_{j≥k} g_j y_j / x_k
            let gy = (g * y).contiguous()
            let rev = Tensor(uninitialized: gy.shape)
            dl_scan(0, 1, o, n, i, gy.pointer, rev.pointer)
            return [rev / x]
        }
    }
}
