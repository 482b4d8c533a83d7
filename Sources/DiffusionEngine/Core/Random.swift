import CKernels
import Dispatch

/// A counter-based random generator (Philox4x32-10).
///
/// Every number depends only on (seed, stream, element index): draws are the same for any thread count,
/// and a batch drawn whole equals the same batch drawn in pieces (pass the piece's first element index as
/// `offset`). Each draw from a `RandomGenerator` uses a fresh stream, so successive draws are independent.
public struct RandomGenerator: Sendable, Hashable, Codable {
    public let seed: UInt64
    /// The stream the next draw will use.
    public var stream: UInt64

    public init(seed: UInt64, stream: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
    }

    /// Claims the next stream (for callers that draw pieces of one logical batch themselves).
    public mutating func nextStream() -> UInt64 {
        defer { stream &+= 1 }
        return stream
    }

    /// Standard normal values (scaled to `mean`, `std`).
    public mutating func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, offset: Int = 0) -> Tensor {
        Tensor.randomNormal(shape, seed: seed, stream: nextStream(), offset: offset, mean: mean, std: std)
    }

    /// Uniform values in [lo, hi).
    public mutating func uniform(_ shape: [Int], lo: Float = 0, hi: Float = 1, offset: Int = 0) -> Tensor {
        Tensor.randomUniform(shape, seed: seed, stream: nextStream(), offset: offset, lo: lo, hi: hi)
    }

    /// Integers in lo..<hi, stored as Float.
    public mutating func integers(_ shape: [Int], in range: Range<Int>, offset: Int = 0) -> Tensor {
        Tensor.randomIntegers(shape, in: range, seed: seed, stream: nextStream(), offset: offset)
    }

    /// A random permutation of 0..<n (sorting by random keys, so it is also counter-based).
    public mutating func permutation(_ n: Int) -> [Int] {
        let keys = uniform([n]).scalars
        return (0..<n).sorted { keys[$0] < keys[$1] || (keys[$0] == keys[$1] && $0 < $1) }
    }
}

extension Tensor {
    /// Fills a tensor in chunks, on up to `Engine.threads` threads. The values depend only on the element
    /// index, so the result is the same for every thread count.
    static func generate(_ shape: [Int], _ fill: @Sendable (Int, Int, UnsafeMutablePointer<Float>) -> Void) -> Tensor {
        let t = Tensor(uninitialized: shape)
        let n = t.count
        let threads = Engine.threads
        let p = t.pointer
        nonisolated(unsafe) let base = p
        if threads <= 1 || n < 1 << 16 {
            fill(0, n, p)
        } else {
            let chunk = (n + threads - 1) / threads
            DispatchQueue.concurrentPerform(iterations: threads) { k in
                let lo = k * chunk, hi = Swift.min(n, lo + chunk)
                if lo < hi { fill(lo, hi - lo, base + lo) }
            }
        }
        return t
    }

    public static func randomNormal(_ shape: [Int], seed: UInt64, stream: UInt64 = 0, offset: Int = 0, mean: Float = 0, std: Float = 1) -> Tensor {
        generate(shape) { start, n, out in dl_rand_normal(seed, stream, UInt64(offset + start), n, out, mean, std) }
    }

    public static func randomUniform(_ shape: [Int], seed: UInt64, stream: UInt64 = 0, offset: Int = 0, lo: Float = 0, hi: Float = 1) -> Tensor {
        generate(shape) { start, n, out in dl_rand_uniform(seed, stream, UInt64(offset + start), n, out, lo, hi) }
    }

    public static func randomIntegers(_ shape: [Int], in range: Range<Int>, seed: UInt64, stream: UInt64 = 0, offset: Int = 0) -> Tensor {
        precondition(!range.isEmpty, "randomIntegers needs a non-empty range, got \(range)")
        return generate(shape) { start, n, out in
            dl_rand_int(seed, stream, UInt64(offset + start), n, out, Int64(range.lowerBound), Int64(range.upperBound))
        }
    }
}
