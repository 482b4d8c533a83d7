import Diffusion
import DiffusionData
import Foundation

/// Latent diffusion (Rombach et al. 2022, arXiv 2112.10752): encode images with a trained `Autoencoder`, scale the
/// latents by `LatentScaling`, train and sample any image diffusion model on them (`ImageTrainer`, `ImageSampler`),
/// and decode the samples. The latents are encoded once (a posterior sample per image drawn from `seed`, or its mean),
/// so the diffusion training loop is `ImageTrainer`'s, unchanged.
public final class LatentDiffusion {
    public let autoencoder: Autoencoder
    public let scaling: LatentScaling

    public init(autoencoder: Autoencoder, scaling: LatentScaling) {
        autoencoder.eval()
        (self.autoencoder, self.scaling) = (autoencoder, scaling)
    }

    /// Un-scaled latents [n, latentChannels, h/f, w/f] of `images`: posterior samples (image i's noise from stream i
    /// of `seed`, so batching does not matter) or means. No gradients.
    public static func latents(_ autoencoder: Autoencoder, images: Tensor, sample: Bool, seed: UInt64, batchSize: Int = 256) -> Tensor {
        precondition(batchSize > 0 && images.rank == 4, "latents: images [n, c, h, w] and a positive batch size are needed")
        let n = images.shape[0]
        var parts: [Tensor] = []
        withNoGrad {
            for lo in stride(from: 0, to: n, by: batchSize) {
                let q = autoencoder.encode(images.slice(axis: 0, lo, Swift.min(n, lo + batchSize)))
                guard sample else { parts.append(q.mean); continue }
                let one = Array(q.mean.shape.dropFirst())
                let eps = Tensor.concat((0..<q.mean.shape[0]).map { i -> Tensor in
                    var g = RandomGenerator(seed: seed, stream: UInt64(lo + i))
                    return g.normal([1] + one)
                }, axis: 0)
                parts.append(q.mean + q.standardDeviation * eps)
            }
        }
        return Tensor.concat(parts, axis: 0)
    }

    /// Scaled latents factor·z of `images` (see `latents`).
    public func encode(_ images: Tensor, sample: Bool = true, seed: UInt64 = 0) -> Tensor {
        Self.latents(autoencoder, images: images, sample: sample, seed: seed) * Float(scaling.factor)
    }

    /// The data set of scaled latents, with the images' labels, class names and captions: what a diffusion trainer
    /// trains on.
    public func encode(_ set: ImageDataset, sample: Bool = true, seed: UInt64 = 0) -> ImageDataset {
        ImageDataset(name: "latent:\(set.name)", images: encode(set.images, sample: sample, seed: seed), labels: set.labels,
                     classNames: set.classNames, captions: set.captions)
    }

    /// Images decoded from scaled latents (divided by the factor first), in batches, without gradients.
    public func decode(_ latents: Tensor, batchSize: Int = 256) -> Tensor {
        precondition(batchSize > 0, "decode needs a positive batch size")
        let n = latents.shape[0]
        var parts: [Tensor] = []
        withNoGrad {
            for lo in stride(from: 0, to: n, by: batchSize) {
                parts.append(autoencoder.decode(latents.slice(axis: 0, lo, Swift.min(n, lo + batchSize)) * Float(1 / scaling.factor)))
            }
        }
        return Tensor.concat(parts, axis: 0)
    }

    /// An `ImageTrainer` for `config`'s diffusion model on the scaled latents of `data` (posterior samples from
    /// `config.seed` + 5).
    public func trainer(_ config: ImageTrainingConfig, data: ImageDataset) throws(ConfigError) -> ImageTrainer {
        guard !config.isClassifier else { throw ConfigError("latent diffusion trains a diffusion model, not a classifier") }
        guard data.channels == autoencoder.config.inChannels else {
            throw ConfigError("the autoencoder takes \(autoencoder.config.inChannels) channels, data set '\(data.name)' has \(data.channels)")
        }
        guard data.height % autoencoder.config.downsamplingFactor == 0 else {
            throw ConfigError("image size \(data.height) is not divisible by the down-sampling factor \(autoencoder.config.downsamplingFactor)")
        }
        return try ImageTrainer(config, data: encode(data, sample: true, seed: config.seed &+ 5))
    }

    /// Samples latents with `sampler` from a model trained on latents of shape `latentShape` (e.g. the trainer's
    /// `shape`) and decodes them: images, the scaled latents, labels of a conditional model.
    public func sample<Net: NoiseConditionalNetwork>(_ model: NetworkModel<Net>, sampler: ImageSampler, config: ImageTrainingConfig,
                                                     latentShape: ImageDataShape) throws(ConfigError) -> (images: Tensor, latents: Tensor, labels: Tensor?) {
        guard latentShape.channels == autoencoder.config.latentChannels else {
            throw ConfigError("the model samples \(latentShape.channels) channels, the autoencoder's latents have \(autoencoder.config.latentChannels)")
        }
        let out = try sampler.sample(model, config: config, shape: latentShape)
        return (decode(out.images), out.images, out.labels)
    }
}
