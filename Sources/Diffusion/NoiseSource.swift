import DiffusionEngine

/// The noise of a stochastic sampler, reproducible across batch sizes.
///
/// Draw `draw` of step `step` for sample j uses the counter-based generator with
/// stream = 2¹⁶·(step + 1) + draw and element offset j·(elements per sample). So the noise a sample sees depends
/// only on (seed, step, draw, j): sampling 1, 7 or 1000 samples, or the samples 500..<507 alone
/// (`firstSample: 500`), gives the same values for the same j. The starting noise uses stream 0.
public struct NoiseSource: Sendable, Hashable {
    public var seed: UInt64
    /// Global index of the first sample in the batch (for sampling a large batch in chunks).
    public var firstSample: Int

    public init(seed: UInt64, firstSample: Int = 0) {
        self.seed = seed
        self.firstSample = firstSample
    }

    static func stream(step: Int, draw: Int) -> UInt64 {
        precondition(step >= 0 && draw >= 0 && draw < 1 << 16, "noise step \(step), draw \(draw) out of range")
        return (UInt64(step) + 1) << 16 + UInt64(draw)
    }

    static func perSample(_ shape: [Int]) -> Int {
        precondition(!shape.isEmpty, "a batch needs a leading sample axis")
        return shape.dropFirst().reduce(1, *)
    }

    /// Standard normal noise shaped like `shape` (leading axis = samples) for one draw of one step.
    public func normal(_ shape: [Int], step: Int, draw: Int = 0) -> Tensor {
        Tensor.randomNormal(shape, seed: seed, stream: Self.stream(step: step, draw: draw), offset: firstSample * Self.perSample(shape))
    }

    public func normal(like x: Tensor, step: Int, draw: Int = 0) -> Tensor { normal(x.shape, step: step, draw: draw) }

    /// The starting sample σ_max·z of a σ-space sampler (z from stream 0).
    public func prior(_ shape: [Int], sigma: Double = 1) -> Tensor {
        let z = Tensor.randomNormal(shape, seed: seed, stream: 0, offset: firstSample * Self.perSample(shape))
        return sigma == 1 ? z : z * Float(sigma)
    }
}
