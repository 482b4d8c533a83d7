import DiffusionLayers

/// Hyper-parameters of `Autoencoder` (saved with checkpoints as JSON).
public struct AutoencoderConfig: Codable, Sendable, Hashable {
    public var inChannels = 1
    /// Channels of the latent z; the latent side is imageSize / 2^(channelMultipliers.count − 1).
    public var latentChannels = 2
    public var channels = 32
    public var channelMultipliers = [1, 2]
    public var groups = 8

    public init(inChannels: Int = 1, latentChannels: Int = 2, channels: Int = 32, channelMultipliers: [Int] = [1, 2], groups: Int = 8) {
        (self.inChannels, self.latentChannels, self.channels, self.channelMultipliers, self.groups) = (inChannels, latentChannels, channels, channelMultipliers, groups)
    }

    /// Spatial down-sampling factor between image and latent.
    public var downsamplingFactor: Int { 1 << (channelMultipliers.count - 1) }
}

/// A diagonal Gaussian N(mean, exp(logVariance)) per latent element: the encoder's posterior q(z | x).
public struct DiagonalGaussian {
    public let mean: Tensor
    /// Clamped to [−30, 20] as in Stable Diffusion's autoencoder, so exp never overflows.
    public let logVariance: Tensor

    public init(mean: Tensor, logVariance: Tensor) {
        self.mean = mean
        self.logVariance = logVariance.clamp(min: -30, max: 20)
    }

    public var standardDeviation: Tensor { (logVariance * 0.5).exp() }

    /// The reparametrisation trick: z = mean + σ·ε with ε ~ N(0, I) from `generator`, differentiable in mean and σ.
    public func sample(_ generator: inout RandomGenerator) -> Tensor {
        mean + standardDeviation * generator.normal(mean.shape)
    }

    /// KL(q ‖ N(0, I)) per sample [B]: ½ Σ (μ² + σ² − 1 − ln σ²) over the other axes.
    public func kl() -> Tensor {
        let terms = (mean.square() + logVariance.exp() - 1 - logVariance) * 0.5
        return terms.sum(axes: Array(1..<mean.rank))
    }
}

/// A small KL-regularised convolutional autoencoder for latent diffusion (Rombach et al. 2022, arXiv 2112.10752):
///
///     encoder: conv ─ [ResBlock, Downsample] per level (no downsample after the last) ─ ResBlock ─ GN, SiLU, conv → (μ, ln σ²)
///     decoder: conv ─ ResBlock ─ [ResBlock, Upsample] per level, reversed ─ GN, SiLU, conv → x̂
///
/// Trained with a reconstruction error plus a small weight times KL(q(z | x) ‖ N(0, I)), which keeps the latents
/// near unit scale so a diffusion model can be trained on them.
public final class Autoencoder: Module {
    public let config: AutoencoderConfig
    public let encoderInput: Conv2d
    public let encoderBlocks: [ResBlock]
    public let encoderDownsamples: [Downsample]
    public let encoderMiddle: ResBlock
    public let encoderNorm: GroupNorm, encoderOutput: Conv2d
    public let decoderInput: Conv2d
    public let decoderMiddle: ResBlock
    public let decoderBlocks: [ResBlock]
    public let decoderUpsamples: [Upsample]
    public let decoderNorm: GroupNorm, decoderOutput: Conv2d

    public init(_ config: AutoencoderConfig = AutoencoderConfig()) {
        precondition(!config.channelMultipliers.isEmpty, "Autoencoder needs at least one level")
        self.config = config
        let widths = config.channelMultipliers.map { config.channels * $0 }
        let g = config.groups
        encoderInput = Conv2d(config.inChannels, widths[0], kernelSize: 3, padding: 1)
        encoderBlocks = widths.indices.map { i in ResBlock(i == 0 ? widths[0] : widths[i - 1], widths[i], groups: g) }
        encoderDownsamples = widths.dropLast().map { Downsample($0) }
        encoderMiddle = ResBlock(widths.last!, widths.last!, groups: g)
        encoderNorm = GroupNorm(groups: g, channels: widths.last!)
        encoderOutput = Conv2d(widths.last!, 2 * config.latentChannels, kernelSize: 3, padding: 1)

        decoderInput = Conv2d(config.latentChannels, widths.last!, kernelSize: 3, padding: 1)
        decoderMiddle = ResBlock(widths.last!, widths.last!, groups: g)
        let reversed = Array(widths.reversed())
        decoderBlocks = reversed.indices.map { i in ResBlock(i == 0 ? reversed[0] : reversed[i - 1], reversed[i], groups: g) }
        decoderUpsamples = reversed.dropLast().map { Upsample($0) }
        decoderNorm = GroupNorm(groups: g, channels: widths[0])
        decoderOutput = Conv2d(widths[0], config.inChannels, kernelSize: 3, padding: 1)
        super.init()
    }

    /// q(z | x) for images [B, C, H, W]; latents are [B, latentChannels, H/f, W/f].
    public func encode(_ x: Tensor) -> DiagonalGaussian {
        var h = encoderInput(x)
        for (i, block) in encoderBlocks.enumerated() {
            h = block(h)
            if i < encoderDownsamples.count { h = encoderDownsamples[i](h) }
        }
        let moments = encoderOutput(encoderNorm(encoderMiddle(h)).silu()).chunk(2, axis: 1)
        return DiagonalGaussian(mean: moments[0], logVariance: moments[1])
    }

    /// x̂ for latents z.
    public func decode(_ z: Tensor) -> Tensor {
        var h = decoderMiddle(decoderInput(z))
        for (i, block) in decoderBlocks.enumerated() {
            h = block(h)
            if i < decoderUpsamples.count { h = decoderUpsamples[i](h) }
        }
        return decoderOutput(decoderNorm(h).silu())
    }

    /// Encodes, samples z by reparametrisation and decodes.
    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> (reconstruction: Tensor, posterior: DiagonalGaussian) {
        let posterior = encode(x)
        return (decode(posterior.sample(&generator)), posterior)
    }

    /// The training loss: squared error summed over pixels and averaged over the batch, plus `klWeight` times the mean KL.
    public func loss(_ x: Tensor, klWeight: Float = 1e-3, generator: inout RandomGenerator) -> (total: Tensor, reconstruction: Tensor, kl: Tensor) {
        let (xHat, posterior) = self(x, generator: &generator)
        let reconstruction = (xHat - x).square().sum() / Float(x.shape[0])
        let kl = posterior.kl().mean()
        return (reconstruction + kl * klWeight, reconstruction, kl)
    }
}
