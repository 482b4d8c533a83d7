import CKernels

extension Op {
    static let contiguous = Op("contiguous")
    static let neg = Op("neg"), exp = Op("exp"), log = Op("log"), log1p = Op("log1p"), expm1 = Op("expm1")
    static let sqrt = Op("sqrt"), rsqrt = Op("rsqrt"), sin = Op("sin"), cos = Op("cos"), tanh = Op("tanh")
    static let sigmoid = Op("sigmoid"), relu = Op("relu"), silu = Op("silu"), gelu = Op("gelu")
    static let softplus = Op("softplus"), abs = Op("abs"), square = Op("square"), reciprocal = Op("reciprocal")
    static let powScalar = Op("pow(scalar)"), clamp = Op("clamp"), affine = Op("affine"), scalarPow = Op("scalar^x")

    static let layoutOps: [Op] = [.contiguous, .reshape, .permute, .expand, .slice]
    static let unaryOps: [Op] = [
        .neg, .exp, .log, .log1p, .expm1, .sqrt, .rsqrt, .sin, .cos, .tanh, .sigmoid, .relu, .silu, .gelu,
        .softplus, .abs, .square, .reciprocal, .powScalar, .clamp, .affine, .scalarPow,
    ]
}

extension Tensor {
    /// Applies a unary kernel; `needsX`/`needsY` say what its derivative reads.
    func unary(_ code: dl_unary_op, _ op: Op?, _ p1: Float = 0, _ p2: Float = 0, needsX: Bool, needsY: Bool) -> Tensor {
        let x = self.detached().contiguous()
        var y = Tensor(uninitialized: shape)
        dl_unary(Int32(code.rawValue), x.count, x.pointer, y.pointer, p1, p2)
        y = y.detached()
        guard let op else { return y }
        let savedX: Tensor? = needsX ? x : nil
        let savedY: Tensor? = needsY ? y : nil
        return Tensor.record(op, y, [self]) { g in
            let gc = g.contiguous()
            let gx = Tensor(uninitialized: gc.shape)
            dl_unary_backward(Int32(code.rawValue), gc.count, savedX?.pointer, savedY?.pointer, gc.pointer, gx.pointer, p1, p2)
            return withExtendedLifetime((savedX, savedY, gc)) { [gx] }
        }
    }

    public static prefix func - (x: Tensor) -> Tensor { x.unary(DL_NEG, .neg, needsX: false, needsY: false) }
    public func exp() -> Tensor { unary(DL_EXP, .exp, needsX: false, needsY: true) }
    public func log() -> Tensor { unary(DL_LOG, .log, needsX: true, needsY: false) }
    public func log1p() -> Tensor { unary(DL_LOG1P, .log1p, needsX: true, needsY: false) }
    public func expm1() -> Tensor { unary(DL_EXPM1, .expm1, needsX: false, needsY: true) }
    public func sqrt() -> Tensor { unary(DL_SQRT, .sqrt, needsX: false, needsY: true) }
    public func rsqrt() -> Tensor { unary(DL_RSQRT, .rsqrt, needsX: false, needsY: true) }
    public func sin() -> Tensor { unary(DL_SIN, .sin, needsX: true, needsY: false) }
    public func cos() -> Tensor { unary(DL_COS, .cos, needsX: true, needsY: false) }
    public func tanh() -> Tensor { unary(DL_TANH, .tanh, needsX: false, needsY: true) }
    public func sigmoid() -> Tensor { unary(DL_SIGMOID, .sigmoid, needsX: false, needsY: true) }
    public func relu() -> Tensor { unary(DL_RELU, .relu, needsX: true, needsY: false) }
    /// x·σ(x), also called swish.
    public func silu() -> Tensor { unary(DL_SILU, .silu, needsX: true, needsY: false) }
    /// The exact GELU, x·Φ(x) (PyTorch's default `approximate="none"`).
    public func gelu() -> Tensor { unary(DL_GELU, .gelu, needsX: true, needsY: false) }
    /// log(1 + eˣ), linear above x = 20.
    public func softplus() -> Tensor { unary(DL_SOFTPLUS, .softplus, needsX: true, needsY: false) }
    public func abs() -> Tensor { unary(DL_ABS, .abs, needsX: true, needsY: false) }
    /// −1, 0 or 1; not differentiable (its gradient is zero almost everywhere), so it records nothing.
    public func sign() -> Tensor { unary(DL_SIGN, nil, needsX: false, needsY: false) }
    public func square() -> Tensor { unary(DL_SQUARE, .square, needsX: true, needsY: false) }
    public func reciprocal() -> Tensor { unary(DL_RECIPROCAL, .reciprocal, needsX: false, needsY: true) }
    public func pow(_ p: Float) -> Tensor { unary(DL_POW_SCALAR, .powScalar, p, needsX: true, needsY: false) }
    /// Clamps to [lo, hi]; the gradient passes where lo ≤ x ≤ hi.
    public func clamp(min lo: Float = -.infinity, max hi: Float = .infinity) -> Tensor {
        unary(DL_CLAMP, .clamp, lo, hi, needsX: true, needsY: false)
    }
    /// x·scale + shift in one pass.
    public func affine(scale: Float, shift: Float) -> Tensor { unary(DL_AFFINE, .affine, scale, shift, needsX: false, needsY: false) }
    /// baseˣ element-wise.
    public static func pow(_ base: Float, _ x: Tensor) -> Tensor { x.unary(DL_RPOW_SCALAR, .scalarPow, base, needsX: false, needsY: true) }
}
