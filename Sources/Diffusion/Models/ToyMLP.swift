import DiffusionEngine
import DiffusionLayers

/// A network F(x, c, y) for a batch of noisy samples x (leading axis = samples: rows [n, d] for toy data, images
/// [n, c, h, w] for the UNet and DiT), a noise conditioning value c ([n]) and optional class labels y ([n], the index
/// `classCount` meaning "no label"). The output has the shape of x. `NetworkModel` broadcasts per-sample levels over
/// any rank, so every objective, sampler and guidance wrapper works with any such network.
public protocol NoiseConditionalNetwork: Module {
    func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor?) -> Tensor
    /// Number of classes it is conditioned on (0 when unconditional).
    var classCount: Int { get }
}

/// The standard toy denoiser for low-dimensional data (tiny-diffusion style; the W1 workload of the benchmarks):
/// each coordinate scaled by `inputScale` and the conditioning value each get a sinusoidal embedding of size
/// `embeddingDim`, a label its learned embedding; the concatenation goes through a linear layer, `blocks`
/// residual SiLU blocks h ← h + SiLU(W·h + b) of width `width`, and a linear read-out of size d.
/// The defaults are W1: 2-D, width 256, three blocks, 64-dim embeddings, input scale 25.
public final class ToyMLP: Module, NoiseConditionalNetwork {
    public let inp: Linear
    public let blocks: [Linear]
    public let out: Linear
    public let labelEmbedding: Embedding?
    public let dimension: Int, embeddingDim: Int, classCount: Int
    public let inputScale: Float

    public init(dimension: Int = 2, width: Int = 256, blocks: Int = 3, embeddingDim: Int = 64, inputScale: Float = 25, classes: Int = 0) {
        precondition(dimension >= 1 && width >= 1 && blocks >= 0 && embeddingDim >= 2 && embeddingDim % 2 == 0 && classes >= 0,
                     "ToyMLP needs d ≥ 1, width ≥ 1, blocks ≥ 0, an even embedding size ≥ 2 and classes ≥ 0")
        (self.dimension, self.embeddingDim, self.classCount, self.inputScale) = (dimension, embeddingDim, classes, inputScale)
        inp = Linear((dimension + 1 + (classes > 0 ? 1 : 0)) * embeddingDim, width)
        self.blocks = (0..<blocks).map { _ in Linear(width, width) }
        out = Linear(width, dimension)
        labelEmbedding = classes > 0 ? Embedding(classes + 1, embeddingDim) : nil
        super.init()
    }

    public func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor? = nil) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == dimension, "ToyMLP(d = \(dimension)) got input of shape \(x.shape)")
        var parts = (0..<dimension).map { sinusoidalEmbedding(x.select(axis: 1, $0) * inputScale, dim: embeddingDim) }
        parts.append(sinusoidalEmbedding(c, dim: embeddingDim))
        if let labelEmbedding {
            parts.append(labelEmbedding(labels ?? Tensor.full([x.shape[0]], Float(classCount))))
        }
        var h = inp(Tensor.concat(parts, axis: 1)).silu()
        for b in blocks { h = h + b(h).silu() }
        return out(h)
    }
}
