import Diffusion
import DiffusionLayers
import Foundation

/// Hyper-parameters of `TokenTransformer`.
public struct TokenTransformerConfig: Codable, Sendable, Hashable {
    /// K data categories; the input vocabulary adds the [MASK] token K when `masked`.
    public var categories = 4
    public var masked = true
    public var length = 8
    public var hiddenSize = 64
    public var depth = 2
    public var heads = 4
    public var mlpRatio = 4

    public init(categories: Int = 4, masked: Bool = true, length: Int = 8, hiddenSize: Int = 64, depth: Int = 2, heads: Int = 4, mlpRatio: Int = 4) {
        (self.categories, self.masked, self.length) = (categories, masked, length)
        (self.hiddenSize, self.depth, self.heads, self.mlpRatio) = (hiddenSize, depth, heads, mlpRatio)
    }

    public var vocabulary: Int { masked ? categories + 1 : categories }
}

/// A small bidirectional transformer denoiser for discrete diffusion:
///
///     x_t [B, L] ─ token embedding + learned positions ─ depth × DiTBlock(·, c) ─ final layer(·, c) → logits [B, L, K]
///     c = MLP(sinusoidal(1000·t))
///
/// The blocks and the zero-initialised output layer are DiT's (adaLN-Zero), so the untrained model predicts the
/// uniform p̂(x_0 | x_t). The logits cover the K data categories only (never [MASK]), as in MDLM.
public final class TokenTransformer: Module, TokenDenoiser {
    public let config: TokenTransformerConfig
    public let tokenEmbedding: Embedding
    public let positions: Parameter
    public let timeEmbedding: NoiseEmbedding
    public let blocks: [DiTBlock]
    public let finalLayer: DiTFinalLayer

    public init(_ config: TokenTransformerConfig = TokenTransformerConfig()) {
        precondition(config.hiddenSize % config.heads == 0, "TokenTransformer: hidden size must be divisible by the heads")
        self.config = config
        let d = config.hiddenSize
        tokenEmbedding = Embedding(config.vocabulary, d)
        tokenEmbedding.weight.value = Initializer.normal(std: 0.02).make([config.vocabulary, d])
        positions = Parameter([1, config.length, d], .normal(std: 0.02))
        timeEmbedding = NoiseEmbedding(frequencies: 64, outDim: d)
        blocks = (0..<config.depth).map { _ in DiTBlock(hiddenSize: d, heads: config.heads, mlpRatio: config.mlpRatio) }
        finalLayer = DiTFinalLayer(hiddenSize: d, patchOutput: config.categories)
        super.init()
    }

    public var categories: Int { config.categories }

    /// Logits [B, L, K] for tokens x_t [B, L] (integers as Float) at times t [B] in [0, 1].
    public func logits(_ xt: Tensor, _ t: Tensor) -> Tensor {
        precondition(xt.rank == 2 && xt.shape[1] == config.length && t.shape == [xt.shape[0]],
                     "TokenTransformer expects tokens [B, \(config.length)] and times [B], got \(xt.shape) and \(t.shape)")
        let c = timeEmbedding(t * 1000)
        var h = tokenEmbedding(xt) + positions.value
        for block in blocks { h = block(h, c) }
        return finalLayer(h, c)
    }
}

/// The objective a `TokenTransformer` is trained with.
public enum TokenObjective: Sendable, Hashable {
    /// D3PM's hybrid loss L_vb + λ·CE on a discrete process.
    case d3pm(DiscreteProcess, lambda: Double)
    /// Continuous-time masked diffusion (MDLM) with a schedule α_t.
    case masked(DiscreteSchedule)

    /// The loss on a batch x0 [B, L].
    public func loss(_ model: some TokenDenoiser, _ x0: Tensor, generator: inout RandomGenerator) -> Tensor {
        switch self {
        case .d3pm(let process, let lambda): return process.d3pmLoss(model, x0, lambda: lambda, generator: &generator).loss
        case .masked(let schedule): return MaskedDiffusion.loss(model, x0, schedule: schedule, generator: &generator)
        }
    }
}

/// Trains `model` for `steps` Adam steps on batches from `batch(step)`; returns the loss of every step.
/// Gradient norms are clipped at 1; the learning rate warms up linearly over the first 50 steps.
@discardableResult
public func trainTokenDenoiser(_ model: TokenTransformer, objective: TokenObjective, steps: Int, learningRate: Double = 3e-3,
                               seed: UInt64, batch: (Int) -> Tensor) -> [Double] {
    let optimizer = Adam(model.trainableParameters(), lr: learningRate)
    var generator = RandomGenerator(seed: seed)
    var history: [Double] = []
    for step in 0..<steps {
        let loss = objective.loss(model, batch(step), generator: &generator)
        applyUpdate(loss, optimizer: optimizer, learningRate: learningRate * min(1, Double(step + 1) / 50), gradClip: 1, ema: nil)
        history.append(Double(loss.item))
    }
    return history
}
