import CKernels

extension Op {
    static let add = Op("add"), sub = Op("sub"), mul = Op("mul"), div = Op("div"), pow = Op("pow")
    static let minimum = Op("minimum"), maximum = Op("maximum"), whereOp = Op("where")
    static let binaryOps: [Op] = [.add, .sub, .mul, .div, .pow, .minimum, .maximum, .whereOp]
}

extension Tensor {
    /// Strides of this tensor broadcast to `target` (0 along broadcast axes).
    func broadcastStrides(to target: [Int]) -> [Int] {
        let lead = target.count - rank
        return target.indices.map { d in
            d < lead ? 0 : (shape[d - lead] == 1 && target[d] != 1 ? 0 : strides[d - lead])
        }
    }

    /// Runs a binary kernel over the broadcast of `a` and `b`, reading strided inputs in place.
    static func binaryKernel(_ code: dl_binary_op, _ a: Tensor, _ b: Tensor, _ what: String) -> Tensor {
        let shape = a.shape == b.shape ? a.shape : Shape.broadcast(a.shape, b.shape, what)
        let out = Tensor(uninitialized: shape)
        if out.count == 0 { return out }
        let (sh, st) = Shape.coalesce(shape, [a.broadcastStrides(to: shape), b.broadcastStrides(to: shape)])
        precondition(sh.count <= 16, "tensors of more than 16 non-trivial dimensions are not supported")
        withExtendedLifetime((a, b)) {
            dl_binary(Int32(code.rawValue), Int32(sh.count), sh, a.pointer, st[0], b.pointer, st[1], out.pointer)
        }
        return out
    }

    /// Sums a gradient down to `target` shape, undoing broadcasting.
    public func sum(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        precondition(lead >= 0, "cannot reduce shape \(shape) to \(target)")
        var axes: [Int] = Array(0..<lead)
        for d in target.indices where target[d] == 1 && shape[d + lead] != 1 { axes.append(d + lead) }
        var r = axes.isEmpty ? self : sum(axes: axes, keepDims: true)
        if lead > 0 { r = r.reshaped(target) }
        return r
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(DL_ADD, a, b, "+")
        let (na, nb, sa, sb) = (a.node != nil, b.node != nil, a.shape, b.shape)
        return record(.add, out, [a, b]) { g in [!na ? nil : g.sum(toShape: sa), !nb ? nil : g.sum(toShape: sb)] }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(DL_SUB, a, b, "-")
        let (na, nb, sa, sb) = (a.node != nil, b.node != nil, a.shape, b.shape)
        return record(.sub, out, [a, b]) { g in [!na ? nil : g.sum(toShape: sa), !nb ? nil : (-g).sum(toShape: sb)] }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(DL_MUL, a, b, "*")
        let (ad, bd) = (a.detached(), b.detached())
        let (na, nb, sa, sb) = (a.node != nil, b.node != nil, a.shape, b.shape)
        return record(.mul, out, [a, b]) { g in
            [!na ? nil : (g * bd).sum(toShape: sa), !nb ? nil : (g * ad).sum(toShape: sb)]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(DL_DIV, a, b, "/")
        let (ad, bd) = (a.detached(), b.detached())
        let (na, nb, sa, sb) = (a.node != nil, b.node != nil, a.shape, b.shape)
        return record(.div, out, [a, b]) { g in
            let ga = g / bd
            return [!na ? nil : ga.sum(toShape: sa), !nb ? nil : (-ga * ad / bd).sum(toShape: sb)]
        }
    }

    /// aᵇ element-wise with broadcasting; the gradient for b needs a > 0.
    public static func pow(_ a: Tensor, _ b: Tensor) -> Tensor {
        let out = binaryKernel(DL_POW, a, b, "pow").detached()
        let (ad, bd) = (a.detached(), b.detached())
        let (na, nb, sa, sb) = (a.node != nil, b.node != nil, a.shape, b.shape)
        return record(.pow, out, [a, b]) { g in
            [!na ? nil : (g * bd * pow(ad, bd - Tensor(scalar: 1))).sum(toShape: sa),
             !nb ? nil : (g * out * ad.log()).sum(toShape: sb)]
        }
    }

    /// Element-wise minimum; at ties the gradient is split equally.
    public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { minMax(a, b, DL_MINIMUM, .minimum) }
    /// Element-wise maximum; at ties the gradient is split equally.
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { minMax(a, b, DL_MAXIMUM, .maximum) }

    static func minMax(_ a: Tensor, _ b: Tensor, _ code: dl_binary_op, _ op: Op) -> Tensor {
        let out = binaryKernel(code, a, b, op.name)
        let (ad, bd) = (a.detached(), b.detached())
        let (na, nb, sa, sb) = (a.node != nil, b.node != nil, a.shape, b.shape)
        return record(op, out, [a, b]) { g in
            let aWins = binaryKernel(code == DL_MINIMUM ? DL_LT : DL_GT, ad, bd, op.name)
            let tie = binaryKernel(DL_EQ, ad, bd, op.name)
            let wa = aWins + tie * Tensor(scalar: 0.5)
            return [!na ? nil : (g * wa).sum(toShape: sa),
                    !nb ? nil : (g * (Tensor(scalar: 1) - wa)).sum(toShape: sb)]
        }
    }

    /// `condition != 0 ? a : b`, all three broadcast together. The condition carries no gradient.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let shape = Shape.broadcast(Shape.broadcast(condition.shape, a.shape, "where"), b.shape, "where")
        let c = condition.detached().expanded(to: shape).contiguous()
        let x = a.detached().expanded(to: shape).contiguous(), y = b.detached().expanded(to: shape).contiguous()
        let out = Tensor(uninitialized: shape)
        dl_where(out.count, c.pointer, x.pointer, y.pointer, out.pointer)
        let (na, nb, sa, sb) = (a.node != nil, b.node != nil, a.shape, b.shape)
        return record(.whereOp, out, [a, b]) { g in
            let zero = Tensor.zeros([])
            return [!na ? nil : Tensor.where(c, g, zero).sum(toShape: sa),
                    !nb ? nil : Tensor.where(c, zero, g).sum(toShape: sb)]
        }
    }

