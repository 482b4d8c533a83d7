/// x·σ(x).
public final class SiLU: UnaryModule {
    override public init() { super.init() }
    override public func forward(_ x: Tensor) -> Tensor { x.silu() }
}

/// The exact GELU x·Φ(x) (PyTorch's default, approximate="none").
public final class GELU: UnaryModule {
    override public init() { super.init() }
    override public func forward(_ x: Tensor) -> Tensor { x.gelu() }
}

public final class ReLU: UnaryModule {
    override public init() { super.init() }
    override public func forward(_ x: Tensor) -> Tensor { x.relu() }
}

public final class Tanh: UnaryModule {
    override public init() { super.init() }
    override public func forward(_ x: Tensor) -> Tensor { x.tanh() }
}

public final class Sigmoid: UnaryModule {
    override public init() { super.init() }
    override public func forward(_ x: Tensor) -> Tensor { x.sigmoid() }
}
