import Foundation

/// A lookup table of `count` vectors of size `dim`, like `torch.nn.Embedding`; weight N(0, 1).
public final class Embedding: Module {
    public let weight: Parameter
    public let count: Int, dim: Int

    public init(_ count: Int, _ dim: Int) {
        self.count = count
        self.dim = dim
        weight = Parameter([count, dim], .normal())
        super.init()
    }

    /// Rows of the table for integer-valued `indices` of any shape; the result has shape indices.shape + [dim].
    /// The gradient adds into the selected rows.
    public func callAsFunction(_ indices: Tensor) -> Tensor {
        weight.value.indexSelect(axis: 0, indices: indices.reshaped([-1])).reshaped(indices.shape + [dim])
    }
}

/// Sinusoidal embedding of scalars as in the Transformer and DDPM: for half = dim/2 frequencies
/// f_i = exp(−ln(maxPeriod)·i/half), the output is [sin(t·f), cos(t·f)] along a new last axis.
/// `t` of shape S gives S + [dim] (dim must be even). Matches the bench scripts' `sinus`/`temb`.
public func sinusoidalEmbedding(_ t: Tensor, dim: Int, maxPeriod: Float = 10000) -> Tensor {
    precondition(dim % 2 == 0 && dim > 0, "sinusoidalEmbedding needs an even dim, got \(dim)")
    let half = dim / 2
    // Same operation order as the PyTorch scripts: (−ln maxPeriod · arange) / half, then exp.
    let f = ((Tensor.arange(0, Float(half)) * Float(-Foundation.log(Double(maxPeriod)))) / Tensor(scalar: Float(half))).exp()
    let angles = t.unsqueezed(-1) * f
    return Tensor.concat([angles.sin(), angles.cos()], axis: -1)
}

/// Sinusoidal time embedding as a module (no parameters).
public final class SinusoidalEmbedding: UnaryModule {
    public let dim: Int
    public let maxPeriod: Float

    public init(dim: Int, maxPeriod: Float = 10000) {
        self.dim = dim
        self.maxPeriod = maxPeriod
        super.init()
    }

    override public func forward(_ x: Tensor) -> Tensor { sinusoidalEmbedding(x, dim: dim, maxPeriod: maxPeriod) }
}

/// Random Fourier features (Tancik et al. 2020; the score-SDE time embedding): a frozen W ~ N(0, scale²)
/// of size dim/2, and [sin(2π·t·W), cos(2π·t·W)] along a new last axis.
public final class RandomFourierEmbedding: UnaryModule {
    /// Frozen: saved in checkpoints and counted, never trained (as in PyTorch with requires_grad=False).
    public let weight: Parameter
    public let dim: Int

    public init(dim: Int, scale: Float = 16) {
        precondition(dim % 2 == 0 && dim > 0, "RandomFourierEmbedding needs an even dim, got \(dim)")
        self.dim = dim
        weight = Parameter([dim / 2], .normal(mean: 0, std: scale), frozen: true)
        super.init()
    }

    override public func forward(_ t: Tensor) -> Tensor {
        let angles = t.unsqueezed(-1) * weight.value * (2 * Float.pi)
        return Tensor.concat([angles.sin(), angles.cos()], axis: -1)
    }
}
