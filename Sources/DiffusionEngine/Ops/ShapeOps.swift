import CKernels

extension Op {
    static let concat = Op("concat"), pad = Op("pad"), flip = Op("flip")
    /// stack, split and chunk are built from concat, reshape and slice, so they need no ops of their own.
    static let shapeOps: [Op] = [.concat, .pad, .flip]
}

extension Tensor {
    /// Copies `src` (any layout, any shape) into this tensor's storage at element `offset` from `pointer`,
    /// laid out with `strides`. No autograd; the destination must be a fresh, unshared tensor.
    func copyIn(_ src: Tensor, offset off: Int, strides dst: [Int]) {
        let (sh, st) = Shape.coalesce(src.shape, [src.strides, dst])
        precondition(sh.count <= 16, "tensors of more than 16 non-trivial dimensions are not supported")
        withExtendedLifetime(src) {
            dl_copy_strided2(Int32(sh.count), sh, src.pointer, st[0], pointer + off, st[1])
        }
    }

    /// Joins tensors end to end along an existing axis (`torch.cat`). All must have the same rank and agree
    /// on every other axis; any layout is read in place. Each input's gradient is its slice of the output's.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat needs at least one tensor")
        let first = tensors[0]
        precondition(first.rank > 0, "concat cannot join rank-0 tensors (use stack)")
        let a = Shape.axis(axis, rank: first.rank, "concat axis")
        for t in tensors {
            precondition(t.rank == first.rank && t.shape.indices.allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
                         "concat along axis \(axis): shapes \(tensors.map(\.shape)) must agree on every other axis")
        }
        if tensors.count == 1 { return first }
        let sizes = tensors.map { $0.shape[a] }
        var shape = first.shape
        shape[a] = sizes.reduce(0, +)
        let out = Tensor(uninitialized: shape)
        var start = 0
        for (t, n) in zip(tensors, sizes) {
            if n > 0 { out.copyIn(t, offset: start * out.strides[a], strides: out.strides) }
            start += n
        }
        let needs = tensors.map { $0.node != nil }
        return record(.concat, out, tensors) { g in
            var lo = 0
            return zip(sizes, needs).map { n, need in
                defer { lo += n }
                return need ? g.slice(axis: a, lo, lo + n) : nil
            }
        }
    }

    /// Joins equal-shaped tensors along a new axis (`torch.stack`); `axis` may equal their rank.
    public static func stack(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "stack needs at least one tensor")
        let s = tensors[0].shape
        precondition(tensors.allSatisfy { $0.shape == s }, "stack: shapes \(tensors.map(\.shape)) must all be equal")
        let a = axis < 0 ? axis + s.count + 1 : axis
        precondition(a >= 0 && a <= s.count, "stack axis \(axis) is out of range for tensors of rank \(s.count)")
        return concat(tensors.map { $0.unsqueezed(a) }, axis: a)
    }

    /// Cuts `axis` into consecutive pieces of the given lengths, which must add up to its size. Views.
    public func split(sizes: [Int], axis: Int) -> [Tensor] {
        precondition(rank > 0, "split needs a tensor of rank ≥ 1, got a scalar")
        let a = Shape.axis(axis, rank: rank, "split axis")
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[a],
                     "split: sizes \(sizes) must be non-negative and add up to \(shape[a]), the size of axis \(axis) of shape \(shape)")
        var lo = 0
        return sizes.map { n in
            defer { lo += n }
            return slice(axis: a, lo, lo + n)
        }
    }

    /// Up to `n` pieces along `axis`, like `torch.chunk`: each holds ⌈size / n⌉ entries except the last, which
    /// holds the rest, so fewer than `n` pieces come back when the size does not divide evenly (a size-0 axis
    /// gives `n` empty pieces). Views.
    public func chunk(_ n: Int, axis: Int) -> [Tensor] {
        precondition(n > 0, "chunk count must be positive, got \(n)")
        precondition(rank > 0, "chunk needs a tensor of rank ≥ 1, got a scalar")
        let a = Shape.axis(axis, rank: rank, "chunk axis")
        let len = shape[a]
        if len == 0 { return split(sizes: Array(repeating: 0, count: n), axis: a) }
        let step = (len + n - 1) / n
        return split(sizes: stride(from: 0, to: len, by: step).map { Swift.min(step, len - $0) }, axis: a)
    }

    /// Constant padding of one axis: `before` entries equal to `value` at its start, `after` at its end.
    /// A negative amount crops that many entries instead, as in `torch.nn.functional.pad`.
    public func padded(axis: Int, before: Int, after: Int, value: Float = 0) -> Tensor {
        precondition(rank > 0, "pad needs a tensor of rank ≥ 1, got a scalar")
        let a = Shape.axis(axis, rank: rank, "pad axis")
        var pads = [(before: Int, after: Int)](repeating: (0, 0), count: rank)
        pads[a] = (before, after)
        return padKernel(pads, value)
    }

    /// Constant padding of the last `pads.count` axes, listed in axis order: `pads[0]` applies to axis
    /// `rank - pads.count` and the last pair to the last axis. (PyTorch's `F.pad` lists the last axis first.)
    /// For an image of shape [C, H, W], `x.padded([(1, 1), (2, 2)])` adds one row above and below and two
    /// columns on each side. Negative amounts crop.
    public func padded(_ pads: [(before: Int, after: Int)], value: Float = 0) -> Tensor {
        precondition(pads.count <= rank, "pad: \(pads.count) (before, after) pairs for a tensor of shape \(shape)")
        return padKernel(Array(repeating: (0, 0), count: rank - pads.count) + pads, value)
    }

    /// Pads every axis by `pads[d]`; crops negative amounts first, as views.
    func padKernel(_ pads: [(before: Int, after: Int)], _ value: Float) -> Tensor {
        var x = self
        for (d, p) in pads.enumerated() where p.before < 0 || p.after < 0 {
            let lo = Swift.max(0, -p.before), hi = shape[d] - Swift.max(0, -p.after)
            precondition(hi >= lo, "pad: cropping \(lo) + \(shape[d] - hi) entries from axis \(d) of shape \(shape) removes more than it holds")
            x = x.slice(axis: d, lo, hi)
        }
        let before = pads.map { Swift.max($0.before, 0) }, after = pads.map { Swift.max($0.after, 0) }
        if before.allSatisfy({ $0 == 0 }) && after.allSatisfy({ $0 == 0 }) { return x }
        let inner = x.shape
        let out = Tensor.full(inner.indices.map { inner[$0] + before[$0] + after[$0] }, value)
        if x.count > 0 {
            out.copyIn(x.detached(), offset: zip(before, out.strides).map(*).reduce(0, +), strides: out.strides)
        }
        return Tensor.record(.pad, out, [x]) { g in
            var r = g
            for d in inner.indices where before[d] > 0 || after[d] > 0 { r = r.slice(axis: d, before[d], before[d] + inner[d]) }
            return [r]
        }
    }

    /// Reverses the order of the entries along each of `axes` (`torch.flip`). A copy; the gradient is flipped back.
    public func flipped(axes: [Int]) -> Tensor {
        let norm = axes.map { Shape.axis($0, rank: rank, "flip axis") }
        precondition(Set(norm).count == norm.count, "flip: axes \(axes) name an axis of shape \(shape) twice")
        if norm.isEmpty || rank == 0 { return self }
        let out = detached().flipCopy(norm)
        return Tensor.record(.flip, out, [self]) { g in [g.flipCopy(norm)] }
    }

    /// Reverses the order of the entries along one axis.
    public func flipped(axis: Int) -> Tensor { flipped(axes: [axis]) }

    /// A contiguous copy with `axes` reversed, read through a negative-stride view. No autograd.
    func flipCopy(_ axes: [Int]) -> Tensor {
        var st = strides, off = offset
        for a in axes where shape[a] > 0 {
            off += (shape[a] - 1) * st[a]
            st[a] = -st[a]
        }
        var out = Tensor(uninitialized: shape)
        out.copyStrided(from: Tensor(storage: storage, shape: shape, strides: st, offset: off))
        return out
    }
}
