import CKernels

extension Op {
    static let gather = Op("gather"), scatterAdd = Op("scatterAdd"), indexSelect = Op("indexSelect")
    /// oneHot records nothing, so it has no op.
    static let indexOps: [Op] = [.gather, .scatterAdd, .indexSelect]
}

extension Tensor {
    /// Stops unless every value of the contiguous `idx` is an integer in 0..<limit, naming the first bad one.
    static func checkIndices(_ idx: Tensor, limit: Int, _ what: @autoclosure () -> String) {
        let bad = withExtendedLifetime(idx) { dl_index_check(idx.count, idx.pointer, limit) }
        guard bad >= 0 else { return }
        var pos = [Int](repeating: 0, count: idx.rank), r = bad
        for d in stride(from: idx.rank - 1, through: 0, by: -1) {
            pos[d] = r % idx.shape[d]
            r /= idx.shape[d]
        }
        preconditionFailure("\(what()): index \(idx.pointer[bad]) at position \(pos) of the indices (shape \(idx.shape)) is not an integer in 0..<\(limit)")
    }

    /// torch.gather without checks or autograd: `x` in any layout, `idx` contiguous and validated.
    static func gatherKernel(_ x: Tensor, _ a: Int, _ idx: Tensor) -> Tensor {
        let out = Tensor(uninitialized: idx.shape)
        if out.count == 0 { return out }
        withExtendedLifetime((x, idx)) {
            dl_gather(Int32(idx.rank), idx.shape, Int32(a), x.pointer, x.strides, idx.pointer, out.pointer)
        }
        return out
    }

    /// A contiguous tensor of `shape` equal to `base` (zeros when nil) with `src` scatter-added along `a`.
    static func scatterAddKernel(base: Tensor?, shape: [Int], _ a: Int, _ idx: Tensor, _ src: Tensor) -> Tensor {
        var out: Tensor
        if let base {
            out = Tensor(uninitialized: shape)
            out.copyStrided(from: base)
        } else {
            out = Tensor.zeros(shape)
        }
        if idx.count == 0 { return out }
        withExtendedLifetime((src, idx)) {
            dl_scatter_add(Int32(idx.rank), idx.shape, Int32(a), src.pointer, src.strides, idx.pointer, out.pointer, out.strides)
        }
        return out
    }

    /// Picks entries along `axis` by index (`torch.gather`); for axis 1 of a rank-3 tensor,
    /// `out[i][j][k] = self[i][indices[i][j][k]][k]`. `indices` holds integers (as Float), has the input's rank
    /// and is no larger than the input off `axis`; the output takes its shape. The gradient is scattered back,
    /// adding up where an index repeats.
    public func gather(axis: Int, indices: Tensor) -> Tensor {
        let a = Shape.axis(axis, rank: rank, "gather axis")
        precondition(indices.rank == rank, "gather: indices of shape \(indices.shape) must have the rank of the input, shape \(shape)")
        precondition(rank <= 16, "gather supports tensors of rank ≤ 16, got shape \(shape)")
        if rank == 0 { return reshaped([1]).gather(axis: 0, indices: indices.reshaped([1])).reshaped([]) }
        for d in 0..<rank where d != a {
            precondition(indices.shape[d] <= shape[d],
                         "gather along axis \(axis): indices of shape \(indices.shape) are larger than the input, shape \(shape), on axis \(d)")
        }
        let idx = indices.detached().contiguous()
        Tensor.checkIndices(idx, limit: shape[a], "gather along axis \(axis) of shape \(shape)")
        let out = Tensor.gatherKernel(detached(), a, idx)
        let xShape = shape
        return Tensor.record(.gather, out, [self]) { g in [Tensor.scatterAddKernel(base: nil, shape: xShape, a, idx, g)] }
    }

