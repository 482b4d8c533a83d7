/// A trainable tensor owned by a module: a reference type, so optimisers, EMA and checkpoints all see the
/// same value the module computes with.
///
/// `value` is an autograd leaf that requires a gradient unless the parameter is frozen. Assigning a new
/// tensor makes it a fresh leaf (its old gradient is dropped); optimisers instead update the values in place
/// through `withUnsafeMutableBufferPointer`, which keeps the leaf and its gradient.
public final class Parameter: @unchecked Sendable {
    private var storage: Tensor

    /// When true the value is a constant (no gradient flows to it, optimisers skip it).
    public var isFrozen: Bool {
        didSet { if isFrozen != oldValue { storage = Self.leaf(storage, frozen: isFrozen) } }
    }

    public init(_ value: Tensor, frozen: Bool = false) {
        isFrozen = frozen
        storage = Self.leaf(value, frozen: frozen)
    }

    private static func leaf(_ t: Tensor, frozen: Bool) -> Tensor {
        frozen ? t.detached() : t.requiringGrad()
    }

    /// The current value, a leaf tensor. Setting it replaces the values (same shape expected by callers
    /// such as checkpoint loading, which check it) and clears the gradient.
    public var value: Tensor {
        get { storage }
        set { storage = Self.leaf(newValue, frozen: isFrozen) }
    }

    /// The gradient accumulated by `backward()`, or nil.
    public var grad: Tensor? {
        get { storage.grad }
        set { storage.setGrad(newValue) }
    }

    public var shape: [Int] { storage.shape }
    public var count: Int { storage.count }

    public func zeroGrad() { storage.zeroGrad() }

    /// Writes to the values in place (optimisers, EMA, loading); keeps the leaf and its gradient.
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }

    /// Copies `source` (same shape) into the values in place.
    public func copy(from source: Tensor) {
        precondition(source.shape == shape, "cannot copy a tensor of shape \(source.shape) into a parameter of shape \(shape)")
        source.withUnsafeBufferPointer { src in
            withUnsafeMutableBufferPointer { dst in
                if let d = dst.baseAddress, let s = src.baseAddress { d.update(from: s, count: src.count) }
            }
        }
    }
}

extension Parameter: CustomStringConvertible {
    public var description: String { "Parameter(shape: \(shape)\(isFrozen ? ", frozen" : ""))" }
}
