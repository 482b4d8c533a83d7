import Diffusion
import DiffusionLayers

/// How the blocks of a DiT receive the conditioning (noise level and class), the four designs compared by Peebles &
/// Xie 2023 (arXiv 2212.09748, §3.2 and Fig. 5):
///
/// - `inContext`: the noise and class embeddings are appended to the image tokens as two extra tokens, the blocks are
///   standard pre-norm transformer blocks, and the extra tokens are dropped after the last block;
/// - `crossAttention`: the two embeddings form a length-two context; each block adds a cross-attention layer after
///   its self-attention;
/// - `adaLN`: LayerNorm's scale and shift are regressed from c = noise + class embedding (default initialisation);
/// - `adaLNZero`: as adaLN plus a gate on each residual branch; the regression is zero-initialised, so every block
///   starts as the identity (exactly `DiTBlock`).
///
/// In every design the final linear layer is zero-initialised, so the untrained model outputs zero.
public enum DiTConditioning: String, CaseIterable, Codable, Sendable {
    case inContext, crossAttention, adaLN, adaLNZero
}

/// A pre-norm transformer block (the in-context and cross-attention designs, and the body of the adaLN design):
/// LayerNorms with their own affine parameters (`affine`) or none, optionally a cross-attention layer to context
/// tokens after the self-attention.
public final class DiTPlainBlock: Module {
    public let norm1: LayerNorm, attention: MultiHeadAttention
    public let crossNorm: LayerNorm?, crossAttention: MultiHeadAttention?
    public let norm2: LayerNorm, mlp: Sequential

    public init(hiddenSize d: Int, heads: Int, mlpRatio: Int, crossAttention cross: Bool, affine: Bool = true) {
        norm1 = LayerNorm(d, eps: 1e-6, elementwiseAffine: affine)
        attention = MultiHeadAttention(dim: d, heads: heads)
        crossNorm = cross ? LayerNorm(d, eps: 1e-6, elementwiseAffine: affine) : nil
        crossAttention = cross ? MultiHeadAttention(dim: d, heads: heads) : nil
        norm2 = LayerNorm(d, eps: 1e-6, elementwiseAffine: affine)
        mlp = Sequential(Linear(d, mlpRatio * d), GELU(), Linear(mlpRatio * d, d))
        super.init()
    }

    /// x [B, T, D]; context [B, L, D] (needed exactly when the block has cross-attention); `modulation` [B, 4D]
    /// (shift and scale after each LayerNorm, for the adaLN design) or nil.
    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, modulation: Tensor? = nil) -> Tensor {
        precondition((context != nil) == (crossAttention != nil), "DiTPlainBlock: context is needed exactly with cross-attention")
        let m = modulation?.chunk(4, axis: -1)
        func adapt(_ y: Tensor, _ k: Int) -> Tensor { m.map { modulate(y, shift: $0[k], scale: $0[k + 1]) } ?? y }
        var h = x + attention(adapt(norm1(x), 0))
        if let crossAttention, let crossNorm, let context { h = h + crossAttention(crossNorm(h), context: context) }
        return h + mlp(adapt(norm2(h), 2))
    }
}

/// The adaLN design: a `DiTPlainBlock` without affine LayerNorms whose shift and scale come from c through a linear
/// layer with default (non-zero) initialisation; no gates.
public final class DiTAdaLNBlock: Module {
    public let block: DiTPlainBlock
    public let modulation: Linear

    public init(hiddenSize d: Int, heads: Int, mlpRatio: Int) {
        block = DiTPlainBlock(hiddenSize: d, heads: heads, mlpRatio: mlpRatio, crossAttention: false, affine: false)
        modulation = Linear(d, 4 * d)
        super.init()
    }

    /// x [B, T, D], conditioning c [B, D].
    public func callAsFunction(_ x: Tensor, _ c: Tensor) -> Tensor { block(x, modulation: modulation(c.silu())) }
}

/// A DiT whose blocks use one of the four conditioning designs of `DiTConditioning`. Patchify, the fixed 2-D
/// sine–cosine positions, the noise and class embeddings and unpatchify are those of `DiT` (`DiTConfig`; learned
/// positions are not offered). With `.adaLNZero` it is `DiT` itself, parameter for parameter.
public final class DiTVariant: Module {
    public let config: DiTConfig
    public let conditioningMode: DiTConditioning
    public let patchEmbedding: Conv2d
    let fixedPositions: Tensor
    public let noiseEmbedding: NoiseEmbedding
    public let classEmbedding: Embedding?
    public let plainBlocks: [DiTPlainBlock]
    public let adaLNBlocks: [DiTAdaLNBlock]
    public let zeroBlocks: [DiTBlock]
    /// The adaLN final layer (adaLN designs) or a plain LayerNorm and linear map (token designs).
    public let finalLayer: DiTFinalLayer?
    public let finalNorm: LayerNorm?, finalLinear: Linear?

