import DiffusionLayers

/// Hyper-parameters of `UNet` (saved with checkpoints as JSON).
public struct UNetConfig: Codable, Sendable, Hashable {
    public var imageSize = 16
    public var inChannels = 1, outChannels = 1
    /// Width of the first level; level i has channels·channelMultipliers[i] and halves the resolution after it.
    public var channels = 32
    public var channelMultipliers = [1, 2]
    public var resBlocksPerLevel = 1
    /// Feature-map sizes (e.g. [8] for 8×8) whose blocks get self-attention, and cross-attention with a context.
    public var attentionResolutions = [8]
    public var heads = 1
    public var dropout: Float = 0
    /// Number of classes (0: unconditional). Label `classCount` is the null class for classifier-free guidance.
    public var classCount = 0
    /// Width of text-token embeddings to cross-attend to (nil: no cross-attention).
    public var contextDim: Int?
    public var groups = 8

    public init(imageSize: Int = 16, inChannels: Int = 1, outChannels: Int = 1, channels: Int = 32, channelMultipliers: [Int] = [1, 2],
                resBlocksPerLevel: Int = 1, attentionResolutions: [Int] = [8], heads: Int = 1, dropout: Float = 0, classCount: Int = 0,
                contextDim: Int? = nil, groups: Int = 8) {
        (self.imageSize, self.inChannels, self.outChannels, self.channels, self.channelMultipliers) = (imageSize, inChannels, outChannels, channels, channelMultipliers)
        (self.resBlocksPerLevel, self.attentionResolutions, self.heads, self.dropout) = (resBlocksPerLevel, attentionResolutions, heads, dropout)
        (self.classCount, self.contextDim, self.groups) = (classCount, contextDim, groups)
    }
}

/// One resolution of the UNet: residual blocks, each optionally followed by attention, then an optional resampling.
public final class UNetLevel: Module {
    public let blocks: [ResBlock]
    public let attentions: [SpatialAttention?]
    public let resample: UnaryModule?

    init(blocks: [ResBlock], attentions: [SpatialAttention?], resample: UnaryModule?) {
        (self.blocks, self.attentions, self.resample) = (blocks, attentions, resample)
        super.init()
    }
}

/// The denoising UNet of DDPM/ADM (Ho et al. 2020, arXiv 2006.11239; Dhariwal & Nichol 2021, arXiv 2105.05233),
/// small enough for a CPU:
///
///     x ─ conv ─┬ level 0 ─ down ─┬ level 1 … ─ middle (res, attn, res) ─ … up level 1 ─ up ─ up level 0 ─ GN, SiLU, conv ─ out
///               └──── skip ───────┴──── every block output is concatenated into the matching up block ────┘
///
/// The noise conditioning c (one value per sample) goes through a sinusoidal embedding and an MLP; a class embedding
/// (with a null class) is added to it, and every residual block adds a projection of the sum. Attention levels can also
/// cross-attend to a context of text-token embeddings.
public final class UNet: Module {
    public let config: UNetConfig
    public let noiseEmbedding: NoiseEmbedding
    public let classEmbedding: Embedding?
    public let inputConv: Conv2d
    public let down: [UNetLevel]
    public let middle: [ResBlock]
    public let middleAttention: SpatialAttention
    public let up: [UNetLevel]
    public let outputNorm: GroupNorm, outputConv: Conv2d

    public var classCount: Int { config.classCount }

