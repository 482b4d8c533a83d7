import DiffusionLayers

/// Building blocks shared by the convolutional models (UNet, autoencoder, classifier).

/// A residual block on [B, C, H, W] (Ho et al. 2020; Dhariwal & Nichol 2021):
/// h = conv(SiLU(GN(x))); h += Linear(SiLU(emb)) per channel; h = conv(dropout(SiLU(GN(h)))); out = skip(x) + h,
/// with a 1×1 convolution on the skip path when the width changes. Without `embeddingDim` it has no embedding input.
public final class ResBlock: Module {
    public let norm1: GroupNorm, conv1: Conv2d
    public let embedding: Linear?
    public let norm2: GroupNorm, dropout: Dropout?, conv2: Conv2d
    public let skip: Conv2d?

    public init(_ inChannels: Int, _ outChannels: Int, embeddingDim: Int? = nil, dropout: Float = 0, groups: Int = 8) {
        norm1 = GroupNorm(groups: groups, channels: inChannels)
        conv1 = Conv2d(inChannels, outChannels, kernelSize: 3, padding: 1)
        embedding = embeddingDim.map { Linear($0, outChannels) }
        norm2 = GroupNorm(groups: groups, channels: outChannels)
        self.dropout = dropout > 0 ? Dropout(dropout) : nil
        conv2 = Conv2d(outChannels, outChannels, kernelSize: 3, padding: 1)
        skip = inChannels == outChannels ? nil : Conv2d(inChannels, outChannels, kernelSize: 1)
        super.init()
    }

    public func callAsFunction(_ x: Tensor, _ emb: Tensor? = nil) -> Tensor {
        var h = conv1(norm1(x).silu())
        if let embedding, let emb {
            let e = embedding(emb.silu())
            h = h + e.reshaped(e.shape + [1, 1])
        }
        h = norm2(h).silu()
        if let dropout { h = dropout(h) }
        return (skip.map { $0(x) } ?? x) + conv2(h)
    }
}

/// Attention over the H·W positions of [B, C, H, W]: x + SelfAttn(GN(x)), then, when the block has a context
/// width, x + CrossAttn(LN(x), context) with keys and values from context tokens [B, L, contextDim]
/// (Rombach et al. 2022's text conditioning).
public final class SpatialAttention: Module {
    public let norm: GroupNorm, attention: MultiHeadAttention
    public let crossNorm: LayerNorm?, crossAttention: MultiHeadAttention?

    public init(_ channels: Int, heads: Int = 1, contextDim: Int? = nil, groups: Int = 8) {
        norm = GroupNorm(groups: groups, channels: channels)
        attention = MultiHeadAttention(dim: channels, heads: heads)
        crossNorm = contextDim.map { _ in LayerNorm(channels) }
        crossAttention = contextDim.map { MultiHeadAttention(dim: channels, heads: heads, contextDim: $0) }
        super.init()
    }

    public func callAsFunction(_ x: Tensor, context: Tensor? = nil) -> Tensor {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        func tokens(_ t: Tensor) -> Tensor { t.reshaped([b, c, h * w]).transposed(1, 2) }       // [B, HW, C]
        func image(_ t: Tensor) -> Tensor { t.transposed(1, 2).reshaped([b, c, h, w]) }
        var y = x + image(attention(tokens(norm(x))))
        if let crossAttention, let crossNorm {
            precondition(context != nil, "SpatialAttention: this block cross-attends and needs a context [B, L, \(crossAttention.contextDim)]")
            y = y + image(crossAttention(crossNorm(tokens(y)), context: context))
        }
        return y
    }
}

/// Halves H and W with a stride-2 3×3 convolution.
public final class Downsample: UnaryModule {
    public let conv: Conv2d
    public init(_ channels: Int) { conv = Conv2d(channels, channels, kernelSize: 3, stride: 2, padding: 1); super.init() }
    override public func forward(_ x: Tensor) -> Tensor { conv(x) }
}

/// Doubles H and W: nearest-neighbour upsampling, then a 3×3 convolution.
public final class Upsample: UnaryModule {
    public let conv: Conv2d
    public init(_ channels: Int) { conv = Conv2d(channels, channels, kernelSize: 3, padding: 1); super.init() }
    override public func forward(_ x: Tensor) -> Tensor { conv(x.upsampleNearest2d(scale: 2)) }
}

/// The embedding of the noise-conditioning value c (e.g. 1000·t or ¼ ln σ): sinusoidal features of width `dim`,
/// then Linear → SiLU → Linear to `outDim` (as in DDPM, ADM and DiT).
public final class NoiseEmbedding: Module {
    public let frequencies: Int
    public let linear1: Linear, linear2: Linear

    public init(frequencies: Int, outDim: Int) {
        self.frequencies = frequencies
        linear1 = Linear(frequencies, outDim)
        linear2 = Linear(outDim, outDim)
        super.init()
    }

    public func callAsFunction(_ c: Tensor) -> Tensor {
        precondition(c.rank == 1, "NoiseEmbedding expects one value per sample, [B], got \(c.shape)")
        return linear2(linear1(sinusoidalEmbedding(c, dim: frequencies)).silu())
    }
}

/// Class labels for classifier-free guidance (Ho & Salimans 2022): label `classCount` is the null class.
public enum ClassConditioning {
    /// The labels, or the null class for every sample when there are none.
    public static func labelsOrNull(_ labels: Tensor?, count: Int, classCount: Int) -> Tensor {
        guard let labels else { return Tensor.full([count], Float(classCount)) }
        precondition(labels.shape == [count], "labels must be [\(count)], got \(labels.shape)")
        return labels
    }
}

/// Two input channels holding each pixel's x and y (CoordConv, Liu et al. 2018, arXiv 1807.03247): convolutions and
/// attention are translation-equivariant, so without them a network can hardly tell, or choose, where things are.
public enum CoordinateChannels {
    /// [B, 2, H, W] for x [B, C, H, W]: x then y of each pixel centre, from −1 + 1/W to 1 − 1/W.
    public static func planes(like x: Tensor) -> Tensor {
        let (b, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        var planes = [Float](repeating: 0, count: 2 * h * w)
        for i in 0..<h {
            for j in 0..<w {
                planes[i * w + j] = Float(2 * j + 1) / Float(w) - 1
                planes[h * w + i * w + j] = Float(2 * i + 1) / Float(h) - 1
            }
        }
        return Tensor(planes, shape: [1, 2, h, w]).expanded(to: [b, 2, h, w])
    }

    /// x with the two coordinate channels appended: [B, C + 2, H, W].
    public static func appended(to x: Tensor) -> Tensor { Tensor.concat([x, planes(like: x)], axis: 1) }
}
