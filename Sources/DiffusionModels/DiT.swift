import DiffusionLayers
import Foundation

/// Hyper-parameters of `DiT` (saved with checkpoints as JSON).
public struct DiTConfig: Codable, Sendable, Hashable {
    public var imageSize = 16
    public var inChannels = 1, outChannels = 1
    public var patchSize = 2
    public var hiddenSize = 128
    public var depth = 4
    public var heads = 4
    public var mlpRatio = 4
    /// Number of classes (0: unconditional). Label `classCount` is the null class for classifier-free guidance.
    public var classCount = 0
    /// Learned positional embedding (initialised N(0, 0.02²)) instead of the fixed 2-D sine–cosine one.
    public var learnedPositions = false

    public init(imageSize: Int = 16, inChannels: Int = 1, outChannels: Int = 1, patchSize: Int = 2, hiddenSize: Int = 128, depth: Int = 4,
                heads: Int = 4, mlpRatio: Int = 4, classCount: Int = 0, learnedPositions: Bool = false) {
        (self.imageSize, self.inChannels, self.outChannels, self.patchSize) = (imageSize, inChannels, outChannels, patchSize)
        (self.hiddenSize, self.depth, self.heads, self.mlpRatio) = (hiddenSize, depth, heads, mlpRatio)
        (self.classCount, self.learnedPositions) = (classCount, learnedPositions)
    }

    /// Number of patches along one side and in all.
    public var gridSize: Int { imageSize / patchSize }
    public var tokens: Int { gridSize * gridSize }
}

/// x·(1 + scale) + shift, with per-sample shift and scale [B, D] broadcast over the tokens of x [B, T, D].
func modulate(_ x: Tensor, shift: Tensor, scale: Tensor) -> Tensor {
    x * (scale.unsqueezed(1) + 1) + shift.unsqueezed(1)
}

/// A transformer block with adaLN-Zero conditioning: from c, a zero-initialised linear layer gives shift, scale and a
/// gate for the attention and for the MLP; the gates start at 0, so the block starts as the identity.
public final class DiTBlock: Module {
    public let norm1: LayerNorm, attention: MultiHeadAttention
    public let norm2: LayerNorm, mlp: Sequential
    public let modulation: Linear

    public init(hiddenSize d: Int, heads: Int, mlpRatio: Int) {
        norm1 = LayerNorm(d, eps: 1e-6, elementwiseAffine: false)
        attention = MultiHeadAttention(dim: d, heads: heads)
        norm2 = LayerNorm(d, eps: 1e-6, elementwiseAffine: false)
        mlp = Sequential(Linear(d, mlpRatio * d), GELU(), Linear(mlpRatio * d, d))
        modulation = Linear(d, 6 * d)
        modulation.weight.value = .zeros(modulation.weight.shape)
        modulation.bias!.value = .zeros(modulation.bias!.shape)
        super.init()
    }

    /// x [B, T, D], conditioning c [B, D].
    public func callAsFunction(_ x: Tensor, _ c: Tensor) -> Tensor {
        let m = modulation(c.silu()).chunk(6, axis: -1)
        let (shiftA, scaleA, gateA, shiftM, scaleM, gateM) = (m[0], m[1], m[2], m[3], m[4], m[5])
        var h = x + gateA.unsqueezed(1) * attention(modulate(norm1(x), shift: shiftA, scale: scaleA))
        h = h + gateM.unsqueezed(1) * mlp(modulate(norm2(h), shift: shiftM, scale: scaleM))
        return h
    }
}

/// The last layer: adaLN (shift, scale) and a linear map of each token to its patch p·p·C, both zero-initialised.
public final class DiTFinalLayer: Module {
    public let norm: LayerNorm, modulation: Linear, linear: Linear

    public init(hiddenSize d: Int, patchOutput: Int) {
        norm = LayerNorm(d, eps: 1e-6, elementwiseAffine: false)
        modulation = Linear(d, 2 * d)
        linear = Linear(d, patchOutput)
        for l in [modulation, linear] {
            l.weight.value = .zeros(l.weight.shape)
            l.bias!.value = .zeros(l.bias!.shape)
        }
        super.init()
    }

    public func callAsFunction(_ x: Tensor, _ c: Tensor) -> Tensor {
        let m = modulation(c.silu()).chunk(2, axis: -1)
        return linear(modulate(norm(x), shift: m[0], scale: m[1]))
    }
}