    // Comparisons return 0/1 masks and record nothing.
    public static func .> (a: Tensor, b: Tensor) -> Tensor { binaryKernel(DL_GT, a, b, ".>") }
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { binaryKernel(DL_GE, a, b, ".>=") }
    public static func .< (a: Tensor, b: Tensor) -> Tensor { binaryKernel(DL_LT, a, b, ".<") }
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { binaryKernel(DL_LE, a, b, ".<=") }
    public static func .== (a: Tensor, b: Tensor) -> Tensor { binaryKernel(DL_EQ, a, b, ".==") }
    public static func .!= (a: Tensor, b: Tensor) -> Tensor { binaryKernel(DL_NE, a, b, ".!=") }

    // Scalar conveniences.
    public static func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
    public static func + (s: Float, a: Tensor) -> Tensor { a.affine(scale: 1, shift: s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
    public static func - (s: Float, a: Tensor) -> Tensor { a.affine(scale: -1, shift: s) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.affine(scale: s, shift: 0) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.affine(scale: s, shift: 0) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1 / s, shift: 0) }
    public static func / (s: Float, a: Tensor) -> Tensor { a.reciprocal() * s }
    public static func .> (a: Tensor, s: Float) -> Tensor { a .> Tensor(scalar: s) }
    public static func .< (a: Tensor, s: Float) -> Tensor { a .< Tensor(scalar: s) }
    public static func .>= (a: Tensor, s: Float) -> Tensor { a .>= Tensor(scalar: s) }
    public static func .<= (a: Tensor, s: Float) -> Tensor { a .<= Tensor(scalar: s) }
    public static func .== (a: Tensor, s: Float) -> Tensor { a .== Tensor(scalar: s) }

    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
    public static func /= (a: inout Tensor, b: Tensor) { a = a / b }
}