    public init(_ config: UNetConfig = UNetConfig()) {
        let levels = config.channelMultipliers.count
        precondition(levels >= 1 && config.resBlocksPerLevel >= 1, "UNet needs at least one level and one block per level")
        precondition(config.imageSize % (1 << (levels - 1)) == 0, "UNet: image size \(config.imageSize) does not halve \(levels - 1) times")
        self.config = config
        let ch = config.channels, embDim = 4 * ch
        func attention(_ c: Int, _ resolution: Int) -> SpatialAttention? {
            config.attentionResolutions.contains(resolution)
                ? SpatialAttention(c, heads: config.heads, contextDim: config.contextDim, groups: config.groups) : nil
        }
        func block(_ i: Int, _ o: Int) -> ResBlock { ResBlock(i, o, embeddingDim: embDim, dropout: config.dropout, groups: config.groups) }

        noiseEmbedding = NoiseEmbedding(frequencies: ch, outDim: embDim)
        classEmbedding = config.classCount > 0 ? Embedding(config.classCount + 1, embDim) : nil
        inputConv = Conv2d(config.inChannels, ch, kernelSize: 3, padding: 1)

        // Down path: remember the width of every tensor pushed on the skip stack.
        var skips = [ch], width = ch, resolution = config.imageSize
        var down: [UNetLevel] = []
        for (i, m) in config.channelMultipliers.enumerated() {
            var blocks: [ResBlock] = [], attns: [SpatialAttention?] = []
            for _ in 0..<config.resBlocksPerLevel {
                blocks.append(block(width, ch * m))
                width = ch * m
                attns.append(attention(width, resolution))
                skips.append(width)
            }
            let last = i == levels - 1
            down.append(UNetLevel(blocks: blocks, attentions: attns, resample: last ? nil : Downsample(width)))
            if !last { skips.append(width); resolution /= 2 }
        }
        self.down = down
        middle = [block(width, width), block(width, width)]
        middleAttention = SpatialAttention(width, heads: config.heads, contextDim: config.contextDim, groups: config.groups)

        // Up path: one more block per level than going down, each taking a skip tensor.
        var up: [UNetLevel] = []
        for (i, m) in config.channelMultipliers.enumerated().reversed() {
            var blocks: [ResBlock] = [], attns: [SpatialAttention?] = []
            for _ in 0...config.resBlocksPerLevel {
                blocks.append(block(width + skips.removeLast(), ch * m))
                width = ch * m
                attns.append(attention(width, resolution))
            }
            up.append(UNetLevel(blocks: blocks, attentions: attns, resample: i == 0 ? nil : Upsample(width)))
            if i > 0 { resolution *= 2 }
        }
        self.up = up
        outputNorm = GroupNorm(groups: config.groups, channels: width)
        outputConv = Conv2d(width, config.outChannels, kernelSize: 3, padding: 1)
        super.init()
    }

    /// Without a context: the signature of `NoiseConditionalNetwork`, so `extension UNet: NoiseConditionalNetwork {}`
    /// in a module that sees both makes the UNet trainable by the diffusion core's objectives and samplers.
    public func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor?) -> Tensor { self(x, c, labels: labels, context: nil) }

    /// Output [B, outChannels, H, W] for x [B, inChannels, H, W], noise conditioning c [B], labels [B] (nil: the
    /// null class) and, with cross-attention, a context [B, L, contextDim].
    public func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor? = nil, context: Tensor? = nil) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == config.inChannels && x.shape[2] == config.imageSize && x.shape[3] == config.imageSize,
                     "UNet expects [B, \(config.inChannels), \(config.imageSize), \(config.imageSize)], got \(x.shape)")
        var emb = noiseEmbedding(c)
        if let classEmbedding {
            emb = emb + classEmbedding(ClassConditioning.labelsOrNull(labels, count: x.shape[0], classCount: config.classCount))
        }
        var h = inputConv(x)
        var skips = [h]
        for level in down {
            for (block, attn) in zip(level.blocks, level.attentions) {
                h = block(h, emb)
                if let attn { h = attn(h, context: context) }
                skips.append(h)
            }
            if let resample = level.resample { h = resample(h); skips.append(h) }
        }
        h = middleAttention(middle[0](h, emb), context: context)
        h = middle[1](h, emb)
        for level in up {
            for (block, attn) in zip(level.blocks, level.attentions) {
                h = block(Tensor.concat([h, skips.removeLast()], axis: 1), emb)
                if let attn { h = attn(h, context: context) }
            }
            if let resample = level.resample { h = resample(h) }
        }
        return outputConv(outputNorm(h).silu())
    }
}