/// Fixed 2-D sine–cosine positional embedding [gridSize², dim]: the first dim/2 features encode the row, the rest the
/// column, each as [sin(p·ω_k), cos(p·ω_k)] with ω_k = 10000^(−k/(dim/4)) (as in MAE and DiT).
public func sinusoidalPositions2D(gridSize n: Int, dim: Int) -> Tensor {
    precondition(dim % 4 == 0, "sinusoidalPositions2D needs dim divisible by 4, got \(dim)")
    let quarter = dim / 4
    var out = [Float](repeating: 0, count: n * n * dim)
    for r in 0..<n {
        for c in 0..<n {
            for (half, p) in [(0, r), (1, c)] {
                for k in 0..<quarter {
                    let angle = Double(p) * Foundation.pow(10000, -Double(k) / Double(quarter))
                    let base = (r * n + c) * dim + half * dim / 2
                    out[base + k] = Float(Foundation.sin(angle))
                    out[base + quarter + k] = Float(Foundation.cos(angle))
                }
            }
        }
    }
    return Tensor(out, shape: [n * n, dim])
}

/// Diffusion Transformer (Peebles & Xie 2023, arXiv 2212.09748):
///
///     x [B, C, H, W] ─ patchify (conv p×p, stride p) ─ + positions ─ depth × DiTBlock(·, c) ─ final layer(·, c) ─ unpatchify
///     c = MLP(sinusoidal(noise conditioning)) + class embedding (with a null class)
///
/// With adaLN-Zero every block and the output start at zero contribution: the untrained model outputs zeros.
public final class DiT: Module {
    public let config: DiTConfig
    public let patchEmbedding: Conv2d
    /// Learned positions [1, T, D], or nil for the fixed sine–cosine table.
    public let positions: Parameter?
    let fixedPositions: Tensor
    public let noiseEmbedding: NoiseEmbedding
    public let classEmbedding: Embedding?
    public let blocks: [DiTBlock]
    public let finalLayer: DiTFinalLayer

    public var classCount: Int { config.classCount }

    public init(_ config: DiTConfig = DiTConfig()) {
        precondition(config.imageSize % config.patchSize == 0, "DiT: patch size \(config.patchSize) does not divide image size \(config.imageSize)")
        precondition(config.hiddenSize % config.heads == 0 && config.hiddenSize % 4 == 0, "DiT: hidden size must be divisible by the heads and by 4")
        self.config = config
        let (d, p) = (config.hiddenSize, config.patchSize)
        patchEmbedding = Conv2d(config.inChannels, d, kernelSize: p, stride: p)
        positions = config.learnedPositions ? Parameter([1, config.tokens, d], .normal(std: 0.02)) : nil
        fixedPositions = sinusoidalPositions2D(gridSize: config.gridSize, dim: d).unsqueezed(0)
        noiseEmbedding = NoiseEmbedding(frequencies: 256, outDim: d)
        classEmbedding = config.classCount > 0 ? Embedding(config.classCount + 1, d) : nil
        classEmbedding?.weight.value = Initializer.normal(std: 0.02).make([config.classCount + 1, d])
        blocks = (0..<config.depth).map { _ in DiTBlock(hiddenSize: d, heads: config.heads, mlpRatio: config.mlpRatio) }
        finalLayer = DiTFinalLayer(hiddenSize: d, patchOutput: p * p * config.outChannels)
        super.init()
    }

    /// [B, C, H, W] → tokens [B, T, D] with positions added.
    public func embed(_ x: Tensor) -> Tensor {
        let tokens = patchEmbedding(x).flattened(from: 2).transposed(1, 2)
        return tokens + (positions?.value ?? fixedPositions)
    }

    /// The conditioning vector c [B, D] from the noise values and labels (nil: the null class).
    public func conditioning(_ c: Tensor, labels: Tensor?) -> Tensor {
        var e = noiseEmbedding(c)
        if let classEmbedding {
            e = e + classEmbedding(ClassConditioning.labelsOrNull(labels, count: c.shape[0], classCount: config.classCount))
        }
        return e
    }

    /// Tokens [B, T, p·p·C] (each ordered row, column, channel within its patch) → [B, C, H, W].
    public func unpatchify(_ t: Tensor) -> Tensor { config.unpatchify(t) }

    /// Output [B, outChannels, H, W] for x [B, inChannels, H, W], noise conditioning c [B] and labels [B] (nil: the null
    /// class); the signature of `NoiseConditionalNetwork`.
    public func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor? = nil) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == config.inChannels && x.shape[2] == config.imageSize && x.shape[3] == config.imageSize,
                     "DiT expects [B, \(config.inChannels), \(config.imageSize), \(config.imageSize)], got \(x.shape)")
        let cond = conditioning(c, labels: labels)
        var h = embed(x)
        for block in blocks { h = block(h, cond) }
        return unpatchify(finalLayer(h, cond))
    }
}

extension DiTConfig {
    /// Patch tokens [B, N², p²·C] back to images [B, C, H, W] (the inverse of patchify's token order).
    public func unpatchify(_ t: Tensor) -> Tensor {
        let (b, n, p, c) = (t.shape[0], gridSize, patchSize, outChannels)
        return t.reshaped([b, n, n, p, p, c]).permuted([0, 5, 1, 3, 2, 4]).reshaped([b, c, n * p, n * p])
    }
}
