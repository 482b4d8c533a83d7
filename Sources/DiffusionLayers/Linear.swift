/// y = x·Wᵀ + b over the last axis, like `torch.nn.Linear`. Weight [out, in], bias [out];
/// both U(±1/√in) by default.
public final class Linear: UnaryModule {
    public let weight: Parameter
    public let bias: Parameter?
    public let inFeatures: Int, outFeatures: Int

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter([outFeatures, inFeatures], .kaimingUniformDefault(fanIn: inFeatures))
        self.bias = bias ? Parameter([outFeatures], .kaimingUniformDefault(fanIn: inFeatures)) : nil
        super.init()
    }

    override public func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank >= 1 && x.shape.last == inFeatures,
                     "Linear(\(inFeatures), \(outFeatures)) got input of shape \(x.shape)")
        // Fold leading axes into rows: one GEMM forward and for each gradient (Wᵀ is a view, not a copy).
        let rows = x.rank == 2 ? x : x.reshaped([-1, inFeatures])
        var y = rows.matmul(weight.value.transposed())
        if let bias { y = y + bias.value }
        return x.rank == 2 ? y : y.reshaped(Array(x.shape.dropLast()) + [outFeatures])
    }
}

/// Returns its input; a placeholder where a layer is optional (like `torch.nn.Identity`).
public final class Identity: UnaryModule {
    override public init() { super.init() }
    override public func forward(_ x: Tensor) -> Tensor { x }
}