    public var classCount: Int { config.classCount }

    public init(_ config: DiTConfig, conditioning: DiTConditioning) {
        precondition(!config.learnedPositions, "DiTVariant uses the fixed sine–cosine positions")
        precondition(config.imageSize % config.patchSize == 0, "DiTVariant: patch size \(config.patchSize) does not divide image size \(config.imageSize)")
        precondition(config.hiddenSize % config.heads == 0 && config.hiddenSize % 4 == 0, "DiTVariant: hidden size must be divisible by the heads and by 4")
        self.config = config
        conditioningMode = conditioning
        let (d, p, n) = (config.hiddenSize, config.patchSize, config.depth)
        patchEmbedding = Conv2d(config.inChannels, d, kernelSize: p, stride: p)
        fixedPositions = sinusoidalPositions2D(gridSize: config.gridSize, dim: d).unsqueezed(0)
        noiseEmbedding = NoiseEmbedding(frequencies: 256, outDim: d)
        classEmbedding = config.classCount > 0 ? Embedding(config.classCount + 1, d) : nil
        classEmbedding?.weight.value = Initializer.normal(std: 0.02).make([config.classCount + 1, d])
        let tokenDesign = conditioning == .inContext || conditioning == .crossAttention
        plainBlocks = tokenDesign ? (0..<n).map { _ in
            DiTPlainBlock(hiddenSize: d, heads: config.heads, mlpRatio: config.mlpRatio, crossAttention: conditioning == .crossAttention)
        } : []
        adaLNBlocks = conditioning == .adaLN ? (0..<n).map { _ in DiTAdaLNBlock(hiddenSize: d, heads: config.heads, mlpRatio: config.mlpRatio) } : []
        zeroBlocks = conditioning == .adaLNZero ? (0..<n).map { _ in DiTBlock(hiddenSize: d, heads: config.heads, mlpRatio: config.mlpRatio) } : []
        let out = p * p * config.outChannels
        finalLayer = tokenDesign ? nil : DiTFinalLayer(hiddenSize: d, patchOutput: out)
        finalNorm = tokenDesign ? LayerNorm(d, eps: 1e-6) : nil
        finalLinear = tokenDesign ? Linear(d, out) : nil
        if let finalLinear {
            finalLinear.weight.value = .zeros(finalLinear.weight.shape)
            finalLinear.bias!.value = .zeros(finalLinear.bias!.shape)
        }
        super.init()
    }

    /// The conditioning tokens [B, L, D]: the noise embedding, then the class embedding when there are classes.
    public func conditioningTokens(_ c: Tensor, labels: Tensor?) -> Tensor {
        var tokens = [noiseEmbedding(c)]
        if let classEmbedding {
            tokens.append(classEmbedding(ClassConditioning.labelsOrNull(labels, count: c.shape[0], classCount: config.classCount)))
        }
        return Tensor.stack(tokens, axis: 1)
    }

    /// Output [B, outChannels, H, W] for x [B, inChannels, H, W], noise conditioning c [B] and labels [B] (nil: the
    /// null class); the signature of `NoiseConditionalNetwork`.
    public func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor? = nil) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == config.inChannels && x.shape[2] == config.imageSize && x.shape[3] == config.imageSize,
                     "DiTVariant expects [B, \(config.inChannels), \(config.imageSize), \(config.imageSize)], got \(x.shape)")
        var h = patchEmbedding(x).flattened(from: 2).transposed(1, 2) + fixedPositions
        let tokens = conditioningTokens(c, labels: labels)
        let t = config.tokens
        let out: Tensor
        switch conditioningMode {
        case .inContext:
            h = Tensor.concat([h, tokens], axis: 1)
            for block in plainBlocks { h = block(h) }
            out = finalLinear!(finalNorm!(h.slice(axis: 1, 0, t)))
        case .crossAttention:
            for block in plainBlocks { h = block(h, context: tokens) }
            out = finalLinear!(finalNorm!(h))
        case .adaLN, .adaLNZero:
            let cond = tokens.sum(axis: 1)
            for block in adaLNBlocks { h = block(h, cond) }
            for block in zeroBlocks { h = block(h, cond) }
            out = finalLayer!(h, cond)
        }
        return config.unpatchify(out)
    }
}

extension DiTVariant: NoiseConditionalNetwork {}
