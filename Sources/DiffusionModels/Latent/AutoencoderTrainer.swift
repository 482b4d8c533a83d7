import Diffusion
import DiffusionData
import Foundation

/// An autoencoder training run: the architecture, the KL weight β of the loss ‖x − x̂‖² + β·KL(q(z | x) ‖ N(0, I))
/// (`Autoencoder.loss`), and the optimisation (Adam, linear warm-up then cosine decay, gradient clipping).
public struct AutoencoderTrainingConfig: Codable, Sendable, Equatable {
    public var autoencoder = AutoencoderConfig()
    public var klWeight = 1e-3
    public var steps = 1000
    public var batchSize = 64
    public var learningRate = 1e-3
    public var warmupSteps = 50
    public var gradClip = 1.0
    public var seed: UInt64 = 0

    public init(autoencoder: AutoencoderConfig = AutoencoderConfig(), klWeight: Double = 1e-3, steps: Int = 1000, batchSize: Int = 64,
                learningRate: Double = 1e-3, seed: UInt64 = 0) {
        (self.autoencoder, self.klWeight, self.steps, self.batchSize, self.learningRate, self.seed) = (autoencoder, klWeight, steps, batchSize, learningRate, seed)
    }

    /// Checks every field against images of `channels` × `size` × `size`.
    public func validate(channels: Int, size: Int) throws(ConfigError) {
        let a = autoencoder
        guard klWeight.isFinite && klWeight >= 0 else { throw ConfigError("klWeight must be a finite number ≥ 0, got \(klWeight)") }
        guard steps >= 0, batchSize >= 1, learningRate > 0, learningRate.isFinite, warmupSteps >= 0, gradClip >= 0 else {
            throw ConfigError("steps ≥ 0, batchSize ≥ 1, learningRate > 0, warmupSteps ≥ 0 and gradClip ≥ 0 are needed")
        }
        guard a.inChannels == channels else { throw ConfigError("the autoencoder takes \(a.inChannels) channels, the images have \(channels)") }
        guard a.latentChannels >= 1, a.groups >= 1, !a.channelMultipliers.isEmpty, a.channelMultipliers.allSatisfy({ $0 >= 1 }) else {
            throw ConfigError("latentChannels, groups and every channel multiplier must be ≥ 1, with at least one level")
        }
        if let bad = a.channelMultipliers.first(where: { (a.channels * $0) % a.groups != 0 }) {
            throw ConfigError("width \(a.channels * bad) is not divisible by the \(a.groups) GroupNorm groups")
        }
        guard size % a.downsamplingFactor == 0 else {
            throw ConfigError("image size \(size) is not divisible by the down-sampling factor \(a.downsamplingFactor)")
        }
    }

    /// Sorted-key JSON (stored in checkpoints).
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }
}

/// Trains an `Autoencoder` on images in [−1, 1] with `StepwiseTrainer`'s loop (`train(onStep:)` reports progress).
/// Step k is reproducible on its own: its images are batch k of the `EpochOrder` of seed + 2, its reparametrisation
/// noise comes from stream k of seed + 1, and the weights are initialised from `seed`.
public final class AutoencoderTrainer: StepwiseTrainer {
    public let config: AutoencoderTrainingConfig
    public let autoencoder: Autoencoder
    public let data: ImageDataset
    public let optimizer: AdamW
    let schedule: CosineLR
    var order: EpochOrder
    public private(set) var step = 0
    /// The reconstruction term (squared error summed over pixels, mean over the batch) and the mean KL of the last step.
    public private(set) var lastReconstruction = Double.nan, lastKL = Double.nan

    public init(_ config: AutoencoderTrainingConfig, data: ImageDataset) throws(ConfigError) {
        guard data.count > 0, data.height == data.width else { throw ConfigError("data set '\(data.name)': square images are needed") }
        try config.validate(channels: data.channels, size: data.height)
        self.config = config
        self.data = data
        autoencoder = withParameterSeed(config.seed) { Autoencoder(config.autoencoder) }
        optimizer = AdamW(autoencoder.parameters(), lr: config.learningRate, weightDecay: 0)
        schedule = CosineLR(peak: config.learningRate, totalSteps: Swift.max(1, config.steps),
                            warmupSteps: Swift.min(config.warmupSteps, Swift.max(0, config.steps - 1)))
        order = EpochOrder(count: data.count, seed: config.seed &+ 2)
    }

    public var totalSteps: Int { config.steps }

    /// One optimisation step; returns the batch loss per image (reconstruction + β·KL).
    @discardableResult
    public func trainStep() -> Double {
        let (x, _) = data.batch(order.batch(step, size: config.batchSize))
        var rng = RandomGenerator(seed: config.seed &+ 1, stream: UInt64(step) << 24)
        let (total, reconstruction, kl) = autoencoder.loss(x, klWeight: Float(config.klWeight), generator: &rng)
        applyUpdate(total, optimizer: optimizer, learningRate: schedule.lr(at: step), gradClip: config.gradClip, ema: nil)
        (lastReconstruction, lastKL) = (Double(reconstruction.item), Double(kl.item))
        step += 1
        return Double(total.item)
    }

    /// Saves a resumable checkpoint (weights, optimizer, step; the config in the metadata) atomically.
    public func save(to url: URL) throws {
        try TrainingState.save(to: url, model: autoencoder, optimizer: optimizer, step: step, config: config.json)
    }

    /// Continues from a checkpoint written by `save` with the same config.
    public func resume(from url: URL) throws {
        step = try TrainingState.load(from: url, model: autoencoder, optimizer: optimizer).step
    }
}

extension Autoencoder {
    /// Mean squared error per pixel of decode(posterior mean) over `images`, in batches, without gradients.
    public func reconstructionError(_ images: Tensor, batchSize: Int = 256) -> Double {
        precondition(batchSize > 0, "reconstructionError needs a positive batch size")
        let n = images.shape[0]
        var total = 0.0
        withNoGrad {
            for lo in stride(from: 0, to: n, by: batchSize) {
                let x = images.slice(axis: 0, lo, Swift.min(n, lo + batchSize))
                total += Double((decode(encode(x).mean) - x).square().sum().item)
            }
        }
        return total / Double(images.count)
    }
}
