import Diffusion
import DiffusionLayers

/// How the tokens of a clip attend to each other in `VideoDiT`.
public enum SpaceTimeAttention: String, Codable, Sendable, CaseIterable {
    /// Spatial attention within each frame, then temporal attention at each position (cost ∝ F·T² + T·F²).
    case factorised
    /// One attention over all F·T tokens of the clip (full 3-D attention, cost ∝ (F·T)²).
    case joint
    /// Spatial attention only: every frame is denoised on its own (a frame-by-frame image model).
    case spatial
}

/// Hyper-parameters of `VideoDiT`.
public struct VideoDiTConfig: Codable, Sendable, Hashable {
    public var frames = 4
    public var imageSize = 8
    public var channels = 3
    public var patchSize = 2
    public var hiddenSize = 32
    public var depth = 2
    public var heads = 2
    public var mlpRatio = 2
    public var classCount = 0
    public var attention = SpaceTimeAttention.factorised
    /// Temporal attention sees only the current and earlier frames.
    public var causal = false

    public init(frames: Int = 4, imageSize: Int = 8, channels: Int = 3, patchSize: Int = 2, hiddenSize: Int = 32, depth: Int = 2, heads: Int = 2,
                mlpRatio: Int = 2, classCount: Int = 0, attention: SpaceTimeAttention = .factorised, causal: Bool = false) {
        (self.frames, self.imageSize, self.channels, self.patchSize) = (frames, imageSize, channels, patchSize)
        (self.hiddenSize, self.depth, self.heads, self.mlpRatio) = (hiddenSize, depth, heads, mlpRatio)
        (self.classCount, self.attention, self.causal) = (classCount, attention, causal)
    }

    /// The per-frame DiT that does the spatial work.
    public var frameConfig: DiTConfig {
        DiTConfig(imageSize: imageSize, inChannels: channels, outChannels: channels, patchSize: patchSize, hiddenSize: hiddenSize,
                  depth: depth, heads: heads, mlpRatio: mlpRatio, classCount: classCount)
    }
}

/// A video diffusion transformer on clips [n, F, C, H, W] with factorised space–time attention (VDM's factorised
/// space–time U-Net, Ho et al. 2022, arXiv 2204.03458, in transformer form; spacetime patches as in the Sora
/// technical report):
///
///     frames ─ DiT patchify + 2-D positions ─ + temporal positions (sinusoidal in the frame index)
///            ─ depth × [ DiTBlock within each frame  →  TemporalAttention at each position ] ─ DiT final layer ─ frames
///
/// The spatial parts are a `DiT` (shared by all frames); `.joint` replaces the pair by one DiTBlock over all F·T
/// tokens, `.spatial` drops the temporal layers. The noise conditioning c is one value per clip [n] or one per frame
/// [n·F] (Diffusion Forcing's per-frame levels, Chen et al. 2024, arXiv 2407.01392; not with `.joint`).
/// With zero-initialised gates the untrained model outputs zeros.
public final class VideoDiT: Module, NoiseConditionalNetwork {
    public let config: VideoDiTConfig
    public let frameModel: DiT
    public let temporal: [TemporalAttention]
    let framePositions: Tensor

    public var classCount: Int { config.classCount }

    public init(_ config: VideoDiTConfig = VideoDiTConfig()) {
        precondition(config.frames >= 1, "VideoDiT needs at least one frame")
        precondition(config.attention != .joint || !config.causal, "VideoDiT: causal masking is for factorised attention")
        self.config = config
        frameModel = DiT(config.frameConfig)
        temporal = config.attention == .factorised
            ? (0..<config.depth).map { _ in TemporalAttention(hiddenSize: config.hiddenSize, heads: config.heads, causal: config.causal) } : []
        framePositions = sinusoidalEmbedding(Tensor.arange(0, Float(config.frames)), dim: config.hiddenSize).reshaped([1, config.frames, 1, config.hiddenSize])
        super.init()
    }

    /// Output [n, F, C, H, W] for clips x [n, F, C, H, W], noise conditioning c [n] or [n·F] (frame-major) and labels [n].
    public func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor? = nil) -> Tensor {
        let (f, s, ch) = (config.frames, config.imageSize, config.channels)
        precondition(x.rank == 5 && Array(x.shape.dropFirst()) == [f, ch, s, s], "VideoDiT expects [n, \(f), \(ch), \(s), \(s)], got \(x.shape)")
        let n = x.shape[0]
        precondition(c.shape == [n] || c.shape == [n * f], "VideoDiT: noise conditioning must be [\(n)] or [\(n * f)], got \(c.shape)")
        let perFrame = c.shape == [n * f] && f > 1
        precondition(!perFrame || config.attention != .joint, "VideoDiT: per-frame noise levels need factorised or spatial attention")
        let (t, d) = (config.frameConfig.tokens, config.hiddenSize)
        func everyFrame(_ v: Tensor) -> Tensor { v.unsqueezed(1).expanded(to: [n, f]).reshaped([n * f]) }
        let cFrames = perFrame ? c : everyFrame(c)
        let cond = frameModel.conditioning(cFrames, labels: labels.map(everyFrame))                // [n·F, D]
        var h = (frameModel.embed(x.reshaped([n * f, ch, s, s])).reshaped([n, f, t, d]) + framePositions)
        switch config.attention {
        case .joint:
            let clipCond = frameModel.conditioning(c, labels: labels)                            // [n, D]
            var tokens = h.reshaped([n, f * t, d])
            for block in frameModel.blocks { tokens = block(tokens, clipCond) }
            h = tokens.reshaped([n * f, t, d])
        case .factorised, .spatial:
            var tokens = h.reshaped([n * f, t, d])
            for (i, block) in frameModel.blocks.enumerated() {
                tokens = block(tokens, cond)
                if i < temporal.count { tokens = temporal[i](tokens.reshaped([n, f, t, d]), cond.reshaped([n, f, d])).reshaped([n * f, t, d]) }
            }
            h = tokens
        }
        return frameModel.unpatchify(frameModel.finalLayer(h, cond)).reshaped([n, f, ch, s, s])
    }
}

/// Attention cost of one layer in multiply–accumulates for F frames of T tokens of width D (scores and the weighted
/// sum, 2·L²·D per sequence of length L; projections excluded, they are 4·F·T·D² in every variant).
public enum SpaceTimeAttentionCost {
    /// Full 3-D attention: 2·(F·T)²·D.
    public static func joint(frames F: Int, tokens T: Int, width D: Int) -> Double { 2 * Double(F * T) * Double(F * T) * Double(D) }
    /// Spatial within each frame plus temporal at each position: 2·F·T²·D + 2·T·F²·D.
    public static func factorised(frames F: Int, tokens T: Int, width D: Int) -> Double {
        2 * Double(F) * Double(T) * Double(T) * Double(D) + 2 * Double(T) * Double(F) * Double(F) * Double(D)
    }
}
