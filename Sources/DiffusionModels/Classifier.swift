import DiffusionLayers

/// Hyper-parameters of `Classifier` (saved with checkpoints as JSON).
public struct ClassifierConfig: Codable, Sendable, Hashable {
    public var inChannels = 1
    public var classCount = 10
    public var channels = 32
    public var channelMultipliers = [1, 2]
    /// Takes a noise conditioning value too (a time-aware classifier for classifier guidance).
    public var noiseConditional = false
    public var dropout: Float = 0
    public var groups = 8
    /// Append two channels holding the pixel's x and y in [−1, 1] to the input (CoordConv, Liu et al. 2018,
    /// arXiv 1807.03247), so the spatially averaged features can tell where a shape is.
    public var coordinates = false

    public init(inChannels: Int = 1, classCount: Int = 10, channels: Int = 32, channelMultipliers: [Int] = [1, 2],
                noiseConditional: Bool = false, dropout: Float = 0, groups: Int = 8, coordinates: Bool = false) {
        (self.inChannels, self.classCount, self.channels, self.channelMultipliers) = (inChannels, classCount, channels, channelMultipliers)
        (self.noiseConditional, self.dropout, self.groups, self.coordinates) = (noiseConditional, dropout, groups, coordinates)
    }
}

/// A small convolutional classifier, for evaluation (accuracy, features for Fréchet distances) and, when noise
/// conditional, for classifier guidance (Dhariwal & Nichol 2021) through ∇ₓ log p(y | x_t):
///
///     conv ─ [ResBlock(·, emb), Downsample] per level (no downsample after the last) ─ GN, SiLU ─ mean over H, W → features ─ linear → logits
public final class Classifier: Module {
    public let config: ClassifierConfig
    public let noiseEmbedding: NoiseEmbedding?
    public let inputConv: Conv2d
    public let blocks: [ResBlock]
    public let downsamples: [Downsample]
    public let outputNorm: GroupNorm
    public let head: Linear

    public init(_ config: ClassifierConfig = ClassifierConfig()) {
        precondition(!config.channelMultipliers.isEmpty && config.classCount >= 1, "Classifier needs a level and a class")
        self.config = config
        let widths = config.channelMultipliers.map { config.channels * $0 }
        let embDim: Int? = config.noiseConditional ? 4 * config.channels : nil
        noiseEmbedding = embDim.map { NoiseEmbedding(frequencies: config.channels, outDim: $0) }
        inputConv = Conv2d(config.inChannels + (config.coordinates ? 2 : 0), widths[0], kernelSize: 3, padding: 1)
        blocks = widths.indices.map { i in
            ResBlock(i == 0 ? widths[0] : widths[i - 1], widths[i], embeddingDim: embDim, dropout: config.dropout, groups: config.groups)
        }
        downsamples = widths.dropLast().map { Downsample($0) }
        outputNorm = GroupNorm(groups: config.groups, channels: widths.last!)
        head = Linear(widths.last!, config.classCount)
        super.init()
    }

    /// Width of `features`.
    public var featureCount: Int { head.inFeatures }

    /// Penultimate features [B, F] (spatial means of the last level), e.g. for Fréchet distances.
    /// `c` (one noise value per sample) is required when the classifier is noise conditional and ignored otherwise.
    public func features(_ x: Tensor, _ c: Tensor? = nil) -> Tensor {
        precondition(noiseEmbedding == nil || c != nil, "a noise-conditional classifier needs the noise values c [B]")
        let emb = noiseEmbedding.flatMap { e in c.map { e($0) } }
        var h = inputConv(config.coordinates ? CoordinateChannels.appended(to: x) : x)
        for (i, block) in blocks.enumerated() {
            h = block(h, emb)
            if i < downsamples.count { h = downsamples[i](h) }
        }
        return outputNorm(h).silu().mean(axes: [2, 3])
    }

    /// Logits [B, classCount].
    public func callAsFunction(_ x: Tensor, _ c: Tensor? = nil) -> Tensor { head(features(x, c)) }

    /// log p(y | x) [B] for integer labels [B] (differentiable in x, for classifier guidance).
    public func logProbability(of labels: Tensor, _ x: Tensor, _ c: Tensor? = nil) -> Tensor {
        self(x, c).logSoftmax(axis: 1).gather(axis: 1, indices: labels.reshaped([-1, 1])).reshaped([-1])
    }
}

/// Mean cross-entropy of logits [B, K] against integer labels [B].
public func crossEntropy(logits: Tensor, labels: Tensor) -> Tensor {
    -logits.logSoftmax(axis: 1).gather(axis: 1, indices: labels.reshaped([-1, 1])).mean()
}
