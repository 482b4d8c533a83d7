/// GroupNorm over [N, C, *]: channels split into `groups`, each normalised over its channels and all
/// spatial positions, then a per-channel affine (weight 1, bias 0 initially), like `torch.nn.GroupNorm`.
public final class GroupNorm: UnaryModule {
    public let weight: Parameter?
    public let bias: Parameter?
    public let groups: Int, channels: Int
    public let eps: Float

    public init(groups: Int, channels: Int, eps: Float = 1e-5, affine: Bool = true) {
        precondition(groups > 0 && channels % groups == 0, "GroupNorm: \(channels) channels do not split into \(groups) groups")
        self.groups = groups
        self.channels = channels
        self.eps = eps
        weight = affine ? Parameter([channels], .ones) : nil
        bias = affine ? Parameter([channels], .zeros) : nil
        super.init()
    }

    override public func forward(_ x: Tensor) -> Tensor {
        precondition(x.rank >= 2 && x.shape[1] == channels, "GroupNorm(\(groups), \(channels)) got input of shape \(x.shape)")
        return x.groupNormalized(groups: groups, weight: weight?.value, bias: bias?.value, eps: eps)
    }
}

/// LayerNorm over the trailing `normalizedShape` axes with an element-wise affine, like `torch.nn.LayerNorm`.
public final class LayerNorm: UnaryModule {
    public let weight: Parameter?
    public let bias: Parameter?
    public let normalizedShape: [Int]
    public let eps: Float

    public init(_ normalizedShape: [Int], eps: Float = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        self.normalizedShape = normalizedShape
        self.eps = eps
        weight = elementwiseAffine ? Parameter(normalizedShape, .ones) : nil
        self.bias = elementwiseAffine && bias ? Parameter(normalizedShape, .zeros) : nil
        super.init()
    }

    public convenience init(_ features: Int, eps: Float = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        self.init([features], eps: eps, elementwiseAffine: elementwiseAffine, bias: bias)
    }

    override public func forward(_ x: Tensor) -> Tensor {
        let k = normalizedShape.count
        precondition(x.rank >= k && Array(x.shape.suffix(k)) == normalizedShape,
                     "LayerNorm(\(normalizedShape)) got input of shape \(x.shape)")
        // One group over the trailing axes of each row; the element-wise affine is a per-"channel" one.
        let rows = x.reshaped([-1, normalizedShape.reduce(1, *)])
        return rows.groupNormalized(groups: 1, weight: weight?.value.reshaped([-1]), bias: bias?.value.reshaped([-1]), eps: eps)
            .reshaped(x.shape)
    }
}

/// RMSNorm: x / √(mean(x²) + eps) · weight over the trailing axes, like `torch.nn.RMSNorm`.
/// `eps` nil means PyTorch's default, the Float32 machine epsilon (2⁻²³).
public final class RMSNorm: UnaryModule {
    public let weight: Parameter?
    public let normalizedShape: [Int]
    public let eps: Float

    public init(_ normalizedShape: [Int], eps: Float? = nil, elementwiseAffine: Bool = true) {
        self.normalizedShape = normalizedShape
        self.eps = eps ?? Float.ulpOfOne
        weight = elementwiseAffine ? Parameter(normalizedShape, .ones) : nil
        super.init()
    }

    public convenience init(_ features: Int, eps: Float? = nil, elementwiseAffine: Bool = true) {
        self.init([features], eps: eps, elementwiseAffine: elementwiseAffine)
    }

    override public func forward(_ x: Tensor) -> Tensor {
        let k = normalizedShape.count
        precondition(x.rank >= k && Array(x.shape.suffix(k)) == normalizedShape,
                     "RMSNorm(\(normalizedShape)) got input of shape \(x.shape)")
        let rows = x.reshaped(Array(x.shape.dropLast(k)) + [-1])
        var y = (rows * (rows.square().mean(axis: -1, keepDims: true) + eps).rsqrt()).reshaped(x.shape)
        if let weight { y = y * weight.value }
        return y
    }
}