    /// `self` with `source` added at indexed positions along `axis` (out-of-place `torch.scatter_add`); for
    /// axis 0 of a matrix, `out[indices[i][j]][j] += source[i][j]`. Repeated indices accumulate. `indices` and
    /// `source` have the input's rank; `indices` is no larger than `source` on any axis, nor than the input off
    /// `axis`, and entries of `source` beyond its shape are ignored. Differentiable in `self` and `source`.
    public func scatterAdd(axis: Int, indices: Tensor, source: Tensor) -> Tensor {
        let a = Shape.axis(axis, rank: rank, "scatterAdd axis")
        precondition(indices.rank == rank && source.rank == rank,
                     "scatterAdd: input \(shape), indices \(indices.shape) and source \(source.shape) must have the same rank")
        precondition(rank <= 16, "scatterAdd supports tensors of rank ≤ 16, got shape \(shape)")
        if rank == 0 {
            return reshaped([1]).scatterAdd(axis: 0, indices: indices.reshaped([1]), source: source.reshaped([1])).reshaped([])
        }
        for d in 0..<rank {
            precondition(indices.shape[d] <= source.shape[d] && (d == a || indices.shape[d] <= shape[d]),
                         "scatterAdd along axis \(axis): indices of shape \(indices.shape) are larger than the source \(source.shape) or the input \(shape) on axis \(d)")
        }
        let idx = indices.detached().contiguous()
        Tensor.checkIndices(idx, limit: shape[a], "scatterAdd along axis \(axis) of shape \(shape)")
        let out = Tensor.scatterAddKernel(base: detached(), shape: shape, a, idx, source.detached())
        let (needSelf, needSource, sourceShape) = (node != nil, source.node != nil, source.shape)
        return Tensor.record(.scatterAdd, out, [self, source]) { g in
            var gs: Tensor?
            if needSource {
                let picked = Tensor.gatherKernel(g, a, idx)
                gs = picked.shape == sourceShape
                    ? picked : picked.padKernel(zip(picked.shape, sourceShape).map { (0, $1 - $0) }, 0)
            }
            return [needSelf ? g : nil, gs]
        }
    }

    /// The entries at `indices` along `axis`, in that order (`torch.index_select`); indices may repeat.
    /// `indices` is a rank-0 or rank-1 tensor of integers (as Float). Gradients add up at repeated indices.
    public func indexSelect(axis: Int, indices: Tensor) -> Tensor {
        precondition(rank > 0, "indexSelect needs a tensor of rank ≥ 1, got a scalar")
        let a = Shape.axis(axis, rank: rank, "indexSelect axis")
        precondition(indices.rank <= 1, "indexSelect: indices must have rank 0 or 1, got shape \(indices.shape)")
        let idx = indices.detached().contiguous()
        Tensor.checkIndices(idx, limit: shape[a], "indexSelect along axis \(axis) of shape \(shape)")
        let x = detached().contiguous()
        let (o, n, i) = axisSplit(a)
        let k = idx.count
        var outShape = shape
        outShape[a] = k
        let out = Tensor(uninitialized: outShape)
        withExtendedLifetime((x, idx)) { dl_index_select(o, n, i, x.pointer, k, idx.pointer, out.pointer) }
        let xShape = shape
        return Tensor.record(.indexSelect, out, [self]) { g in
            let gc = g.contiguous()
            let gx = Tensor.zeros(xShape)
            withExtendedLifetime((gc, idx)) { dl_index_add(o, n, i, gx.pointer, k, idx.pointer, gc.pointer) }
            return [gx]
        }
    }

    /// The entries at `indices` along `axis`, in that order; negative indices count from the end.
    public func indexSelect(axis: Int, indices: [Int]) -> Tensor {
        precondition(rank > 0, "indexSelect needs a tensor of rank ≥ 1, got a scalar")
        let n = size(axis)
        let values = indices.map { i -> Float in
            precondition(i >= -n && i < n, "indexSelect: index \(i) is out of range for axis \(axis) of shape \(shape)")
            return Float(i < 0 ? i + n : i)
        }
        return indexSelect(axis: axis, indices: Tensor(values))
    }

    /// One-hot encoding: shape `labels.shape + [classes]`, 1 at each label's class and 0 elsewhere. Labels are
    /// integers in 0..<classes (as Float). The output does not vary smoothly with the labels, so it records nothing.
    public static func oneHot(_ labels: Tensor, classes: Int) -> Tensor {
        precondition(classes > 0, "oneHot needs a positive number of classes, got \(classes)")
        let l = labels.detached().contiguous()
        checkIndices(l, limit: classes, "oneHot with \(classes) classes")
        let out = Tensor(uninitialized: labels.shape + [classes])
        if out.count > 0 { withExtendedLifetime(l) { dl_one_hot(l.count, classes, l.pointer, out.pointer) } }
        return out
    }
}
