import CKernels
extension Op {
    static let reshape = Op("reshape"), permute = Op("permute"), expand = Op("expand"), slice = Op("slice")
}

extension Tensor {
    /// The same values in a new shape; one dimension may be -1. A view when the layout allows, else a copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let i = target.firstIndex(of: -1) {
            let known = target.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            target[i] = count / known
        }
        precondition(Shape.count(target) == count && target.allSatisfy { $0 >= 0 },
                     "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        if target == shape { return self }
        // Adding or removing size-1 axes never needs a copy.
        if target.filter({ $0 != 1 }) == shape.filter({ $0 != 1 }) {
            let kept = shape.indices.filter { shape[$0] != 1 }.map { strides[$0] }
            var k = 0
            var st = [Int](repeating: 0, count: target.count)
            for d in target.indices {
                if target[d] != 1 { st[d] = kept[k]; k += 1 } else { st[d] = 1 }
            }
            let out = Tensor(storage: storage, shape: target, strides: st, offset: offset)
            let old = shape
            return Tensor.record(.reshape, out, [self]) { g in [g.reshaped(old)] }
        }
        let src = contiguous()
        let out = Tensor(storage: src.storage, shape: target, strides: Shape.contiguousStrides(target), offset: src.offset)
        let old = shape
        return Tensor.record(.reshape, out, [src]) { g in [g.reshaped(old)] }
    }

    /// Flattens dimensions `start...end` into one.
    public func flattened(from start: Int = 0, through end: Int = -1) -> Tensor {
        let s = Shape.axis(start, rank: rank), e = Shape.axis(end, rank: rank)
        guard rank > 0, s < e else { return rank == 0 ? reshaped([1]) : self }
        return reshaped(Array(shape[..<s]) + [shape[s...e].reduce(1, *)] + Array(shape[(e + 1)...]))
    }

    /// Reorders dimensions (a view): `permuted([0, 2, 1])` swaps the last two axes of a rank-3 tensor.
    public func permuted(_ order: [Int]) -> Tensor {
        let axes = order.map { Shape.axis($0, rank: rank, "permutation axis") }
        precondition(axes.count == rank && Set(axes).count == rank, "\(order) is not a permutation of the \(rank) axes of \(shape)")
        if axes == Array(0..<rank) { return self }
        let out = Tensor(storage: storage, shape: axes.map { shape[$0] }, strides: axes.map { strides[$0] }, offset: offset)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        return Tensor.record(.permute, out, [self]) { g in [g.permuted(inverse)] }
    }

    /// Swaps two axes (a view). Defaults to the last two, the matrix transpose.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        let (x, y) = (Shape.axis(a, rank: rank), Shape.axis(b, rank: rank))
        var order = Array(0..<rank)
        order.swapAt(x, y)
        return permuted(order)
    }

    /// Broadcasts to `target` without copying (size-1 axes get stride 0).
    public func expanded(to target: [Int]) -> Tensor {
        if target == shape { return self }
        let full = Shape.broadcast(shape, target, "expand")
        precondition(full == target, "cannot expand shape \(shape) to \(target)")
        let out = Tensor(storage: storage, shape: target, strides: broadcastStrides(to: target), offset: offset)
        let old = shape
        return Tensor.record(.expand, out, [self]) { g in [g.sum(toShape: old)] }
    }

    /// Inserts a size-1 axis at `axis` (which may equal the rank).
    public func unsqueezed(_ axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        precondition(a >= 0 && a <= rank, "unsqueeze axis \(axis) out of range for rank \(rank)")
        var s = shape
        s.insert(1, at: a)
        return reshaped(s)
    }

    /// Removes size-1 axes (all of them, or the one given).
    public func squeezed(_ axis: Int? = nil) -> Tensor {
        if let axis {
            let a = Shape.axis(axis, rank: rank)
            precondition(shape[a] == 1, "cannot squeeze axis \(axis) of size \(shape[a]) in shape \(shape)")
            var s = shape
            s.remove(at: a)
            return reshaped(s)
        }
        return reshaped(shape.filter { $0 != 1 })
    }

    /// Elements start..<end (step `step` > 0) along `axis`, as a view. Bounds are clamped like Python's.
    public func slice(axis: Int, _ start: Int, _ end: Int? = nil, step: Int = 1) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        precondition(step > 0, "slice step must be positive, got \(step)")
        let n = shape[a]
        func clampIndex(_ i: Int) -> Int { Swift.min(Swift.max(i < 0 ? i + n : i, 0), n) }
        let lo = clampIndex(start), hi = Swift.max(lo, clampIndex(end ?? n))
        var s = shape, st = strides
        s[a] = (hi - lo + step - 1) / step
        st[a] = strides[a] * step
        let out = Tensor(storage: storage, shape: s, strides: st, offset: offset + lo * strides[a])
        let old = shape
        return Tensor.record(.slice, out, [self]) { g in
            let full = Tensor.zeros(old)
            let view = Tensor(storage: full.storage, shape: s, strides: Array(Shape.contiguousStrides(old).enumerated().map { $0.offset == a ? $0.element * step : $0.element }),
                              offset: lo * Shape.contiguousStrides(old)[a])
            view.addInto(g)
            return [full]
        }
    }

    /// Entry `index` along `axis`, with that axis removed (`x[i]` in PyTorch for axis 0).
    public func select(axis: Int = 0, _ index: Int) -> Tensor {
        let a = Shape.axis(axis, rank: rank)
        precondition(index >= -shape[a] && index < shape[a], "index \(index) out of range for axis \(axis) of shape \(shape)")
        let i = index < 0 ? index + shape[a] : index
        return slice(axis: a, i, i + 1).squeezed(a)
    }

    /// Adds `g` (same shape) into the elements this view addresses. The storage must be unshared.
    func addInto(_ g: Tensor) {
        let gc = g.contiguous()
        let (sh, st) = Shape.coalesce(shape, [strides, Shape.contiguousStrides(shape)])
        precondition(st[1] == Shape.contiguousStrides(sh), "addInto: layout not supported")
        withExtendedLifetime(gc) { dl_add_into_strided(Int32(sh.count), sh, gc.pointer, pointer, st[0]) }
    }
}
