/// Applies its layers in order. Children are named "0", "1", … like `torch.nn.Sequential`.
public final class Sequential: UnaryModule {
    public let layers: [UnaryModule]

    public init(_ layers: [UnaryModule]) {
        self.layers = layers
        super.init()
    }

    public convenience init(_ layers: UnaryModule...) { self.init(layers) }

    override public func namedChildren() -> [(String, Module)] {
        layers.enumerated().map { ("\($0.offset)", $0.element) }
    }

    override public func forward(_ x: Tensor) -> Tensor {
        layers.reduce(x) { h, layer in layer(h) }
    }
}

/// x + body(x), optionally through a projection of the skip path when the body changes the width.
public final class Residual: UnaryModule {
    public let body: UnaryModule
    public let skip: UnaryModule?

    public init(_ body: UnaryModule, skip: UnaryModule? = nil) {
        self.body = body
        self.skip = skip
        super.init()
    }

    override public func forward(_ x: Tensor) -> Tensor {
        (skip.map { $0(x) } ?? x) + body(x)
    }
}
