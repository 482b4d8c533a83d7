import CKernels

/// A reference-counted, 64-byte-aligned buffer of Float32 values.
///
/// Tensors share storage (views) and copy it lazily when mutated while shared (copy-on-write).
public final class TensorStorage: @unchecked Sendable {
    public let count: Int
    public let base: UnsafeMutablePointer<Float>

    public init(count: Int) {
        precondition(count >= 0, "negative element count \(count)")
        guard let raw = dl_alloc(count) else { fatalError("out of memory allocating \(count) floats") }
        base = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        self.count = count
    }

    deinit { dl_free(base) }
}
