import CKernels

/// An n-dimensional array of Float32 values, row-major, with value semantics.
///
/// Views (reshape, permute, slice, expand) share storage and differ in `shape`, `strides` and `offset`.
/// Writing through a shared tensor copies first (copy-on-write). A tensor that takes part in a
/// differentiable computation carries an autograd `node`; see `backward(_:)`.
///
/// Integer data (labels, indices) are stored as exactly representable Float32 values (|n| < 2²⁴).
public struct Tensor: @unchecked Sendable {
    public internal(set) var storage: TensorStorage
    public let shape: [Int]
    public let strides: [Int]
    public let offset: Int
    var node: Node?

    /// A tensor over existing storage.
    init(storage: TensorStorage, shape: [Int], strides: [Int], offset: Int = 0, node: Node? = nil) {
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.node = node
    }

    /// An uninitialised contiguous tensor; callers fill every element.
    init(uninitialized shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.init(storage: TensorStorage(count: Shape.count(shape)), shape: shape, strides: Shape.contiguousStrides(shape))
    }

    /// A tensor from values in row-major order.
    public init(_ values: [Float], shape: [Int]) {
        precondition(values.count == Shape.count(shape), "\(values.count) values do not fill shape \(shape)")
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { storage.base.update(from: s, count: values.count) }
        }
    }

    /// A 1-D tensor.
    public init(_ values: [Float]) { self.init(values, shape: [values.count]) }

    /// A 2-D tensor from rows of equal length.
    public init(rows: [[Float]]) {
        let cols = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == cols }, "rows have different lengths")
        self.init(rows.flatMap { $0 }, shape: [rows.count, cols])
    }

    /// A rank-0 tensor holding one value.
    public init(scalar: Float) { self.init([scalar], shape: []) }

    public var rank: Int { shape.count }
    public var count: Int { Shape.count(shape) }
    /// True when the elements are packed in row-major order (strides of size-1 axes do not matter).
    public var isContiguous: Bool {
        var expected = 1
        for d in stride(from: rank - 1, through: 0, by: -1) where shape[d] != 1 {
            if strides[d] != expected { return count == 0 }
            expected *= shape[d]
        }
        return true
    }

    /// Pointer to the first element (honours `offset`). Valid while `self` is alive.
    var pointer: UnsafeMutablePointer<Float> { storage.base + offset }

    /// Size of one dimension; negative indices count from the end.
    public func size(_ axis: Int) -> Int { shape[Shape.axis(axis, rank: rank)] }

    /// A contiguous tensor with the same values (self when already contiguous). Differentiable.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        var out = Tensor(uninitialized: shape)
        out.copyStrided(from: self)
        return Tensor.record(.contiguous, out, [self]) { g in [g] }
    }

    /// Copies the values of `src` (any layout, same shape) into this fresh contiguous tensor.
    mutating func copyStrided(from src: Tensor) {
        let (sh, st) = Shape.coalesce(src.shape, [src.strides])
        dl_copy_strided(Int32(sh.count), sh, src.pointer, st[0], storage.base)
    }

    /// Runs `body` over the contiguous values (a copy when the tensor is a strided view).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let c = isContiguous ? self : self.detached().contiguous()
        return try withExtendedLifetime(c) { try body(UnsafeBufferPointer(start: c.pointer, count: c.count)) }
    }

    /// Runs `body` over the values for writing; makes the storage unique and contiguous first.
    /// Bypasses autograd: use for optimisers, data loading and initialisation.
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUniqueContiguous()
        return try body(UnsafeMutableBufferPointer(start: pointer, count: count))
    }

    mutating func makeUniqueContiguous() {
        if isKnownUniquelyReferenced(&storage) && isContiguous && offset == 0 && storage.count == count { return }
        var fresh = Tensor(uninitialized: shape)
        fresh.copyStrided(from: self)
        self = Tensor(storage: fresh.storage, shape: shape, strides: fresh.strides, offset: 0, node: node)
    }

    /// All values in row-major order.
    public var scalars: [Float] { withUnsafeBufferPointer { Array($0) } }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item needs a tensor with one element, got shape \(shape)")
        return pointer[0]
    }

    /// Reads one element by full index.
    public subscript(index: Int...) -> Float {
        get {
            precondition(index.count == rank, "index \(index) has \(index.count) components for a rank-\(rank) tensor")
            var o = offset
            for (d, i) in index.enumerated() {
                precondition(i >= 0 && i < shape[d], "index \(index) out of range for shape \(shape)")
                o += i * strides[d]
            }
            return storage.base[o]
        }
        set {
            precondition(index.count == rank, "index \(index) has \(index.count) components for a rank-\(rank) tensor")
            makeUniqueContiguous()
            var o = 0
            for (d, i) in index.enumerated() {
                precondition(i >= 0 && i < shape[d], "index \(index) out of range for shape \(shape)")
                o += i * strides[d]
            }
            storage.base[o] = newValue
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = scalars
        let shown = values.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(values.count > 8 ? ", …" : "")])"
    }
}
