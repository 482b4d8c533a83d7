import Diffusion
import DiffusionData
import DiffusionLayers

/// A small text encoder for the closed vocabulary of the shapes captions: token embeddings plus learned positions,
/// one pre-norm transformer block (self-attention, then a GELU MLP, each residual) and a final LayerNorm.
/// Ids [B, L] (exact Float values, 0 = padding) → token features [B, L, width].
///
///     ids ─ Embedding + positions ─┬─ LN ─ self-attention ─(+)─┬─ LN ─ Linear ─ GELU ─ Linear ─(+)─ LN → context
///                                  └───────────────────────────┘└──────────────────────────────────┘
public final class TextEncoder: Module {
    public let tokenEmbedding: Embedding
    public let positions: Parameter
    public let attentionNorm: LayerNorm
    public let attention: MultiHeadAttention
    public let mlpNorm: LayerNorm
    public let mlpIn: Linear, mlpOut: Linear
    public let outputNorm: LayerNorm
    public let length: Int

    public init(vocabulary: Int, length: Int, width: Int, heads: Int) {
        precondition(width % heads == 0, "TextEncoder: width \(width) must be divisible by the heads \(heads)")
        self.length = length
        tokenEmbedding = Embedding(vocabulary, width)
        tokenEmbedding.weight.value = Initializer.normal(std: 0.02).make([vocabulary, width])
        positions = Parameter([1, length, width], .normal(std: 0.02))
        attentionNorm = LayerNorm([width])
        attention = MultiHeadAttention(dim: width, heads: heads)
        mlpNorm = LayerNorm([width])
        (mlpIn, mlpOut) = (Linear(width, 2 * width), Linear(2 * width, width))
        outputNorm = LayerNorm([width])
        super.init()
    }

    public func callAsFunction(_ ids: Tensor) -> Tensor {
        precondition(ids.rank == 2 && ids.shape[1] == length, "TextEncoder expects token ids [B, \(length)], got \(ids.shape)")
        var h = tokenEmbedding(ids) + positions.value
        h = h + attention(attentionNorm(h))
        h = h + mlpOut(mlpIn(mlpNorm(h)).gelu())
        return outputNorm(h)
    }
}

/// A text-conditioned image denoiser (the conditioning of latent diffusion, Rombach et al. 2022, arXiv 2112.10752,
/// §3.3, on pixels): the `TextEncoder` turns a caption into token features that every attention level of a `UNet`
/// cross-attends to. The UNet also sees two coordinate channels (`CoordinateChannels`): convolutions and attention
/// are translation-equivariant, and without them it cannot put a shape where the text says. Its "labels" are token ids [B, L] of `CaptionTokenizer.shapes`; `labels: nil` is the empty
/// text (all padding), which caption dropout teaches as the unconditional model, so classifier-free guidance
/// (Ho & Salimans 2022) runs unchanged: D(x; ∅) + w·(D(x; text) − D(x; ∅)).
public final class TextToImageUNet: Module, NoiseConditionalNetwork {
    public let textEncoder: TextEncoder
    public let unet: UNet

    /// `unet` (for the images' channels) must have `contextDim` = the encoder's width and no classes; its input gets
    /// the two coordinate channels more.
    public init(unet config: UNetConfig, textLength: Int, heads: Int = 2) {
        precondition(config.classCount == 0, "TextToImageUNet: the UNet is conditioned on text, not on classes")
        guard let width = config.contextDim else { preconditionFailure("TextToImageUNet: the UNet needs a contextDim") }
        textEncoder = TextEncoder(vocabulary: CaptionTokenizer.shapes.count, length: textLength, width: width, heads: heads)
        var withCoordinates = config
        withCoordinates.inChannels += 2
        unet = UNet(withCoordinates)
        super.init()
    }

    /// Tokens per caption (shorter ones are padded).
    public var textLength: Int { textEncoder.length }
    /// Not class conditional: the condition is the text.
    public var classCount: Int { 0 }

    /// Token ids [n, L] of prompts; unknown words and over-long prompts are errors naming them.
    public func tokens(_ prompts: [String]) throws(PromptError) -> Tensor {
        try CaptionTokenizer.shapes.strictEncode(prompts, length: textLength)
    }

    /// The empty text (all padding) for n samples.
    public static func emptyText(count n: Int, length: Int) -> Tensor { Tensor.full([n, length], Float(CaptionTokenizer.pad)) }

    /// Output for images x [B, C, H, W], noise conditioning c [B] and token ids [B, L] (nil: the empty text).
    public func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor?) -> Tensor {
        let ids = labels ?? Self.emptyText(count: x.shape[0], length: textLength)
        return unet(CoordinateChannels.appended(to: x), c, context: textEncoder(ids))
    }
}

/// Caption dropout for classifier-free guidance: each row of token ids [B, L] becomes the empty text with
/// probability p (one uniform per row from `generator`).
public func dropCaptions(_ ids: Tensor, probability p: Double, generator: inout RandomGenerator) -> Tensor {
    let keep = generator.uniform([ids.shape[0], 1]) .>= Float(p)
    return Tensor.where(keep.expanded(to: ids.shape), ids, Tensor(scalar: Float(CaptionTokenizer.pad)))
}
